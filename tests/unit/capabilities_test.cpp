#include "smtp/capabilities.h"

#include <gtest/gtest.h>

namespace smtpverify::smtp {
namespace {

TEST(Capabilities, KeywordsAreCaseInsensitiveAndGreetingIsSkipped) {
  Reply r{250,
          {"mail.example.org Hello", "PIPELINING", "size 10240000", "starttls", "AUTH PLAIN LOGIN",
           "8BITMIME"}};
  const auto caps = Capabilities::from_ehlo(r);
  EXPECT_TRUE(caps.has("STARTTLS"));
  EXPECT_TRUE(caps.has("starttls"));
  EXPECT_TRUE(caps.has("Size"));
  EXPECT_EQ(caps.params("SIZE"), "10240000");
  EXPECT_EQ(caps.params("auth"), "PLAIN LOGIN");
  EXPECT_FALSE(caps.has("mail.example.org"));
  EXPECT_FALSE(caps.has("DSN"));
  EXPECT_TRUE(caps.has("8BITMIME") && caps.has("PIPELINING") && caps.has("auth"));
}

TEST(Capabilities, SingleLineReplyHasNone) {
  const auto caps = Capabilities::from_ehlo(Reply{250, {"mail.example.org"}});
  EXPECT_TRUE(caps.empty());
  EXPECT_FALSE(caps.has("STARTTLS"));
}

TEST(Capabilities, KeywordMustMatchWhole) {
  const auto caps = Capabilities::from_ehlo(Reply{250, {"x", "STARTTLSX", "XSTARTTLS"}});
  EXPECT_FALSE(caps.has("STARTTLS"));
}

}  // namespace
}  // namespace smtpverify::smtp
