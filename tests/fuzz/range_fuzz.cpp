// Fuzz target: check::parse_range on arbitrary text. A parsed range is consistent (bounds
// finite and ordered, inclusive at both ends) and parses to the same range again.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "check/range.h"
#include "fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using smtpverify::check::parse_range;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto r = parse_range(text);
  if (!r) {
    FUZZ_CHECK(!r.error().what.empty());
    return 0;
  }
  constexpr double kInf = std::numeric_limits<double>::infinity();
  FUZZ_CHECK(r->text == text && !(r->start_infinite && r->end_infinite));
  FUZZ_CHECK(std::isfinite(r->start) && std::isfinite(r->end));
  if (!r->start_infinite) {
    FUZZ_CHECK(r->end_infinite || r->start <= r->end);
    // The start is inside the range, the next number below it is not.
    FUZZ_CHECK(r->alerts(r->start) == r->inside);
    FUZZ_CHECK(r->alerts(std::nextafter(r->start, -kInf)) != r->inside);
  }
  if (!r->end_infinite) {
    FUZZ_CHECK(r->alerts(r->end) == r->inside);
    FUZZ_CHECK(r->alerts(std::nextafter(r->end, kInf)) != r->inside);
  }
  const auto again = parse_range(r->text);
  FUZZ_CHECK(again && again->start == r->start && again->end == r->end &&
             again->start_infinite == r->start_infinite && again->end_infinite == r->end_infinite &&
             again->inside == r->inside);
  return 0;
}
