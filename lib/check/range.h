// Nagios threshold ranges: [@][start:][end], "~" for minus infinity (plugin guidelines §3).
#pragma once

#include <optional>
#include <string>
#include <string_view>

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

/// Parses a range; nullopt (with `error` set) when it does not parse or start > end.
std::optional<Range> parse_range(std::string_view text, std::string& error);

}  // namespace smtpverify::check
