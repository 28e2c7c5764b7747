// --mta-sts and --tls-rpt (mta_sts.cpp): what a mail domain publishes about its MX hosts'
// TLS, asked before the MX hosts are checked, held against each of them after.
#pragma once

#include <string>
#include <vector>

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

/// Holds the check of one MX host to the policy (RFC 8461 §4): its name must match an mx
/// pattern, and its TLS findings (STARTTLS missing or refused, the certificate not valid for
/// its name) take the state of the policy's mode when STARTTLS was only --mta-sts's.
void hold_to_policy(CheckResult& host, const std::string& mx_host, const DomainPolicies& policies,
                    const Config& config);

/// Adds the domain's facts, problems and the JSON facts to the whole check.
void add_domain_policies(CheckResult& whole, DomainPolicies policies);

}  // namespace smtpverify::check
