// The output of a check: one Report made once from the result, then formatters of it (Nagios
// status line plus long output, --output json). No formatter reads another one's output.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "check/config.h"
#include "check/result.h"

namespace smtpverify::check {

/// What a perfdata value measures.
enum class PerfUnit {
  Seconds,  ///< printed with the "s" UOM and 6 decimals
  Days,     ///< a whole number of days; Nagios has no UOM for it, so none is printed
};

/// One perfdata item as data: `label=value[UOM];warn;crit[;min]` in the Nagios formatter.
struct PerfItem {
  std::string label;  ///< perfdata_label(): [A-Za-z0-9_.-] only, at most kMaxLabelChars
  double value = 0;   ///< seconds (negative clamped to 0 when printed), or days (may be < 0)
  PerfUnit unit = PerfUnit::Seconds;
  std::string warn;           ///< the threshold as the user wrote it (a Nagios range), or ""
  std::string crit;           ///< the threshold as the user wrote it (a Nagios range), or ""
  std::optional<double> min;  ///< 0 for times; none for cert_days
};

/// A problem that counts, with its state.
struct ReportedProblem {
  State state = State::Unknown;
  std::string text;  ///< sanitised, at most kMaxReportText characters
};

/// Server text in the report's lists (problems, long output) is cut at this many characters.
inline constexpr std::size_t kMaxReportText = 1000;

/// Everything the formatters print, decided once.
struct Report {
  State state = State::Unknown;           ///< the exit state
  std::string summary;                    ///< the first line after "SMTP <STATE> - ", sanitised
  std::vector<ReportedProblem> problems;  ///< worst first; empty when the state is OK
  std::vector<PerfItem> perfdata;         ///< time, each phase in order, cert_days
  /// The -v transcript, each line sanitised; nullopt without -v.
  std::optional<std::vector<std::string>> long_output;
};

/// Evaluates the result once (the state table, thresholds) and builds the report.
Report make_report(const CheckResult& result, const Config& config);

/// "SMTP <STATE> - <summary> | <perfdata>\n" plus one line per long-output line.
std::string format_nagios(const Report& report);

/// The perfdata part of the status line: the items separated by single spaces.
std::string format_perfdata(const std::vector<PerfItem>& perfdata);

/// --output json: one JSON object on one line with the report and the result's facts
/// (docs/OUTPUT.md: schema). Never throws on the bytes of the result: every string is sanitised.
std::string format_json(const Report& report, const CheckResult& result);

/// --output openmetrics: an OpenMetrics 1.0 text exposition of the report and the result's facts
/// (docs/OUTPUT.md: the metrics), ending "# EOF\n". Gauges only, so node_exporter's textfile
/// collector (the Prometheus text format) reads it too. Label values are valid UTF-8 whatever the
/// bytes.
std::string format_openmetrics(const Report& report, const CheckResult& result);

/// A label value as written between its quotes: valid UTF-8 is kept; a backslash, a double
/// quote and a newline are escaped as OpenMetrics says (backslash-backslash, backslash-quote,
/// backslash-n); every other control character (C0, DEL, C1) and every byte that is not part of
/// valid UTF-8 becomes the text "\xNN" (its backslash escaped in turn), as in the status line.
std::string openmetrics_label_value(std::string_view value);

/// The complete stdout of a check that could not run, and its exit state.
struct Output {
  State state = State::Unknown;
  std::string text;  ///< ends with "\n"
};

/// "SMTP UNKNOWN - <what>\n" for bad options and internal errors (what is sanitised).
Output render_unknown(std::string_view what);

/// Seconds as people read them: "10", "0.25", "0.142" (at most 3 decimals), C locale.
std::string short_seconds(double seconds);

/// Seconds for perfdata: 6 decimals, e.g. "0.000412", C locale.
std::string perf_seconds(double seconds);

}  // namespace smtpverify::check
