#include "check/range.h"

#include <gtest/gtest.h>

namespace smtpverify::check {
namespace {

Range parse_ok(const char* text) {
  auto r = parse_range(text);
  EXPECT_TRUE(r.has_value()) << text << ": " << (r ? "" : r.error().what);
  return r.value_or(Range{});
}

TEST(Range, PluginGuidelineTable) {
  // value → alerts?, per the Nagios plugin guidelines' examples.
  const Range ten = parse_ok("10");  // alert outside 0..10
  EXPECT_FALSE(ten.alerts(0));
  EXPECT_FALSE(ten.alerts(10));
  EXPECT_TRUE(ten.alerts(10.001));
  EXPECT_TRUE(ten.alerts(-1));
  const Range from = parse_ok("10:");  // alert below 10
  EXPECT_TRUE(from.alerts(9.9));
  EXPECT_FALSE(from.alerts(10));
  EXPECT_FALSE(from.alerts(1e9));
  const Range upto = parse_ok("~:10");  // alert above 10
  EXPECT_FALSE(upto.alerts(-1e9));
  EXPECT_TRUE(upto.alerts(10.5));
  const Range between = parse_ok("10:20");  // alert outside 10..20
  EXPECT_TRUE(between.alerts(9));
  EXPECT_FALSE(between.alerts(15));
  EXPECT_TRUE(between.alerts(21));
  const Range inside = parse_ok("@10:20");  // alert inside 10..20
  EXPECT_FALSE(inside.alerts(9));
  EXPECT_TRUE(inside.alerts(10));
  EXPECT_TRUE(inside.alerts(20));
  EXPECT_FALSE(inside.alerts(21));
  const Range decimal = parse_ok("0.25");
  EXPECT_TRUE(decimal.alerts(0.26));
  EXPECT_EQ(decimal.text, "0.25");
}

TEST(Range, RejectsWhatDoesNotParse) {
  for (const char* text : {"", "abc", "10:5", "1:2:3", "@", "~", "~:", "1,5", "nan", "inf", "10 ",
                           " 10", "0x10:", "@@1"}) {
    const auto r = parse_range(text);
    ASSERT_FALSE(r.has_value()) << "'" << text << "'";
    EXPECT_FALSE(r.error().what.empty()) << text;
  }
  EXPECT_EQ(parse_range("10:5").error().what, "range '10:5' has start > end");
  EXPECT_EQ(parse_range("~:").error().what, "range '~:' has no bounds");
  EXPECT_EQ(parse_range("abc").error().what, "'abc' is not a range");
}

}  // namespace
}  // namespace smtpverify::check
