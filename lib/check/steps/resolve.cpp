#include "check/steps/steps.h"

namespace smtpverify::check {

Next resolve(Context& ctx) {
  const auto& config = ctx.config;
  if (auto literal = net::parse_ip_literal(ctx.host, config.port)) {
    ctx.result.endpoint = literal->family() == AF_INET6
                              ? literal->to_string()
                              : "[" + literal->address() + "]:" + std::to_string(config.port);
    ctx.addresses = {*literal};
    return Next::Continue;
  }
  auto* r = ctx.resolver();
  if (r == nullptr) return Next::Stop;
  const auto t0 = net::Clock::now();
  const auto answer = r->resolve(ctx.host, config.family, config.port, ctx.deadline);
  if (answer.status == dns::Status::Timeout && ctx.deadline.expired()) {
    ctx.timeout("address of " + ctx.host);
    return Next::Stop;
  }
  ctx.rec.time(smtp::Phase::Resolve, seconds_between(t0, net::Clock::now()));
  if (answer.status != dns::Status::Ok) {
    ctx.rec.log("* resolve " + ctx.host + ": " + answer.error);
    ctx.rec.problem(ProblemKind::Resolve, "cannot resolve " + ctx.host + ": " + answer.error, true);
    return Next::Stop;
  }
  std::string list;
  for (const auto& a : answer.addresses) {
    list += (list.empty() ? "" : " ") + a.address();
    ctx.result.resolved.push_back(a.address());
  }
  ctx.rec.log("* " + ctx.host + " resolves to " + list);
  ctx.addresses = answer.addresses;
  ctx.addresses_found = answer.addresses.size();
  if (ctx.addresses.size() > kMaxAddresses) {
    ctx.addresses.resize(kMaxAddresses);
    ctx.rec.log("* only the first " + std::to_string(kMaxAddresses) + " are tried");
  }
  return Next::Continue;
}

}  // namespace smtpverify::check
