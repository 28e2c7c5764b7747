// Bounds, e2e: whatever the fault, the plugin process ends within -t + 0.5 s. Every case runs
// with -t 1; the timeouts must name what was awaited, the other faults end long before.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "bounds/plugin_process.h"
#include "support/fake_dns_server.h"
#include "support/fake_smtp_server.h"
#include "support/test_pki.h"

namespace smtpverify::test {
namespace {

using namespace std::chrono_literals;

// -t 1 plus half a second for start-up and exit: a functional bound, not a benchmark.
constexpr auto kBound = 1500ms;
const std::string kEhlo = "EHLO probe.smtpverify.test";

// --helo-dns ignore: the test names must never reach the machine's resolver.
std::vector<std::string> args_for(std::uint16_t port, std::vector<std::string> more = {}) {
  std::vector<std::string> args = {
      "-H", "127.0.0.1", "-p", std::to_string(port), "-F", "probe.smtpverify.test"};
  args.insert(args.end(), {"-t", "1", "--helo-dns", "ignore"});
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// Runs the plugin and checks the exit code, the start of the first line and the time bound.
void expect_ends_in_time(const std::vector<std::string>& args, int exit_code,
                         const std::string& line_start) {
  const PluginRun r = run_plugin_process(SMTPVERIFY_PLUGIN_PATH, args);
  EXPECT_EQ(r.exit_code, exit_code) << r.out;
  EXPECT_EQ(r.first_line.rfind(line_start, 0), 0u) << r.first_line;
  EXPECT_LT(r.elapsed, kBound) << r.first_line;
}

std::string timeout_waiting_for(const std::string& what) {
  return "SMTP CRITICAL - timeout after 1 s waiting for " + what;
}

std::vector<Step> up_to_starttls() {
  return {send("220 mx ESMTP"), expect(kEhlo), send("250-mx\r\n250 STARTTLS"), expect("STARTTLS"),
          send("220 2.0.0 Ready to start TLS")};
}

std::vector<std::string> starttls_args(std::uint16_t port) {
  return args_for(port, {"-S", "--ca-file", shared_test_pki().root_file()});
}

TEST(DeadlineBound, SilentServer) {
  FakeSmtpServer server({hang()});
  expect_ends_in_time(args_for(server.port()), 2, timeout_waiting_for("banner from "));
}

TEST(DeadlineBound, GreetingOneBytePer50ms) {
  FakeSmtpServer server({drip("220 " + std::string(100, 'd') + "\r\n", 50ms)});
  expect_ends_in_time(args_for(server.port()), 2, timeout_waiting_for("banner from "));
}

TEST(DeadlineBound, EndlessSlowContinuationLines) {
  std::string lines;
  for (int i = 0; i < 500; ++i) lines += "250-x\r\n";
  FakeSmtpServer server({send("220 mx ESMTP"), expect(kEhlo), drip(lines, 2ms)});
  expect_ends_in_time(args_for(server.port()), 2, timeout_waiting_for("reply to EHLO from "));
}

TEST(DeadlineBound, SilentAfterEhlo) {
  FakeSmtpServer server({send("220 mx ESMTP"), expect(kEhlo), hang()});
  expect_ends_in_time(args_for(server.port()), 2, timeout_waiting_for("reply to EHLO from "));
}

TEST(DeadlineBound, SilentAtTheStarttlsHandshake) {
  std::vector<Step> script = up_to_starttls();
  script.push_back(hang());
  FakeSmtpServer server(script);
  expect_ends_in_time(starttls_args(server.port()), 2, timeout_waiting_for("TLS handshake"));
}

TEST(DeadlineBound, SilentAtTheImplicitTlsHandshake) {
  FakeSmtpServer server({hang()});
  expect_ends_in_time(args_for(server.port(), {"-s", "--ca-file", shared_test_pki().root_file()}),
                      2, timeout_waiting_for("TLS handshake"));
}

TEST(DeadlineBound, SilentAfterTheMessage) {
  FakeSmtpServer server({send("220 mx ESMTP"), expect(kEhlo), send("250 mx"),
                         expect("MAIL FROM:<m@smtpverify.test>"), send("250 ok"),
                         expect("RCPT TO:<a@smtpverify.test>"), send("250 ok"), expect("DATA"),
                         send("354 go"), expect_data(), hang()});
  expect_ends_in_time(
      args_for(server.port(), {"-f", "m@smtpverify.test", "--rcpt", "a@smtpverify.test", "--data"}),
      2, timeout_waiting_for("reply to end of data from "));
}

TEST(DeadlineBound, QuitNeverAnswered) {
  FakeSmtpServer server(
      {send("220 mx ESMTP"), expect(kEhlo), send("250 mx"), expect("QUIT"), hang()});
  expect_ends_in_time(args_for(server.port()), 2, timeout_waiting_for("reply to QUIT from "));
}

TEST(DeadlineBound, DnsServerNeverAnswers) {
  FakeDnsServer dns;
  dns.set("mx.smtpverify.test", kDnsTypeA, {DnsAnswer::Kind::Drop, {}});
  dns.set("mx.smtpverify.test", kDnsTypeAaaa, {DnsAnswer::Kind::Drop, {}});
  expect_ends_in_time({"-H", "mx.smtpverify.test", "-F", "probe.smtpverify.test", "-t", "1",
                       "--helo-dns", "ignore", "--dns-server", dns.address_port()},
                      2, timeout_waiting_for("address of mx.smtpverify.test"));
}

TEST(DeadlineBound, ConnectNeverCompletes) {
  // A listener that never accepts, its queue already full: Linux drops the next SYN, so our
  // connect stays in SYN_SENT until the deadline (no routing to a black hole needed).
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(::listen(listener, 0), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    (void)::connect(fd, reinterpret_cast<sockaddr*>(&addr), len);
    fillers.push_back(fd);
  }
  ::usleep(100000);  // let the handshakes of the fillers settle into the full queue
  expect_ends_in_time(args_for(ntohs(addr.sin_port)), 2, timeout_waiting_for("connect"));
  for (const int fd : fillers) ::close(fd);
  ::close(listener);
}

// Faults that are not timeouts end at once; the bound holds for them all the more.
TEST(DeadlineBound, ConnectionRefused) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  // Bound but not listening: the port is ours, and a connect to it is refused.
  expect_ends_in_time(args_for(ntohs(addr.sin_port)), 2,
                      "SMTP CRITICAL - cannot connect to [127.0.0.1]:");
  ::close(fd);
}

TEST(DeadlineBound, GarbageInsteadOfServerHello) {
  std::vector<Step> script = up_to_starttls();
  script.push_back(send_garbage_handshake());
  FakeSmtpServer server(script);
  expect_ends_in_time(
      starttls_args(server.port()), 2,
      "SMTP CRITICAL - [127.0.0.1]:" + std::to_string(server.port()) + " TLS handshake failed");
}

TEST(DeadlineBound, CloseMidHandshake) {
  std::vector<Step> script = up_to_starttls();
  script.push_back(close_mid_handshake());
  FakeSmtpServer server(script);
  expect_ends_in_time(
      starttls_args(server.port()), 2,
      "SMTP CRITICAL - [127.0.0.1]:" + std::to_string(server.port()) + " TLS handshake failed");
}

TEST(DeadlineBound, EndlessFastContinuationLines) {
  FakeSmtpServer server({send("220 mx ESMTP"), expect(kEhlo), stream_forever("250-x\r\n")});
  expect_ends_in_time(
      args_for(server.port()), 2,
      "SMTP CRITICAL - [127.0.0.1]:" + std::to_string(server.port()) + " over-long reply to EHLO");
}

}  // namespace
}  // namespace smtpverify::test
