// --output json: the same facts as the Nagios line, for cron jobs and log shippers.
#include <nlohmann/json.hpp>

#include "check/render.h"
#include "check/sanitize.h"

namespace smtpverify::check {

namespace {

using nlohmann::json;

// Every string gets the same treatment as server text in the status line (printable ASCII,
// \xNN escapes), only with a larger bound, so the JSON is always valid UTF-8 and never carries
// raw control bytes, whatever bytes a server, a DNS answer or the command line brought.
std::string text(std::string_view s) { return sanitize(s, kMaxReportText); }

json text_or_null(std::string_view s) { return s.empty() ? json(nullptr) : json(text(s)); }

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
    phases.push_back(
        {{"name", perfdata_label(t.label)}, {"seconds", t.seconds}, {"exchanges", exchanges}});
  }
  return phases;
}

json tls_of(const CheckResult& result) {
  if (!result.tls) return nullptr;
  json chain = json::array();
  for (const auto& c : result.tls->chain) {
    chain.push_back({{"subject", text(c.subject)},
                     {"issuer", text(c.issuer)},
                     {"not_after", text(c.not_after)},
                     {"days_left", c.days_left},
                     {"spki_sha256", text(c.spki_sha256)}});
  }
  json tls = {{"version", text(result.tls->version)},
              {"cipher", text(result.tls->cipher)},
              {"verified", result.tls->verified},
              {"chain", chain}};
  tls["cert_days"] = result.cert_days ? json(*result.cert_days) : json(nullptr);
  return tls;
}

json problems_of(const std::vector<RatedProblem>& rated) {
  json problems = json::array();
  for (const auto& p : rated) {
    problems.push_back({{"state", state_name(p.state)}, {"text", text(p.problem.text)}});
  }
  return problems;
}

void add_parts(json& out, const CheckResult& result);

// One MX host or one address of a check of several: the same facts as the whole has.
json part_of(const Part& part) {
  const CheckResult& r = part.result;
  json out = {
      {part.kind == Part::Kind::MxHost ? "host" : "address", text(part.name)},
      {"state", static_cast<int>(part.state)},
      {"state_name", state_name(part.state)},
      {"endpoint", text(r.endpoint)},
      {"address", text_or_null(r.address)},
      {"local_address", text_or_null(r.local_address)},
      {"total_seconds", r.total_seconds},
      {"phases", phases_of(r)},
      {"tls", tls_of(r)},
      {"problems", problems_of(part.problems)},
  };
  add_parts(out, r);
  return out;
}

// "hosts" (--mx-all) and "addresses" (--each-address), when the check has parts.
void add_parts(json& out, const CheckResult& result) {
  for (const auto kind : {Part::Kind::MxHost, Part::Kind::Address}) {
    json list = json::array();
    for (const auto& part : result.parts) {
      if (part.kind == kind) list.push_back(part_of(part));
    }
    if (!list.empty()) out[kind == Part::Kind::MxHost ? "hosts" : "addresses"] = std::move(list);
  }
}

// --mta-sts: {id, mode, mx, max_age, problems}; mode, mx and max_age null without a policy.
json mta_sts_of(const MtaStsFacts& m) {
  json mx = json::array();
  json problems = json::array();
  for (const auto& p : m.problems) problems.push_back(text(p));
  if (m.policy) {
    for (const auto& pattern : m.policy->mx) mx.push_back(text(pattern));
  }
  return {
      {"id", text_or_null(m.id)},
      {"mode", m.policy ? json(std::string(mta_sts::mode_name(m.policy->mode))) : json(nullptr)},
      {"mx", m.policy ? mx : json(nullptr)},
      {"max_age", m.policy ? json(m.policy->max_age) : json(nullptr)},
      {"problems", problems}};
}

// --tls-rpt: {rua, problems}.
json tls_rpt_of(const TlsRptFacts& t) {
  json rua = json::array();
  json problems = json::array();
  for (const auto& u : t.rua) rua.push_back(text(u));
  for (const auto& p : t.problems) problems.push_back(text(p));
  return {{"rua", rua}, {"problems", problems}};
}

}  // namespace

std::string format_json(const Report& report, const CheckResult& result) {
  json problems = json::array();
  for (const auto& p : report.problems) {
    problems.push_back({{"state", state_name(p.state)}, {"text", p.text}});
  }
  json resolved = json::array();
  for (const auto& a : result.resolved) resolved.push_back(text(a));
  json out = {
      {"state", static_cast<int>(report.state)},
      {"state_name", state_name(report.state)},
      {"summary", report.summary},
      {"host", text(result.host)},
      {"port", result.port},
      {"address", text_or_null(result.address)},
      {"local_address", text_or_null(result.local_address)},
      {"dns",
       {{"resolved", resolved},
        {"helo_name", text_or_null(result.helo_name)},
        {"helo_finding", text_or_null(result.helo_finding)},
        {"ptr", text_or_null(result.ptr)},
        {"forward_confirmed", result.forward_confirmed}}},
      {"total_seconds", result.total_seconds},
      {"phases", phases_of(result)},
      {"tls", tls_of(result)},
      {"queue_id", text_or_null(result.queue_id)},
      {"problems", problems},
      {"perfdata", format_perfdata(report.perfdata)},
  };
  add_parts(out, result);
  if (result.mta_sts) out["mta_sts"] = mta_sts_of(*result.mta_sts);
  if (result.tls_rpt) out["tls_rpt"] = tls_rpt_of(*result.tls_rpt);
  if (report.long_output) out["transcript"] = *report.long_output;
  // Everything above is sanitised; the replacing handler is the last guard, so that a string
  // a later change forgets to sanitise gives U+FFFD instead of an "internal error" UNKNOWN.
  return out.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace smtpverify::check
