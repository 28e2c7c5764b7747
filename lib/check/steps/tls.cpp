#include "net/tls.h"

#include <algorithm>

#include "check/steps/steps.h"
#include "check/tls_words.h"

namespace smtpverify::check {

namespace {

// The TLS options of this check: names per contract §3 ("Names").
net::TlsOptions tls_options(const Context& ctx) {
  const auto& config = ctx.config;
  net::TlsOptions o;
  o.verify = !config.no_verify;
  o.ca_file = config.ca_file;
  o.ca_path = config.ca_path;
  o.min_version = config.tls_min;
  o.dane = ctx.dane;
  o.dane_base_domain = ctx.host;
  const bool literal = ctx.host_is_literal();
  if (config.verify_name) {
    o.verify_name = *config.verify_name;
  } else if (!literal) {
    o.verify_name = ctx.host;
  } else {
    o.verify_ip = ctx.host;
  }
  if (config.sni) {
    o.sni = *config.sni;
  } else if (config.verify_name) {
    o.sni = *config.verify_name;
  } else if (!literal) {
    o.sni = ctx.host;
  }
  return o;
}

// The name (or address) a name check looked for: with DANE the TLSA base domain, or the name
// to verify when it differs (either will do).
std::string expected_identity(const net::TlsOptions& o) {
  if (o.dane.empty()) return o.verify_name.empty() ? o.verify_ip : o.verify_name;
  std::string base = o.dane_base_domain.empty() ? o.verify_name : o.dane_base_domain;
  if (!base.empty() && base.back() == '.') base.pop_back();
  if (o.verify_name.empty() || o.verify_name == base) return base;
  return base + " or " + o.verify_name;
}

// A verification failure in OpenSSL's words, and what was expected and found (issue 15).
std::string verify_failure_words(const Context& ctx, const net::TlsFailure& failure,
                                 const net::TlsOptions& options) {
  const std::string words = "certificate verification failed: " + failure.reason;
  switch (failure.cause) {
    case net::TlsFailure::Cause::NameMismatch:
      return words + ": " + name_mismatch_words(expected_identity(options), ctx.tls);
    case net::TlsFailure::Cause::DaneNoMatch: {
      const bool ta_tried = std::any_of(options.dane.begin(), options.dane.end(),
                                        [](const net::DaneRecord& r) { return r.usage == 2; });
      return words + ": " + dane_mismatch_words(ctx.tls, ta_tried);
    }
    case net::TlsFailure::Cause::Expired:
      if (const auto* c = soonest_expiring(ctx.tls)) {
        return words + " on " + expiry_date(*c) + ": " + subject_words(*c);
      }
      return words;
    case net::TlsFailure::Cause::Other:
      break;
  }
  return words;
}

void log_handshake(Context& ctx, const std::string& how) {
  const auto& tls = ctx.tls;
  if (tls.version.empty()) return;
  ctx.rec.log("* " + how + " " + tls.version + " " + tls.cipher);
  for (std::size_t i = 0; i < tls.chain.size(); ++i) {
    const auto& c = tls.chain[i];
    ctx.rec.log("* cert " + std::to_string(i) + ": subject " + c.subject + ", issuer " + c.issuer +
                ", not after " + c.not_after + " (" + std::to_string(c.days_left) + " d)" +
                ", names " + certificate_names(c) + ", 3 1 1 " + c.spki_sha256);
  }
}

}  // namespace

// A plain check never loads the module (lib/net/tls_loader.cpp). Loaded before anything is
// sent, so that a broken installation is UNKNOWN and costs the server nothing.
Next load_tls_module(Context& ctx) {
  const auto& config = ctx.config;
  if (!config.starttls && !config.implicit_tls && !config.auth_mechanism) return Next::Continue;
  const auto loaded = net::load_tls();
  if (loaded) return Next::Continue;
  ctx.rec.problem(ProblemKind::Internal, loaded.error().reason, true);
  return Next::Stop;
}

void prepare_tls(const Context& ctx) { net::TlsStream::prepare(tls_options(ctx)); }

TlsOutcome start_tls(Context& ctx, const std::string& how) {
  const auto t0 = net::Clock::now();
  const net::TlsOptions options = tls_options(ctx);
  auto tls = net::TlsStream::handshake(ctx.tcp->release(), options, ctx.deadline);
  ctx.tcp = nullptr;
  const net::TlsFailure* failure = tls ? nullptr : &tls.error().failure;
  // A handshake that ended (even in failure) took measurable time; a timed-out one did not end.
  if (ctx.config.implicit_tls && (!failure || failure->kind != net::TlsFailure::Kind::Timeout)) {
    ctx.rec.time(smtp::Phase::Tls, seconds_between(t0, net::Clock::now()));
  }
  // The channel, also the untrusted one after a Verify failure (for QUIT).
  net::Handshaken* done = tls ? &*tls : tls.error().untrusted ? &*tls.error().untrusted : nullptr;
  ctx.tls = done ? done->facts : net::TlsFacts{};
  log_handshake(ctx, how);
  if (!failure) {
    if (ctx.tls.verified) ctx.rec.log("* certificate verified");
    ctx.stream = std::move(done->stream);
    return TlsOutcome::Established;
  }
  switch (failure->kind) {
    case net::TlsFailure::Kind::Timeout:
      ctx.timeout("TLS handshake");
      break;
    case net::TlsFailure::Kind::Setup:
      ctx.rec.problem(ProblemKind::Internal, failure->reason);
      break;
    case net::TlsFailure::Kind::Handshake:
      // OpenSSL's words when the first bytes were no TLS record: "220 …" from a plain port.
      ctx.rec.problem(ProblemKind::Tls,
                      "TLS handshake failed: " + failure->reason +
                          (ctx.config.implicit_tls &&
                                   failure->reason.find("wrong version number") != std::string::npos
                               ? " (the server speaks plain SMTP: try -S)"
                               : ""));
      break;
    case net::TlsFailure::Kind::Verify:
      // Never go on over a connection we could not authenticate (AUTH, MAIL would follow).
      ctx.rec.problem(ProblemKind::Tls, verify_failure_words(ctx, *failure, options));
      ctx.expiry_reported = failure->cause == net::TlsFailure::Cause::Expired;
      if (!done) break;
      ctx.stream = std::move(done->stream);
      return TlsOutcome::Untrusted;
  }
  ctx.stream.reset();
  return TlsOutcome::Failed;
}

}  // namespace smtpverify::check
