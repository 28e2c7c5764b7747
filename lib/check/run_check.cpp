#include "check/run_check.h"

#include "check/steps/check_host.h"
#include "check/steps/mta_sts.h"
#include "check/steps/steps.h"

namespace smtpverify::check {

namespace {

// One host, or (--each-address) one of its addresses: `address` is then already resolved.
CheckResult check_target(const Config& config, const std::string& host,
                         const net::Endpoint* address, net::Clock::time_point start,
                         net::Deadline deadline, std::optional<mta_sts::Mode> tls_policy) {
  Context ctx(config, host, start, deadline);
  if (config.starttls_implied) ctx.rec.log("* -D implies STARTTLS, as with check_smtp");
  if (address != nullptr) ctx.addresses = {*address};
  // The check, in order; the first step that says Stop ends the list.
  for (const auto step :
       {load_tls_module, start_helo_lookup, resolve, find_tlsa, connect, converse}) {
    if (step == resolve && address != nullptr) continue;
    if (step(ctx) == Next::Stop) break;
  }
  // Whatever happened, what was learnt is reported.
  certificate_days(ctx);
  if (!ctx.tls.version.empty()) ctx.result.tls = ctx.tls;
  // `time` is the SMTP dialogue: what the HELO-name lookups took beyond it is their own phase.
  const auto dialogue_end = net::Clock::now();
  check_helo_name(ctx);
  const double helo_wait = std::chrono::duration<double>(ctx.helo_wait).count();
  ctx.result.total_seconds = seconds_between(start, dialogue_end) - helo_wait;
  ctx.result.helo_wait_seconds = helo_wait + seconds_between(dialogue_end, net::Clock::now());
  ctx.rec.finish(ctx.result);
  // The policy rates the TLS findings where they were found: every rating after this one (the
  // target's as a part, the whole check's) sees the state the policy gives.
  if (tls_policy) hold_tls_to_policy(ctx.result, *tls_policy);
  return std::move(ctx.result);
}

// --each-address: the host's addresses, then the whole check against each in turn under the
// one deadline; each address is a part, the worst state wins.
CheckResult check_each_address(const Config& config, const std::string& host,
                               net::Clock::time_point start, net::Deadline deadline,
                               std::optional<mta_sts::Mode> tls_policy) {
  Context ctx(config, host, start, deadline);
  const Next resolved = resolve(ctx);
  ctx.rec.finish(ctx.result);
  CheckResult whole = std::move(ctx.result);
  if (resolved == Next::Stop) return whole;
  whole.endpoint = net::parse_ip_literal(host, config.port)
                       ? whole.endpoint
                       : host + ":" + std::to_string(config.port);
  for (const auto& address : ctx.addresses) {
    add_part(whole, check_target(config, host, &address, net::Clock::now(), deadline, tls_policy),
             Part::Kind::Address, address.address(), config);
  }
  whole.tally = tally(whole, "addresses");
  whole.facts.push_back(whole.tally);
  if (ctx.addresses_found > ctx.addresses.size()) {
    whole.facts.push_back("first " + std::to_string(ctx.addresses.size()) + " of " +
                          std::to_string(ctx.addresses_found) + " addresses checked");
  }
  whole.total_seconds = seconds_between(start, net::Clock::now()) - whole.helo_wait_seconds;
  return whole;
}

}  // namespace

CheckResult check_host(const Config& config, const std::string& host, net::Clock::time_point start,
                       net::Deadline deadline, std::optional<mta_sts::Mode> tls_policy) {
  if (config.each_address) return check_each_address(config, host, start, deadline, tls_policy);
  return check_target(config, host, nullptr, start, deadline, tls_policy);
}

CheckResult run_check(const Config& config) {
  if (config.mx) return check_mx(config);
  const auto start = net::Clock::now();
  return check_host(config, config.host, start, net::Deadline(start + config.timeout),
                    std::nullopt);
}

}  // namespace smtpverify::check
