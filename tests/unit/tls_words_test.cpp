// The words of TLS findings (issue 15): names, TLSA digests and expiry from certificate facts,
// all of it the server's and sanitised.
#include "check/tls_words.h"

#include <gtest/gtest.h>

#include <string>

namespace smtpverify::check {
namespace {

net::CertFacts cert(std::vector<std::string> names, std::size_t count) {
  net::CertFacts c;
  c.names = std::move(names);
  c.name_count = count;
  return c;
}

const std::string kLeafDigest(64, 'a');
const std::string kIssuerDigest(64, 'b');

net::TlsFacts chain_of(std::size_t n) {
  net::TlsFacts t;
  for (std::size_t i = 0; i < n; ++i) {
    net::CertFacts c;
    c.spki_sha256 = i == 0 ? kLeafDigest : kIssuerDigest;
    t.chain.push_back(c);
  }
  return t;
}

TEST(CertificateNames, ListsTheFirstFewAndCountsTheRest) {
  EXPECT_EQ(certificate_names(cert({"DNS:mx.other.org"}, 1)), "DNS:mx.other.org");
  EXPECT_EQ(certificate_names(cert({"DNS:a.org", "IP:192.0.2.1", "DNS:c.org"}, 6)),
            "DNS:a.org, IP:192.0.2.1, DNS:c.org (+3 more)");
  EXPECT_EQ(certificate_names(cert({"CN=mx.example.org"}, 1)), "CN=mx.example.org");
  EXPECT_EQ(certificate_names(cert({}, 0)), "none");
}

TEST(CertificateNames, HostileNamesAreSanitisedAndCut) {
  EXPECT_EQ(certificate_names(cert({std::string("DNS:a\r\nb|c\0d", 12)}, 1)),
            "DNS:a\\x0d\\x0ab\\x7cc\\x00d");
  const std::string longest = certificate_names(cert({"DNS:" + std::string(300, 'x')}, 1));
  EXPECT_EQ(longest, "DNS:" + std::string(kMaxCertNameChars - 4, 'x') + "...");
}

TEST(NameMismatchWords, ExpectedAndTheLeafsNames) {
  net::TlsFacts t = chain_of(2);
  t.chain[0].names = {"DNS:other.org"};
  t.chain[0].name_count = 1;
  t.chain[1].names = {"CN=intermediate"};  // not the leaf: never listed
  EXPECT_EQ(name_mismatch_words("mx.example.org", t),
            "expected mx.example.org, certificate names DNS:other.org");
  EXPECT_EQ(name_mismatch_words("mx.example.org", net::TlsFacts{}),
            "expected mx.example.org, no certificate");
  EXPECT_EQ(name_mismatch_words("a\x1b"
                                "b",
                                chain_of(1)),
            "expected a\\x1bb, certificate names none");
}

TEST(DaneMismatchWords, TheLeafsDigestAndTheIssuersWhenATaRecordWasTried) {
  EXPECT_EQ(dane_mismatch_words(chain_of(2), false), "presented 3 1 1 " + kLeafDigest);
  EXPECT_EQ(dane_mismatch_words(chain_of(2), true),
            "presented 3 1 1 " + kLeafDigest + "; issuer 2 1 1 " + kIssuerDigest);
  EXPECT_EQ(dane_mismatch_words(chain_of(1), true),
            "presented 3 1 1 " + kLeafDigest + "; no issuer presented");
  EXPECT_EQ(dane_mismatch_words(chain_of(0), true), "no certificate presented");
}

TEST(Expiry, TheSoonestInTheChainItsDayAndSubject) {
  net::TlsFacts t = chain_of(3);
  t.chain[0].days_left = 80;
  t.chain[1].days_left = 19;
  t.chain[1].subject = "CN=intermediate,O=Example";
  t.chain[1].not_after = "2026-12-24 10:00:00 UTC";
  t.chain[2].days_left = 19;
  const net::CertFacts* soonest = soonest_expiring(t);
  ASSERT_NE(soonest, nullptr);
  EXPECT_EQ(soonest, &t.chain[1]);  // the first of equals
  EXPECT_EQ(expiry_date(*soonest), "2026-12-24");
  EXPECT_EQ(subject_words(*soonest), "CN=intermediate,O=Example");
  EXPECT_EQ(soonest_expiring(net::TlsFacts{}), nullptr);
  net::CertFacts odd;
  EXPECT_EQ(expiry_date(odd), "?");
  EXPECT_EQ(subject_words(odd), "(no subject)");
  odd.subject = "CN=\x7f" + std::string(200, 'x');
  EXPECT_EQ(subject_words(odd), "CN=\\x7f" + std::string(kMaxSubjectChars - 7, 'x') + "...");
}

}  // namespace
}  // namespace smtpverify::check
