// Bounds, component: run_check leaks no file descriptor, whatever the server does. Every fault
// runs many times in-process; /proc/self/fd must hold as many entries afterwards as before.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "component/component_util.h"
#include "support/fake_dns_server.h"
#include "support/fake_smtp_server.h"
#include "support/test_pki.h"

namespace smtpverify::test {
namespace {

using namespace std::chrono_literals;

const std::string kEhlo = "EHLO probe.smtpverify.test";

// Every open descriptor with what it points to, for a readable failure message.
std::vector<std::string> open_fds() {
  std::vector<std::string> fds;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    const auto target = std::filesystem::read_symlink(entry.path(), ec);
    fds.push_back(entry.path().filename().string() + " -> " + target.string());
  }
  return fds;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

TlsSetup tls_setup() {
  const TestPki& pki = shared_test_pki();
  const TestCert cert = pki.leaf({"mx.smtpverify.test"}, -1, 90, {"127.0.0.1"});
  return {cert.cert_pem, cert.key_pem, {pki.intermediate_pem()}};
}

std::vector<Step> up_to_starttls() {
  return {send("220 mx ESMTP"), expect(kEhlo), send("250-mx\r\n250 STARTTLS"), expect("STARTTLS"),
          send("220 2.0.0 Ready to start TLS")};
}

check::Config short_config(std::uint16_t port) {
  auto c = config_for(port);
  c.timeout = 250ms;
  return c;
}

check::Config starttls_config(std::uint16_t port) {
  auto c = short_config(port);
  c.starttls = true;
  c.ca_file = shared_test_pki().root_file();
  return c;
}

// One scripted fault: a server (or none), the check run against it, and the state it must get
// (so a scenario cannot quietly stop testing what its name says).
struct Fault {
  std::string name;
  check::State expected;
  std::function<check::State()> run;
};

check::State against(std::vector<Step> script,
                     const std::function<check::Config(std::uint16_t)>& config) {
  FakeSmtpServer server(std::move(script));
  return check_with(config(server.port())).state;
}

std::vector<Fault> faults() {
  std::vector<Fault> f;
  f.push_back({"refused", check::State::Critical, [] {
                 const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                 sockaddr_in addr{};
                 addr.sin_family = AF_INET;
                 addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                 socklen_t len = sizeof addr;
                 ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len);
                 ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
                 const auto state = check_with(short_config(ntohs(addr.sin_port))).state;
                 ::close(fd);
                 return state;
               }});
  f.push_back({"timeout", check::State::Critical, [] { return against({hang()}, short_config); }});
  f.push_back({"malformed", check::State::Critical, [] {
                 return against({send("SSH-2.0-OpenSSH_9.2"), hang()}, short_config);
               }});
  f.push_back({"overlong", check::State::Critical,
               [] { return against({stream_forever("220-xxxxxxxx\r\n")}, short_config); }});
  f.push_back({"closed", check::State::Critical, [] {
                 return against({send("220 mx"), expect(kEhlo), close_connection()}, short_config);
               }});
  f.push_back({"ok", check::State::Ok, [] {
                 return against({send("220 mx"), expect(kEhlo), send("250 mx"), expect("QUIT"),
                                 send("221 bye"), expect_close()},
                                short_config);
               }});
  f.push_back({"tls_garbage", check::State::Critical, [] {
                 auto s = up_to_starttls();
                 s.push_back(send_garbage_handshake());
                 return against(s, starttls_config);
               }});
  f.push_back({"tls_close_mid_handshake", check::State::Critical, [] {
                 auto s = up_to_starttls();
                 s.push_back(close_mid_handshake());
                 return against(s, starttls_config);
               }});
  f.push_back({"tls_timeout", check::State::Critical, [] {
                 auto s = up_to_starttls();
                 s.push_back(hang());
                 return against(s, starttls_config);
               }});
  f.push_back({"tls_unknown_ca", check::State::Critical, [] {
                 static const TestPki other;
                 const TestCert cert = other.leaf({"mx.smtpverify.test"}, -1, 90, {"127.0.0.1"});
                 auto s = up_to_starttls();
                 s.push_back(start_tls({cert.cert_pem, cert.key_pem, {other.intermediate_pem()}}));
                 s.push_back(expect_close());
                 return against(s, starttls_config);
               }});
  f.push_back({"tls_ok", check::State::Ok, [] {
                 auto s = up_to_starttls();
                 s.push_back(start_tls(tls_setup()));
                 s.insert(s.end(), {expect(kEhlo), send("250 mx"), expect("QUIT"), send("221 bye"),
                                    expect_close()});
                 return against(s, starttls_config);
               }});
  f.push_back({"implicit_tls_to_plain_server", check::State::Critical, [] {
                 return against({send("220 plain, not TLS"), hang()}, [](std::uint16_t port) {
                   auto c = short_config(port);
                   c.implicit_tls = true;
                   c.ca_file = shared_test_pki().root_file();
                   return c;
                 });
               }});
  f.push_back({"dns_nxdomain", check::State::Critical, [] {
                 FakeDnsServer dns;
                 auto c = short_config(25);
                 c.host = "mx.smtpverify.test";
                 c.dns_servers = {dns.address_port()};
                 return check_with(c).state;
               }});
  f.push_back({"dns_timeout", check::State::Critical, [] {
                 FakeDnsServer dns;
                 dns.set("mx.smtpverify.test", kDnsTypeA, {DnsAnswer::Kind::Drop, {}});
                 dns.set("mx.smtpverify.test", kDnsTypeAaaa, {DnsAnswer::Kind::Drop, {}});
                 auto c = short_config(25);
                 c.host = "mx.smtpverify.test";
                 c.dns_servers = {dns.address_port()};
                 return check_with(c).state;
               }});
  return f;
}

TEST(FdBound, NoDescriptorLeaksAcrossManyFailingChecks) {
  const auto all = faults();
  // One warm-up round: one-time state (OpenSSL's, c-ares') must not count as a leak.
  for (const auto& fault : all) EXPECT_EQ(fault.run(), fault.expected) << fault.name;
  const auto before = open_fds();
  for (int round = 0; round < 10; ++round) {
    for (const auto& fault : all) {
      EXPECT_EQ(fault.run(), fault.expected) << fault.name;
      const auto now = open_fds();
      ASSERT_EQ(now.size(), before.size())
          << "after '" << fault.name << "' (round " << round << ")\nbefore:\n"
          << joined(before) << "now:\n"
          << joined(now);
    }
  }
}

}  // namespace
}  // namespace smtpverify::test
