// Component tier: --each-address, every address of a host checked in turn (FakeDnsServer and one
// FakeSmtpServer per live address, all on the same port).
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <system_error>

#include "check/steps/check_host.h"
#include "component/component_util.h"
#include "support/fake_dns_server.h"
#include "support/fake_smtp_server.h"
#include "support/smtp_script.h"

namespace smtpverify::test {
namespace {

using namespace std::chrono_literals;
using check::State;

const std::string kName = "each.smtpverify.test";

check::Config each_config(const FakeDnsServer& dns, std::uint16_t port) {
  auto c = config_for(port, kName);
  c.dns_servers = {dns.address_port()};
  c.each_address = true;
  return c;
}

// The perfdata of one address's plain dialogue.
std::string dialogue_perf(const std::string& prefix) {
  std::string out;
  for (const char* phase : {"connect", "banner", "ehlo", "quit"}) {
    out += " " + prefix + "_" + phase + "=Ts;;;0";
  }
  return out;
}

TEST(EachAddress, EveryAddressGetsTheWholeDialogue) {
  FakeDnsServer dns;
  dns.set(kName, kDnsTypeA, records({a_record(kName, "127.0.0.1")}));
  dns.set(kName, kDnsTypeAaaa, records({aaaa_record(kName, "::1")}));
  FakeSmtpServer v4(ok_script());
  std::unique_ptr<FakeSmtpServer> v6;
  try {
    v6 = std::make_unique<FakeSmtpServer>(ok_script(), AF_INET6, v4.port());
  } catch (const std::system_error&) {
    GTEST_SKIP() << "no IPv6 loopback, or its port is taken";
  }
  const auto c = check_with(each_config(dns, v4.port()));
  EXPECT_TRUE(v4.wait_done(3s));
  EXPECT_TRUE(v6->wait_done(3s));
  EXPECT_EQ(v4.error(), "");
  EXPECT_EQ(v6->error(), "");
  EXPECT_EQ(c.state, State::Ok) << c.text;
  // The addresses in the order c-ares sorted them (RFC 6724); "::1" becomes "__1" in a label.
  ASSERT_EQ(c.result.parts.size(), 2u);
  const bool v6_first = c.result.parts[0].name == "::1";
  const std::string first = v6_first ? "__1" : "127.0.0.1";
  const std::string second = v6_first ? "127.0.0.1" : "__1";
  EXPECT_EQ(c.line, "SMTP OK - " + kName + ":" + std::to_string(v4.port()) +
                        " 2/2 addresses OK, T s | time=Ts;;;0 resolve=Ts;;;0" +
                        dialogue_perf(first) + dialogue_perf(second));
}

TEST(EachAddress, ADeadAddressIsCriticalAndNamed) {
  FakeDnsServer dns;
  // Nothing listens on 127.0.0.3: refused at once.
  dns.set(kName, kDnsTypeA, records({a_record(kName, "127.0.0.1"), a_record(kName, "127.0.0.3")}));
  dns.set(kName, kDnsTypeAaaa, of_kind(DnsAnswer::Kind::NoData));
  FakeSmtpServer server(ok_script());
  auto config = each_config(dns, server.port());
  const auto c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(c.state, State::Critical) << c.text;
  ASSERT_EQ(c.result.parts.size(), 2u);
  const bool dead_first = c.result.parts[0].name == "127.0.0.3";
  const std::string port = std::to_string(server.port());
  const std::string live = dialogue_perf("127.0.0.1");
  const std::string dead = " 127.0.0.3_connect=Ts;;;0";
  EXPECT_EQ(c.line, "SMTP CRITICAL - 1/2 addresses OK - cannot connect to " + kName +
                        "[127.0.0.3]:" + port +
                        ": Connection refused | time=Ts;;;0 resolve=Ts;;;0" +
                        (dead_first ? dead + live : live + dead));
  const check::Part& bad = c.result.parts[dead_first ? 0 : 1];
  EXPECT_EQ(bad.state, State::Critical);
  ASSERT_EQ(bad.problems.size(), 1u);
  EXPECT_EQ(bad.problems[0].problem.text,
            "cannot connect to " + kName + "[127.0.0.3]:" + port + ": Connection refused");
  EXPECT_EQ(c.result.parts[dead_first ? 1 : 0].state, State::Ok);
}

TEST(EachAddress, MinusFourKeepsToIpv4) {
  FakeDnsServer dns;
  dns.set(kName, kDnsTypeA, records({a_record(kName, "127.0.0.1")}));
  dns.set(kName, kDnsTypeAaaa, records({aaaa_record(kName, "::1")}));
  FakeSmtpServer server(ok_script());
  auto config = each_config(dns, server.port());
  config.family = AF_INET;
  const auto c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(c.state, State::Ok) << c.text;
  EXPECT_EQ(c.line, "SMTP OK - " + kName + ":" + std::to_string(server.port()) +
                        " 1/1 addresses OK, T s | time=Ts;;;0 resolve=Ts;;;0" +
                        dialogue_perf("127.0.0.1"));
  EXPECT_EQ(dns.query_count(kName, kDnsTypeAaaa), 0);
}

TEST(EachAddress, ANameThatDoesNotResolveIsOneProblem) {
  FakeDnsServer dns;
  dns.set(kName, kDnsTypeA, of_kind(DnsAnswer::Kind::NxDomain));
  dns.set(kName, kDnsTypeAaaa, of_kind(DnsAnswer::Kind::NxDomain));
  const auto c = check_with(each_config(dns, 25));
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(c.line,
            "SMTP CRITICAL - cannot resolve " + kName + ": NXDOMAIN | time=Ts;;;0 resolve=Ts;;;0");
  EXPECT_TRUE(c.result.parts.empty());
}

// --mx: among MX hosts of equal preference the next is tried only when the first cannot be
// reached at all; one dead address of several is a finding about the first host.
TEST(EachAddress, WithMxOneDeadAddressDoesNotSkipTheHost) {
  FakeDnsServer dns;
  const std::string domain = "mx.smtpverify.test";
  dns.set(domain, kDnsTypeMx,
          records({mx_record(domain, 10, kName), mx_record(domain, 10, "other.smtpverify.test")}));
  dns.set(kName, kDnsTypeA, records({a_record(kName, "127.0.0.1"), a_record(kName, "127.0.0.3")}));
  dns.set(kName, kDnsTypeAaaa, of_kind(DnsAnswer::Kind::NoData));
  FakeSmtpServer server(ok_script());
  auto config = each_config(dns, server.port());
  config.mx = domain;
  const auto c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(c.state, State::Critical) << c.text;
  EXPECT_EQ(
      c.line.rfind("SMTP CRITICAL - 1/2 addresses OK - cannot connect to " + kName + "[127.0.0.3]:",
                   0),
      0u)
      << c.line;
  EXPECT_EQ(dns.query_count("other.smtpverify.test", kDnsTypeA), 0);
}

// --mx --mta-sts --each-address: the policy rates each address's TLS findings before the address
// is rated as a part, so its state, the tally and the order of its problems follow the mode
// (the rating once came after the parts were made: "SMTP OK - … 0/1 addresses OK").
TEST(EachAddress, AnMtaStsPolicyRatesEachAddressBeforeItIsCounted) {
  FakeDnsServer dns;
  dns.set(kName, kDnsTypeA, records({a_record(kName, "127.0.0.1")}));
  dns.set(kName, kDnsTypeAaaa, of_kind(DnsAnswer::Kind::NoData));
  const std::string not_offered = "STARTTLS required (-S) but not offered";
  const auto check = [&](check::mta_sts::Mode mode, check::Config config) {
    const auto start = net::Clock::now();
    Checked c;
    c.result = check::check_host(config, kName, start, net::Deadline(start + config.timeout), mode);
    const check::Report report = check::make_report(c.result, config);
    c.state = report.state;
    c.text = check::format_nagios(report);
    c.line = mask_times(c.text.substr(0, c.text.find('\n')));
    return c;
  };
  {
    FakeSmtpServer server(ok_script());  // no STARTTLS in the EHLO reply
    auto config = each_config(dns, server.port());
    config.starttls = config.starttls_by_mta_sts = true;
    const auto c = check(check::mta_sts::Mode::None, config);
    EXPECT_TRUE(server.wait_done(3s));
    EXPECT_EQ(c.state, State::Ok) << c.line;
    EXPECT_EQ(c.result.tally, "1/1 addresses OK");
    EXPECT_EQ(c.line.rfind("SMTP OK - " + kName + ":" + std::to_string(server.port()) +
                               " 1/1 addresses OK, T s | ",
                           0),
              0u)
        << c.line;
    ASSERT_EQ(c.result.parts.size(), 1u);
    EXPECT_EQ(c.result.parts[0].state, State::Ok);
    EXPECT_TRUE(c.result.parts[0].problems.empty());
    ASSERT_EQ(c.result.parts[0].result.problems.size(), 1u);
    EXPECT_EQ(c.result.parts[0].result.problems[0].text, not_offered + " (MTA-STS none)");
  }
  {
    // testing: the finding is a WARNING, after the part's CRITICAL (worst first).
    FakeSmtpServer server(ok_script());
    auto config = each_config(dns, server.port());
    config.starttls = config.starttls_by_mta_sts = true;
    config.critical.emplace("time", *check::parse_range("@0:1000"));
    const auto c = check(check::mta_sts::Mode::Testing, config);
    EXPECT_TRUE(server.wait_done(3s));
    EXPECT_EQ(c.state, State::Critical) << c.line;
    EXPECT_EQ(c.result.tally, "0/1 addresses OK");
    ASSERT_EQ(c.result.parts.size(), 1u);
    const check::Part& part = c.result.parts[0];
    EXPECT_EQ(part.state, State::Critical);
    ASSERT_EQ(part.problems.size(), 2u);
    EXPECT_EQ(part.problems[0].state, State::Critical);
    EXPECT_EQ(part.problems[0].problem.kind, check::ProblemKind::ThresholdCritical);
    EXPECT_EQ(part.problems[1].state, State::Warning);
    EXPECT_EQ(part.problems[1].problem.text, kName +
                                                 "[127.0.0.1]:" + std::to_string(server.port()) +
                                                 " " + not_offered + " (MTA-STS testing)");
  }
}

}  // namespace
}  // namespace smtpverify::test
