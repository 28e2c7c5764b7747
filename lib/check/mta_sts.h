// The text formats of MTA-STS (RFC 8461) and TLS-RPT (RFC 8460): the TXT records, the policy
// file and the mx patterns. Pure functions of strings: no DNS, no HTTP (steps/mta_sts.cpp
// fetches). Everything here came from the network: errors quote nothing raw (the caller
// sanitises what it prints), lengths are bounded by the fetch.
#pragma once

#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

namespace smtpverify::check::mta_sts {

/// RFC 8461 §3.2: the longest max_age a policy may have (about a year).
inline constexpr long long kMaxAge = 31557600;
/// RFC 8461 §3.3: the policy body a sender reads at most.
inline constexpr std::size_t kMaxPolicyBytes = 64 * 1024;

/// The one `v=STSv1` record of `_mta-sts.DOMAIN` (RFC 8461 §3.1).
struct StsRecord {
  std::string id;  ///< 1..32 letters and digits
};

/// Picks the record from every TXT record of the name: those not starting `v=STSv1` are
/// ignored; none → "no MTA-STS policy"; several, or the one malformed → why.
tl::expected<StsRecord, std::string> sts_record(const std::vector<std::string>& records);

/// RFC 8461 §5: what senders do when the MX does not meet the policy.
enum class Mode { Enforce, Testing, None };
/// "enforce", "testing", "none".
std::string_view mode_name(Mode mode);

/// A policy file (RFC 8461 §3.2).
struct Policy {
  Mode mode = Mode::None;
  std::vector<std::string> mx;  ///< the patterns, as written ("mail.example.org", "*.example.net")
  long long max_age = 0;        ///< seconds
};

/// Parses a policy body: `key: value` lines ended by LF or CRLF; version STSv1, one mode, one
/// max_age (at most kMaxAge), one or more mx (none allowed only in mode none); unknown keys
/// are ignored. Malformed → the line (its number) and what is wrong with it.
tl::expected<Policy, std::string> parse_policy(std::string_view body);

/// RFC 8461 §4.1: whether an MX host matches a policy's mx pattern, case-insensitively, a
/// trailing dot ignored; a leading "*." matches exactly one leftmost label.
bool mx_matches(std::string_view pattern, std::string_view host);

/// The one `v=TLSRPTv1` record of `_smtp._tls.DOMAIN` (RFC 8460 §3).
struct TlsRptRecord {
  std::vector<std::string> rua;  ///< mailto: and https: URIs
};

/// Picks the record from every TXT record of the name (those not starting `v=TLSRPTv1` are
/// ignored): none → "no TLS-RPT record"; several, or the one malformed → why.
tl::expected<TlsRptRecord, std::string> tls_rpt_record(const std::vector<std::string>& records);

}  // namespace smtpverify::check::mta_sts
