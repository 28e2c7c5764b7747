#include "dns/hosts.h"

#include <gtest/gtest.h>

namespace smtpverify::dns {
namespace {

const char* const kHosts =
    "127.0.0.1\tlocalhost\n"
    "# 192.0.2.9 commented.example.org vm\n"
    "192.0.2.7   mail.example.org  mail   MX1 # the relay\n"
    "::1 ip6-localhost ip6-loopback\r\n"
    "broken-line-without-names\n"
    "127.0.1.1 vm";  // no final newline

TEST(HostsCanonicalName, AliasGivesTheFirstNameOfItsLine) {
  EXPECT_EQ(hosts_canonical_name(kHosts, "mail"), "mail.example.org");
  EXPECT_EQ(hosts_canonical_name(kHosts, "mx1"), "mail.example.org");  // case-insensitive
  EXPECT_EQ(hosts_canonical_name(kHosts, "mail.example.org"), "mail.example.org");
  EXPECT_EQ(hosts_canonical_name(kHosts, "ip6-loopback"), "ip6-localhost");
}

TEST(HostsCanonicalName, CommentsAndUnnamedLinesAreNotMatches) {
  EXPECT_EQ(hosts_canonical_name(kHosts, "vm"), "vm");  // the last line, not the comment
  EXPECT_EQ(hosts_canonical_name(kHosts, "commented.example.org"), std::nullopt);
  EXPECT_EQ(hosts_canonical_name(kHosts, "the"), std::nullopt);
  EXPECT_EQ(hosts_canonical_name(kHosts, "broken-line-without-names"), std::nullopt);
  EXPECT_EQ(hosts_canonical_name(kHosts, "192.0.2.7"), std::nullopt);  // an address is no name
  EXPECT_EQ(hosts_canonical_name("", "vm"), std::nullopt);
}

}  // namespace
}  // namespace smtpverify::dns
