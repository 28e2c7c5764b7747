// --mta-sts and --tls-rpt (mta_sts.cpp): what a mail domain publishes about its MX hosts'
// TLS, asked before the MX hosts are checked, held against each of them after.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "check/mta_sts.h"
#include "check/result.h"
#include "check/steps/context.h"

namespace smtpverify::check {

/// What the domain publishes, and the problems and facts that go into the whole check.
struct DomainPolicies {
  std::optional<MtaStsFacts> mta_sts;  ///< with --mta-sts
  std::optional<TlsRptFacts> tls_rpt;  ///< with --tls-rpt
  std::vector<Problem> problems;       ///< the domain's own (no policy, fetch failed, …)
  std::vector<std::string> facts;      ///< "MTA-STS enforce id …", "TLS-RPT rua …"
};

/// --mta-sts needs the HTTPS module (libcurl): loaded before anything is sent (UNKNOWN without).
Next load_https_module(Context& ctx);

/// The TXT records `_mta-sts.DOMAIN` and `_smtp._tls.DOMAIN` (side by side), then the policy
/// from https://mta-sts.DOMAIN/.well-known/mta-sts.txt, all under the check's deadline and
/// through its resolver; timed as the phase mta_sts (with --mta-sts).
DomainPolicies fetch_domain_policies(Context& ctx, const std::string& domain);

/// The mode that rates an MX host's TLS findings (hold_tls_to_policy): the policy's, when one was
/// fetched and STARTTLS was only --mta-sts's (-S and -D findings keep the table's state).
std::optional<mta_sts::Mode> tls_policy(const DomainPolicies& policies, const Config& config);

/// RFC 8461 §4.2, §5: the TLS findings of one target's check (STARTTLS not offered, refused or
/// injected, the certificate not valid for its name or expired) take the state of the policy's
/// mode, named in their text. check_host() calls it for each target it checks, before the
/// target is rated (as a part, or as the whole).
void hold_tls_to_policy(CheckResult& target, mta_sts::Mode mode);

/// Holds the check of one MX host to the policy (RFC 8461 §4.1): its name must match an mx
/// pattern, else a problem of the policy's mode.
void hold_to_policy(CheckResult& host, const std::string& mx_host, const DomainPolicies& policies);

/// Adds the domain's facts, problems and the JSON facts to the whole check.
void add_domain_policies(CheckResult& whole, DomainPolicies policies);

}  // namespace smtpverify::check
