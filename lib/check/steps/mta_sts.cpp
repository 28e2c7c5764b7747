#include "check/steps/mta_sts.h"

#include <algorithm>
#include <cctype>
#include <optional>

#include "check/mta_sts.h"
#include "check/render.h"
#include "dns/txt.h"
#include "net/https.h"

namespace smtpverify::check {

namespace {

using mta_sts::Mode;

constexpr std::string_view kPolicyPath = "/.well-known/mta-sts.txt";
// A policy's lines shown in the -v transcript at most.
constexpr std::size_t kMaxLoggedLines = 20;

// The record `parse` reads from the TXT answer for `name` (each string logged as "* WHAT: NAME
// TXT …"), or the problem's words: the lookup failed, or it found no record `parse` accepts
// (for a name that does not exist or holds no TXT, with DNS's answer in parentheses).
template <typename Parse>
auto read_txt(Context& ctx, std::string_view what, const std::string& name,
              const dns::TxtResult& txt, Parse parse) -> decltype(parse(txt.records)) {
  for (const auto& r : txt.records)
    ctx.rec.log("* " + std::string(what) + ": " + name + " TXT " + r);
  const bool absent = txt.status == dns::Status::NxDomain || txt.status == dns::Status::NoData;
  if (txt.status != dns::Status::Ok && !absent) {
    return tl::unexpected(std::string(what) + ": TXT lookup of " + name + " failed: " + txt.error);
  }
  auto record = parse(txt.records);
  if (!record && absent) record.error() += " (" + name + ": " + txt.error + ")";
  return record;
}

// The policy behind a valid TXT record, fetched and read; a problem's words when it fails.
tl::expected<mta_sts::Policy, std::string> fetch_policy(Context& ctx, const std::string& domain,
                                                        dns::Resolver& resolver) {
  const std::string host = "mta-sts." + domain;
  const auto found = resolver.resolve(host, ctx.config.family, 443, ctx.deadline);
  if (found.status != dns::Status::Ok || found.addresses.empty()) {
    return tl::unexpected("MTA-STS policy fetch: cannot resolve " + host + ": " +
                          (found.error.empty() ? std::string("no address") : found.error));
  }
  net::HttpsRequest request;
  request.host = host;
  request.path = std::string(kPolicyPath);
  for (const auto& a : found.addresses) {
    if (request.addresses.size() < kMaxAddresses) request.addresses.push_back(a.address());
  }
  request.ca_file = ctx.config.ca_file;
  request.ca_path = ctx.config.ca_path;
  request.max_body = mta_sts::kMaxPolicyBytes;
  ctx.rec.log("* MTA-STS: GET https://" + host + std::string(kPolicyPath) + " (" +
              request.addresses.front() + ")");
  const auto response = net::https_get(request, ctx.deadline);
  if (!response) return tl::unexpected("MTA-STS policy fetch: " + response.error());
  ctx.rec.log("* MTA-STS: HTTP " + std::to_string(response->status) + ", " +
              (response->content_type.empty() ? "no Content-Type" : response->content_type) + ", " +
              std::to_string(response->body.size()) + " bytes");
  // RFC 8461 §3.3: only a 200 counts, redirects are not followed.
  if (response->status != 200) {
    return tl::unexpected("MTA-STS policy fetch: HTTP " + std::to_string(response->status));
  }
  // RFC 8461 §3.2: media type text/plain (parameters such as charset allowed).
  const std::string& type = response->content_type;
  const std::string media = type.substr(0, type.find(';'));
  std::string bare;
  for (const char c : media) {
    if (c != ' ' && c != '\t')
      bare += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (bare != "text/plain") {
    return tl::unexpected("MTA-STS policy fetch: Content-Type " +
                          (type.empty() ? std::string("missing") : type) + ", not text/plain");
  }
  std::string_view body = response->body;
  for (std::size_t n = 0; n < kMaxLoggedLines && !body.empty(); ++n) {
    const auto lf = body.find('\n');
    std::string_view line = body.substr(0, lf);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    ctx.rec.log("* MTA-STS policy: " + std::string(line));
    body.remove_prefix(lf == std::string_view::npos ? body.size() : lf + 1);
  }
  return mta_sts::parse_policy(response->body);
}

void fetch_mta_sts(Context& ctx, const std::string& domain, dns::Resolver& resolver,
                   const dns::TxtResult& txt, DomainPolicies& out) {
  MtaStsFacts facts;
  const auto fail = [&](const std::string& words) {
    facts.problems.push_back(words);
    out.problems.push_back({ProblemKind::MtaSts, {}, words, true});
  };
  if (const auto record = read_txt(ctx, "MTA-STS", "_mta-sts." + domain, txt, mta_sts::sts_record);
      !record) {
    fail(record.error());
  } else {
    facts.id = record->id;
    if (auto policy = fetch_policy(ctx, domain, resolver); policy) {
      facts.policy = std::move(*policy);
      const std::string mode(mta_sts::mode_name(facts.policy->mode));
      out.facts.push_back("MTA-STS " + mode + " id " + facts.id +
                          (facts.policy->mode == Mode::None ? " (nothing enforced)" : ""));
    } else {
      fail(policy.error());
    }
  }
  out.mta_sts = std::move(facts);
}

void read_tls_rpt(Context& ctx, const std::string& domain, const dns::TxtResult& txt,
                  DomainPolicies& out) {
  TlsRptFacts facts;
  if (const auto record =
          read_txt(ctx, "TLS-RPT", "_smtp._tls." + domain, txt, mta_sts::tls_rpt_record);
      !record) {
    facts.problems.push_back(record.error());
    out.problems.push_back({ProblemKind::TlsRpt, {}, record.error(), true});
  } else {
    facts.rua = record->rua;
    std::string list;
    for (const auto& uri : facts.rua) list += (list.empty() ? "" : ",") + uri;
    out.facts.push_back("TLS-RPT rua " + list);
  }
  out.tls_rpt = std::move(facts);
}

// A finding of the MX host's TLS that an MTA-STS policy speaks of (RFC 8461 §4.2: STARTTLS
// offered, the certificate chain valid, the name matched, not expired).
bool tls_finding(const Problem& p) {
  if (p.kind == ProblemKind::Tls || p.kind == ProblemKind::CertExpired) return true;
  return p.kind == ProblemKind::Smtp && (p.smtp == smtp::FindingKind::StarttlsNotOffered ||
                                         p.smtp == smtp::FindingKind::StarttlsRefused ||
                                         p.smtp == smtp::FindingKind::StarttlsInjection);
}

State state_for(Mode mode) {
  switch (mode) {
    case Mode::Enforce:
      return State::Critical;
    case Mode::Testing:
      return State::Warning;
    case Mode::None:
      return State::Ok;
  }
  return State::Critical;
}

}  // namespace

Next load_https_module(Context& ctx) {
  if (!ctx.config.mta_sts) return Next::Continue;
  // libcurl is needed: our own setup failing is UNKNOWN, not the domain's fault, and it is
  // said before anything is asked of DNS or a server.
  if (const auto ready = net::https_ready(); !ready) {
    ctx.rec.problem(ProblemKind::Internal, ready.error(), true);
    return Next::Stop;
  }
  return Next::Continue;
}

DomainPolicies fetch_domain_policies(Context& ctx, const std::string& domain) {
  DomainPolicies out;
  dns::Resolver* resolver = ctx.resolver();
  if (resolver == nullptr) return out;  // the resolver's failure is recorded already
  const auto t0 = net::Clock::now();
  std::optional<dns::TxtLookup> sts;
  std::optional<dns::TxtLookup> rpt;
  if (ctx.config.mta_sts) sts.emplace(*resolver, "_mta-sts." + domain);
  if (ctx.config.tls_rpt) rpt.emplace(*resolver, "_smtp._tls." + domain);
  if (sts) {
    sts->finish(ctx.deadline);
    fetch_mta_sts(ctx, domain, *resolver, sts->answer(), out);
    ctx.rec.time(smtp::Phase::MtaSts, seconds_between(t0, net::Clock::now()));
  }
  if (rpt) {
    rpt->finish(ctx.deadline);
    read_tls_rpt(ctx, domain, rpt->answer(), out);
  }
  return out;
}

std::optional<Mode> tls_policy(const DomainPolicies& policies, const Config& config) {
  // -S (or -D) asked for STARTTLS itself: its findings keep the table's state.
  if (!config.starttls_by_mta_sts || !policies.mta_sts || !policies.mta_sts->policy) {
    return std::nullopt;
  }
  return policies.mta_sts->policy->mode;
}

void hold_tls_to_policy(CheckResult& target, Mode mode) {
  const std::string suffix = " (MTA-STS " + std::string(mta_sts::mode_name(mode)) + ")";
  for (auto& p : target.problems) {
    if (!tls_finding(p) || p.state) continue;
    p.state = state_for(mode);
    p.text += suffix;
  }
}

void hold_to_policy(CheckResult& host, const std::string& mx_host, const DomainPolicies& policies) {
  if (!policies.mta_sts || !policies.mta_sts->policy) return;
  const mta_sts::Policy& policy = *policies.mta_sts->policy;
  const std::string mode(mta_sts::mode_name(policy.mode));
  const bool matched = std::any_of(policy.mx.begin(), policy.mx.end(), [&](const std::string& p) {
    return mta_sts::mx_matches(p, mx_host);
  });
  if (!matched) {
    std::string list;
    for (std::size_t i = 0; i < policy.mx.size() && i < 3; ++i) {
      list += (i > 0 ? ", " : "") + policy.mx[i];
    }
    if (policy.mx.size() > 3) list += ", …";
    Problem p{ProblemKind::MtaStsMx,
              {},
              "MTA-STS " + mode + ": MX host " + mx_host + " matches no mx of the policy" +
                  (list.empty() ? std::string() : " (" + list + ")"),
              true,
              state_for(policy.mode)};
    host.problems.push_back(std::move(p));
  }
}

void add_domain_policies(CheckResult& whole, DomainPolicies policies) {
  for (auto& p : policies.problems) whole.problems.push_back(std::move(p));
  for (auto& f : policies.facts) whole.facts.push_back(std::move(f));
  whole.mta_sts = std::move(policies.mta_sts);
  whole.tls_rpt = std::move(policies.tls_rpt);
}

}  // namespace smtpverify::check
