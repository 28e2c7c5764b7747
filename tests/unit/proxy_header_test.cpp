#include "net/proxy_header.h"

#include <gtest/gtest.h>

namespace smtpverify::net {
namespace {

Endpoint ep(const char* address, std::uint16_t port) {
  auto e = parse_ip_literal(address, port);
  EXPECT_TRUE(e.has_value()) << address;
  return e.value_or(Endpoint{});
}

// The examples of HAProxy's proxy-protocol.txt §2.1 (text only: nothing connects to them).
TEST(ProxyV1, SpecificationExamples) {
  EXPECT_EQ(proxy_v1_header(ep("192.168.0.1", 56324), ep("192.168.0.11", 443)),
            "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
  const std::string worst4 =
      proxy_v1_header(ep("255.255.255.255", 65535), ep("255.255.255.255", 65535));
  EXPECT_EQ(worst4, "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n");
  EXPECT_EQ(worst4.size(), 56u);  // "=> 56 chars"
  const std::string worst6 = proxy_v1_header(ep("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535),
                                             ep("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535));
  EXPECT_EQ(worst6,
            "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n");
  EXPECT_EQ(worst6.size(), 104u);  // "=> 104 chars"
  EXPECT_LE(worst6.size(), 107u);  // the protocol's hard limit
}

TEST(ProxyV1, LoopbackIpv6IsCompressed) {
  EXPECT_EQ(proxy_v1_header(ep("::1", 40000), ep("::1", 25)), "PROXY TCP6 ::1 ::1 40000 25\r\n");
}

TEST(ProxyV2, Ipv4BytesExactly) {
  const std::string h = proxy_v2_header(ep("127.0.0.2", 0x1234), ep("192.0.2.10", 25));
  const std::string expected(
      "\x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0A"  // signature
      "\x21"                                              // v2, PROXY
      "\x11"                                              // TCP over IPv4
      "\x00\x0C"                                          // 12 address bytes follow
      "\x7F\x00\x00\x02"                                  // source 127.0.0.2
      "\xC0\x00\x02\x0A"                                  // destination 192.0.2.10
      "\x12\x34"                                          // source port
      "\x00\x19",                                         // destination port 25
      28);
  EXPECT_EQ(h, expected);
}

TEST(ProxyV2, Ipv6BytesExactly) {
  const std::string h = proxy_v2_header(ep("::1", 50000), ep("2001:db8::25", 587));
  ASSERT_EQ(h.size(), 16u + 36u);
  EXPECT_EQ(h.substr(12, 4), std::string("\x21\x21\x00\x24", 4));  // v2 PROXY, TCP6, len 36
  EXPECT_EQ(h.substr(16, 16), std::string(15, '\0') + "\x01");
  EXPECT_EQ(h.substr(32, 16),
            std::string("\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x25", 16));
  EXPECT_EQ(h.substr(48), std::string("\xC3\x50\x02\x4B", 4));  // 50000, 587
}

TEST(ProxyHeader, TranscriptDescriptions) {
  EXPECT_EQ(describe_proxy_header(ProxyVersion::V1, ep("127.0.0.1", 40000), ep("127.0.0.1", 25)),
            "PROXY TCP4 127.0.0.1 127.0.0.1 40000 25");
  EXPECT_EQ(describe_proxy_header(ProxyVersion::V2, ep("::1", 40000), ep("::1", 25)),
            "[PROXY v2 TCP6 [::1]:40000 -> [::1]:25, 52 bytes]");
}

}  // namespace
}  // namespace smtpverify::net
