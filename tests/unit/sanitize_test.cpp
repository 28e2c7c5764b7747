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

TEST(PerfdataLabel, SafeCharactersPassThrough) {
  EXPECT_EQ(perfdata_label("time"), "time");
  EXPECT_EQ(perfdata_label("helo_dns"), "helo_dns");
  EXPECT_EQ(perfdata_label("mx-1.Example.org_banner"), "mx-1.Example.org_banner");
}

TEST(PerfdataLabel, EveryOtherByteBecomesAnUnderscore) {
  EXPECT_EQ(perfdata_label("x cert_days=-5 time=99s y_banner"), "x_cert_days_-5_time_99s_y_banner");
  EXPECT_EQ(perfdata_label("a|b'c\"d;e\\f"), "a_b_c_d_e_f");
  EXPECT_EQ(perfdata_label(std::string("a\0\n\x7f", 4)), "a___");
  EXPECT_EQ(perfdata_label("caf\xc3\xa9"), "caf__");  // byte by byte, not per character
  EXPECT_EQ(perfdata_label(""), "_");
}

TEST(PerfdataLabel, LongLabelKeepsItsHeadAndThePhaseSuffix) {
  const std::string host(250, 'h');
  const std::string out = perfdata_label(host + "_helo_dns");
  EXPECT_EQ(out.size(), kMaxLabelChars);
  EXPECT_EQ(out, std::string(68, 'h') + ".." + std::string(21, 'h') + "_helo_dns");
  EXPECT_EQ(perfdata_label(std::string(kMaxLabelChars, 'a')), std::string(kMaxLabelChars, 'a'));
}

}  // namespace
}  // namespace smtpverify::check
