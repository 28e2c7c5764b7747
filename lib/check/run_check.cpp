#include "check/run_check.h"

#include "check/steps/check_host.h"
#include "check/steps/steps.h"

namespace smtpverify::check {

CheckResult check_host(const Config& config, const std::string& host, net::Clock::time_point start,
                       net::Deadline deadline) {
  Context ctx(config, host, start, deadline);
  // The check, in order; the first step that says Stop ends the list.
  for (const auto step :
       {load_tls_module, start_helo_lookup, resolve, find_tlsa, connect, converse}) {
    if (step(ctx) == Next::Stop) break;
  }
  // Whatever happened, what was learnt is reported.
  certificate_days(ctx);
  if (!ctx.tls.version.empty()) ctx.result.tls = ctx.tls;
  check_helo_name(ctx);
  ctx.result.total_seconds = seconds_between(start, net::Clock::now());
  ctx.rec.finish(ctx.result);
  return std::move(ctx.result);
}

CheckResult run_check(const Config& config) {
  if (config.mx) return check_mx(config);
  const auto start = net::Clock::now();
  return check_host(config, config.host, start, net::Deadline(start + config.timeout));
}

}  // namespace smtpverify::check
