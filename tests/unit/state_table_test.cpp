#include <gtest/gtest.h>

#include "check/result.h"

namespace smtpverify::check {
namespace {

using smtp::FindingKind;

State smtp_state(FindingKind kind, const Config& config = Config{}) {
  return state_of(Problem{ProblemKind::Smtp, kind, "x"}, config);
}

TEST(StateTable, DialogueFindings) {
  const std::vector<std::pair<FindingKind, State>> table = {
      {FindingKind::BannerRejected, State::Critical},
      {FindingKind::BannerMismatch, State::Critical},
      {FindingKind::ServiceClosing, State::Critical},
      {FindingKind::HeloRejected, State::Critical},
      {FindingKind::MailTempFailed, State::Warning},
      {FindingKind::MailRejected, State::Critical},
      {FindingKind::RcptTempFailed, State::Warning},
      {FindingKind::RcptRejected, State::Critical},
      {FindingKind::ProbeAccepted, State::Critical},
      {FindingKind::ProbeTempFailed, State::Warning},
      {FindingKind::DataTempFailed, State::Warning},
      {FindingKind::DataRejected, State::Critical},
      {FindingKind::QuitFailed, State::Warning},
      {FindingKind::MalformedReply, State::Critical},
      {FindingKind::OverLongReply, State::Critical},
      {FindingKind::UnsolicitedData, State::Critical},
      {FindingKind::ConnectionClosed, State::Critical},
      {FindingKind::StarttlsNotOffered, State::Critical},
      {FindingKind::StarttlsRefused, State::Critical},
      {FindingKind::StarttlsInjection, State::Critical},
      {FindingKind::AuthNotOffered, State::Critical},
      {FindingKind::AuthRejected, State::Critical},
      {FindingKind::PlaintextAuthOffered, State::Critical},
      {FindingKind::PlaintextMailAccepted, State::Critical},
      {FindingKind::PlaintextMailDeferred, State::Warning},
      {FindingKind::PlaintextRsetFailed, State::Critical},
  };
  for (const auto& [kind, state] : table) {
    EXPECT_EQ(smtp_state(kind), state) << static_cast<int>(kind);
  }
}

TEST(StateTable, IgnoreQuitFailure) {
  Config c;
  c.ignore_quit_failure = true;
  EXPECT_EQ(smtp_state(FindingKind::QuitFailed, c), State::Ok);
}

TEST(StateTable, OtherProblems) {
  Config c;
  EXPECT_EQ(state_of({ProblemKind::Resolve, {}, "x"}, c), State::Critical);
  EXPECT_EQ(state_of({ProblemKind::Connect, {}, "x"}, c), State::Critical);
  EXPECT_EQ(state_of({ProblemKind::Network, {}, "x"}, c), State::Critical);
  EXPECT_EQ(state_of({ProblemKind::ResponseMismatch, {}, "x"}, c), State::Critical);
  EXPECT_EQ(state_of({ProblemKind::ThresholdWarning, {}, "x"}, c), State::Warning);
  EXPECT_EQ(state_of({ProblemKind::ThresholdCritical, {}, "x"}, c), State::Critical);
  EXPECT_EQ(state_of({ProblemKind::Internal, {}, "x"}, c), State::Unknown);
  EXPECT_EQ(state_of({ProblemKind::Bind, {}, "x"}, c), State::Unknown);
  EXPECT_EQ(state_of({ProblemKind::Tls, {}, "x"}, c), State::Critical);
  EXPECT_EQ(state_of({ProblemKind::CertExpired, {}, "x"}, c), State::Critical);
  EXPECT_EQ(state_of({ProblemKind::CertCritical, {}, "x"}, c), State::Critical);
  EXPECT_EQ(state_of({ProblemKind::CertWarning, {}, "x"}, c), State::Warning);
  EXPECT_EQ(state_of({ProblemKind::Timeout, {}, "x"}, c), State::Critical);
  for (const State s : {State::Ok, State::Warning, State::Critical, State::Unknown}) {
    c.timeout_state = s;
    EXPECT_EQ(state_of({ProblemKind::Timeout, {}, "x"}, c), s);
  }
}

TEST(StateTable, WorstWinsAndIsListedFirst) {
  CheckResult r;
  r.problems = {{ProblemKind::Smtp, FindingKind::RcptTempFailed, "warn"},
                {ProblemKind::Smtp, FindingKind::RcptRejected, "crit"},
                {ProblemKind::Smtp, FindingKind::QuitFailed, "quit"}};
  const Evaluation e = evaluate(r, Config{});
  EXPECT_EQ(e.state, State::Critical);
  ASSERT_EQ(e.problems.size(), 3u);
  EXPECT_EQ(e.problems[0].problem.text, "crit");
  EXPECT_EQ(e.problems[1].problem.text, "warn");
  EXPECT_EQ(e.problems[2].problem.text, "quit");
}

TEST(StateTable, UnknownRanksBelowCritical) {
  CheckResult r;
  Config c;
  c.timeout_state = State::Unknown;
  r.problems = {{ProblemKind::Timeout, {}, "t"}};
  EXPECT_EQ(evaluate(r, c).state, State::Unknown);
  r.problems.push_back({ProblemKind::Smtp, FindingKind::RcptRejected, "crit"});
  EXPECT_EQ(evaluate(r, c).state, State::Critical);
}

TEST(StateTable, ThresholdsCriticalFirst) {
  Config c;
  c.warning.emplace("time", *parse_range("1"));
  c.critical.emplace("time", *parse_range("2"));
  c.warning.emplace("banner", *parse_range("0.1"));
  CheckResult r;
  r.total_seconds = 2.5;
  r.timings = {{"connect", 0.001}, {"banner", 0.2}};
  const Evaluation e = evaluate(r, c);
  EXPECT_EQ(e.state, State::Critical);
  ASSERT_EQ(e.problems.size(), 2u);
  EXPECT_EQ(e.problems[0].problem.text, "time 2.5 s (critical 2)");
  EXPECT_EQ(e.problems[1].problem.text, "banner 0.2 s (warning 0.1)");
  r.total_seconds = 1.5;
  EXPECT_EQ(evaluate(r, c).problems[0].problem.text, "time 1.5 s (warning 1)");
  r.total_seconds = 0.5;
  r.timings = {{"banner", 0.05}};
  EXPECT_EQ(evaluate(r, c).state, State::Ok);
}

TEST(StateTable, DescribeFindings) {
  const smtp::Reply r550{550, {"5.1.1 <nobody@example.org>: Recipient address rejected"}};
  EXPECT_EQ(describe({FindingKind::RcptRejected, smtp::Phase::Rcpt, "RCPT TO:<nobody@example.org>",
                      r550, ""}),
            "RCPT TO:<nobody@example.org> rejected: 550 5.1.1 <nobody@example.org>: Recipient "
            "address rejected");
  const smtp::Reply r250{250, {"2.1.5 Ok"}};
  EXPECT_EQ(describe({FindingKind::ProbeAccepted, smtp::Phase::Rcpt, "RCPT TO:<x@example.net>",
                      r250, ""}),
            "RCPT TO:<x@example.net> accepted, expected a rejection (open relay or unknown user "
            "accepted): 250 2.1.5 Ok");
  EXPECT_EQ(
      describe({FindingKind::HeloRejected, smtp::Phase::Ehlo, "HELO probe", {501, {"no"}}, ""}),
      "EHLO and HELO probe rejected: 501 no");
  EXPECT_EQ(
      describe({FindingKind::HeloRejected, smtp::Phase::Ehlo, "EHLO probe", {550, {"no"}}, ""}),
      "EHLO probe rejected: 550 no");
  EXPECT_EQ(
      describe({FindingKind::BannerRejected, smtp::Phase::Banner, "", {554, {"go away"}}, ""}),
      "greeting not 220: 554 go away");
  EXPECT_EQ(describe({FindingKind::ServiceClosing, smtp::Phase::Banner, "", {421, {"busy"}}, ""}),
            "greeting answered 421, server closing the connection: 421 busy");
  EXPECT_EQ(describe({FindingKind::QuitFailed,
                      smtp::Phase::Quit,
                      "QUIT",
                      {},
                      "connection closed without a reply"}),
            "QUIT not answered (connection closed without a reply)");
  EXPECT_EQ(
      describe({FindingKind::ConnectionClosed, smtp::Phase::Banner, "", {}, "connection closed"}),
      "connection closed before the greeting");
  EXPECT_EQ(describe({FindingKind::UnsolicitedData, smtp::Phase::Banner, "", {}, ""}),
            "unsolicited data from the server after the greeting");
  EXPECT_EQ(describe({FindingKind::OverLongReply,
                      smtp::Phase::Ehlo,
                      "EHLO p",
                      {},
                      "reply line longer than 4096 bytes"}),
            "over-long reply to EHLO p (reply line longer than 4096 bytes)");
  // --plaintext-refused: the probe's commands are named as such.
  EXPECT_EQ(describe({FindingKind::PlaintextMailAccepted,
                      smtp::Phase::Plaintext,
                      "MAIL FROM:<>",
                      {250, {"2.1.0 Ok"}},
                      ""}),
            "accepts mail without TLS: MAIL FROM:<> before STARTTLS answered 250 2.1.0 Ok");
  EXPECT_EQ(describe({FindingKind::PlaintextMailDeferred,
                      smtp::Phase::Plaintext,
                      "MAIL FROM:<m@x>",
                      {451, {"4.3.0 later"}},
                      ""}),
            "MAIL FROM:<m@x> before STARTTLS deferred, expected a refusal: 451 4.3.0 later");
  EXPECT_EQ(describe({FindingKind::PlaintextRsetFailed,
                      smtp::Phase::Plaintext,
                      "RSET",
                      {502, {"5.5.1 no"}},
                      ""}),
            "RSET before STARTTLS rejected: 502 5.5.1 no");
  EXPECT_EQ(describe({FindingKind::PlaintextAuthOffered, smtp::Phase::Ehlo, "", {}, "PLAIN|x"}),
            "offers AUTH without TLS: AUTH PLAIN\\x7cx");
  EXPECT_EQ(describe({FindingKind::ConnectionClosed,
                      smtp::Phase::Plaintext,
                      "MAIL FROM:<>",
                      {},
                      "connection closed"}),
            "connection closed after MAIL FROM:<> before STARTTLS");
  // Server text is sanitised and bounded inside the description.
  const smtp::Reply evil{550, {"no | time=0s\r\nSMTP OK"}};
  EXPECT_EQ(describe({FindingKind::RcptRejected, smtp::Phase::Rcpt, "RCPT TO:<a@b>", evil, ""}),
            "RCPT TO:<a@b> rejected: 550 no \\x7c time=0s\\x0d\\x0aSMTP OK");
}

}  // namespace
}  // namespace smtpverify::check
