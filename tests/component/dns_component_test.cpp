// Component tier: resolving -H through c-ares against the scripted FakeDnsServer.
#include <gtest/gtest.h>

#include <chrono>

#include "component/component_util.h"
#include "support/fake_dns_server.h"
#include "support/fake_smtp_server.h"
#include "support/smtp_script.h"

namespace smtpverify::test {
namespace {

using namespace std::chrono_literals;
using check::State;

const std::string kName = "mx.smtpverify.test";

std::vector<Step> dns_ok_script() { return ok_script(kProbeHelo, "220 mx ESMTP"); }

check::Config dns_config(const FakeDnsServer& dns, std::uint16_t port) {
  auto c = config_for(port, kName);
  c.dns_servers = {dns.address_port()};
  return c;
}

// kName resolves to 127.0.0.1 and ::1.
void on_both_loopbacks(FakeDnsServer& dns) {
  dns.set(kName, kDnsTypeA, records({a_record(kName, "127.0.0.1")}));
  dns.set(kName, kDnsTypeAaaa, records({aaaa_record(kName, "::1")}));
}

TEST(Resolve, AOnly) {
  FakeDnsServer dns;
  dns.set(kName, kDnsTypeA, records({a_record(kName, "127.0.0.1")}));
  dns.set(kName, kDnsTypeAaaa, of_kind(DnsAnswer::Kind::NoData));
  FakeSmtpServer server(dns_ok_script());
  const auto c = check_with(dns_config(dns, server.port()));
  EXPECT_EQ(c.state, State::Ok) << c.text;
  EXPECT_EQ(c.line, "SMTP OK - " + kName + "[127.0.0.1]:" + std::to_string(server.port()) +
                        " ESMTP, T s | time=Ts;;;0 resolve=Ts;;;0 connect=Ts;;;0 banner=Ts;;;0 "
                        "ehlo=Ts;;;0 quit=Ts;;;0");
  EXPECT_GE(dns.query_count(kName, kDnsTypeA), 1);
}

TEST(Resolve, AaaaOnly) {
  FakeDnsServer dns;
  dns.set(kName, kDnsTypeA, of_kind(DnsAnswer::Kind::NoData));
  dns.set(kName, kDnsTypeAaaa, records({aaaa_record(kName, "::1")}));
  FakeSmtpServer server(dns_ok_script(), AF_INET6);
  const auto c = check_with(dns_config(dns, server.port()));
  EXPECT_EQ(c.state, State::Ok) << c.text;
  EXPECT_EQ(c.line.rfind("SMTP OK - " + kName + "[::1]:" + std::to_string(server.port()), 0), 0u)
      << c.line;
}

TEST(Resolve, MinusFourAsksOnlyForA) {
  FakeDnsServer dns;
  on_both_loopbacks(dns);
  FakeSmtpServer server(dns_ok_script());
  auto config = dns_config(dns, server.port());
  config.family = AF_INET;
  const auto c = check_with(config);
  EXPECT_EQ(c.state, State::Ok) << c.text;
  EXPECT_EQ(dns.query_count(kName, kDnsTypeAaaa), 0);
}

TEST(Resolve, EveryAddressIsTriedInOrder) {
  // The IPv6 address refuses (nothing listens on ::1 at that port); IPv4 then connects.
  FakeDnsServer dns;
  on_both_loopbacks(dns);
  FakeSmtpServer server(dns_ok_script());
  auto config = dns_config(dns, server.port());
  config.verbosity = 1;
  const auto c = check_with(config);
  EXPECT_EQ(c.state, State::Ok) << c.text;
  EXPECT_NE(c.text.find("* " + kName + " resolves to "), std::string::npos) << c.text;
  EXPECT_NE(c.text.find("* connected to 127.0.0.1:"), std::string::npos) << c.text;
}

// A name's DNS decides how many addresses we would try: at most 16 are, and the line says so.
TEST(Resolve, AtMostSixteenAddressesAreTried) {
  FakeDnsServer dns;
  std::vector<DnsRecord> many;
  for (int i = 10; i < 30; ++i) many.push_back(a_record(kName, "127.0.0." + std::to_string(i)));
  dns.set(kName, kDnsTypeA, records(many));
  dns.set(kName, kDnsTypeAaaa, of_kind(DnsAnswer::Kind::NoData));
  std::uint16_t port = 0;
  {
    FakeSmtpServer probe({});
    port = probe.port();
  }
  const auto c = check_with(dns_config(dns, port));
  EXPECT_EQ(c.state, State::Critical);
  const std::string head = "SMTP CRITICAL - cannot connect to " + kName + " port " +
                           std::to_string(port) + " (16 of 20 addresses tried: 127.0.0.";
  EXPECT_EQ(c.line.rfind(head, 0), 0u) << c.line;
  // The first line is bounded; the problem itself names every address tried.
  ASSERT_EQ(c.result.problems.size(), 1u);
  const std::string& text = c.result.problems[0].text;
  std::size_t refused = 0;
  for (auto at = text.find(": Connection refused"); at != std::string::npos;
       at = text.find(": Connection refused", at + 1)) {
    ++refused;
  }
  EXPECT_EQ(refused, 16u) << text;
}

TEST(Resolve, NoAddressConnects) {
  FakeDnsServer dns;
  on_both_loopbacks(dns);
  std::uint16_t port = 0;
  {
    FakeSmtpServer probe({});
    port = probe.port();
  }
  const auto c = check_with(dns_config(dns, port));
  EXPECT_EQ(c.state, State::Critical);
  const std::string p = std::to_string(port);
  EXPECT_TRUE(c.line == "SMTP CRITICAL - cannot connect to " + kName + " port " + p +
                            " ([::1]:" + p + ": Connection refused, 127.0.0.1:" + p +
                            ": Connection refused) | time=Ts;;;0 resolve=Ts;;;0 connect=Ts;;;0" ||
              c.line == "SMTP CRITICAL - cannot connect to " + kName + " port " + p +
                            " (127.0.0.1:" + p + ": Connection refused, [::1]:" + p +
                            ": Connection refused) | time=Ts;;;0 resolve=Ts;;;0 connect=Ts;;;0")
      << c.line;
}

struct FailureCase {
  DnsAnswer::Kind kind;
  std::string words;
};

TEST(Resolve, FailuresAreToldApart) {
  for (const auto& [kind, words] : std::vector<FailureCase>{
           {DnsAnswer::Kind::NxDomain, "NXDOMAIN"},
           {DnsAnswer::Kind::NoData, "no address records"},
           {DnsAnswer::Kind::ServFail, "SERVFAIL"},
       }) {
    FakeDnsServer dns;
    dns.set(kName, kDnsTypeA, of_kind(kind));
    dns.set(kName, kDnsTypeAaaa, of_kind(kind));
    const auto c = check_with(dns_config(dns, 25));
    EXPECT_EQ(c.state, State::Critical) << words;
    EXPECT_EQ(c.line, "SMTP CRITICAL - cannot resolve " + kName + ": " + words +
                          " | time=Ts;;;0 resolve=Ts;;;0")
        << words;
  }
}

TEST(Resolve, SilentServerHitsTheDeadline) {
  FakeDnsServer dns;
  dns.set(kName, kDnsTypeA, of_kind(DnsAnswer::Kind::Drop));
  dns.set(kName, kDnsTypeAaaa, of_kind(DnsAnswer::Kind::Drop));
  auto config = dns_config(dns, 25);
  config.timeout = 400ms;
  const auto t0 = std::chrono::steady_clock::now();
  const auto c = check_with(config);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 900ms);
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(c.line, "SMTP CRITICAL - timeout after 0.4 s waiting for address of " + kName +
                        " from " + kName + ":25 | time=Ts;;;0");
}

}  // namespace
}  // namespace smtpverify::test
