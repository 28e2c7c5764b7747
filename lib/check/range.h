// Nagios threshold ranges: [@][start:][end], "~" for minus infinity (plugin guidelines §3).
#pragma once

#include <string>
#include <string_view>
#include <tl/expected.hpp>

namespace smtpverify::check {

/// A parsed range. alerts(v) says whether v raises the threshold's state.
struct Range {
  double start = 0;
  double end = 0;
  bool start_infinite = false;  ///< "~:" — no lower bound
  bool end_infinite = false;    ///< "N:" — no upper bound
  bool inside = false;          ///< "@": alert inside the range instead of outside
  std::string text;             ///< as the user wrote it; printed in perfdata

  /// True when `value` is outside the range (inside, with "@").
  [[nodiscard]] bool alerts(double value) const;
};

/// Why a range does not parse: "'abc' is not a range", "range '10:5' has start > end", …
struct RangeError {
  std::string what;
};

/// Parses a range, or says why it does not parse or has start > end.
tl::expected<Range, RangeError> parse_range(std::string_view text);

}  // namespace smtpverify::check
