#include "check/regex.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace smtpverify::check {
namespace {

Regex compiled(const std::string& pattern) {
  auto re = Regex::compile(pattern);
  EXPECT_TRUE(re.has_value()) << pattern;
  return std::move(*re);
}

TEST(Regex, MatchesPerLine) {
  const Regex re = compiled("^250 OK$");
  EXPECT_TRUE(re.matches("250 OK"));
  EXPECT_TRUE(re.matches("250-first\n250 OK"));
  EXPECT_FALSE(re.matches("250 OK then"));
}

// Issue 14 #4: regexec on a C string stopped at the NUL, so the reply below matched.
TEST(Regex, NulIsAnOrdinaryByte) {
  const std::string reply = std::string("250 OK") + '\0' + " 5.0.0 actually broken";
  ASSERT_EQ(reply.size(), 29u);
  EXPECT_FALSE(compiled("^250 OK$").matches(reply));
  EXPECT_TRUE(compiled("actually broken$").matches(reply));  // the bytes after the NUL count
  EXPECT_TRUE(compiled("^250 OK").matches(reply));
}

TEST(Regex, EmptyText) {
  EXPECT_TRUE(compiled("^$").matches(""));
  EXPECT_FALSE(compiled("^250").matches(""));
}

TEST(Regex, CompileErrorSaysWhy) {
  const auto re = Regex::compile("(unclosed");
  ASSERT_FALSE(re.has_value());
  EXPECT_FALSE(re.error().what.empty());
}

// glibc's regcomp multiplies repetitions of repetitions: found by the options fuzzer, "2"
// followed by 130 "+" took gigabytes; "2*" and a dozen "+" (copies that match empty, closed
// over pairwise) took seven seconds and timed the fuzzer out in CI; "x+++", 85 "?" and "+++"
// (found next: optional nodes doubled by "+") more than twenty. Such a pattern is refused
// before regcomp sees it.
TEST(Regex, RepetitionsTooDeepAreRefusedBeforeRegcomp) {
  for (const std::string& p :
       {"2" + std::string(30, '+'), std::string("((a{99}){99}){99}"),
        std::string("(((((((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+"),
        "2*" + std::string(11, '+'), "(2?)" + std::string(12, '+'), std::string(".{0,8000}"),
        std::string("a{0,100}{0,100}"), std::string("(a|b?|c){2000}"), std::string("(^){2000}"),
        "2\xff+++" + std::string(20, '?') + "++++++", "x" + std::string(8, '?') + "++++++",
        std::string("(a?){0,100}++"), std::string("2*?+?+?+?+?+?+?+?+"),
        std::string(".{0,1000}")}) {
    const auto re = Regex::compile(p);
    ASSERT_FALSE(re.has_value()) << p;
    EXPECT_EQ(re.error().what, "repetitions nested too deep to compile safely");
  }
  for (const std::string p :
       {"^250 (OK|Ok)+$", "a{1000}", "(a{300}){300}", "[+*]+x", "\\++", ".{0,250}", "2*++++++",
        "(a|b){2000}", "^250[ -]2\\.1\\.0 .{0,200}$"}) {
    EXPECT_TRUE(Regex::compile(p).has_value()) << p;
  }
}

// The closures run across atoms as well: "=", 43 "?", then "E", 26 "?" and "+++" (found by
// the options fuzzer next) took four seconds with no atom large. More than 32 repetition
// operators are refused; 32 are not.
TEST(Regex, MoreThan32RepetitionOperatorsAreRefused) {
  for (const std::string& p :
       {"2" + std::string(130, '+'), "2\xff\xff+++" + std::string(85, '?') + "++++++",
        "2-#hostname=" + std::string(43, '?') + "\xe2???E" + std::string(26, '?') + "+++",
        "a" + std::string(33, '?')}) {
    const auto re = Regex::compile(p);
    ASSERT_FALSE(re.has_value()) << p;
    EXPECT_EQ(re.error().what, "more than 32 repetition operators");
  }
  EXPECT_TRUE(Regex::compile("a" + std::string(32, '?')).has_value());
  EXPECT_TRUE(Regex::compile("E" + std::string(12, '?') + "+++").has_value());
}

// What no model of regcomp's cost foresees is caught by compiling in a child under a time
// limit first: "^^^^2^^^^U??????+++" passes the guard and takes regcomp eight seconds.
TEST(Regex, WhatTheGuardMissesIsRefusedWithinASecond) {
  const auto start = std::chrono::steady_clock::now();
  const auto re = Regex::compile("^^^^2^^^^U??????+++");
  ASSERT_FALSE(re.has_value());
  EXPECT_EQ(re.error().what, "too costly to compile (over 1 s)");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

}  // namespace
}  // namespace smtpverify::check
