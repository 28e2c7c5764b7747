// Component tier: the HELO-name check (contract §1 helo_dns) against the FakeDnsServer.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "check/range.h"
#include "component/component_util.h"
#include "support/fake_dns_server.h"
#include "support/fake_smtp_server.h"
#include "support/smtp_script.h"

namespace smtpverify::test {
namespace {

using namespace std::chrono_literals;
using check::State;

const std::string kHelo = "probe.smtpverify.test";

check::Config helo_config(const FakeDnsServer& dns, std::uint16_t port,
                          check::HeloDnsMode mode = check::HeloDnsMode::Warning) {
  auto c = config_for(port);
  c.helo_dns = mode;
  c.dns_servers = {dns.address_port()};
  return c;
}

std::string summary(const Checked& c) { return c.line.substr(0, c.line.find(" |")); }

// One check with -v against a server that takes the plain dialogue.
Checked verbose_check(const FakeDnsServer& dns) {
  FakeSmtpServer server(ok_script());
  auto config = helo_config(dns, server.port());
  config.verbosity = 1;
  Checked c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  return c;
}

TEST(HeloDns, ResolvesToOurAddress) {
  FakeDnsServer dns;
  dns.set(kHelo, kDnsTypeA, records({a_record(kHelo, "127.0.0.1")}));
  dns.set(kHelo, kDnsTypeAaaa, records({aaaa_record(kHelo, "::1")}));
  dns.set("1.0.0.127.in-addr.arpa", kDnsTypePtr,
          records({ptr_record("1.0.0.127.in-addr.arpa", kHelo)}));
  const auto c = verbose_check(dns);
  EXPECT_EQ(c.state, State::Ok) << c.text;
  EXPECT_EQ(c.labels, (Labels{"time", "connect", "banner", "ehlo", "quit", "helo_dns"}));
  EXPECT_NE(c.text.find("\n* HELO name probe.smtpverify.test: 127.0.0.1, ::1\n"), std::string::npos)
      << c.text;
  EXPECT_NE(c.text.find("\n* PTR of 127.0.0.1: probe.smtpverify.test (forward-confirmed)\n"),
            std::string::npos)
      << c.text;
  EXPECT_EQ(c.result.ptr, kHelo);
  EXPECT_TRUE(c.result.forward_confirmed);
  EXPECT_EQ(dns.query_count(kHelo, kDnsTypeA),
            2);  // the HELO check, then forward-confirming the PTR
  EXPECT_EQ(dns.query_count(kHelo, kDnsTypeAaaa), 2);
}

// The PTR is reported (-v, JSON), not rated: a check that shows neither does not ask for it.
TEST(HeloDns, PtrIsAskedOnlyWhenShown) {
  FakeDnsServer dns;
  dns.set(kHelo, kDnsTypeA, records({a_record(kHelo, "127.0.0.1")}));
  dns.set(kHelo, kDnsTypeAaaa, of_kind(DnsAnswer::Kind::NoData));
  dns.set("1.0.0.127.in-addr.arpa", kDnsTypePtr,
          records({ptr_record("1.0.0.127.in-addr.arpa", kHelo)}));
  for (const bool json : {false, true}) {
    FakeSmtpServer server(ok_script());
    auto config = helo_config(dns, server.port());
    config.output = json ? check::OutputFormat::Json : check::OutputFormat::Nagios;
    const auto c = check_with(config);
    EXPECT_TRUE(server.wait_done(3s));
    EXPECT_EQ(c.state, State::Ok) << c.text;
    EXPECT_EQ(c.result.ptr, json ? kHelo : "");
  }
  EXPECT_EQ(dns.query_count("1.0.0.127.in-addr.arpa", kDnsTypePtr), 1);  // the JSON run only
}

// Issue 14 #2: c-ares 1.18 refuses a PTR name that is no host name (spaces, '|', '=' here);
// the report says the answer was malformed instead of claiming there is no PTR record.
TEST(HeloDns, PtrThatIsNoHostNameIsMalformed) {
  FakeDnsServer dns;
  dns.set(kHelo, kDnsTypeA, records({a_record(kHelo, "127.0.0.1")}));
  dns.set(kHelo, kDnsTypeAaaa, of_kind(DnsAnswer::Kind::NoData));
  dns.set("1.0.0.127.in-addr.arpa", kDnsTypePtr,
          records({ptr_record("1.0.0.127.in-addr.arpa", "x OK - fine | time=0s.test")}));
  const auto c = verbose_check(dns);
  EXPECT_EQ(c.state, State::Ok) << c.text;
  EXPECT_EQ(c.result.ptr, "");
  EXPECT_NE(c.text.find("\n* PTR of 127.0.0.1: none (malformed DNS answer)\n"), std::string::npos)
      << c.text;
}

struct HeloCase {
  const char* name;
  DnsAnswer a;
  DnsAnswer aaaa;
  std::string words;
};

TEST(HeloDns, FindingsAreNamed) {
  const std::vector<HeloCase> cases = {
      {"elsewhere", records({a_record(kHelo, "192.0.2.55")}), of_kind(DnsAnswer::Kind::NoData),
       "HELO name probe.smtpverify.test resolves to 192.0.2.55 - not to our address 127.0.0.1"},
      {"AAAA only, we came over IPv4", of_kind(DnsAnswer::Kind::NoData),
       records({aaaa_record(kHelo, "::1")}),
       "HELO name probe.smtpverify.test has no A record - our address is 127.0.0.1 (it has ::1)"},
      // Only the family the connection used counts: an AAAA elsewhere is not named.
      {"A elsewhere and AAAA", records({a_record(kHelo, "192.0.2.55")}),
       records({aaaa_record(kHelo, "::1")}),
       "HELO name probe.smtpverify.test resolves to 192.0.2.55 - not to our address 127.0.0.1"},
      {"NXDOMAIN", of_kind(DnsAnswer::Kind::NxDomain), of_kind(DnsAnswer::Kind::NxDomain),
       "HELO name probe.smtpverify.test does not resolve (NXDOMAIN)"},
      {"NODATA", of_kind(DnsAnswer::Kind::NoData), of_kind(DnsAnswer::Kind::NoData),
       "HELO name probe.smtpverify.test has no address records"},
      {"SERVFAIL", of_kind(DnsAnswer::Kind::ServFail), of_kind(DnsAnswer::Kind::ServFail),
       "HELO name probe.smtpverify.test: DNS SERVFAIL"},
  };
  for (const auto& tc : cases) {
    FakeDnsServer dns;
    dns.set(kHelo, kDnsTypeA, tc.a);
    dns.set(kHelo, kDnsTypeAaaa, tc.aaaa);
    FakeSmtpServer server(ok_script());
    const auto c = check_with(helo_config(dns, server.port()));
    EXPECT_TRUE(server.wait_done(3s)) << tc.name;
    EXPECT_EQ(server.error(), "") << tc.name;
    EXPECT_EQ(c.state, State::Warning) << tc.name;
    EXPECT_EQ(summary(c),
              "SMTP WARNING - [127.0.0.1]:" + std::to_string(server.port()) + " " + tc.words)
        << tc.name;
  }
}

// Issue 14 #9: the check read at most 32 A records; ours as the 40th gave a false WARNING. The
// answer is too big for UDP, so it also takes c-ares' retry over TCP.
TEST(HeloDns, OurAddressAfterThirtyTwoOthersIsFound) {
  FakeDnsServer dns;
  std::vector<DnsRecord> forty;
  for (int i = 1; i < 40; ++i) forty.push_back(a_record(kHelo, "192.0.2." + std::to_string(i)));
  forty.push_back(a_record(kHelo, "127.0.0.1"));
  dns.set(kHelo, kDnsTypeA, records(forty));
  dns.set(kHelo, kDnsTypeAaaa, of_kind(DnsAnswer::Kind::NoData));
  const auto c = verbose_check(dns);
  EXPECT_EQ(c.state, State::Ok) << c.text;
  EXPECT_EQ(summary(c).find("HELO"), std::string::npos) << c.line;
  EXPECT_NE(c.text.find(", 192.0.2.39, 127.0.0.1\n"), std::string::npos) << c.text;
}

TEST(HeloDns, CriticalModeAndIgnoreMode) {
  for (const auto& [mode, state] : std::vector<std::pair<check::HeloDnsMode, State>>{
           {check::HeloDnsMode::Critical, State::Critical},
           {check::HeloDnsMode::Ignore, State::Ok}}) {
    FakeDnsServer dns;
    dns.set(kHelo, kDnsTypeA, of_kind(DnsAnswer::Kind::NxDomain));
    dns.set(kHelo, kDnsTypeAaaa, of_kind(DnsAnswer::Kind::NxDomain));
    FakeSmtpServer server(ok_script());
    const auto c = check_with(helo_config(dns, server.port(), mode));
    EXPECT_TRUE(server.wait_done(3s));
    EXPECT_EQ(c.state, state);
    if (mode == check::HeloDnsMode::Ignore) {
      EXPECT_EQ(dns.query_count(kHelo, kDnsTypeA), 0);  // ignore skips the lookup entirely
    }
  }
}

TEST(HeloDns, SilentDnsServerStaysUnderTheDeadline) {
  FakeDnsServer dns;
  dns.set(kHelo, kDnsTypeA, of_kind(DnsAnswer::Kind::Drop));
  dns.set(kHelo, kDnsTypeAaaa, of_kind(DnsAnswer::Kind::Drop));
  FakeSmtpServer server(ok_script());
  auto config = helo_config(dns, server.port());
  config.timeout = 600ms;
  const auto t0 = std::chrono::steady_clock::now();
  const auto c = check_with(config);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1100ms);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "");  // the dialogue itself completed, QUIT included
  EXPECT_EQ(c.state, State::Warning);
  EXPECT_EQ(summary(c), "SMTP WARNING - [127.0.0.1]:" + std::to_string(server.port()) +
                            " HELO name probe.smtpverify.test: DNS timeout");
}

// issue 15: a dead resolver made the mail server CRITICAL through "-c 0.3" although it
// answered in milliseconds. The wait for the HELO name's lookup is not part of `time`, so the
// threshold on the dialogue holds; the lookup is its own phase.
TEST(HeloDns, WaitingForTheLookupNeverCountsIntoTime) {
  FakeDnsServer dns;
  dns.set(kHelo, kDnsTypeA, of_kind(DnsAnswer::Kind::Drop));
  dns.set(kHelo, kDnsTypeAaaa, of_kind(DnsAnswer::Kind::Drop));
  FakeSmtpServer server(ok_script());
  auto config = helo_config(dns, server.port());
  config.timeout = 600ms;  // the lookup is waited for until then
  config.critical.emplace("time", *check::parse_range("0.3"));
  const auto c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(c.state, State::Warning) << c.text;  // the lookup's finding, not "time … critical"
  EXPECT_EQ(summary(c), "SMTP WARNING - [127.0.0.1]:" + std::to_string(server.port()) +
                            " HELO name probe.smtpverify.test: DNS timeout");
  EXPECT_LT(c.result.total_seconds, 0.3);
  EXPECT_GT(c.result.helo_wait_seconds, 0.0);
}

// Without -F and --helo-dns the name is the machine's own: a finding is reported (-v, JSON),
// never rated.
TEST(HeloDns, TheMachinesOwnNameIsReportedNotRated) {
  FakeDnsServer dns;
  dns.set(kHelo, kDnsTypeA, of_kind(DnsAnswer::Kind::NxDomain));
  dns.set(kHelo, kDnsTypeAaaa, of_kind(DnsAnswer::Kind::NxDomain));
  FakeSmtpServer server(ok_script());
  auto config = helo_config(dns, server.port(), check::HeloDnsMode::Report);
  config.verbosity = 1;
  config.output = check::OutputFormat::Json;
  const auto c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(c.state, State::Ok) << c.text;
  EXPECT_EQ(summary(c),
            "SMTP OK - [127.0.0.1]:" + std::to_string(server.port()) + " ESMTP Fake, T s");
  EXPECT_NE(c.text.find("\n* HELO name probe.smtpverify.test does not resolve (NXDOMAIN) (not "
                        "rated: the machine's own name; rate it with -F or --helo-dns)\n"),
            std::string::npos)
      << c.text;
  const auto doc =
      nlohmann::json::parse(check::format_json(check::make_report(c.result, config), c.result));
  EXPECT_EQ(doc["dns"]["helo_name"], "probe.smtpverify.test");
  EXPECT_EQ(doc["dns"]["helo_finding"],
            "HELO name probe.smtpverify.test does not resolve (NXDOMAIN)");
  EXPECT_EQ(doc["problems"], nlohmann::json::array());
}

TEST(HeloDns, RefusedDnsServerIsNamedAsSuch) {
  FakeDnsServer dns;
  FakeSmtpServer server(ok_script());
  auto config = helo_config(dns, server.port());
  config.dns_servers = {refused_dns_server()};
  config.timeout = 5s;
  const auto c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(c.state, State::Warning);
  EXPECT_EQ(summary(c), "SMTP WARNING - [127.0.0.1]:" + std::to_string(server.port()) +
                            " HELO name probe.smtpverify.test: DNS server unreachable");
}

TEST(HeloDns, AddressLiteralIsComparedDirectly) {
  FakeDnsServer dns;
  {
    FakeSmtpServer server(ok_script("[127.0.0.1]"));
    auto config = helo_config(dns, server.port());
    config.helo_name = "[127.0.0.1]";
    const auto c = check_with(config);
    EXPECT_TRUE(server.wait_done(3s));
    EXPECT_EQ(c.state, State::Ok) << c.text;
  }
  {
    FakeSmtpServer server(ok_script("[192.0.2.1]"));
    auto config = helo_config(dns, server.port());
    config.helo_name = "[192.0.2.1]";
    const auto c = check_with(config);
    EXPECT_TRUE(server.wait_done(3s));
    EXPECT_EQ(summary(c), "SMTP WARNING - [127.0.0.1]:" + std::to_string(server.port()) +
                              " HELO [192.0.2.1] is not our address 127.0.0.1");
  }
  EXPECT_EQ(dns.query_count("[127.0.0.1]", kDnsTypeA), 0);
}

}  // namespace
}  // namespace smtpverify::test
