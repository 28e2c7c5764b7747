// lib/dns: is_host_name() (issue 14 #2) and the one status->words mapping.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dns/resolver.h"

namespace smtpverify::dns {
namespace {

TEST(IsHostName, LetterDigitHyphenLabels) {
  EXPECT_TRUE(is_host_name("mx.example.org"));
  EXPECT_TRUE(is_host_name("mx.example.org."));  // one trailing dot
  EXPECT_TRUE(is_host_name("MX-1.Example.ORG"));
  EXPECT_TRUE(is_host_name("localhost"));
  EXPECT_TRUE(is_host_name("1.0.0.127.in-addr.arpa"));
}

TEST(IsHostName, BytesThatCouldForgeOutputAreRefused) {
  for (const std::string& name : std::vector<std::string>{
           "mx.example.org | time=0s", "mx example.org", "a=b.example.org", "mx\r\n.example.org",
           std::string("mx\0.example.org", 15), "mx\x1b[1m.example.org", "m\xc3\xa9l.example.org",
           "ctl\\001.example.org", "_25._tcp.example.org", "mx;example.org"}) {
    EXPECT_FALSE(is_host_name(name)) << name;
  }
}

TEST(IsHostName, LengthsAndEmptyLabels) {
  const std::string label63(63, 'a');
  EXPECT_TRUE(is_host_name(label63 + ".org"));
  EXPECT_FALSE(is_host_name(label63 + "a.org"));  // 64 octets
  std::string name253;
  while (name253.size() < 253) name253 += name253.empty() ? "a" : ".a";
  ASSERT_EQ(name253.size(), 253u);
  EXPECT_TRUE(is_host_name(name253));
  EXPECT_TRUE(is_host_name(name253 + "."));
  EXPECT_FALSE(is_host_name(name253 + "a"));
  for (const char* name : {"", ".", "..", "a..b", ".a", "a.b.."}) {
    EXPECT_FALSE(is_host_name(name)) << name;
  }
}

TEST(StatusWords, OneMappingForEveryLookup) {
  EXPECT_EQ(status_words(ARES_ENOTFOUND), "NXDOMAIN");
  EXPECT_EQ(status_words(ARES_ENODATA), "no address records");
  EXPECT_EQ(status_words(ARES_ESERVFAIL), "SERVFAIL");
  EXPECT_EQ(status_words(ARES_EREFUSED), "query REFUSED");
  EXPECT_EQ(status_words(ARES_ETIMEOUT), "DNS timeout");
  EXPECT_EQ(status_words(ARES_ECANCELLED), "DNS timeout");
  EXPECT_EQ(status_words(ARES_EDESTRUCTION), "DNS timeout");
  EXPECT_EQ(status_words(ARES_ECONNREFUSED), "DNS server unreachable");
  EXPECT_EQ(status_words(ARES_EBADRESP), "malformed DNS answer");
  EXPECT_EQ(status_of(ARES_SUCCESS), Status::Ok);
  EXPECT_EQ(status_of(ARES_ENOTFOUND), Status::NxDomain);
  EXPECT_EQ(status_of(ARES_ENODATA), Status::NoData);
  EXPECT_EQ(status_of(ARES_ESERVFAIL), Status::ServFail);
  EXPECT_EQ(status_of(ARES_ETIMEOUT), Status::Timeout);
  EXPECT_EQ(status_of(ARES_ECONNREFUSED), Status::Error);  // refused at once: no timeout
}

}  // namespace
}  // namespace smtpverify::dns
