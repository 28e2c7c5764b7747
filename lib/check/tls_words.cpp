#include "check/tls_words.h"

#include "check/sanitize.h"

namespace smtpverify::check {

std::string certificate_names(const net::CertFacts& cert) {
  if (cert.names.empty()) return "none";
  std::string out;
  for (const auto& name : cert.names) {
    if (!out.empty()) out += ", ";
    out += sanitize(name, kMaxCertNameChars);
  }
  if (cert.name_count > cert.names.size()) {
    out += " (+" + std::to_string(cert.name_count - cert.names.size()) + " more)";
  }
  return out;
}

std::string name_mismatch_words(std::string_view expected, const net::TlsFacts& tls) {
  const std::string wanted = "expected " + sanitize(expected, kMaxQuotedChars / 2);
  if (tls.chain.empty()) return wanted + ", no certificate";
  return wanted + ", certificate names " + certificate_names(tls.chain.front());
}

std::string dane_mismatch_words(const net::TlsFacts& tls, bool ta_tried) {
  if (tls.chain.empty()) return "no certificate presented";
  // The digests are ours (hex of OpenSSL's), sanitised all the same.
  std::string out = "presented 3 1 1 " + sanitize(tls.chain.front().spki_sha256);
  if (ta_tried) {
    out += tls.chain.size() > 1 ? "; issuer 2 1 1 " + sanitize(tls.chain[1].spki_sha256)
                                : std::string("; no issuer presented");
  }
  return out;
}

const net::CertFacts* soonest_expiring(const net::TlsFacts& tls) {
  const net::CertFacts* soonest = nullptr;
  for (const auto& c : tls.chain) {
    if (soonest == nullptr || c.days_left < soonest->days_left) soonest = &c;
  }
  return soonest;
}

std::string expiry_date(const net::CertFacts& cert) {
  // not_after is "2027-02-26 15:04:05 UTC", made by us from ASN1_TIME_to_tm.
  if (cert.not_after.size() < 10) return "?";
  return sanitize(std::string_view(cert.not_after).substr(0, 10));
}

std::string subject_words(const net::CertFacts& cert) {
  return cert.subject.empty() ? "(no subject)" : sanitize(cert.subject, kMaxSubjectChars);
}

}  // namespace smtpverify::check
