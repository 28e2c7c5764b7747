// The Nagios output: one status line with perfdata, then the -v transcript. Pure functions.
#pragma once

#include <string>
#include <string_view>

#include "check/config.h"
#include "check/result.h"

namespace smtpverify::check {

/// The complete stdout of a check and its exit state.
struct Output {
  State state = State::Unknown;
  std::string text;  ///< ends with "\n"
};

/// Renders a finished check: "SMTP <STATE> - <summary> | <perfdata>" plus long output.
Output render(const CheckResult& result, const Config& config);

/// --output json: one JSON object with the same facts and the same state (README: schema).
Output render_json(const CheckResult& result, const Config& config);

/// "SMTP UNKNOWN - <what>\n" for bad options and internal errors (what is sanitised).
Output render_unknown(std::string_view what);

/// Seconds as people read them: "10", "0.25", "0.142" (at most 3 decimals), C locale.
std::string short_seconds(double seconds);

/// Seconds for perfdata: 6 decimals, e.g. "0.000412", C locale.
std::string perf_seconds(double seconds);

}  // namespace smtpverify::check
