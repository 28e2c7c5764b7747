#include "check/sanitize.h"

#include <gtest/gtest.h>

namespace smtpverify::check {
namespace {

TEST(Sanitize, PrintableAsciiPassesThrough) {
  EXPECT_EQ(sanitize("250 2.0.0 Ok: queued as 4Xk"), "250 2.0.0 Ok: queued as 4Xk");
}

TEST(Sanitize, PipeAndControlBytesAreEscaped) {
  EXPECT_EQ(sanitize("a|b"), "a\\x7cb");
  EXPECT_EQ(sanitize(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(sanitize("x\r\ny"), "x\\x0d\\x0ay");
  EXPECT_EQ(sanitize("\x1b[31mred"), "\\x1b[31mred");
  EXPECT_EQ(sanitize("caf\xc3\xa9"), "caf\\xc3\\xa9");
  EXPECT_EQ(sanitize("\x7f"), "\\x7f");
}

TEST(Sanitize, ForgedPerfdataCannotSurvive) {
  const std::string evil = "ok | time=0s;;;0\nSMTP OK - fake";
  const std::string out = sanitize(evil);
  EXPECT_EQ(out.find('|'), std::string::npos);
  EXPECT_EQ(out.find('\n'), std::string::npos);
}

TEST(Sanitize, CutAtTheBound) {
  const std::string out = sanitize(std::string(500, 'a'));
  EXPECT_EQ(out, std::string(200, 'a') + "...");
  // An escape is never cut in half.
  const std::string esc = sanitize(std::string(198, 'a') + "\x01");
  EXPECT_EQ(esc, std::string(198, 'a') + "...");
  EXPECT_EQ(sanitize("abcdef", 3), "abc...");
}

}  // namespace
}  // namespace smtpverify::check
