// The words of TLS findings that say what was expected and what was found: the names a
// certificate carries, the TLSA records that would match it, when and which certificate
// expires. Pure formatting of net::TlsFacts; every text from a certificate is sanitised here.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "net/tls.h"

namespace smtpverify::check {

/// A name from a certificate is cut at this many characters; a subject at kMaxSubjectChars.
inline constexpr std::size_t kMaxCertNameChars = 64;
inline constexpr std::size_t kMaxSubjectChars = 100;

/// The certificate's names as a name check saw them, the first few sanitised:
/// "DNS:mx.other.org, DNS:other.org, IP:192.0.2.1 (+3 more)"; "none" when it has none.
std::string certificate_names(const net::CertFacts& cert);

/// After a name mismatch: "expected mx.example.org, certificate names DNS:other.org" (the
/// leaf's names; "expected mx.example.org, no certificate" without one).
std::string name_mismatch_words(std::string_view expected, const net::TlsFacts& tls);

/// After no TLSA record matched: what records for the presented chain would say,
/// "presented 3 1 1 HEX" and, when a DANE-TA record was tried, "; issuer 2 1 1 HEX" (the
/// chain's second certificate; "; no issuer presented" without one).
std::string dane_mismatch_words(const net::TlsFacts& tls, bool ta_tried);

/// The certificate of the chain that expires soonest (the first of equals), or nullptr.
const net::CertFacts* soonest_expiring(const net::TlsFacts& tls);

/// The day a certificate expires, "2026-12-24" (UTC), or "?" when unknown.
std::string expiry_date(const net::CertFacts& cert);

/// The certificate's subject, sanitised and cut at kMaxSubjectChars.
std::string subject_words(const net::CertFacts& cert);

}  // namespace smtpverify::check
