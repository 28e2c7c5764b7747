// Component tier: --mx (RFC 5321 §5.1, RFC 7505) against the FakeDnsServer.
#include <gtest/gtest.h>

#include <chrono>

#include "component/component_util.h"
#include "dns/mx.h"
#include "support/fake_dns_server.h"
#include "support/fake_smtp_server.h"
#include "support/smtp_script.h"

namespace smtpverify::test {
namespace {

using namespace std::chrono_literals;
using check::State;

const std::string kDomain = "mx.smtpverify.test";

check::Config mx_config(const FakeDnsServer& dns, std::uint16_t port) {
  auto c = config_for(port, kDomain);
  c.mx = kDomain;
  c.dns_servers = {dns.address_port()};
  return c;
}

void host_at(FakeDnsServer& dns, const std::string& name, const std::string& ipv4) {
  dns.set(name, kDnsTypeA, records({a_record(name, ipv4)}));
  dns.set(name, kDnsTypeAaaa, of_kind(DnsAnswer::Kind::NoData));
}

std::string summary(const Checked& c) { return c.line.substr(0, c.line.find(" |")); }

// The check with config ends CRITICAL with line (and nothing else).
void expect_critical(const check::Config& config, const std::string& line) {
  const auto c = check_with(config);
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(c.line, line);
}

TEST(Mx, MostPreferredHostIsChecked) {
  FakeDnsServer dns;
  dns.set(kDomain, kDnsTypeMx,
          records({mx_record(kDomain, 20, "far.smtpverify.test"),
                   mx_record(kDomain, 10, "near.smtpverify.test")}));
  host_at(dns, "near.smtpverify.test", "127.0.0.1");
  FakeSmtpServer server(ok_script());
  const auto c = check_with(mx_config(dns, server.port()));
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(c.state, State::Ok) << c.text;
  EXPECT_EQ(c.line, "SMTP OK - near.smtpverify.test[127.0.0.1]:" + std::to_string(server.port()) +
                        " ESMTP Fake, T s | time=Ts;;;0 mx=Ts;;;0 resolve=Ts;;;0 connect=Ts;;;0 "
                        "banner=Ts;;;0 ehlo=Ts;;;0 quit=Ts;;;0");
  EXPECT_EQ(dns.query_count("far.smtpverify.test", kDnsTypeA), 0);
}

TEST(Mx, EqualPreferenceFallsThroughToTheNext) {
  FakeDnsServer dns;
  dns.set(kDomain, kDnsTypeMx,
          records({mx_record(kDomain, 10, "dead.smtpverify.test"),
                   mx_record(kDomain, 10, "live.smtpverify.test")}));
  dns.set("dead.smtpverify.test", kDnsTypeA, of_kind(DnsAnswer::Kind::NxDomain));
  dns.set("dead.smtpverify.test", kDnsTypeAaaa, of_kind(DnsAnswer::Kind::NxDomain));
  host_at(dns, "live.smtpverify.test", "127.0.0.1");
  FakeSmtpServer server(ok_script());
  auto config = mx_config(dns, server.port());
  config.verbosity = 1;
  const auto c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(c.state, State::Ok) << c.text;
  EXPECT_EQ(summary(c).rfind("SMTP OK - live.smtpverify.test[127.0.0.1]:", 0), 0u) << c.line;
  EXPECT_NE(c.text.find("\n* dead.smtpverify.test cannot be reached; trying the next MX of equal "
                        "preference\n"),
            std::string::npos)
      << c.text;
}

TEST(Mx, NullMxAcceptsNoMail) {
  FakeDnsServer dns;
  dns.set(kDomain, kDnsTypeMx, records({mx_record(kDomain, 0, ".")}));
  const auto c = check_with(mx_config(dns, 25));
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(summary(c), "SMTP CRITICAL - mx.smtpverify.test accepts no mail (null MX, RFC 7505)");
}

TEST(Mx, DanglingMxIsCritical) {
  FakeDnsServer dns;
  dns.set(kDomain, kDnsTypeMx, records({mx_record(kDomain, 10, "nx-host.smtpverify.test")}));
  dns.set("nx-host.smtpverify.test", kDnsTypeA, of_kind(DnsAnswer::Kind::NxDomain));
  dns.set("nx-host.smtpverify.test", kDnsTypeAaaa, of_kind(DnsAnswer::Kind::NxDomain));
  const auto c = check_with(mx_config(dns, 25));
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(summary(c), "SMTP CRITICAL - cannot resolve nx-host.smtpverify.test: NXDOMAIN");
}

TEST(Mx, NoMxMeansTheDomainItself) {
  FakeDnsServer dns;
  dns.set(kDomain, kDnsTypeMx, of_kind(DnsAnswer::Kind::NoData));
  host_at(dns, kDomain, "127.0.0.1");
  FakeSmtpServer server(ok_script());
  const auto c = check_with(mx_config(dns, server.port()));
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(c.state, State::Ok) << c.text;
  EXPECT_EQ(summary(c).rfind("SMTP OK - mx.smtpverify.test[127.0.0.1]:", 0), 0u) << c.line;
}

TEST(Mx, UnknownDomain) {
  FakeDnsServer dns;
  dns.set(kDomain, kDnsTypeMx, of_kind(DnsAnswer::Kind::NxDomain));
  expect_critical(
      mx_config(dns, 25),
      "SMTP CRITICAL - cannot resolve MX of mx.smtpverify.test: NXDOMAIN | time=Ts;;;0");
}

TEST(Mx, RefusedDnsServerIsNotATimeout) {
  auto config = mx_config(FakeDnsServer(), 25);
  config.dns_servers = {refused_dns_server()};
  config.timeout = 5s;
  expect_critical(config,
                  "SMTP CRITICAL - cannot resolve MX of mx.smtpverify.test: DNS server "
                  "unreachable | time=Ts;;;0");
}

TEST(Mx, DnsServerThatNeverAnswersIsATimeout) {
  FakeDnsServer dns;
  dns.set(kDomain, kDnsTypeMx, of_kind(DnsAnswer::Kind::Drop));
  auto config = mx_config(dns, 25);
  config.timeout = 700ms;
  expect_critical(config,
                  "SMTP CRITICAL - timeout after 0.7 s waiting for MX of mx.smtpverify.test | "
                  "time=Ts;;;0");
}

// Found by the dns_check fuzzer: an MX exchange that reads as an IP literal was connected to as
// that address, which no A or AAAA record gave (RFC 1035 3.3.9: EXCHANGE is a domain name), so
// whoever controls the zone could point the check at any address. It is a finding now, and the
// next MX of equal preference is tried.
TEST(Mx, ExchangeThatIsAnAddressIsNeverConnectedTo) {
  FakeDnsServer dns;
  FakeSmtpServer server(ok_script());
  dns.set(kDomain, kDnsTypeMx, records({mx_record(kDomain, 10, "127.0.0.1")}));
  const auto c = check_with(mx_config(dns, server.port()));
  EXPECT_FALSE(server.client_connected());
  EXPECT_EQ(c.state, State::Critical) << c.text;
  EXPECT_EQ(summary(c), "SMTP CRITICAL - MX host 127.0.0.1 is an IP address, not a host name");
}

// Found by the dns_check fuzzer in CI: "096.0.2.1" is no IP literal (a leading zero), but c-ares
// reads any name of digits and three dots as an address without asking DNS, and connected off
// the machine. A name whose top label is all digits is no host name (RFC 3696 §2).
TEST(Mx, ExchangeOfDigitsAndDotsIsNeverResolved) {
  for (const std::string exchange : {"096.0.2.1", "1.2.3.4.5", "10", "127.0.0.01."}) {
    FakeDnsServer dns;
    FakeSmtpServer server(ok_script());
    dns.set(kDomain, kDnsTypeMx, records({mx_record(kDomain, 10, exchange)}));
    const auto c = check_with(mx_config(dns, server.port()));
    EXPECT_FALSE(server.client_connected()) << exchange;
    EXPECT_EQ(c.state, State::Critical) << c.text;
    std::string shown = exchange;
    if (shown.back() == '.') shown.pop_back();
    EXPECT_EQ(summary(c), "SMTP CRITICAL - MX host " + shown +
                              " is not a host name (its top label is all digits)")
        << exchange;
  }
}

// Also found by the fuzzer: the root as one MX among others (not the null MX, RFC 7505 3) was
// checked as the host "", which printed perfdata labels like "_banner" under --mx-all.
TEST(Mx, RootAmongOtherExchangesIsNoHost) {
  FakeDnsServer dns;
  dns.set(kDomain, kDnsTypeMx,
          records({mx_record(kDomain, 10, "."), mx_record(kDomain, 10, "live.smtpverify.test")}));
  host_at(dns, "live.smtpverify.test", "127.0.0.1");
  FakeSmtpServer server(ok_script());
  auto config = mx_config(dns, server.port());
  config.mx_all = true;
  const auto c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(c.state, State::Critical) << c.text;
  EXPECT_EQ(summary(c), "SMTP CRITICAL - 1/2 MX hosts OK - MX host . names no host (RFC 7505)");
  for (const auto& label : c.labels) EXPECT_NE(label.front(), '_') << c.line;
  EXPECT_NE(c.line.find(" live.smtpverify.test_banner=Ts;;;0 "), std::string::npos) << c.line;
}

// --mx-all: two exchanges whose labels come out the same once made safe ("a b" and "a|b") must
// not share perfdata labels, or a grapher merges two hosts into one series. The later one gets
// "-2" before the phase, where cutting a long label keeps it.
TEST(Mx, HostsWhoseSafeLabelsCollideAreToldApart) {
  FakeDnsServer dns;
  dns.set(kDomain, kDnsTypeMx,
          records({mx_record(kDomain, 10, "a b.smtpverify.test"),
                   mx_record(kDomain, 20, "a|b.smtpverify.test")}));
  auto config = mx_config(dns, 25);
  config.mx_all = true;
  const auto c = check_with(config);  // neither name resolves: each times only its resolve
  EXPECT_EQ(c.state, State::Critical) << c.text;
  EXPECT_EQ(c.line.substr(c.line.find(" | ")),
            " | time=Ts;;;0 mx=Ts;;;0 a_b.smtpverify.test_resolve=Ts;;;0 "
            "a_b.smtpverify.test-2_resolve=Ts;;;0");
}

// Issue 14 #2: c-ares 1.18 hands on an MX exchange's spaces, '|' and '=' as they are, control
// and 8-bit bytes as "\DDD"; lookup_mx keeps the name and says which are no host names.
// --mx-all --output openmetrics: each host is a part, and the exposition labels its metrics
// with mx_host. A hostile exchange name (q"\ x and an ESC, which
// c-ares hands over as q\"\\ x\027) stays one label value, each backslash and quote escaped.
TEST(Mx, AllHostsAreLabelledInTheExposition) {
  FakeDnsServer dns;
  const std::string hostile = "q\"\\ x\x1b.smtpverify.test";
  dns.set(
      kDomain, kDnsTypeMx,
      records({mx_record(kDomain, 10, "near.smtpverify.test"), mx_record(kDomain, 20, hostile)}));
  host_at(dns, "near.smtpverify.test", "127.0.0.1");
  FakeSmtpServer server(ok_script());
  auto config = mx_config(dns, server.port());
  config.mx_all = true;
  const auto c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(c.state, State::Critical) << c.text;
  ASSERT_EQ(c.result.parts.size(), 2u);
  const std::string text =
      check::format_openmetrics(check::make_report(c.result, config), c.result);
  const std::string d =
      "{domain=\"mx.smtpverify.test\",port=\"" + std::to_string(server.port()) + "\"";
  const std::string near = d + ",mx_host=\"near.smtpverify.test\"";
  const std::string bad = d + R"(,mx_host="q\\\"\\\\ x\\027.smtpverify.test")";
  for (const std::string& line :
       {"\nsmtp_verify_state" + d + "} 2\n", "\nsmtp_verify_target_state" + near + "} 0\n",
        "\nsmtp_verify_target_state" + bad + "} 2\n", "\nsmtp_verify_up" + near + "} 1\n",
        "\nsmtp_verify_up" + bad + "} 0\n",
        "\nsmtp_verify_phase_seconds" + near + ",phase=\"quit\"} "}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << " not in\n" << text;
  }
  EXPECT_NE(text.find("\nsmtp_verify_phase_seconds" + d + ",phase=\"mx\"} "), std::string::npos)
      << text;
}

TEST(Mx, ExchangesThatAreNoHostNamesAreFlagged) {
  FakeDnsServer dns;
  const std::string forged = "x OK - all fine | time=0s.smtpverify.test";
  const std::string bytes = std::string("ctl\x01\x1b[1m\xff") + ".smtpverify.test";
  dns.set(kDomain, kDnsTypeMx,
          records({mx_record(kDomain, 10, "good.smtpverify.test"), mx_record(kDomain, 20, forged),
                   mx_record(kDomain, 30, bytes)}));
  auto created = dns::Resolver::create({dns.address_port()});
  ASSERT_TRUE(created) << created.error();
  const dns::MxResult mx = dns::lookup_mx(**created, kDomain, net::Deadline::after(2s));
  ASSERT_EQ(mx.status, dns::Status::Ok) << mx.error;
  ASSERT_EQ(mx.hosts.size(), 3u);
  EXPECT_EQ(mx.hosts[0].host, "good.smtpverify.test");
  EXPECT_TRUE(mx.hosts[0].host_name_ok);
  EXPECT_EQ(mx.hosts[1].host, forged);
  EXPECT_FALSE(mx.hosts[1].host_name_ok);
  // Control and 8-bit bytes come escaped as \DDD (decimal); the backslash itself is no LDH byte.
  EXPECT_EQ(mx.hosts[2].host, "ctl\\001\\027[1m\\255.smtpverify.test");
  EXPECT_FALSE(mx.hosts[2].host_name_ok) << mx.hosts[2].host;
}

}  // namespace
}  // namespace smtpverify::test
