// Component tier: run_check against the scripted FakeSmtpServer on real loopback sockets.
#include <gtest/gtest.h>

#include <chrono>

#include "component/component_util.h"
#include "support/fake_smtp_server.h"
#include "support/smtp_script.h"

namespace smtpverify::test {
namespace {

using namespace std::chrono_literals;
using check::State;

const std::string kEhlo = "EHLO probe.smtpverify.test";

// The usual opening: greeting, EHLO with a few capabilities.
std::vector<Step> opening(std::string greeting = "220 mx.smtpverify.test ESMTP Fake") {
  return {send_raw(std::move(greeting) + "\r\n"), expect(kEhlo),
          send_raw("250-mx.smtpverify.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n")};
}

const std::vector<Step> kQuit = quit();

// Runs the check and requires the fake to have seen exactly its script.
Checked run_against(FakeSmtpServer& server, check::Config config) {
  Checked c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "");
  return c;
}

TEST(Greeting, MultiLine220ThenOk) {
  FakeSmtpServer server(
      std::vector<Step>{
          send_raw("220-mx.smtpverify.test ESMTP Fake\r\n220-more text\r\n220 end\r\n"),
          expect(kEhlo), send_raw("250 mx\r\n")} +
      kQuit);
  const auto c = run_against(server, config_for(server.port()));
  EXPECT_EQ(c.state, State::Ok);
  EXPECT_EQ(c.line, "SMTP OK - [127.0.0.1]:" + std::to_string(server.port()) +
                        " ESMTP Fake, T s | time=Ts;;;0 connect=Ts;;;0 banner=Ts;;;0 "
                        "ehlo=Ts;;;0 quit=Ts;;;0");
}

TEST(Greeting, Rejected554StillQuits) {
  FakeSmtpServer server(std::vector<Step>{send_raw("554 5.3.2 no service for you\r\n")} + kQuit);
  const auto c = run_against(server, config_for(server.port()));
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(c.line, "SMTP CRITICAL - [127.0.0.1]:" + std::to_string(server.port()) +
                        " greeting not 220: 554 5.3.2 no service for you | time=Ts;;;0 "
                        "connect=Ts;;;0 banner=Ts;;;0 quit=Ts;;;0");
}

TEST(Greeting, ServiceClosing421ClosesWithoutQuit) {
  FakeSmtpServer server({send_raw("421 4.3.2 too busy\r\n"), expect_close()});
  const auto c = run_against(server, config_for(server.port()));
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(c.line, "SMTP CRITICAL - [127.0.0.1]:" + std::to_string(server.port()) +
                        " greeting answered 421, server closing the connection: 421 4.3.2 too "
                        "busy | time=Ts;;;0 connect=Ts;;;0 banner=Ts;;;0");
}

TEST(Greeting, SilenceTimesOutNamingTheBanner) {
  FakeSmtpServer server({hang()});
  auto config = config_for(server.port());
  config.timeout = 300ms;
  const auto t0 = std::chrono::steady_clock::now();
  const auto c = check_with(config);
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(c.state, State::Critical);
  // Not a byte: what an implicit-TLS port does to a client that waits for a greeting.
  EXPECT_EQ(
      c.line,
      "SMTP CRITICAL - timeout after 0.3 s waiting for banner from [127.0.0.1]:" +
          std::to_string(server.port()) +
          " (implicit TLS port? try -s; PROXY listener? try -r) | time=Ts;;;0 connect=Ts;;;0");
  EXPECT_LT(elapsed, 800ms);  // functional bound: the deadline plus a generous margin
}

TEST(Greeting, TimeoutStateFromOption) {
  FakeSmtpServer server({hang()});
  auto config = config_for(server.port());
  config.timeout = 200ms;
  config.timeout_state = State::Unknown;
  const auto c = check_with(config);
  EXPECT_EQ(c.state, State::Unknown);
  EXPECT_EQ(c.line.rfind("SMTP UNKNOWN - timeout after 0.2 s waiting for banner", 0), 0u);
}

TEST(Greeting, CloseBeforeGreeting) {
  FakeSmtpServer server({close_connection()});
  const auto c = run_against(server, config_for(server.port()));
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(c.line, "SMTP CRITICAL - [127.0.0.1]:" + std::to_string(server.port()) +
                        " connection closed before the greeting | time=Ts;;;0 connect=Ts;;;0 "
                        "banner=Ts;;;0");
}

TEST(Greeting, GarbageIsMalformed) {
  FakeSmtpServer server({send_raw("SSH-2.0-OpenSSH_9.2\r\n"), expect_close()});
  const auto c = run_against(server, config_for(server.port()));
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(c.line, "SMTP CRITICAL - [127.0.0.1]:" + std::to_string(server.port()) +
                        " malformed reply to greeting (not an SMTP reply line) | time=Ts;;;0 "
                        "connect=Ts;;;0 banner=Ts;;;0");
}

TEST(Greeting, ExpectStringMissing) {
  FakeSmtpServer server(std::vector<Step>{send_raw("220 mx ESMTP Exim\r\n")} + kQuit);
  auto config = config_for(server.port());
  config.expect = "Postfix";
  const auto c = run_against(server, config);
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(c.line, "SMTP CRITICAL - [127.0.0.1]:" + std::to_string(server.port()) +
                        " greeting does not contain 'Postfix': 220 mx ESMTP Exim | time=Ts;;;0 "
                        "connect=Ts;;;0 banner=Ts;;;0 quit=Ts;;;0");
}

TEST(Ehlo, Unsupported500FallsBackToHelo) {
  FakeSmtpServer server(std::vector<Step>{send_raw("220 old.smtpverify.test SMTP\r\n"),
                                          expect(kEhlo),
                                          send_raw("500 5.5.1 Command unrecognized\r\n"),
                                          expect("HELO probe.smtpverify.test"),
                                          send_raw("250 old.smtpverify.test\r\n")} +
                        kQuit);
  const auto c = run_against(server, config_for(server.port()));
  EXPECT_EQ(c.state, State::Ok);
  EXPECT_EQ(c.line, "SMTP OK - [127.0.0.1]:" + std::to_string(server.port()) +
                        " SMTP, EHLO not supported, HELO used, T s | time=Ts;;;0 connect=Ts;;;0 "
                        "banner=Ts;;;0 ehlo=Ts;;;0 quit=Ts;;;0");
}

TEST(Ehlo, EhloAndHeloRejected) {
  FakeSmtpServer server(
      std::vector<Step>{send_raw("220 x ESMTP\r\n"), expect(kEhlo), send_raw("502 no\r\n"),
                        expect("HELO probe.smtpverify.test"), send_raw("550 5.7.1 not you\r\n")} +
      kQuit);
  const auto c = run_against(server, config_for(server.port()));
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(c.line.substr(0, c.line.find(" |")),
            "SMTP CRITICAL - [127.0.0.1]:" + std::to_string(server.port()) +
                " EHLO and HELO probe.smtpverify.test rejected: 550 5.7.1 not you");
}

TEST(Ehlo, LowerCaseCapabilitiesAreFine) {
  FakeSmtpServer server(std::vector<Step>{send_raw("220 x ESMTP\r\n"), expect(kEhlo),
                                          send_raw("250-x\r\n250-starttls\r\n250 size 100\r\n")} +
                        kQuit);
  auto config = config_for(server.port());
  config.verbosity = 1;
  const auto c = run_against(server, config);
  EXPECT_EQ(c.state, State::Ok);
  EXPECT_NE(c.text.find("\nS: 250-starttls\n"), std::string::npos) << c.text;
}

TEST(Replies, BareCodeAndCodeLikeContinuation) {
  FakeSmtpServer server(std::vector<Step>{send_raw("220 x ESMTP\r\n"), expect(kEhlo),
                                          send_raw("250-234 text\r\n250 ok\r\n")} +
                        std::vector<Step>{expect("QUIT"), send_raw("221\r\n"), expect_close()});
  const auto c = run_against(server, config_for(server.port()));
  EXPECT_EQ(c.state, State::Ok);
}

TEST(Replies, SplitAcrossReadsByteByByte) {
  FakeSmtpServer server(std::vector<Step>{drip("220 slow ESMTP\r\n", 5ms), expect(kEhlo),
                                          drip("250-x\r\n250 ok\r\n", 5ms)} +
                        kQuit);
  const auto c = run_against(server, config_for(server.port()));
  EXPECT_EQ(c.state, State::Ok);
}

TEST(Replies, MismatchedMultiLineCodes) {
  FakeSmtpServer server(
      {send_raw("220 x ESMTP\r\n"), expect(kEhlo), send_raw("250-x\r\n251 y\r\n"), expect_close()});
  const auto c = run_against(server, config_for(server.port()));
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(c.line.substr(0, c.line.find(" |")),
            "SMTP CRITICAL - [127.0.0.1]:" + std::to_string(server.port()) +
                " malformed reply to EHLO probe.smtpverify.test (reply codes differ between "
                "lines)");
}

TEST(Replies, OutOfRangeCode) {
  FakeSmtpServer server(
      {send_raw("220 x ESMTP\r\n"), expect(kEhlo), send_raw("650 what\r\n"), expect_close()});
  const auto c = run_against(server, config_for(server.port()));
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(c.line.substr(0, c.line.find(" |")),
            "SMTP CRITICAL - [127.0.0.1]:" + std::to_string(server.port()) +
                " malformed reply to EHLO probe.smtpverify.test (not an SMTP reply line)");
}

TEST(Replies, TenKilobyteLineWithoutEnd) {
  FakeSmtpServer server({send_raw("220 " + std::string(10240, 'a')), hang()});
  const auto c = check_with(config_for(server.port()));
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(c.line.substr(0, c.line.find(" |")),
            "SMTP CRITICAL - [127.0.0.1]:" + std::to_string(server.port()) +
                " over-long reply to greeting (reply line longer than 4096 bytes)");
}

TEST(Replies, EndlessContinuationLines) {
  FakeSmtpServer server({send_raw("220 x ESMTP\r\n"), expect(kEhlo),
                         stream_forever("250-PIPELINING PIPELINING PIPELINING\r\n")});
  const auto c = check_with(config_for(server.port()));
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(c.line.substr(0, c.line.find(" |")),
            "SMTP CRITICAL - [127.0.0.1]:" + std::to_string(server.port()) +
                " over-long reply to EHLO probe.smtpverify.test (reply longer than 64 KiB or "
                "1000 lines)");
}

TEST(Replies, OneBytePerTickHitsTheDeadline) {
  FakeSmtpServer server({drip("220 a very slow greeting that never really ends\r\n", 100ms)});
  auto config = config_for(server.port());
  config.timeout = 500ms;
  const auto t0 = std::chrono::steady_clock::now();
  const auto c = check_with(config);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1000ms);
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(c.line, "SMTP CRITICAL - timeout after 0.5 s waiting for banner from [127.0.0.1]:" +
                        std::to_string(server.port()) + " | time=Ts;;;0 connect=Ts;;;0");
}

TEST(Replies, ControlAndEightBitBytesAreEscaped) {
  FakeSmtpServer server(
      std::vector<Step>{send_raw(std::string("554 bad \0\x1b[2J\xff byte\r\n", 21))} + kQuit);
  const auto c = run_against(server, config_for(server.port()));
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(c.line.substr(0, c.line.find(" |")),
            "SMTP CRITICAL - [127.0.0.1]:" + std::to_string(server.port()) +
                " greeting not 220: 554 bad \\x00\\x1b[2J\\xff byte");
}

TEST(Replies, PipeAndNewlinesCannotForgePerfdata) {
  FakeSmtpServer server(std::vector<Step>{send_raw("220 x ESMTP\r\n"), expect(kEhlo),
                                          send_raw("250 x\r\n"),
                                          expect("MAIL FROM:<m@smtpverify.test>"),
                                          send_raw("550 no | time=0s;;;0 fake=1\r\n")} +
                        kQuit);
  auto config = config_for(server.port());
  config.mail_from = "m@smtpverify.test";
  config.verbosity = 1;
  const auto c = run_against(server, config);
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(c.labels, (Labels{"time", "connect", "banner", "ehlo", "mail", "quit"}));
  // Exactly one '|' in the whole output: ours.
  EXPECT_EQ(std::count(c.text.begin(), c.text.end(), '|'), 1) << c.text;
  EXPECT_NE(c.text.find(" 550 no \\x7c time=0s;;;0 fake=1 | time="), std::string::npos) << c.text;
}

TEST(Replies, UnsolicitedDataAfterGreeting) {
  FakeSmtpServer server({send_raw("220 x ESMTP\r\n250 injected\r\n"), expect_close()});
  const auto c = run_against(server, config_for(server.port()));
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(c.line.substr(0, c.line.find(" |")),
            "SMTP CRITICAL - [127.0.0.1]:" + std::to_string(server.port()) +
                " unsolicited data from the server after the greeting");
}

// Issue 14 #8: the banner and another reply in one write. EHLO was queued but never sent, so
// there is no ehlo= in the perfdata: nothing is timed for a phase that never ran.
TEST(Replies, UnsolicitedDataAfterGreetingTimesNoEhlo) {
  FakeSmtpServer server({send_raw("220 x ESMTP\r\n250 injected\r\n"), expect_close()});
  auto config = config_for(server.port());
  config.verbosity = 1;
  const auto c = run_against(server, config);
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(c.line, "SMTP CRITICAL - [127.0.0.1]:" + std::to_string(server.port()) +
                        " unsolicited data from the server after the greeting | time=Ts;;;0 "
                        "connect=Ts;;;0 banner=Ts;;;0");
  EXPECT_EQ(c.text.find("EHLO"), std::string::npos) << c.text;
}

// Issue 14 #1: a server quoting AUTH back. Neither the status line, nor -v, nor JSON may show
// the password or anything encoded from it.
check::Config auth_config(std::uint16_t port, check::AuthMechanism mechanism) {
  auto c = config_for(port);
  c.auth_mechanism = mechanism;
  c.auth_user = "probe";
  c.auth_password = "hunter2";
  c.auth_plaintext = true;
  c.verbosity = 1;
  return c;
}

std::vector<Step> auth_opening() {
  return {send_raw("220 mx.smtpverify.test ESMTP Fake\r\n"), expect(kEhlo),
          send_raw("250-mx.smtpverify.test\r\n250 AUTH PLAIN LOGIN\r\n")};
}

// The check went CRITICAL with `summary` before the perfdata, and neither the output (-v) nor
// the JSON or the OpenMetrics exposition shows a secret.
void expect_scrubbed(const Checked& c, const check::Config& config, const std::string& summary) {
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(c.line.substr(0, c.line.find(" |")), summary);
  const check::Report report = check::make_report(c.result, config);
  for (const std::string& text : {c.text, check::format_json(report, c.result),
                                  check::format_openmetrics(report, c.result)}) {
    for (const char* secret : {"hunter2", "AHByb2JlAGh1bnRlcjI=", "aHVudGVyMg=="}) {
      EXPECT_EQ(text.find(secret), std::string::npos) << secret << " in " << text;
    }
  }
}

TEST(Auth, PlainEchoedByTheServerIsScrubbed) {
  FakeSmtpServer server(
      auth_opening() +
      std::vector<Step>{expect("AUTH PLAIN AHByb2JlAGh1bnRlcjI="),
                        send_raw("535 5.7.8 Authentication failed for [AUTH PLAIN "
                                 "AHByb2JlAGh1bnRlcjI=] hunter2\r\n")} +
      kQuit);
  const auto config = auth_config(server.port(), check::AuthMechanism::Plain);
  expect_scrubbed(run_against(server, config), config,
                  "SMTP CRITICAL - [127.0.0.1]:" + std::to_string(server.port()) +
                      " AUTH PLAIN ******** rejected: 535 5.7.8 Authentication failed for [AUTH "
                      "PLAIN ********] ********");
}

TEST(Auth, LoginPasswordEchoedByTheServerIsScrubbed) {
  FakeSmtpServer server(auth_opening() +
                        std::vector<Step>{expect("AUTH LOGIN"), send_raw("334 VXNlcm5hbWU6\r\n"),
                                          expect("cHJvYmU="), send_raw("334 UGFzc3dvcmQ6\r\n"),
                                          expect("aHVudGVyMg=="),
                                          send_raw("535 5.7.8 bad password aHVudGVyMg==\r\n")} +
                        kQuit);
  const auto config = auth_config(server.port(), check::AuthMechanism::Login);
  const auto c = run_against(server, config);
  expect_scrubbed(c, config,
                  "SMTP CRITICAL - [127.0.0.1]:" + std::to_string(server.port()) +
                      " AUTH LOGIN rejected: 535 5.7.8 bad password ********");
  EXPECT_NE(c.text.find("S: 535 5.7.8 bad password ********\n"), std::string::npos) << c.text;
}

// The transaction group.
check::Config transaction_config(std::uint16_t port) {
  auto c = config_for(port);
  c.mail_from = "monitor@smtpverify.test";
  c.rcpts = {"probe@smtpverify.test"};
  return c;
}

const std::vector<Step> kMail = {expect("MAIL FROM:<monitor@smtpverify.test>"),
                                 send_raw("250 2.1.0 Ok\r\n")};

TEST(Transaction, FullWithDataAndDotStuffing) {
  FakeSmtpServer server(
      opening() + kMail +
      std::vector<Step>{expect("RCPT TO:<probe@smtpverify.test>"), send_raw("250 2.1.5 Ok\r\n"),
                        expect("RCPT TO:<someone@example.com>"),
                        send_raw("554 5.7.1 Relay access denied\r\n"), expect("DATA"),
                        send_raw("354 go ahead\r\n"), expect_data(),
                        send_raw("250 2.0.0 Ok: queued as X\r\n")} +
      kQuit);
  auto config = transaction_config(server.port());
  config.reject_rcpts = {"someone@example.com"};
  config.data = true;
  config.data_file_text = "Subject: dots\n\n.leading dot\n..two\n.\nend";
  const auto c = run_against(server, config);
  EXPECT_EQ(c.state, State::Ok);
  EXPECT_EQ(c.line, "SMTP OK - [127.0.0.1]:" + std::to_string(server.port()) +
                        " ESMTP Fake, 1 rcpt accepted, 1 rcpt rejected as expected, message "
                        "accepted, queued as X, T s | time=Ts;;;0 connect=Ts;;;0 banner=Ts;;;0 "
                        "ehlo=Ts;;;0 "
                        "mail=Ts;;;0 rcpt=Ts;;;0 data=Ts;;;0 quit=Ts;;;0");
  ASSERT_EQ(server.data_bodies().size(), 1u);
  EXPECT_EQ(server.data_bodies()[0],
            "Subject: dots\r\n\r\n..leading dot\r\n...two\r\n..\r\nend\r\n");
}

TEST(Transaction, GeneratedMessageHasTheHeaders) {
  FakeSmtpServer server(opening() + kMail +
                        std::vector<Step>{expect("RCPT TO:<probe@smtpverify.test>"),
                                          send_raw("250 2.1.5 Ok\r\n"), expect("DATA"),
                                          send_raw("354 go ahead\r\n"), expect_data(),
                                          send_raw("250 2.0.0 Ok\r\n")} +
                        kQuit);
  auto config = transaction_config(server.port());
  config.data = true;
  const auto c = run_against(server, config);
  EXPECT_EQ(c.state, State::Ok);
  ASSERT_EQ(server.data_bodies().size(), 1u);
  const std::string body = server.data_bodies()[0];
  EXPECT_TRUE(std::regex_search(body, std::regex("^Date: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} "
                                                 "[0-9]{4} [0-9:]{8} \\+0000\r\n")))
      << body;
  EXPECT_NE(body.find("\r\nFrom: <monitor@smtpverify.test>\r\n"), std::string::npos);
  EXPECT_NE(body.find("\r\nTo: <probe@smtpverify.test>\r\n"), std::string::npos);
  EXPECT_TRUE(std::regex_search(
      body,
      std::regex("\r\nMessage-ID: <[0-9]+\\.[0-9]+\\.[0-9a-f]{16}@probe\\.smtpverify\\.test>\r\n")))
      << body;
  EXPECT_NE(body.find("\r\nSubject: check_smtp_verify test message\r\n"), std::string::npos);
  EXPECT_EQ(body.find('\n') - 1, body.find('\r'));  // CRLF line ends
}

struct TransactionCase {
  const char* name;
  std::vector<Step> script;
  State state;
  std::string problem;
};

// Lock-step (--no-pipelining, although the server offers PIPELINING): each failure ends the
// transaction before the next command. The pipelined dialogue: the Pipelining tests below.
TEST(Transaction, FailuresAtEveryStep) {
  const std::vector<TransactionCase> cases = {
      {"mail 4xx",
       {expect("MAIL FROM:<monitor@smtpverify.test>"), send_raw("451 4.3.0 try later\r\n")},
       State::Warning,
       "MAIL FROM:<monitor@smtpverify.test> deferred: 451 4.3.0 try later"},
      {"mail 5xx",
       {expect("MAIL FROM:<monitor@smtpverify.test>"), send_raw("553 5.1.8 bad sender\r\n")},
       State::Critical,
       "MAIL FROM:<monitor@smtpverify.test> rejected: 553 5.1.8 bad sender"},
      {"rcpt 4xx",
       {kMail[0], kMail[1], expect("RCPT TO:<probe@smtpverify.test>"),
        send_raw("450 4.2.0 greylisted\r\n")},
       State::Warning,
       "RCPT TO:<probe@smtpverify.test> deferred: 450 4.2.0 greylisted"},
      {"rcpt 5xx",
       {kMail[0], kMail[1], expect("RCPT TO:<probe@smtpverify.test>"),
        send_raw("550 5.1.1 user unknown\r\n")},
       State::Critical,
       "RCPT TO:<probe@smtpverify.test> rejected: 550 5.1.1 user unknown"},
      {"data 4xx",
       {kMail[0], kMail[1], expect("RCPT TO:<probe@smtpverify.test>"), send_raw("250 ok\r\n"),
        expect("DATA"), send_raw("451 4.3.0 not now\r\n")},
       State::Warning,
       "DATA deferred: 451 4.3.0 not now"},
      {"data 5xx",
       {kMail[0], kMail[1], expect("RCPT TO:<probe@smtpverify.test>"), send_raw("250 ok\r\n"),
        expect("DATA"), send_raw("554 5.5.1 no valid recipients\r\n")},
       State::Critical,
       "DATA rejected: 554 5.5.1 no valid recipients"},
      {"end of data 4xx",
       {kMail[0], kMail[1], expect("RCPT TO:<probe@smtpverify.test>"), send_raw("250 ok\r\n"),
        expect("DATA"), send_raw("354 go\r\n"), expect_data(), send_raw("452 4.3.1 full\r\n")},
       State::Warning,
       "end of data deferred: 452 4.3.1 full"},
      {"end of data 5xx",
       {kMail[0], kMail[1], expect("RCPT TO:<probe@smtpverify.test>"), send_raw("250 ok\r\n"),
        expect("DATA"), send_raw("354 go\r\n"), expect_data(), send_raw("554 5.7.1 spam\r\n")},
       State::Critical,
       "end of data rejected: 554 5.7.1 spam"},
  };
  for (const auto& tc : cases) {
    FakeSmtpServer server(opening() + tc.script + kQuit);
    auto config = transaction_config(server.port());
    config.data = true;
    config.no_pipelining = true;
    const auto c = run_against(server, config);
    EXPECT_EQ(c.state, tc.state) << tc.name;
    EXPECT_EQ(c.line.substr(0, c.line.find(" |")),
              std::string("SMTP ") + std::string(check::state_name(tc.state)) +
                  " - [127.0.0.1]:" + std::to_string(server.port()) + " " + tc.problem)
        << tc.name;
  }
}

TEST(Transaction, ServiceClosingMidSession) {
  FakeSmtpServer server(opening() + kMail +
                        std::vector<Step>{expect("RCPT TO:<probe@smtpverify.test>"),
                                          send_raw("421 4.4.2 timeout exceeded\r\n"),
                                          expect_close()});
  auto config = transaction_config(server.port());
  config.no_pipelining =
      true;  // lock-step; mid-group: Pipelining.ServiceClosingMissingAndExtraRepliesMidGroup
  const auto c = run_against(server, config);
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(c.line.substr(0, c.line.find(" |")),
            "SMTP CRITICAL - [127.0.0.1]:" + std::to_string(server.port()) +
                " RCPT TO:<probe@smtpverify.test> answered 421, server closing the connection: "
                "421 4.4.2 timeout exceeded");
}

TEST(Transaction, CloseDuringData) {
  FakeSmtpServer server(opening() + kMail +
                        std::vector<Step>{expect("RCPT TO:<probe@smtpverify.test>"),
                                          send_raw("250 ok\r\n"), expect("DATA"),
                                          send_raw("354 go\r\n"), close_connection()});
  auto config = transaction_config(server.port());
  config.data = true;
  const auto c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(c.state, State::Critical);
  // Either our write of the message or our wait for its reply notices the close first.
  EXPECT_TRUE(c.line.find(" connection closed after end of data |") != std::string::npos ||
              c.line.find(" connection lost while") != std::string::npos)
      << c.line;
}

TEST(Transaction, RejectRcptAcceptedIsAnOpenRelay) {
  FakeSmtpServer server(
      opening() + kMail +
      std::vector<Step>{expect("RCPT TO:<probe@smtpverify.test>"), send_raw("250 ok\r\n"),
                        expect("RCPT TO:<victim@example.com>"), send_raw("250 2.1.5 Ok\r\n")} +
      kQuit);
  auto config = transaction_config(server.port());
  config.reject_rcpts = {"victim@example.com"};
  config.data = true;           // and yet no message may go out to an accepted probe
  config.no_pipelining = true;  // lock-step: DATA is never sent (pipelined: below)
  const auto c = run_against(server, config);
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(c.line.substr(0, c.line.find(" |")),
            "SMTP CRITICAL - [127.0.0.1]:" + std::to_string(server.port()) +
                " RCPT TO:<victim@example.com> accepted, expected a rejection (open relay or "
                "unknown user accepted): 250 2.1.5 Ok");
  EXPECT_TRUE(server.data_bodies().empty());
}

TEST(Transaction, CommandsAndResponses) {
  FakeSmtpServer server(opening() +
                        std::vector<Step>{expect("VRFY root"), send_raw("252 2.0.0 root\r\n"),
                                          expect("NOOP"), send_raw("250 2.0.0 Ok\r\n"),
                                          expect("HELP"), send_raw("214 see RFC\r\n")} +
                        kQuit);
  auto config = config_for(server.port());
  config.commands = {"VRFY root", "NOOP", "HELP"};
  config.responses = {"^252", "^250"};
  const auto c = run_against(server, config);
  EXPECT_EQ(c.state, State::Ok);
  EXPECT_EQ(c.line, "SMTP OK - [127.0.0.1]:" + std::to_string(server.port()) +
                        " ESMTP Fake, 2/2 -R matched, T s | time=Ts;;;0 connect=Ts;;;0 "
                        "banner=Ts;;;0 ehlo=Ts;;;0 commands=Ts;;;0 quit=Ts;;;0");
}

TEST(Transaction, ResponseMismatchEveryPairCounts) {
  FakeSmtpServer server(opening() +
                        std::vector<Step>{expect("VRFY root"), send_raw("550 no\r\n"),
                                          expect("NOOP"), send_raw("250 2.0.0 Ok\r\n")} +
                        kQuit);
  auto config = config_for(server.port());
  config.commands = {"VRFY root", "NOOP"};
  config.responses = {"^25", "^250"};
  const auto c = run_against(server, config);
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(c.line.substr(0, c.line.find(" |")),
            "SMTP CRITICAL - [127.0.0.1]:" + std::to_string(server.port()) +
                " reply to VRFY root does not match -R '^25': 550 no");
}

TEST(Quit, Non221IsWarningUnlessIgnored) {
  const std::vector<Step> script =
      opening() + std::vector<Step>{expect("QUIT"), send_raw("500 what\r\n"), expect_close()};
  {
    FakeSmtpServer server(script);
    const auto c = run_against(server, config_for(server.port()));
    EXPECT_EQ(c.state, State::Warning);
    EXPECT_EQ(
        c.line.substr(0, c.line.find(" |")),
        "SMTP WARNING - [127.0.0.1]:" + std::to_string(server.port()) + " QUIT answered 500 what");
  }
  {
    FakeSmtpServer server(script);
    auto config = config_for(server.port());
    config.ignore_quit_failure = true;
    const auto c = run_against(server, config);
    EXPECT_EQ(c.state, State::Ok);
  }
}

TEST(Quit, CloseInsteadOfReply) {
  FakeSmtpServer server(opening() + std::vector<Step>{expect("QUIT"), close_connection()});
  const auto c = run_against(server, config_for(server.port()));
  EXPECT_EQ(c.state, State::Warning);
  EXPECT_EQ(c.line.substr(0, c.line.find(" |")),
            "SMTP WARNING - [127.0.0.1]:" + std::to_string(server.port()) +
                " QUIT not answered (connection closed without a reply)");
}

TEST(Thresholds, PhaseWarningAndTotalCritical) {
  FakeSmtpServer server(std::vector<Step>{delay(150ms), send_raw("220 x ESMTP\r\n"), expect(kEhlo),
                                          send_raw("250 x\r\n")} +
                        kQuit);
  auto config = config_for(server.port());
  config.warning.emplace("banner", *check::parse_range("0.1"));
  config.critical.emplace("time", *check::parse_range("~:30"));
  const auto c = run_against(server, config);
  EXPECT_EQ(c.state, State::Warning);
  EXPECT_TRUE(std::regex_search(
      c.line, std::regex("^SMTP WARNING - \\[127\\.0\\.0\\.1\\]:[0-9]+ banner 0\\.1[5-9][0-9]* s "
                         "\\(warning 0\\.1\\) \\| time=Ts;;~:30;0 connect=Ts;;;0 "
                         "banner=Ts;0\\.1;;0 ehlo=Ts;;;0 quit=Ts;;;0$")))
      << c.line;
}

TEST(Transcript, VerboseShowsTheDialogue) {
  FakeSmtpServer server(opening() + kQuit);
  auto config = config_for(server.port());
  config.verbosity = 1;
  const auto c = run_against(server, config);
  const std::string long_output = c.text.substr(c.text.find('\n') + 1);
  EXPECT_EQ(long_output, "* connected to 127.0.0.1:" + std::to_string(server.port()) + " from " +
                             c.text.substr(c.text.find(" from 127.0.0.1:") + 6,
                                           c.text.find('\n', c.text.find(" from 127.0.0.1:")) -
                                               c.text.find(" from 127.0.0.1:") - 6) +
                             "\n"
                             "S: 220 mx.smtpverify.test ESMTP Fake\n"
                             "C: EHLO probe.smtpverify.test\n"
                             "S: 250-mx.smtpverify.test\n"
                             "S: 250-PIPELINING\n"
                             "S: 250 8BITMIME\n"
                             "C: QUIT\n"
                             "S: 221 2.0.0 Bye\n");
}

TEST(Connect, RefusedIsCritical) {
  // Bind and close a listener to find a port nobody listens on.
  std::uint16_t port = 0;
  {
    FakeSmtpServer probe({});
    port = probe.port();
  }
  const auto c = check_with(config_for(port));
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(c.line, "SMTP CRITICAL - cannot connect to [127.0.0.1]:" + std::to_string(port) +
                        ": Connection refused | time=Ts;;;0 connect=Ts;;;0");
}

TEST(Connect, Ipv6Loopback) {
  FakeSmtpServer server(opening() + kQuit, AF_INET6);
  const auto c = run_against(server, config_for(server.port(), "::1"));
  EXPECT_EQ(c.state, State::Ok);
  EXPECT_EQ(c.line.rfind("SMTP OK - [::1]:" + std::to_string(server.port()) + " ESMTP Fake", 0), 0u)
      << c.line;
}

// ---- PIPELINING (RFC 2920) ---------------------------------------------------------------

// The pipelined group: MAIL, the RCPTs and DATA in one write (the fake reads the lines in
// order and answers each), then the message, its "." and QUIT.
std::vector<Step> pipelined_group(const std::vector<std::string>& replies) {
  return {expect("MAIL FROM:<monitor@smtpverify.test>"), expect("RCPT TO:<probe@smtpverify.test>"),
          expect("RCPT TO:<someone@example.com>"), expect("DATA"),
          send_raw(replies.at(0) + "\r\n" + replies.at(1) + "\r\n" + replies.at(2) + "\r\n" +
                   replies.at(3) + "\r\n")};
}

check::Config pipelined_config(std::uint16_t port) {
  auto config = transaction_config(port);
  config.reject_rcpts = {"someone@example.com"};
  config.data = true;
  config.verbosity = 1;
  return config;
}

// The fake reads all four lines before it answers any: only a client that sent them in one
// go gets past the first expect (a lock-step client would wait for MAIL's reply forever).
TEST(Pipelining, TransactionInTwoGroups) {
  FakeSmtpServer server(
      opening() +
      pipelined_group(
          {"250 2.1.0 Ok", "250 2.1.5 Ok", "554 5.7.1 Relay access denied", "354 go ahead"}) +
      std::vector<Step>{expect_data(), expect("QUIT"),
                        send_raw("250 2.0.0 Ok: queued as X\r\n221 2.0.0 Bye\r\n"),
                        expect_close()});
  auto config = pipelined_config(server.port());
  config.timeout = 2s;
  const auto c = run_against(server, config);
  EXPECT_EQ(c.state, State::Ok);
  EXPECT_EQ(c.line, "SMTP OK - [127.0.0.1]:" + std::to_string(server.port()) +
                        " ESMTP Fake, 1 rcpt accepted, 1 rcpt rejected as expected, message "
                        "accepted, queued as X, T s | time=Ts;;;0 connect=Ts;;;0 banner=Ts;;;0 "
                        "ehlo=Ts;;;0 mail=Ts;;;0 rcpt=Ts;;;0 data=Ts;;;0 quit=Ts;;;0");
  ASSERT_EQ(server.data_bodies().size(), 1u);
  // Each reply under its command in the transcript, in order.
  EXPECT_NE(c.text.find("C: MAIL FROM:<monitor@smtpverify.test>\nC: RCPT "
                        "TO:<probe@smtpverify.test>\nC: RCPT TO:<someone@example.com>\nC: DATA\n"
                        "S: 250 2.1.0 Ok\nS: 250 2.1.5 Ok\nS: 554 5.7.1 Relay access denied\n"
                        "S: 354 go ahead\nC: [message: "),
            std::string::npos)
      << c.text;
  EXPECT_NE(c.text.find(" bytes]\nC: .\nC: QUIT\nS: 250 2.0.0 Ok: queued as X\nS: 221 2.0.0 Bye\n"),
            std::string::npos)
      << c.text;
  // The exchanges pair each reply with its command although the commands went first.
  const auto& x = c.result.exchanges;
  std::vector<std::string> pairs;
  for (const auto& e : x) pairs.push_back(e.phase + " " + e.command + " " + std::to_string(e.code));
  EXPECT_EQ(pairs, (std::vector<std::string>{"banner  220", "ehlo EHLO probe.smtpverify.test 250",
                                             "mail MAIL FROM:<monitor@smtpverify.test> 250",
                                             "rcpt RCPT TO:<probe@smtpverify.test> 250",
                                             "rcpt RCPT TO:<someone@example.com> 554",
                                             "data DATA 354", "data  250", "quit QUIT 221"}));
}

// OpenSMTPD does not offer PIPELINING and closes the connection on pipelined commands: the
// check stays in lock-step and passes.
TEST(Pipelining, ServerThatClosesOnPipelinedInputGetsLockStep) {
  FakeSmtpServer server(std::vector<Step>{
      send_raw("220 mx.smtpverify.test ESMTP OpenSMTPD\r\n"), expect_alone(kEhlo),
      send_raw("250-mx.smtpverify.test Hello\r\n250-8BITMIME\r\n250-SIZE "
               "36700160\r\n250 HELP\r\n"),
      expect_alone("MAIL FROM:<monitor@smtpverify.test>"), send_raw("250 2.0.0 Ok\r\n"),
      expect_alone("RCPT TO:<probe@smtpverify.test>"),
      send_raw("250 2.1.5 Destination address valid\r\n"),
      expect_alone("RCPT TO:<someone@example.com>"), send_raw("550 Invalid recipient\r\n"),
      expect_alone("DATA"), send_raw("354 Enter mail, end with \".\" on a line by itself\r\n"),
      expect_data(), send_raw("250 2.0.0 7f0c1b2a Message accepted\r\n"), expect_alone("QUIT"),
      send_raw("221 2.0.0 Bye\r\n"), expect_close()});
  const auto c = run_against(server, pipelined_config(server.port()));
  EXPECT_EQ(c.state, State::Ok);
  EXPECT_EQ(c.line,
            "SMTP OK - [127.0.0.1]:" + std::to_string(server.port()) +
                " ESMTP OpenSMTPD, 1 rcpt accepted, 1 rcpt rejected as expected, message "
                "accepted, 2.0.0 7f0c1b2a Message accepted, T s | time=Ts;;;0 connect=Ts;;;0 "
                "banner=Ts;;;0 ehlo=Ts;;;0 mail=Ts;;;0 rcpt=Ts;;;0 data=Ts;;;0 "
                "quit=Ts;;;0");
}

// The same fake offering PIPELINING proves it does catch a pipelining client: the check that
// pipelines there loses the connection, as it would against a server that misadvertises.
TEST(Pipelining, TheLockStepFakeCatchesAPipeliningClient) {
  FakeSmtpServer server(std::vector<Step>{
      send_raw("220 mx.smtpverify.test ESMTP\r\n"), expect_alone(kEhlo),
      send_raw("250-mx.smtpverify.test\r\n250 PIPELINING\r\n"),
      expect_alone("MAIL FROM:<monitor@smtpverify.test>"), send_raw("250 2.0.0 Ok\r\n")});
  const auto c = check_with(pipelined_config(server.port()));
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "step 4: pipelined input after 'MAIL FROM:<monitor@smtpverify.test>'");
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(c.line.substr(0, c.line.find(" |")),
            "SMTP CRITICAL - [127.0.0.1]:" + std::to_string(server.port()) +
                " connection closed after MAIL FROM:<monitor@smtpverify.test>");
}

// --no-pipelining: lock-step although PIPELINING is offered.
TEST(Pipelining, NoPipeliningOptionKeepsLockStep) {
  FakeSmtpServer server(opening() +
                        std::vector<Step>{expect_alone("MAIL FROM:<monitor@smtpverify.test>"),
                                          send_raw("250 2.1.0 Ok\r\n"),
                                          expect_alone("RCPT TO:<probe@smtpverify.test>"),
                                          send_raw("250 2.1.5 Ok\r\n"), expect_alone("QUIT"),
                                          send_raw("221 2.0.0 Bye\r\n"), expect_close()});
  auto config = transaction_config(server.port());
  config.no_pipelining = true;
  const auto c = run_against(server, config);
  EXPECT_EQ(c.state, State::Ok);
  EXPECT_EQ(c.line, "SMTP OK - [127.0.0.1]:" + std::to_string(server.port()) +
                        " ESMTP Fake, 1 rcpt accepted, T s | time=Ts;;;0 connect=Ts;;;0 "
                        "banner=Ts;;;0 ehlo=Ts;;;0 mail=Ts;;;0 rcpt=Ts;;;0 quit=Ts;;;0");
}

// An unexpected RCPT result with DATA already answered 354: no message, no ".", no QUIT —
// the connection closes and the finding says so.
TEST(Pipelining, UnexpectedRcptResultAbortsAfter354) {
  struct Case {
    const char* name;
    std::vector<std::string> replies;
    State state;
    std::string problem;
  };
  const std::vector<Case> cases = {
      {"rcpt refused",
       {"250 2.1.0 Ok", "550 5.1.1 user unknown", "554 5.7.1 Relay access denied", "354 go"},
       State::Critical,
       "RCPT TO:<probe@smtpverify.test> rejected: 550 5.1.1 user unknown; message not sent: "
       "connection closed after DATA's 354, the server discards the transaction"},
      {"probe accepted",
       {"250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.1.5 Ok", "354 go"},
       State::Critical,
       "RCPT TO:<someone@example.com> accepted, expected a rejection (open relay or unknown user "
       "accepted): 250 2.1.5 Ok; message not sent: connection closed after DATA's 354, the "
       "server discards the transaction"},
      {"rcpt deferred",
       {"250 2.1.0 Ok", "450 4.2.0 greylisted", "554 5.7.1 Relay access denied", "354 go"},
       State::Warning,
       "RCPT TO:<probe@smtpverify.test> deferred: 450 4.2.0 greylisted; message not sent: "
       "connection closed after DATA's 354, the server discards the transaction"},
  };
  for (const auto& tc : cases) {
    FakeSmtpServer server(opening() + pipelined_group(tc.replies) +
                          std::vector<Step>{expect_close()});
    const auto c = run_against(server, pipelined_config(server.port()));
    EXPECT_EQ(c.state, tc.state) << tc.name;
    EXPECT_EQ(c.line, "SMTP " + std::string(check::state_name(tc.state)) +
                          " - [127.0.0.1]:" + std::to_string(server.port()) + " " + tc.problem +
                          " | time=Ts;;;0 connect=Ts;;;0 banner=Ts;;;0 ehlo=Ts;;;0 mail=Ts;;;0 "
                          "rcpt=Ts;;;0 data=Ts;;;0")
        << tc.name;
    EXPECT_TRUE(server.data_bodies().empty()) << tc.name;
    EXPECT_NE(c.text.find("S: 354 go\n* message not sent: connection closed after DATA's 354, "
                          "the server discards the transaction\n"),
              std::string::npos)
        << tc.name << c.text;
  }
}

// Failures inside the group: the finding is the one of lock-step; the refusals that follow a
// refused MAIL are its consequences; DATA refused for want of recipients adds nothing.
TEST(Pipelining, FailuresInsideTheGroup) {
  struct Case {
    const char* name;
    std::vector<std::string> replies;
    State state;
    std::string problem;
  };
  const std::vector<Case> cases = {
      {"mail 5xx",
       {"553 5.1.8 bad sender", "503 5.5.1 Error: need MAIL command",
        "503 5.5.1 Error: need MAIL command", "503 5.5.1 Error: need RCPT command"},
       State::Critical,
       "MAIL FROM:<monitor@smtpverify.test> rejected: 553 5.1.8 bad sender"},
      {"mail 4xx",
       {"451 4.3.0 try later", "503 5.5.1 Error: need MAIL command",
        "503 5.5.1 Error: need MAIL command", "503 5.5.1 Error: need RCPT command"},
       State::Warning,
       "MAIL FROM:<monitor@smtpverify.test> deferred: 451 4.3.0 try later"},
      {"every rcpt refused",
       {"250 2.1.0 Ok", "550 5.1.1 user unknown", "554 5.7.1 Relay access denied",
        "554 5.5.1 Error: no valid recipients"},
       State::Critical,
       "RCPT TO:<probe@smtpverify.test> rejected: 550 5.1.1 user unknown"},
      {"data 4xx",
       {"250 2.1.0 Ok", "250 2.1.5 Ok", "554 5.7.1 Relay access denied", "451 4.3.0 not now"},
       State::Warning,
       "DATA deferred: 451 4.3.0 not now"},
  };
  for (const auto& tc : cases) {
    FakeSmtpServer server(opening() + pipelined_group(tc.replies) + kQuit);
    const auto c = run_against(server, pipelined_config(server.port()));
    EXPECT_EQ(c.state, tc.state) << tc.name;
    EXPECT_EQ(c.line.substr(0, c.line.find(" |")),
              "SMTP " + std::string(check::state_name(tc.state)) +
                  " - [127.0.0.1]:" + std::to_string(server.port()) + " " + tc.problem)
        << tc.name;
    EXPECT_TRUE(server.data_bodies().empty()) << tc.name;
  }
}

// A 421 in the middle of the group, a reply missing (the server closes), a reply extra.
TEST(Pipelining, ServiceClosingMissingAndExtraRepliesMidGroup) {
  {
    FakeSmtpServer server(opening() +
                          pipelined_group({"250 2.1.0 Ok", "421 4.4.2 timeout exceeded", "", ""}));
    const auto c = check_with(pipelined_config(server.port()));
    EXPECT_TRUE(server.wait_done(3s));
    EXPECT_EQ(c.line.substr(0, c.line.find(" |")),
              "SMTP CRITICAL - [127.0.0.1]:" + std::to_string(server.port()) +
                  " RCPT TO:<probe@smtpverify.test> answered 421, server closing the connection: "
                  "421 4.4.2 timeout exceeded");
  }
  {
    FakeSmtpServer server(opening() +
                          std::vector<Step>{expect("MAIL FROM:<monitor@smtpverify.test>"),
                                            expect("RCPT TO:<probe@smtpverify.test>"),
                                            expect("RCPT TO:<someone@example.com>"), expect("DATA"),
                                            send_raw("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"),
                                            close_connection()});
    const auto c = run_against(server, pipelined_config(server.port()));
    EXPECT_EQ(c.state, State::Critical);
    EXPECT_EQ(c.line.substr(0, c.line.find(" |")),
              "SMTP CRITICAL - [127.0.0.1]:" + std::to_string(server.port()) +
                  " connection closed after RCPT TO:<someone@example.com>");
  }
  {
    FakeSmtpServer server(opening() +
                          pipelined_group({"250 2.1.0 Ok", "250 2.1.5 Ok", "554 5.7.1 denied",
                                           "354 go\r\n250 2.0.0 extra"}) +
                          std::vector<Step>{expect_close()});
    const auto c = run_against(server, pipelined_config(server.port()));
    EXPECT_EQ(c.state, State::Critical);
    EXPECT_EQ(c.line.substr(0, c.line.find(" |")),
              "SMTP CRITICAL - [127.0.0.1]:" + std::to_string(server.port()) +
                  " unsolicited data from the server after DATA");
    EXPECT_TRUE(server.data_bodies().empty());
  }
}

}  // namespace
}  // namespace smtpverify::test
