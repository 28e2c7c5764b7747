#include "check/render.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "check/sanitize.h"

namespace smtpverify::check {

namespace {

// So that fifty rejected recipients still give a readable first line.
constexpr std::size_t kMaxListedProblems = 5;

// snprintf with a fixed format is locale-dependent only through LC_NUMERIC, which a plugin
// never sets (main() leaves the "C" locale in place), so the decimal point is always '.'.
std::string fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

std::string threshold(const std::map<std::string, Range, std::less<>>& ranges,
                      std::string_view label) {
  const auto it = ranges.find(label);
  return it == ranges.end() ? "" : it->second.text;
}

// The phases and the certificate days of one check; a part's (--mx-all, --each-address)
// follow its own, each label prefixed with the part's name. Thresholds: the printed label's own
// (-w mx1.example.org_banner=…), else the phase's, whatever the prefix; only the printed label
// is made safe (an MX host name or an IPv6 address is no phase name anyway).
void add_perf_items(std::vector<PerfItem>& items, const CheckResult& result, const Config& config,
                    const std::string& prefix) {
  const auto range = [&](const auto& ranges, const std::string& label, const std::string& phase) {
    const std::string own = threshold(ranges, label);
    return own.empty() && label != phase ? threshold(ranges, phase) : own;
  };
  for (const auto& t : result.timings) {
    const std::string label = perfdata_label(prefix + t.label);
    items.push_back({label, t.seconds, PerfUnit::Seconds, range(config.warning, label, t.label),
                     range(config.critical, label, t.label), 0.0});
  }
  if (result.cert_days) {
    // Days, no unit. Alert below: -D 30,14 prints "30:;14:", the sense Nagios ranges have.
    const std::string label = perfdata_label(prefix + "cert_days");
    const auto text = [&](bool critical) {
      const std::string own =
          label == "cert_days" ? "" : threshold(critical ? config.critical : config.warning, label);
      if (!own.empty()) return own;
      const auto r = cert_days_range(config, critical);
      return r ? r->text : "";
    };
    items.push_back({label, static_cast<double>(*result.cert_days), PerfUnit::Days, text(false),
                     text(true), std::nullopt});
  }
  // Two parts whose labels come out the same once made safe ("a b" and "a|b", or long names cut
  // to the same head and tail) would merge into one series in a grapher: the later one gets
  // "-2", "-3", ... after its name, inside the tail the cut keeps (bounded: should a cut drop the
  // number, the labels stay as they are).
  for (const auto& part : result.parts) {
    std::vector<PerfItem> own;
    for (std::size_t n = 1; n <= items.size() + 1; ++n) {
      own.clear();
      const std::string name = n == 1 ? part.name : part.name + "-" + std::to_string(n);
      add_perf_items(own, part.result, config, prefix + name + "_");
      const bool clash = std::any_of(own.begin(), own.end(), [&items](const PerfItem& o) {
        return std::any_of(items.begin(), items.end(),
                           [&o](const PerfItem& i) { return i.label == o.label; });
      });
      if (!clash) break;
    }
    items.insert(items.end(), own.begin(), own.end());
  }
}

// time (the whole check), then every phase.
std::vector<PerfItem> perf_items(const CheckResult& result, const Config& config) {
  std::vector<PerfItem> items{{"time", result.total_seconds, PerfUnit::Seconds,
                               threshold(config.warning, "time"),
                               threshold(config.critical, "time"), 0.0}};
  add_perf_items(items, result, config, "");
  return items;
}

std::string number(double value, PerfUnit unit) {
  return unit == PerfUnit::Seconds ? perf_seconds(value)
                                   : std::to_string(static_cast<long long>(value));
}

std::string summary_of(const CheckResult& result, const Evaluation& eval) {
  std::string summary;
  if (eval.problems.empty()) {
    summary = sanitize(result.endpoint);
    for (std::size_t i = 0; i < result.facts.size(); ++i) {
      summary += (i == 0 ? " " : ", ") + sanitize(result.facts[i]);
    }
    return summary + (result.facts.empty() ? " " : ", ") + short_seconds(result.total_seconds) +
           " s";
  }
  if (!result.tally.empty()) {
    summary = sanitize(result.tally) + " - ";
  } else if (!eval.problems.front().problem.names_endpoint) {
    summary = sanitize(result.endpoint) + " ";
  }
  for (std::size_t i = 0; i < eval.problems.size() && i < kMaxListedProblems; ++i) {
    if (i != 0) summary += ", ";
    summary += sanitize(eval.problems[i].problem.text, 2 * kMaxQuotedChars);
  }
  if (eval.problems.size() > kMaxListedProblems) {
    summary += " (+" + std::to_string(eval.problems.size() - kMaxListedProblems) + " more)";
  }
  return summary;
}

}  // namespace

std::string short_seconds(double seconds) {
  std::string s = fixed(seconds, 3);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::string perf_seconds(double seconds) { return fixed(seconds < 0 ? 0 : seconds, 6); }

Report make_report(const CheckResult& result, const Config& config) {
  const Evaluation eval = evaluate(result, config);
  Report report;
  report.state = eval.state;
  report.summary = summary_of(result, eval);
  for (const auto& p : eval.problems) {
    report.problems.push_back({p.state, sanitize(p.problem.text, kMaxReportText)});
  }
  report.perfdata = perf_items(result, config);
  if (config.verbosity > 0) {
    // The transcript. sanitize() keeps '|' and newlines out, so nothing here reads as perfdata.
    report.long_output.emplace();
    for (const auto& line : result.transcript) {
      report.long_output->push_back(sanitize(line, kMaxReportText));
    }
  }
  return report;
}

std::string format_perfdata(const std::vector<PerfItem>& perfdata) {
  std::string out;
  for (const auto& item : perfdata) {
    if (!out.empty()) out += ' ';
    out += item.label + "=" + number(item.value, item.unit) +
           (item.unit == PerfUnit::Seconds ? "s" : "") + ";" + item.warn + ";" + item.crit;
    // The minimum is a plain bound: ";0", not ";0.000000".
    if (item.min) out += ";" + short_seconds(*item.min);
  }
  return out;
}

std::string format_nagios(const Report& report) {
  std::string out = "SMTP " + std::string(state_name(report.state)) + " - " + report.summary +
                    " | " + format_perfdata(report.perfdata) + "\n";
  if (report.long_output) {
    for (const auto& line : *report.long_output) out += line + "\n";
  }
  return out;
}

Output render_unknown(std::string_view what) {
  return {State::Unknown, "SMTP UNKNOWN - " + sanitize(what, 2 * kMaxQuotedChars) + "\n"};
}

}  // namespace smtpverify::check
