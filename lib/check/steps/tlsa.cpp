#include "dns/tlsa.h"

#include "check/steps/steps.h"

namespace smtpverify::check {

namespace {

// Whether the answer can authenticate the server; the problem is recorded when not.
bool usable(Context& ctx, const dns::TlsaResult& tlsa, const std::string& owner) {
  switch (tlsa.status) {
    case dns::TlsaResult::Status::Ok:
      return true;
    case dns::TlsaResult::Status::Insecure:
      if (!ctx.config.dane_insecure) {
        ctx.rec.problem(ProblemKind::Tls, "DANE: the TLSA answer for " + owner +
                                              " is not DNSSEC-authenticated (no AD bit)");
        return false;
      }
      ctx.rec.log("* TLSA answer not authenticated, accepted (--dane-insecure)");
      return true;
    case dns::TlsaResult::Status::NoRecords:
      ctx.rec.problem(ProblemKind::Tls, "DANE: no TLSA records for " + owner);
      return false;
    case dns::TlsaResult::Status::Timeout:
      ctx.timeout("TLSA of " + owner);
      return false;
    default:
      ctx.rec.problem(ProblemKind::Tls,
                      "DANE: TLSA lookup for " + owner + " failed: " + tlsa.error);
      return false;
  }
}

}  // namespace

// RFC 7672 §2.2: the TLSA records of _PORT._tcp.HOST, before anything is sent. Without
// usable, authenticated records there is nothing to authenticate the server with.
Next find_tlsa(Context& ctx) {
  if (!ctx.config.dane) return Next::Continue;
  auto* r = ctx.resolver();
  if (r == nullptr) return Next::Stop;
  const auto t0 = net::Clock::now();
  const dns::TlsaResult tlsa = r->tlsa(ctx.host, ctx.config.port, ctx.deadline);
  ctx.rec.time(smtp::Phase::Resolve, seconds_between(t0, net::Clock::now()));
  const std::string owner = dns::tlsa_name(ctx.host, ctx.config.port);
  for (const auto& rec : tlsa.records) ctx.rec.log("* TLSA " + owner + " " + dns::tlsa_text(rec));
  if (!usable(ctx, tlsa, owner)) return Next::Stop;
  for (const auto& rec : tlsa.records) {
    ctx.dane.push_back({rec.usage, rec.selector, rec.mtype, rec.data});
  }
  return Next::Continue;
}

}  // namespace smtpverify::check
