// --output json: the same facts as the Nagios line, for cron jobs and log shippers.
#include <nlohmann/json.hpp>

#include "check/render.h"
#include "check/sanitize.h"

namespace smtpverify::check {

namespace {

using nlohmann::json;

// Server text gets the same treatment as in the status line (printable ASCII, \xNN escapes),
// only with a larger bound, so the JSON is always valid and never carries raw control bytes.
constexpr std::size_t kMaxJsonText = 1000;

std::string text(std::string_view s) { return sanitize(s, kMaxJsonText); }

json phases_of(const CheckResult& result) {
  json phases = json::array();
  for (const auto& t : result.timings) {
    json exchanges = json::array();
    for (const auto& x : result.exchanges) {
      if (x.phase != t.label) continue;
      json lines = json::array();
      for (const auto& l : x.lines) lines.push_back(text(l));
      json e = {{"command", text(x.command)}, {"lines", lines}};
      e["code"] = x.code == 0 ? json(nullptr) : json(x.code);
      exchanges.push_back(std::move(e));
    }
    phases.push_back({{"name", t.label}, {"seconds", t.seconds}, {"exchanges", exchanges}});
  }
  return phases;
}

json tls_of(const CheckResult& result) {
  if (!result.tls) return nullptr;
  json chain = json::array();
  for (const auto& c : result.tls->chain) {
    chain.push_back({{"subject", text(c.subject)},
                     {"issuer", text(c.issuer)},
                     {"not_after", c.not_after},
                     {"days_left", c.days_left}});
  }
  json tls = {{"version", result.tls->version},
              {"cipher", result.tls->cipher},
              {"verified", result.tls->verified},
              {"chain", chain}};
  tls["cert_days"] = result.cert_days ? json(*result.cert_days) : json(nullptr);
  return tls;
}

}  // namespace

Output render_json(const CheckResult& result, const Config& config) {
  const Output line = render(result, config);
  const Evaluation eval = evaluate(result, config);
  // The summary is exactly the status line's, between "SMTP <STATE> - " and " | ".
  const std::string first = line.text.substr(0, line.text.find('\n'));
  const auto dash = first.find(" - ");
  const auto bar = first.rfind(" | ");
  json problems = json::array();
  for (const auto& p : eval.problems) {
    problems.push_back({{"state", state_name(p.state)}, {"text", text(p.problem.text)}});
  }
  json resolved = json::array();
  for (const auto& a : result.resolved) resolved.push_back(a);
  json out = {
      {"state", static_cast<int>(line.state)},
      {"state_name", state_name(line.state)},
      {"summary", first.substr(dash + 3, bar - dash - 3)},
      {"host", text(result.host)},
      {"port", result.port},
      {"address", result.address.empty() ? json(nullptr) : json(result.address)},
      {"local_address", result.local_address.empty() ? json(nullptr) : json(result.local_address)},
      {"dns",
       {{"resolved", resolved},
        {"ptr", result.ptr.empty() ? json(nullptr) : json(text(result.ptr))},
        {"forward_confirmed", result.forward_confirmed}}},
      {"total_seconds", result.total_seconds},
      {"phases", phases_of(result)},
      {"tls", tls_of(result)},
      {"problems", problems},
      {"perfdata", first.substr(bar + 3)},
  };
  if (config.verbosity > 0) {
    json transcript = json::array();
    for (const auto& t : result.transcript) transcript.push_back(text(t));
    out["transcript"] = transcript;
  }
  return {line.state, out.dump() + "\n"};
}

}  // namespace smtpverify::check
