#include "dns/mx.h"

#include <algorithm>
#include <string_view>

#include "check/render.h"
#include "check/steps/check_host.h"
#include "check/steps/context.h"
#include "check/steps/mta_sts.h"

namespace smtpverify::check {

namespace {

// A domain's DNS decides how many hosts we would check: at most this many are (issue: 300 MX
// records gave 300 dialogues and a 68 KB status line).
constexpr std::size_t kMaxMxHosts = 10;

// The hosts to check, most preferred first, and how many share the lowest preference.
struct MxPlan {
  std::vector<std::string> hosts;
  std::size_t preferred = 0;
  std::size_t found = 0;     ///< distinct hosts DNS named, before the cap
  bool from_records = true;  ///< false: no MX, the domain (from the command line) itself
};

// Why an MX exchange cannot be checked as a host, or "". RFC 1035 3.3.9: EXCHANGE is a domain
// name. One that reads as an IP literal would be connected to as that address, which no A or
// AAAA record gave; the root is a host only as the null MX (RFC 7505), which plan_hosts handles.
std::string unusable_exchange(const std::string& host) {
  if (host.empty()) return "MX host . names no host (RFC 7505)";
  if (net::parse_ip_literal(host, 0))
    return "MX host " + host + " is an IP address, not a host name";
  // c-ares reads a name of digits and dots as an address without asking DNS ("096.0.2.1":
  // 96.0.2.1); no host name has an all-numeric top label (RFC 3696 §2).
  std::string_view name = host;
  if (name.back() == '.') name.remove_suffix(1);
  const auto top = name.substr(name.rfind('.') + 1);
  if (!top.empty() && top.find_first_not_of("0123456789") == std::string_view::npos) {
    return "MX host " + host + " is not a host name (its top label is all digits)";
  }
  return {};
}

// check_host() for one MX host, held to the domain's policy, unless the exchange is no host at
// all (then the finding alone, as a resolve failure: the next host of equal preference is
// tried).
CheckResult check_exchange(Context& ctx, const MxPlan& plan, const std::string& host,
                           net::Clock::time_point start, const DomainPolicies& policies) {
  const std::string unusable = plan.from_records ? unusable_exchange(host) : "";
  CheckResult r;
  if (unusable.empty()) {
    r = check_host(ctx.config, host, start, ctx.deadline, tls_policy(policies, ctx.config));
  } else {
    Context sub(ctx.config, host.empty() ? "." : host, start, ctx.deadline);
    sub.rec.log("* " + unusable);
    sub.rec.problem(ProblemKind::Resolve, unusable, true);
    sub.rec.finish(sub.result);
    sub.result.total_seconds = seconds_between(start, net::Clock::now());
    r = std::move(sub.result);
  }
  hold_to_policy(r, host, policies);
  return r;
}

// MX lookup failures; the domain and the deadline name them.
void mx_failure(Context& ctx, const std::string& domain, const dns::MxResult& mx) {
  if (mx.status == dns::Status::Timeout && ctx.deadline.expired()) {
    ctx.rec.problem(ProblemKind::Timeout,
                    "timeout after " +
                        short_seconds(std::chrono::duration<double>(ctx.config.timeout).count()) +
                        " s waiting for MX of " + domain,
                    true);
    return;
  }
  // c-ares giving up before -t did is a DNS failure like any other.
  ctx.rec.problem(ProblemKind::Resolve, "cannot resolve MX of " + domain + ": " + mx.error, true);
}

// RFC 5321 §5.1: the MX hosts in preference order; no MX at all: the domain is its own host.
std::optional<MxPlan> plan_hosts(Context& ctx, const std::string& domain, const dns::MxResult& mx) {
  MxPlan plan;
  if (mx.status == dns::Status::NoData) {
    plan.hosts = {domain};
    plan.preferred = plan.found = 1;
    plan.from_records = false;
    return plan;
  }
  if (mx.status != dns::Status::Ok) {
    mx_failure(ctx, domain, mx);
    return std::nullopt;
  }
  if (mx.null_mx) {
    ctx.rec.problem(ProblemKind::Resolve, domain + " accepts no mail (null MX, RFC 7505)", true);
    return std::nullopt;
  }
  for (const auto& h : mx.hosts) {
    if (std::find(plan.hosts.begin(), plan.hosts.end(), h.host) != plan.hosts.end()) continue;
    ++plan.found;
    if (plan.hosts.size() == kMaxMxHosts) continue;
    plan.hosts.push_back(h.host);
    if (h.preference == mx.hosts.front().preference) ++plan.preferred;
  }
  return plan;
}

// No address of the host could be reached (with --each-address: none of them).
bool unreachable(const CheckResult& r) {
  if (!r.parts.empty()) {
    return std::all_of(r.parts.begin(), r.parts.end(),
                       [](const Part& part) { return unreachable(part.result); });
  }
  return std::any_of(r.problems.begin(), r.problems.end(), [](const Problem& p) {
    return p.kind == ProblemKind::Resolve || p.kind == ProblemKind::Connect;
  });
}

// The most preferred host; among equal preferences the next one when one cannot be reached.
CheckResult check_preferred(Context& ctx, const MxPlan& plan, CheckResult head,
                            const DomainPolicies& policies) {
  CheckResult r;
  double helo_wait = 0;  // of the hosts that could not be reached
  for (std::size_t i = 0; i < plan.preferred; ++i) {
    helo_wait += r.helo_wait_seconds;
    r = check_exchange(ctx, plan, plan.hosts[i], ctx.start, policies);
    if (!unreachable(r) || i + 1 == plan.preferred || ctx.deadline.expired()) break;
    if (ctx.rec.logging()) {
      head.transcript.push_back("* " + plan.hosts[i] +
                                " cannot be reached; trying the next MX of equal preference");
    }
    for (auto& line : r.transcript) head.transcript.push_back(std::move(line));
  }
  r.transcript.insert(r.transcript.begin(), head.transcript.begin(), head.transcript.end());
  r.timings.insert(r.timings.begin(), head.timings.begin(), head.timings.end());
  r.helo_wait_seconds += helo_wait;
  return r;
}

// --mx-all: every host, each a part; the worst state wins.
void check_all(Context& ctx, const MxPlan& plan, CheckResult& out, const DomainPolicies& policies) {
  for (const auto& host : plan.hosts) {
    CheckResult r = check_exchange(ctx, plan, host, net::Clock::now(), policies);
    add_part(out, std::move(r), Part::Kind::MxHost, host.empty() ? "." : host, ctx.config);
  }
  out.endpoint = *ctx.config.mx;  // "example.org 2/2 MX hosts OK", not "example.org MX 2/2 MX …"
  out.tally = tally(out, "MX hosts");
  out.facts.push_back(out.tally);
  // Each host's own facts (banner, TLS, certificate), in parentheses after its name.
  for (const auto& part : out.parts) {
    std::string own;
    for (const auto& fact : part.result.facts) own += (own.empty() ? "" : ", ") + fact;
    out.facts.push_back(part.name + (own.empty() ? "" : " (" + own + ")"));
  }
}

}  // namespace

CheckResult check_mx(const Config& config) {
  const std::string& domain = *config.mx;
  const auto start = net::Clock::now();
  Context ctx(config, domain, start, net::Deadline(start + config.timeout));
  ctx.result.endpoint = domain + " MX";
  if (load_https_module(ctx) == Next::Stop) {
    ctx.rec.finish(ctx.result);
    return std::move(ctx.result);
  }
  std::optional<MxPlan> plan;
  if (auto* resolver = ctx.resolver()) {
    const auto t0 = net::Clock::now();
    const dns::MxResult mx = dns::lookup_mx(*resolver, domain, ctx.deadline);
    const double seconds = seconds_between(t0, net::Clock::now());
    plan = plan_hosts(ctx, domain, mx);
    if (plan) {  // a failed lookup prints no mx perfdata
      ctx.rec.time(smtp::Phase::Mx, seconds);
      std::string list;
      for (const auto& h : mx.hosts) list += " " + std::to_string(h.preference) + " " + h.host;
      ctx.rec.log("* MX of " + domain + ":" + (list.empty() ? " none, the domain itself" : list));
    }
  }
  // What the domain publishes about its MX hosts' TLS, before they are checked against it.
  DomainPolicies policies;
  if ((config.mta_sts || config.tls_rpt) && ctx.resolver_if_made() != nullptr) {
    policies = fetch_domain_policies(ctx, domain);
  }
  ctx.rec.finish(ctx.result);
  CheckResult out = std::move(ctx.result);
  if (plan && !config.mx_all) {
    out = check_preferred(ctx, *plan, std::move(out), policies);
    out.mx_host_checked = true;
  }
  if (plan && config.mx_all) check_all(ctx, *plan, out, policies);
  add_domain_policies(out, std::move(policies));
  if (plan && plan->found > plan->hosts.size()) {
    out.facts.push_back("first " + std::to_string(plan->hosts.size()) + " of " +
                        std::to_string(plan->found) + " MX hosts checked");
  }
  out.mx_domain = domain;
  out.total_seconds = seconds_between(start, net::Clock::now()) - out.helo_wait_seconds;
  return out;
}

}  // namespace smtpverify::check
