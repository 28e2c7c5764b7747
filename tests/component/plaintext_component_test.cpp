// Component tier: --plaintext-refused (issue 17) against the fake server: before STARTTLS the
// check sends MAIL FROM and requires a 5xx, and the EHLO before TLS must not list AUTH.
#include <gtest/gtest.h>

#include <chrono>

#include "check/range.h"
#include "component/component_util.h"
#include "support/fake_dns_server.h"
#include "support/fake_smtp_server.h"
#include "support/smtp_script.h"
#include "support/test_pki.h"

namespace smtpverify::test {
namespace {

using namespace std::chrono_literals;
using check::State;

const std::string kEhlo = "EHLO probe.smtpverify.test";
const std::string kFrom = "monitor@smtpverify.test";
const std::string kRefusal = "530 5.7.0 Must issue a STARTTLS command first\r\n";

const TestPki& pki() {
  static const TestPki instance;
  return instance;
}

TlsSetup good_setup() {
  const TestCert cert = pki().leaf({"mx.smtpverify.test"}, -1, 90, {"127.0.0.1", "::1"});
  return {cert.cert_pem, cert.key_pem, {pki().intermediate_pem()}};
}

// Greeting and the EHLO before TLS answered with ehlo_reply; the probe MAIL FROM:<from> (without
// -f the null sender).
std::vector<Step> up_to_probe(const std::string& ehlo_reply = "250-mx\r\n250 STARTTLS\r\n",
                              const std::string& from = "") {
  return {send_raw("220 mx ESMTP Fake\r\n"), expect(kEhlo), send_raw(ehlo_reply),
          expect("MAIL FROM:<" + from + ">")};
}

// STARTTLS, the handshake, EHLO again (without AUTH), and QUIT.
std::vector<Step> starttls_then_quit() {
  return std::vector<Step>{expect("STARTTLS"), send_raw("220 2.0.0 Ready to start TLS\r\n"),
                           start_tls(good_setup()), expect(kEhlo), send_raw("250 mx\r\n")} +
         quit();
}

check::Config probe_config(std::uint16_t port) {
  auto c = config_for(port);
  c.starttls = true;
  c.plaintext_refused = true;
  c.ca_file = pki().root_file();
  return c;
}

std::string summary(const Checked& c) { return c.line.substr(0, c.line.find(" |")); }

std::string prefix(const FakeSmtpServer& s) {
  return "[127.0.0.1]:" + std::to_string(s.port()) + " ";
}

const std::string kTls = "STARTTLS TLSv1\\.3 TLS_[A-Z0-9_]+, cert (88|89) d";

TEST(PlaintextRefused, FiveHundredKeepsThePromise) {
  FakeSmtpServer server(up_to_probe() + std::vector<Step>{send_raw(kRefusal)} +
                        starttls_then_quit());
  auto config = probe_config(server.port());
  config.verbosity = 1;
  const auto c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(c.state, State::Ok) << c.text;
  EXPECT_TRUE(std::regex_match(
      c.line,
      std::regex("SMTP OK - \\[127\\.0\\.0\\.1\\]:[0-9]+ ESMTP Fake, plaintext refused, " + kTls +
                 ", T s \\| time=Ts;;;0 connect=Ts;;;0 banner=Ts;;;0 ehlo=Ts;;;0 "
                 "plaintext=Ts;;;0 starttls=Ts;;;0 quit=Ts;;;0 cert_days=(88|89);;")))
      << c.line;
  EXPECT_NE(c.text.find("\nC: MAIL FROM:<>\nS: 530 5.7.0 Must issue a STARTTLS command first\n* "
                        "MAIL refused before TLS, as required\nC: STARTTLS\n"),
            std::string::npos)
      << c.text;
}

// Accepted: CRITICAL, RSET before STARTTLS, and the transaction after TLS runs as usual.
TEST(PlaintextRefused, AcceptedIsCriticalThenResetAndTheCheckGoesOn) {
  FakeSmtpServer server(
      up_to_probe("250-mx\r\n250 STARTTLS\r\n", kFrom) +
      std::vector<Step>{send_raw("250 2.1.0 Ok\r\n"), expect("RSET"), send_raw("250 2.0.0 Ok\r\n"),
                        expect("STARTTLS"), send_raw("220 2.0.0 go\r\n"), start_tls(good_setup()),
                        expect(kEhlo), send_raw("250 mx\r\n"), expect("MAIL FROM:<" + kFrom + ">"),
                        send_raw("250 2.1.0 Ok\r\n"), expect("RCPT TO:<probe@smtpverify.test>"),
                        send_raw("250 2.1.5 Ok\r\n")} +
      quit());
  auto config = probe_config(server.port());
  config.mail_from = kFrom;
  config.rcpts = {"probe@smtpverify.test"};
  config.critical["plaintext"] = *check::parse_range("5");
  const auto c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(c.line, "SMTP CRITICAL - " + prefix(server) +
                        "accepts mail without TLS: MAIL FROM:<monitor@smtpverify.test> before "
                        "STARTTLS answered 250 2.1.0 Ok | time=Ts;;;0 connect=Ts;;;0 "
                        "banner=Ts;;;0 ehlo=Ts;;;0 plaintext=Ts;;5;0 starttls=Ts;;;0 "
                        "mail=Ts;;;0 rcpt=Ts;;;0 quit=Ts;;;0 cert_days=" +
                        c.line.substr(c.line.rfind('=') + 1));
}

// A temporary refusal is no promise: WARNING, and STARTTLS follows.
TEST(PlaintextRefused, FourHundredIsWarning) {
  FakeSmtpServer server(up_to_probe() + std::vector<Step>{send_raw("451 4.3.0 try later\r\n")} +
                        starttls_then_quit());
  const auto c = check_with(probe_config(server.port()));
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(c.state, State::Warning);
  EXPECT_EQ(summary(c), "SMTP WARNING - " + prefix(server) +
                            "MAIL FROM:<> before STARTTLS deferred, "
                            "expected a refusal: 451 4.3.0 try later");
}

// AUTH in the EHLO before TLS, however spelled; one finding even when MAIL is accepted too.
TEST(PlaintextRefused, AuthBeforeTlsIsCritical) {
  FakeSmtpServer server(up_to_probe("250-mx\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n") +
                        std::vector<Step>{send_raw(kRefusal)} + starttls_then_quit());
  const auto c = check_with(probe_config(server.port()));
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(summary(c),
            "SMTP CRITICAL - " + prefix(server) + "offers AUTH without TLS: AUTH PLAIN LOGIN");

  FakeSmtpServer both(up_to_probe("250-mx\r\n250-AUTH=LOGIN\r\n250 STARTTLS\r\n") +
                      std::vector<Step>{send_raw("250 2.1.0 Ok\r\n"), expect("RSET"),
                                        send_raw("250 2.0.0 Ok\r\n")} +
                      starttls_then_quit());
  const auto b = check_with(probe_config(both.port()));
  EXPECT_TRUE(both.wait_done(3s));
  EXPECT_EQ(both.error(), "");
  EXPECT_EQ(summary(b), "SMTP CRITICAL - " + prefix(both) +
                            "offers AUTH without TLS: AUTH LOGIN, accepts mail without TLS: MAIL "
                            "FROM:<> before STARTTLS answered 250 2.1.0 Ok");
}

// A close instead of a reply: CRITICAL naming the probe (the phase ended with the close).
TEST(PlaintextRefused, CloseOnTheProbeIsCritical) {
  FakeSmtpServer server(up_to_probe() + std::vector<Step>{close_connection()});
  const auto c = check_with(probe_config(server.port()));
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(c.line, "SMTP CRITICAL - " + prefix(server) +
                        "connection closed after MAIL FROM:<> before STARTTLS | time=Ts;;;0 "
                        "connect=Ts;;;0 banner=Ts;;;0 ehlo=Ts;;;0 plaintext=Ts;;;0");
}

TEST(PlaintextRefused, SilenceOnTheProbeTimesOutNamingIt) {
  FakeSmtpServer server(up_to_probe() + std::vector<Step>{hang()});
  auto config = probe_config(server.port());
  config.timeout = 400ms;
  const auto c = check_with(config);
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(c.line,
            "SMTP CRITICAL - timeout after 0.4 s waiting for reply to MAIL FROM before "
            "STARTTLS from " +
                prefix(server).substr(0, prefix(server).size() - 1) +
                " | time=Ts;;;0 connect=Ts;;;0 banner=Ts;;;0 ehlo=Ts;;;0");
}

// With --mx (here --mx-all) the probe runs against each MX host, its label prefixed.
TEST(PlaintextRefused, AppliesToEveryMxHost) {
  FakeDnsServer dns;
  const std::string domain = "mx.smtpverify.test";
  const std::string host = "near.smtpverify.test";
  dns.set(domain, kDnsTypeMx, records({mx_record(domain, 10, host)}));
  dns.set(host, kDnsTypeA, records({a_record(host, "127.0.0.1")}));
  dns.set(host, kDnsTypeAaaa, of_kind(DnsAnswer::Kind::NoData));
  FakeSmtpServer server(up_to_probe() +
                        std::vector<Step>{send_raw("250 2.1.0 Ok\r\n"), expect("RSET"),
                                          send_raw("250 2.0.0 Ok\r\n")} +
                        starttls_then_quit());
  auto config = probe_config(server.port());
  config.host = domain;
  config.mx = domain;
  config.mx_all = true;
  config.dns_servers = {dns.address_port()};
  config.verify_name = "mx.smtpverify.test";
  const auto c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(summary(c),
            "SMTP CRITICAL - 0/1 MX hosts OK - near.smtpverify.test[127.0.0.1]:" +
                std::to_string(server.port()) +
                " accepts mail without TLS: MAIL FROM:<> before STARTTLS answered 250 2.1.0 Ok");
  EXPECT_NE(c.line.find(" near.smtpverify.test_plaintext=Ts;;;0 "), std::string::npos) << c.line;
}

}  // namespace
}  // namespace smtpverify::test

// Behind a PROXY header (-r) the probe is the same.
namespace smtpverify::test {
namespace {

TEST(PlaintextRefused, WorksBehindAProxyHeader) {
  FakeSmtpServer server(std::vector<Step>{expect_prefix("PROXY TCP4 127.0.0.1 127.0.0.1 ")} +
                        up_to_probe() + std::vector<Step>{send_raw(kRefusal)} +
                        starttls_then_quit());
  auto config = probe_config(server.port());
  config.proxy = net::ProxyVersion::V1;
  const auto c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(c.state, State::Ok) << c.text;
  EXPECT_EQ(summary(c).rfind("SMTP OK - " + prefix(server) +
                                 "ESMTP Fake, PROXY v1, plaintext refused, STARTTLS TLSv1.3 ",
                             0),
            0u)
      << c.line;
}

}  // namespace
}  // namespace smtpverify::test
