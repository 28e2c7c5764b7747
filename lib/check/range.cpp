#include "check/range.h"

#include <charconv>
#include <cmath>

namespace smtpverify::check {

namespace {

// from_chars is locale-free: "0.5" means one half whatever LC_NUMERIC says.
bool parse_number(std::string_view text, double& out) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && std::isfinite(out);
}

}  // namespace

bool Range::alerts(double value) const {
  const bool within = (start_infinite || value >= start) && (end_infinite || value <= end);
  return inside ? within : !within;
}

tl::expected<Range, RangeError> parse_range(std::string_view text) {
  const auto not_a_range = [&] {
    return tl::unexpected(RangeError{"'" + std::string(text) + "' is not a range"});
  };
  Range r;
  r.text = std::string(text);
  std::string_view rest = text;
  if (!rest.empty() && rest.front() == '@') {
    r.inside = true;
    rest.remove_prefix(1);
  }
  const auto colon = rest.find(':');
  if (colon == std::string_view::npos) {
    // "10" means 0..10.
    if (!parse_number(rest, r.end)) {
      return not_a_range();
    }
  } else {
    const std::string_view start = rest.substr(0, colon);
    const std::string_view end = rest.substr(colon + 1);
    if (start == "~") {
      r.start_infinite = true;
    } else if (!parse_number(start, r.start)) {
      return not_a_range();
    }
    if (end.empty()) {
      r.end_infinite = true;
    } else if (!parse_number(end, r.end)) {
      return not_a_range();
    }
  }
  if (r.start_infinite && r.end_infinite) {
    return tl::unexpected(RangeError{"range '" + std::string(text) + "' has no bounds"});
  }
  if (!r.start_infinite && !r.end_infinite && r.start > r.end) {
    return tl::unexpected(RangeError{"range '" + std::string(text) + "' has start > end"});
  }
  return r;
}

}  // namespace smtpverify::check
