// smtp::address_literal (RFC 5321 §4.1.3).
#include "smtp/address_literal.h"

#include <gtest/gtest.h>

namespace smtpverify::smtp {
namespace {

TEST(AddressLiteral, IPv4AndTaggedIPv6) {
  EXPECT_EQ(address_literal("[192.0.2.1]"), "192.0.2.1");
  EXPECT_EQ(address_literal("[IPv6:2001:DB8:0:0::1]"), "2001:db8::1");  // canonical text
  EXPECT_EQ(address_literal("[IPv6:::1]"), "::1");
  EXPECT_EQ(address_literal("[::1]"), "::1");  // the tag was never required here
}

TEST(AddressLiteral, NamesAndBrokenLiteralsAreNot) {
  for (const char* text :
       {"mail.example.org", "192.0.2.1", "[]", "[192.0.2.256]", "[192.0.2.1", "192.0.2.1]",
        "[IPv6:]", "[IPv6:192.0.2.1x]", "[mail.example.org]", "[ 192.0.2.1]"}) {
    EXPECT_EQ(address_literal(text), std::nullopt) << text;
  }
}

}  // namespace
}  // namespace smtpverify::smtp
