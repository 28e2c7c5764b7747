#include "check/render.h"

#include <cstdio>

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

std::string perfdata(const CheckResult& result, const Config& config) {
  auto item = [&](const std::string& label, double seconds) {
    const auto w = config.warning.find(label);
    const auto c = config.critical.find(label);
    return label + "=" + perf_seconds(seconds) + "s;" +
           (w == config.warning.end() ? "" : w->second.text) + ";" +
           (c == config.critical.end() ? "" : c->second.text) + ";0";
  };
  std::string out = item("time", result.total_seconds);
  for (const auto& t : result.timings) out += " " + item(t.label, t.seconds);
  if (result.cert_days) {
    // Days, no unit; warn/crit are -D's W and C, the form check_smtp users know.
    auto days = [](const std::optional<long long>& d) { return d ? std::to_string(*d) : ""; };
    out += " cert_days=" + std::to_string(*result.cert_days) + ";" +
           days(config.cert_warning_days) + ";" + days(config.cert_critical_days);
  }
  return out;
}

}  // namespace

std::string short_seconds(double seconds) {
  std::string s = fixed(seconds, 3);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::string perf_seconds(double seconds) { return fixed(seconds < 0 ? 0 : seconds, 6); }

Output render(const CheckResult& result, const Config& config) {
  const Evaluation eval = evaluate(result, config);
  std::string summary;
  if (eval.problems.empty()) {
    summary = sanitize(result.endpoint);
    for (std::size_t i = 0; i < result.facts.size(); ++i) {
      summary += (i == 0 ? " " : ", ") + sanitize(result.facts[i]);
    }
    summary += (result.facts.empty() ? " " : ", ") + short_seconds(result.total_seconds) + " s";
  } else {
    if (!eval.problems.front().problem.names_endpoint) summary = sanitize(result.endpoint) + " ";
    for (std::size_t i = 0; i < eval.problems.size() && i < kMaxListedProblems; ++i) {
      if (i != 0) summary += ", ";
      summary += sanitize(eval.problems[i].problem.text, 2 * kMaxQuotedChars);
    }
    if (eval.problems.size() > kMaxListedProblems) {
      summary += " (+" + std::to_string(eval.problems.size() - kMaxListedProblems) + " more)";
    }
  }
  Output out;
  out.state = eval.state;
  out.text = "SMTP " + std::string(state_name(eval.state)) + " - " + summary + " | " +
             perfdata(result, config) + "\n";
  if (config.verbosity > 0) {
    // Long output: the transcript. sanitize() keeps '|' out, so nothing here reads as perfdata.
    for (const auto& line : result.transcript) out.text += sanitize(line, 1000) + "\n";
  }
  return out;
}

Output render_unknown(std::string_view what) {
  return {State::Unknown, "SMTP UNKNOWN - " + sanitize(what, 2 * kMaxQuotedChars) + "\n"};
}

}  // namespace smtpverify::check
