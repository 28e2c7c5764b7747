#include "check/render.h"

#include <gtest/gtest.h>

namespace smtpverify::check {
namespace {

CheckResult ok_result() {
  CheckResult r;
  r.endpoint = "mail.example.org[192.0.2.10]:25";
  r.total_seconds = 0.142;
  r.timings = {{"resolve", 0.0012}, {"connect", 0.001}, {"banner", 0.005}, {"ehlo", 0.001},
               {"mail", 0.001},     {"rcpt", 0.002},    {"quit", 0.0004}};
  r.facts = {"ESMTP Postfix", "2 rcpt accepted"};
  return r;
}

TEST(Render, OkLineWithPerfdata) {
  const Output out = render(ok_result(), Config{});
  EXPECT_EQ(out.state, State::Ok);
  EXPECT_EQ(out.text,
            "SMTP OK - mail.example.org[192.0.2.10]:25 ESMTP Postfix, 2 rcpt accepted, 0.142 s | "
            "time=0.142000s;;;0 resolve=0.001200s;;;0 connect=0.001000s;;;0 "
            "banner=0.005000s;;;0 ehlo=0.001000s;;;0 mail=0.001000s;;;0 rcpt=0.002000s;;;0 "
            "quit=0.000400s;;;0\n");
}

TEST(Render, ThresholdsAppearInPerfdata) {
  Config c;
  c.warning.emplace("time", *parse_range("5"));
  c.critical.emplace("time", *parse_range("10"));
  c.critical.emplace("banner", *parse_range("@0:0.001"));
  CheckResult r = ok_result();
  r.timings = {{"banner", 0.005}};
  const Output out = render(r, c);
  EXPECT_EQ(out.state, State::Ok);
  EXPECT_EQ(out.text,
            "SMTP OK - mail.example.org[192.0.2.10]:25 ESMTP Postfix, 2 rcpt accepted, 0.142 s | "
            "time=0.142000s;5;10;0 banner=0.005000s;;@0:0.001;0\n");
}

TEST(Render, CriticalNamesTheProblemAfterTheEndpoint) {
  CheckResult r = ok_result();
  r.timings.resize(2);
  r.problems = {{ProblemKind::Smtp, smtp::FindingKind::RcptRejected,
                 "RCPT TO:<postmaster@example.org> rejected: 550 5.1.1 user unknown"}};
  const Output out = render(r, Config{});
  EXPECT_EQ(out.state, State::Critical);
  EXPECT_EQ(out.text,
            "SMTP CRITICAL - mail.example.org[192.0.2.10]:25 RCPT TO:<postmaster@example.org> "
            "rejected: 550 5.1.1 user unknown | time=0.142000s;;;0 resolve=0.001200s;;;0 "
            "connect=0.001000s;;;0\n");
}

TEST(Render, TimeoutNamesTheEndpointItself) {
  CheckResult r;
  r.endpoint = "mail.example.org[192.0.2.10]:25";
  r.total_seconds = 10.001;
  r.timings = {{"connect", 0.001}};
  r.problems = {{ProblemKind::Timeout,
                 {},
                 "timeout after 10 s waiting for banner from mail.example.org[192.0.2.10]:25",
                 true}};
  Config c;
  EXPECT_EQ(render(r, c).text,
            "SMTP CRITICAL - timeout after 10 s waiting for banner from "
            "mail.example.org[192.0.2.10]:25 | time=10.001000s;;;0 connect=0.001000s;;;0\n");
  c.timeout_state = State::Unknown;
  const Output unknown = render(r, c);
  EXPECT_EQ(unknown.state, State::Unknown);
  EXPECT_EQ(unknown.text.rfind("SMTP UNKNOWN - timeout after 10 s", 0), 0u);
}

TEST(Render, WorstFirstAndBoundedList) {
  CheckResult r;
  r.endpoint = "h[192.0.2.1]:25";
  for (int i = 0; i < 7; ++i) {
    r.problems.push_back(
        {ProblemKind::Smtp, smtp::FindingKind::RcptTempFailed, "w" + std::to_string(i)});
  }
  r.problems.push_back({ProblemKind::Smtp, smtp::FindingKind::RcptRejected, "c"});
  const Output out = render(r, Config{});
  EXPECT_EQ(out.state, State::Critical);
  EXPECT_EQ(out.text,
            "SMTP CRITICAL - h[192.0.2.1]:25 c, w0, w1, w2, w3 (+3 more) | "
            "time=0.000000s;;;0\n");
}

TEST(Render, QuitFailureIgnoredWithQ) {
  CheckResult r = ok_result();
  r.problems = {{ProblemKind::Smtp, smtp::FindingKind::QuitFailed, "QUIT answered 500 x"}};
  EXPECT_EQ(render(r, Config{}).state, State::Warning);
  Config q;
  q.ignore_quit_failure = true;
  const Output out = render(r, q);
  EXPECT_EQ(out.state, State::Ok);
  EXPECT_EQ(out.text.rfind("SMTP OK - mail.example.org[192.0.2.10]:25 ESMTP Postfix", 0), 0u);
}

TEST(Render, VerboseTranscriptIsSanitisedLongOutput) {
  CheckResult r = ok_result();
  r.timings.clear();
  r.transcript = {"C: EHLO probe", "S: 250 evil | x=1", std::string("S: 250 a\0b", 10)};
  Config c;
  c.verbosity = 1;
  EXPECT_EQ(render(r, c).text,
            "SMTP OK - mail.example.org[192.0.2.10]:25 ESMTP Postfix, 2 rcpt accepted, 0.142 s | "
            "time=0.142000s;;;0\n"
            "C: EHLO probe\n"
            "S: 250 evil \\x7c x=1\n"
            "S: 250 a\\x00b\n");
}

TEST(Render, ServerTextInFactsIsSanitised) {
  CheckResult r = ok_result();
  r.facts = {"ESMTP |evil\nline"};
  r.timings.clear();
  EXPECT_EQ(render(r, Config{}).text,
            "SMTP OK - mail.example.org[192.0.2.10]:25 ESMTP \\x7cevil\\x0aline, 0.142 s | "
            "time=0.142000s;;;0\n");
}

TEST(Render, Unknown) {
  const Output out = render_unknown("unknown option '--x\n|y'");
  EXPECT_EQ(out.state, State::Unknown);
  EXPECT_EQ(out.text, "SMTP UNKNOWN - unknown option '--x\\x0a\\x7cy'\n");
}

TEST(Render, NumbersUseThePointWhateverTheLocale) {
  EXPECT_EQ(perf_seconds(1.5), "1.500000");
  EXPECT_EQ(short_seconds(10), "10");
  EXPECT_EQ(short_seconds(0.25), "0.25");
  EXPECT_EQ(short_seconds(0.1424), "0.142");
}

}  // namespace
}  // namespace smtpverify::check
