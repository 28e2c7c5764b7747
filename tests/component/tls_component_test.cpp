// Component tier: STARTTLS, implicit TLS, certificates and AUTH against the fake server's TLS,
// with certificates from the in-process test PKI.
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <chrono>
#include <thread>

#include "component/component_util.h"
#include "net/stream.h"
#include "net/tls.h"
#include "support/fake_dns_server.h"
#include "support/fake_smtp_server.h"
#include "support/smtp_script.h"
#include "support/test_pki.h"

namespace smtpverify::test {
namespace {

using namespace std::chrono_literals;
using check::State;

const std::string kName = "mx.smtpverify.test";
const std::string kEhlo = "EHLO probe.smtpverify.test";
const std::string kSubject = "CN=mx.smtpverify.test,O=smtpverify tests";  // of every leaf

const TestPki& pki() {
  static const TestPki instance;
  return instance;
}

TlsSetup good_setup() {
  const TestCert cert = pki().leaf({kName}, -1, 90, {"127.0.0.1", "::1"});
  return {cert.cert_pem, cert.key_pem, {pki().intermediate_pem()}};
}

TlsSetup setup_for(const TestCert& cert, bool with_intermediate = true) {
  return {cert.cert_pem, cert.key_pem,
          with_intermediate ? std::vector<std::string>{pki().intermediate_pem()}
                            : std::vector<std::string>{}};
}

// Greeting, EHLO offering STARTTLS, STARTTLS answered 220.
std::vector<Step> up_to_starttls() {
  return {send_raw("220 mx ESMTP Fake\r\n"), expect(kEhlo),
          send_raw("250-mx\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n"), expect("STARTTLS"),
          send_raw("220 2.0.0 Ready to start TLS\r\n")};
}

const std::vector<Step> kQuit = quit();

check::Config tls_config(std::uint16_t port) {
  auto c = config_for(port);
  c.starttls = true;
  c.ca_file = pki().root_file();
  return c;
}

std::string summary(const Checked& c) { return c.line.substr(0, c.line.find(" |")); }

// The day the certificate in cert_pem expires, "2026-12-24" (UTC), read with OpenSSL.
std::string expiry_day(const std::string& cert_pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  std::tm tm{};
  if (!cert || ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &tm) != 1) return "?";
  char buf[16] = {};
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

std::string prefix(const FakeSmtpServer& s) {
  return "[127.0.0.1]:" + std::to_string(s.port()) + " ";
}

// STARTTLS, then EHLO answered with ehlo_reply (offering AUTH), the AUTH exchange and QUIT.
std::vector<Step> auth_script(const std::string& ehlo_reply, const std::vector<Step>& exchange) {
  return up_to_starttls() +
         std::vector<Step>{start_tls(good_setup()), expect(kEhlo), send_raw(ehlo_reply)} +
         exchange + kQuit;
}

// tls_config with AUTH mechanism as "probe", password "s3cret".
check::Config auth_config(std::uint16_t port, check::AuthMechanism mechanism, int verbosity) {
  auto config = tls_config(port);
  config.auth_mechanism = mechanism;
  config.auth_user = "probe";
  config.auth_password = "s3cret";
  config.verbosity = verbosity;
  return config;
}

TEST(Starttls, VerifiedHandshakeThenEhloAgain) {
  FakeSmtpServer server(up_to_starttls() +
                        std::vector<Step>{start_tls(good_setup()), expect(kEhlo),
                                          send_raw("250-mx\r\n250 SIZE 1000\r\n")} +
                        kQuit);
  auto config = tls_config(server.port());
  config.cert_warning_days = 30;
  const auto c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "");
  EXPECT_TRUE(server.tls_established());
  EXPECT_EQ(server.tls_version(), "TLSv1.3");
  EXPECT_EQ(server.tls_server_name(), "");  // -H is an address: no SNI (RFC 6066 §3)
  EXPECT_EQ(c.state, State::Ok) << c.text;
  EXPECT_TRUE(std::regex_match(
      c.line, std::regex("SMTP OK - \\[127\\.0\\.0\\.1\\]:[0-9]+ ESMTP Fake, STARTTLS TLSv1\\.3 "
                         "TLS_[A-Z0-9_]+, cert (88|89) d, T s \\| time=Ts;;;0 connect=Ts;;;0 "
                         "banner=Ts;;;0 ehlo=Ts;;;0 starttls=Ts;;;0 quit=Ts;;;0 "
                         "cert_days=(88|89);30:;")))
      << c.line;
}

// EHLO keywords are case-insensitive (RFC 5321 §2.4): a lower-case "starttls" is an offer.
TEST(Starttls, LowerCaseKeywordIsAnOffer) {
  FakeSmtpServer server(
      std::vector<Step>{send_raw("220 mx ESMTP Fake\r\n"), expect(kEhlo),
                        send_raw("250-mx\r\n250 starttls\r\n"), expect("STARTTLS"),
                        send_raw("220 2.0.0 Ready to start TLS\r\n"), start_tls(good_setup()),
                        expect(kEhlo), send_raw("250 mx\r\n")} +
      kQuit);
  const auto c = check_with(tls_config(server.port()));
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "");
  EXPECT_TRUE(server.tls_established());
  EXPECT_EQ(c.state, State::Ok) << c.text;
}

TEST(Starttls, NameVerifiedAndSentAsSni) {
  FakeSmtpServer server(
      up_to_starttls() +
      std::vector<Step>{start_tls(good_setup()), expect(kEhlo), send_raw("250 mx\r\n")} + kQuit);
  auto config = tls_config(server.port());
  config.verify_name = kName;
  const auto c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(c.state, State::Ok) << c.text;
  EXPECT_EQ(server.tls_server_name(), kName);
}

TEST(Starttls, InjectedReplyAfter220FailsBeforeTheHandshake) {
  FakeSmtpServer server({send_raw("220 mx ESMTP Fake\r\n"), expect(kEhlo),
                         send_raw("250-mx\r\n250 STARTTLS\r\n"), expect("STARTTLS"),
                         send_raw("220 ready\r\n250-mx\r\n250 AUTH PLAIN\r\n"), expect_close()});
  auto config = tls_config(server.port());
  const auto c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "");  // nothing after STARTTLS: no ClientHello, no EHLO
  EXPECT_FALSE(server.tls_established());
  EXPECT_EQ(server.received_lines(), (std::vector<std::string>{kEhlo, "STARTTLS"}));
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(summary(c), "SMTP CRITICAL - " + prefix(server) +
                            "data after STARTTLS reply (response injection?)");
}

TEST(Starttls, InjectedPartialLineIsEnough) {
  FakeSmtpServer server({send_raw("220 mx ESMTP Fake\r\n"), expect(kEhlo),
                         send_raw("250-mx\r\n250 STARTTLS\r\n"), expect("STARTTLS"),
                         send_raw("220 ready\r\n2"), expect_close()});
  const auto c = check_with(tls_config(server.port()));
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(summary(c), "SMTP CRITICAL - " + prefix(server) +
                            "data after STARTTLS reply (response injection?)");
}

TEST(Starttls, PreTlsCapabilitiesAreNotUsedAfterTls) {
  // Before TLS the server offers AUTH PLAIN; inside TLS it offers none: no AUTH may be sent.
  FakeSmtpServer server(auth_script("250-mx\r\n250 SIZE 1000\r\n", {}));
  const auto c = check_with(auth_config(server.port(), check::AuthMechanism::Plain, 0));
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(summary(c),
            "SMTP CRITICAL - " + prefix(server) + "AUTH PLAIN not offered (no AUTH in EHLO)");
  for (const auto& line : server.received_lines()) EXPECT_NE(line.rfind("AUTH", 0), 0u) << line;
}

TEST(Starttls, NotOfferedMeansNoAuthAndNoMail) {
  FakeSmtpServer server(std::vector<Step>{send_raw("220 mx ESMTP Fake\r\n"), expect(kEhlo),
                                          send_raw("250-mx\r\n250 AUTH PLAIN\r\n")} +
                        kQuit);
  auto config = auth_config(server.port(), check::AuthMechanism::Plain, 0);
  config.mail_from = "m@smtpverify.test";
  const auto c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(server.received_lines(), (std::vector<std::string>{kEhlo, "QUIT"}));
  EXPECT_EQ(summary(c),
            "SMTP CRITICAL - " + prefix(server) + "STARTTLS required (-S) but not offered");
}

TEST(Starttls, RefusedCodes) {
  for (const char* reply : {"454 4.7.0 TLS not available due to local problem",
                            "502 5.5.1 Unrecognized command", "550 no"}) {
    FakeSmtpServer server(std::vector<Step>{send_raw("220 mx ESMTP Fake\r\n"), expect(kEhlo),
                                            send_raw("250-mx\r\n250 STARTTLS\r\n"),
                                            expect("STARTTLS"), send(reply)} +
                          kQuit);
    const auto c = check_with(tls_config(server.port()));
    EXPECT_TRUE(server.wait_done(3s));
    EXPECT_EQ(server.error(), "");
    EXPECT_EQ(c.state, State::Critical);
    EXPECT_EQ(summary(c), "SMTP CRITICAL - " + prefix(server) + "STARTTLS refused: " + reply);
  }
}

// The server answers STARTTLS with 220 and then does handshake: CRITICAL, the handshake failure
// in OpenSSL's words (matching reason).
void expect_handshake_failure(const Step& handshake, const std::string& reason = "[a-z ]+") {
  FakeSmtpServer server(up_to_starttls() + std::vector<Step>{handshake});
  const auto c = check_with(tls_config(server.port()));
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_TRUE(
      std::regex_match(summary(c), std::regex("SMTP CRITICAL - \\[127\\.0\\.0\\.1\\]:[0-9]+ "
                                              "TLS handshake failed: " +
                                              reason)))
      << c.line;
}

TEST(Starttls, GarbageInsteadOfServerHello) { expect_handshake_failure(send_garbage_handshake()); }

TEST(Starttls, CloseMidHandshake) { expect_handshake_failure(close_mid_handshake()); }

TEST(Starttls, SilentAfter220TimesOutNamingTheHandshake) {
  FakeSmtpServer server(up_to_starttls() + std::vector<Step>{hang()});
  auto config = tls_config(server.port());
  config.timeout = 400ms;
  const auto c = check_with(config);
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(summary(c), "SMTP CRITICAL - timeout after 0.4 s waiting for TLS handshake from " +
                            prefix(server).substr(0, prefix(server).size() - 1));
}

struct CertCase {
  const char* name;
  TlsSetup setup;
  std::string reason;
};

TEST(Certificates, VerificationFailuresInOpenSslWords) {
  const TestPki other;  // an unknown CA
  const TestCert expired = pki().leaf({kName}, -100, 10, {"127.0.0.1"});
  const std::vector<CertCase> cases = {
      {"self-signed", setup_for(pki().self_signed(kName), false),
       "certificate verification failed: self-signed certificate"},
      {"unknown CA", setup_for(other.leaf({kName}, -1, 90, {"127.0.0.1"}), false),
       "certificate verification failed: unable to get local issuer certificate"},
      {"wrong name", setup_for(pki().leaf({"other.smtpverify.test"}, -1, 90)),
       "certificate verification failed: IP address mismatch: expected 127.0.0.1, certificate "
       "names DNS:other.smtpverify.test"},
      {"expired", setup_for(expired),
       "certificate verification failed: certificate has expired on " +
           expiry_day(expired.cert_pem) + ": " + kSubject},
      {"missing intermediate", setup_for(pki().leaf({kName}, -1, 90, {"127.0.0.1"}), false),
       "certificate verification failed: unable to get local issuer certificate"},
  };
  for (const auto& tc : cases) {
    FakeSmtpServer server(up_to_starttls() + std::vector<Step>{start_tls(tc.setup)} + kQuit);
    const auto c = check_with(tls_config(server.port()));
    EXPECT_TRUE(server.wait_done(3s)) << tc.name;
    EXPECT_EQ(server.error(), "") << tc.name;  // the untrusted channel saw QUIT, nothing else
    EXPECT_EQ(server.received_lines().back(), "QUIT") << tc.name;
    EXPECT_EQ(c.state, State::Critical) << tc.name;
    EXPECT_EQ(summary(c), "SMTP CRITICAL - " + prefix(server) + tc.reason) << tc.name;
  }
}

TEST(Certificates, WrongNameWithVerifyName) {
  FakeSmtpServer server(up_to_starttls() +
                        std::vector<Step>{start_tls(setup_for(pki().leaf({"other.test"})))} +
                        kQuit);
  auto config = tls_config(server.port());
  config.verify_name = kName;
  const auto c = check_with(config);
  EXPECT_EQ(summary(c), "SMTP CRITICAL - " + prefix(server) +
                            "certificate verification failed: hostname mismatch: expected " +
                            kName + ", certificate names DNS:other.test");
}

// Issue 15: the first few names, DNS and IP, and how many more.
TEST(Certificates, WrongNameListsTheFirstThreeNames) {
  FakeSmtpServer server(up_to_starttls() +
                        std::vector<Step>{start_tls(setup_for(pki().leaf(
                            {"other.test", "www.other.test", "mail.other.test", "smtp.other.test"},
                            -1, 90, {"192.0.2.1"})))} +
                        kQuit);
  auto config = tls_config(server.port());
  config.verify_name = kName;
  const auto c = check_with(config);
  EXPECT_EQ(summary(c), "SMTP CRITICAL - " + prefix(server) +
                            "certificate verification failed: hostname mismatch: expected " +
                            kName +
                            ", certificate names DNS:other.test, DNS:www.other.test, "
                            "DNS:mail.other.test (+2 more)");
}

// A certificate's names are the server's text: control bytes and '|' cannot forge a line or
// perfdata, and a long name is cut.
TEST(Certificates, HostileNamesAreSanitisedAndCut) {
  FakeSmtpServer server(up_to_starttls() +
                        std::vector<Step>{start_tls(setup_for(pki().leaf(
                            {"x.test", "evil\r\nSMTP OK - |up=1", std::string(300, 'a')})))} +
                        kQuit);
  auto config = tls_config(server.port());
  config.verify_name = kName;
  const auto c = check_with(config);
  EXPECT_EQ(c.text.find("\nSMTP OK"), std::string::npos) << c.text;
  EXPECT_EQ(summary(c), "SMTP CRITICAL - " + prefix(server) +
                            "certificate verification failed: hostname mismatch: expected " +
                            kName +
                            ", certificate names DNS:x.test, DNS:evil\\x0d\\x0aSMTP OK - "
                            "\\x7cup=1, DNS:" +
                            std::string(60, 'a') + "...");
}

// IP addresses are names too; a certificate with only an address is listed as such.
TEST(Certificates, WrongNameListsAddresses) {
  FakeSmtpServer server(up_to_starttls() +
                        std::vector<Step>{start_tls(
                            setup_for(pki().leaf({}, -1, 90, {"192.0.2.7", "2001:db8::7"})))} +
                        kQuit);
  const auto c = check_with(tls_config(server.port()));
  EXPECT_EQ(summary(c), "SMTP CRITICAL - " + prefix(server) +
                            "certificate verification failed: IP address mismatch: expected "
                            "127.0.0.1, certificate names IP:192.0.2.7, IP:2001:db8::7");
}

// Issue 14 #11: an address OpenSSL does not take as the one to verify must not leave the
// handshake without a name check (which would pass here: the chain is good): it is a Setup
// failure, an internal error, before anything is sent.
TEST(Certificates, AddressOpenSslRefusesFailsClosed) {
  FakeSmtpServer server({start_tls(good_setup()), send_raw("220 mx ESMTP\r\n")});
  net::TlsOptions options;
  options.ca_file = pki().root_file();
  options.verify_ip = "999.0.0.1";  // not an address: X509_VERIFY_PARAM_set1_ip_asc refuses it
  const auto deadline = net::Deadline::after(3s);
  auto fd = net::connect_tcp(*net::parse_ip_literal(server.host(), server.port()), std::nullopt,
                             deadline);
  ASSERT_TRUE(fd) << fd.error().error;
  const auto tls = net::TlsStream::handshake(std::move(*fd), options, deadline);
  ASSERT_FALSE(tls) << "verified: " << tls->facts.verified;
  EXPECT_FALSE(tls.error().untrusted);  // nothing was sent: no channel to hand back
  const net::TlsFailure& failure = tls.error().failure;
  EXPECT_EQ(failure.kind, net::TlsFailure::Kind::Setup);
  EXPECT_EQ(failure.reason.rfind("internal error: cannot set the address to verify '999.0.0.1'", 0),
            0u)
      << failure.reason;
}

TEST(Certificates, ExpiringWithinWarningAndCriticalDays) {
  for (const auto& [crit, state, words] : std::vector<std::tuple<long long, State, std::string>>{
           {10, State::Warning,
            "certificate expires in (19|20) d on DAY \\(warning 30\\): CN=NAME"},
           {25, State::Critical,
            "certificate expires in (19|20) d on DAY \\(critical 25\\): CN=NAME"}}) {
    const TestCert cert = pki().leaf({kName}, -70, 90, {"127.0.0.1"});
    FakeSmtpServer server(
        up_to_starttls() +
        std::vector<Step>{start_tls(setup_for(cert)), expect(kEhlo), send_raw("250 mx\r\n")} +
        kQuit);
    auto config = tls_config(server.port());
    config.cert_warning_days = 30;
    config.cert_critical_days = crit;
    const auto c = check_with(config);
    EXPECT_TRUE(server.wait_done(3s));
    EXPECT_EQ(server.error(), "");
    EXPECT_EQ(c.state, state);
    // The leaf ends 20 days after now at signing; a few ms later that is 19 whole days or, with
    // the PKI's clock rounding, 20.
    std::string pattern = words;
    pattern.replace(pattern.find("DAY"), 3, expiry_day(cert.cert_pem));
    pattern.replace(pattern.find("NAME"), 4, "mx\\.smtpverify\\.test,O=smtpverify tests");
    EXPECT_TRUE(
        std::regex_match(summary(c), std::regex("SMTP " + std::string(check::state_name(state)) +
                                                " - \\[127\\.0\\.0\\.1\\]:[0-9]+ " + pattern)))
        << c.line;
    EXPECT_TRUE(std::regex_search(
        c.line, std::regex(" cert_days=(19|20);30:;" + std::to_string(crit) + ":$")))
        << c.line;
  }
}

// Issue 15: the certificate that expires soonest is named, also when it is not the leaf.
TEST(Certificates, SoonestExpiryInTheChainIsNamed) {
  // The leaf outlives the intermediate (valid for 10 years from a year ago).
  const TestCert cert = pki().leaf({kName}, -1, 5000, {"127.0.0.1"});
  FakeSmtpServer server(
      up_to_starttls() +
      std::vector<Step>{start_tls(setup_for(cert)), expect(kEhlo), send_raw("250 mx\r\n")} + kQuit);
  auto config = tls_config(server.port());
  config.cert_warning_days = 4000;
  const auto c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(c.state, State::Warning);
  EXPECT_TRUE(std::regex_match(
      summary(c),
      std::regex("SMTP WARNING - \\[127\\.0\\.0\\.1\\]:[0-9]+ certificate expires in "
                 "3[0-9]{3} d on " +
                 expiry_day(pki().intermediate_pem()) +
                 " \\(warning 4000\\): CN=smtpverify test intermediate,O=smtpverify tests")))
      << c.line;
}

TEST(Certificates, ExpiredIsCriticalWithNoVerifyToo) {
  const TestCert cert = pki().leaf({kName}, -100, 10);
  // Twice: at once, and again once more than a second has passed since the certificate was
  // made. "expired N d ago" counts whole days since the expiry, rounded down, whichever second
  // the check runs in; the days left, rounded down for -D and cert_days, are then -91 (the
  // words once took those and said 91 whenever a second boundary fell in between).
  for (const auto wait : {std::chrono::milliseconds(0), std::chrono::milliseconds(1100)}) {
    std::this_thread::sleep_for(wait);
    FakeSmtpServer server(
        up_to_starttls() +
        std::vector<Step>{start_tls(setup_for(cert)), expect(kEhlo), send_raw("250 mx\r\n")} +
        kQuit);
    auto config = tls_config(server.port());
    config.no_verify = true;
    const auto c = check_with(config);
    EXPECT_TRUE(server.wait_done(3s));
    EXPECT_EQ(c.state, State::Critical);
    EXPECT_EQ(summary(c), "SMTP CRITICAL - " + prefix(server) + "certificate expired 90 d ago on " +
                              expiry_day(cert.cert_pem) + ": " + kSubject)
        << wait.count();
    if (wait.count() > 0) {
      EXPECT_NE(c.line.find(" cert_days=-91;"), std::string::npos) << c.line;
    }
  }
}

// Issue 15: -v shows each certificate's names and the TLSA 3 1 1 data of its key.
TEST(Certificates, VerboseChainShowsNamesAndKeyDigests) {
  const TestCert cert = pki().leaf({kName}, -1, 90, {"127.0.0.1"});
  FakeSmtpServer server(
      up_to_starttls() +
      std::vector<Step>{start_tls(setup_for(cert)), expect(kEhlo), send_raw("250 mx\r\n")} + kQuit);
  auto config = tls_config(server.port());
  config.verbosity = 1;
  const auto c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(c.state, State::Ok) << c.text;
  EXPECT_TRUE(std::regex_search(
      c.text, std::regex("\n\\* cert 0: subject " + kSubject +
                         ", issuer CN=smtpverify test intermediate,O=smtpverify tests, not after " +
                         expiry_day(cert.cert_pem) +
                         " [0-9:]+ UTC \\((88|89) d\\), names DNS:mx\\.smtpverify\\.test, "
                         "IP:127\\.0\\.0\\.1, 3 1 1 " +
                         to_hex(spki_sha256(cert.cert_pem)) + "\n")))
      << c.text;
  EXPECT_NE(c.text.find(", 3 1 1 " + to_hex(spki_sha256(pki().intermediate_pem())) + "\n"),
            std::string::npos)
      << c.text;
}

// Issue 15: with DANE, a certificate no record matches is reported with the records that would
// match it: the leaf's 3 1 1 and, since a DANE-TA record was tried, the issuer's 2 1 1.
TEST(Certificates, DaneMismatchGivesTheRecordsThatWouldMatch) {
  const TestCert cert = pki().leaf({kName});
  FakeSmtpServer server(up_to_starttls() + std::vector<Step>{start_tls(setup_for(cert))} + kQuit);
  const std::string owner = "_" + std::to_string(server.port()) + "._tcp." + kName;
  FakeDnsServer dns;
  dns.set(owner, kDnsTypeTlsa,
          records({tlsa_record(owner, 3, 1, 1, std::string(32, '\x17')),
                   tlsa_record(owner, 2, 1, 1, spki_sha256(pki().root_pem()))},
                  true));
  dns.set(kName, kDnsTypeA, records({a_record(kName, "127.0.0.1")}));
  dns.set(kName, kDnsTypeAaaa, of_kind(DnsAnswer::Kind::NoData));
  auto config = config_for(server.port(), kName);
  config.starttls = true;
  config.dane = true;
  config.dns_servers = {dns.address_port()};
  const auto c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(summary(c), "SMTP CRITICAL - " + kName +
                            "[127.0.0.1]:" + std::to_string(server.port()) +
                            " certificate verification failed: DANE: no TLSA record matched: "
                            "presented 3 1 1 " +
                            to_hex(spki_sha256(cert.cert_pem)) + "; issuer 2 1 1 " +
                            to_hex(spki_sha256(pki().intermediate_pem())))
      << c.text;
}

// Issue 15: an OK line without verification says so.
TEST(Certificates, NoVerifyOkLineSaysUnverified) {
  FakeSmtpServer server(up_to_starttls() +
                        std::vector<Step>{start_tls(setup_for(pki().self_signed(kName))),
                                          expect(kEhlo), send_raw("250 mx\r\n")} +
                        kQuit);
  auto config = tls_config(server.port());
  config.no_verify = true;
  const auto c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(c.state, State::Ok) << c.line;
  EXPECT_TRUE(std::regex_match(
      summary(c), std::regex("SMTP OK - \\[127\\.0\\.0\\.1\\]:[0-9]+ ESMTP Fake, STARTTLS "
                             "TLSv1\\.3 TLS_[A-Z0-9_]+ \\(unverified\\), cert (88|89) d, T s")))
      << c.line;
}

TEST(Certificates, OldProtocolOnlyServer) {
  TlsSetup old = good_setup();
  old.min_version = TLS1_VERSION;
  old.max_version = TLS1_1_VERSION;
  expect_handshake_failure(start_tls(old), "[a-z0-9 ]+");
}

TEST(ImplicitTls, ServerGoneWhileWeWriteIsNoSigpipe) {
  // A 2 MB message into a server that closes: our TLS writes hit a dead socket. OpenSSL writes
  // with write(); without the guard SIGPIPE would kill this test process.
  FakeSmtpServer server({start_tls(good_setup()), send_raw("220 mx ESMTP Fake\r\n"), expect(kEhlo),
                         send_raw("250 mx\r\n"), expect("MAIL FROM:<m@smtpverify.test>"),
                         send_raw("250 ok\r\n"), expect("RCPT TO:<probe@smtpverify.test>"),
                         send_raw("250 ok\r\n"), expect("DATA"), send_raw("354 go\r\n"),
                         close_connection()});
  auto config = config_for(server.port());
  config.implicit_tls = true;
  config.ca_file = pki().root_file();
  config.mail_from = "m@smtpverify.test";
  config.rcpts = {"probe@smtpverify.test"};
  config.data = true;
  config.data_file_text = std::string(2 * 1024 * 1024, 'x');
  const auto c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_TRUE(c.line.find(" connection lost while") != std::string::npos ||
              c.line.find(" connection closed after end of data") != std::string::npos)
      << c.line;
}

// -s against a plain SMTP port: OpenSSL reads "220 …" as a TLS record ("wrong version
// number"); the line says what the server speaks.
TEST(ImplicitTls, PlainPortGetsAHint) {
  FakeSmtpServer server({send_raw("220 mx ESMTP Fake\r\n"), expect_close()});
  auto config = config_for(server.port());
  config.implicit_tls = true;
  config.ca_file = pki().root_file();
  const auto c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(c.state, State::Critical) << c.text;
  EXPECT_EQ(c.line, "SMTP CRITICAL - " + prefix(server) +
                        "TLS handshake failed: wrong version number (the server speaks plain SMTP: "
                        "try -S) | time=Ts;;;0 connect=Ts;;;0 tls=Ts;;;0");
}

TEST(ImplicitTls, HandshakeFirstThenGreeting) {
  FakeSmtpServer server(std::vector<Step>{start_tls(good_setup()),
                                          send_raw("220 mx ESMTP Fake\r\n"), expect(kEhlo),
                                          send_raw("250 mx\r\n")} +
                        kQuit);
  auto config = config_for(server.port());
  config.implicit_tls = true;
  config.ca_file = pki().root_file();
  const auto c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(c.state, State::Ok) << c.text;
  EXPECT_EQ(c.labels, (Labels{"time", "connect", "tls", "banner", "ehlo", "quit", "cert_days"}));
}

// text has masked (the AUTH PLAIN line, masked) and neither the password nor its base64.
void expect_plain_secret_masked(const std::string& text, const std::string& masked) {
  EXPECT_EQ(text.find("s3cret"), std::string::npos) << text;
  EXPECT_EQ(text.find("AHByb2JlAHMzY3JldA=="), std::string::npos) << text;
  EXPECT_NE(text.find(masked), std::string::npos) << text;
}

TEST(Auth, PlainOverStarttlsWithTheSecretMasked) {
  FakeSmtpServer server(auth_script("250-mx\r\n250 AUTH LOGIN PLAIN\r\n",
                                    {expect("AUTH PLAIN AHByb2JlAHMzY3JldA=="),
                                     send_raw("235 2.7.0 Authentication successful\r\n")}));
  const auto config = auth_config(server.port(), check::AuthMechanism::Plain, 2);
  const auto c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(c.state, State::Ok) << c.text;
  expect_plain_secret_masked(c.text, "C: AUTH PLAIN ********\n");
}

TEST(Auth, SecretNeverInJson) {
  FakeSmtpServer server(
      auth_script("250-mx\r\n250 AUTH PLAIN\r\n",
                  {expect("AUTH PLAIN AHByb2JlAHMzY3JldA=="), send_raw("535 5.7.8 nope\r\n")}));
  auto config = auth_config(server.port(), check::AuthMechanism::Plain, 2);
  config.output = check::OutputFormat::Json;
  const auto result = check::run_check(config);
  EXPECT_TRUE(server.wait_done(3s));
  const check::Report report = check::make_report(result, config);
  EXPECT_EQ(report.state, State::Critical);
  expect_plain_secret_masked(check::format_json(report, result), "\"AUTH PLAIN ********\"");
}

TEST(Auth, LoginRejected) {
  FakeSmtpServer server(
      auth_script("250-mx\r\n250 AUTH LOGIN\r\n",
                  {expect("AUTH LOGIN"), send_raw("334 VXNlcm5hbWU6\r\n"), expect("cHJvYmU="),
                   send_raw("334 UGFzc3dvcmQ6\r\n"), expect("czNjcmV0"),
                   send_raw("535 5.7.8 authentication failed\r\n")}));
  const auto config = auth_config(server.port(), check::AuthMechanism::Login, 1);
  const auto c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(summary(c), "SMTP CRITICAL - " + prefix(server) +
                            "AUTH LOGIN rejected: 535 5.7.8 authentication failed");
  EXPECT_EQ(c.text.find("czNjcmV0"), std::string::npos) << c.text;
}

}  // namespace
}  // namespace smtpverify::test
