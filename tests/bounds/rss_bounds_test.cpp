// Bounds, e2e: the plugin's peak RSS stays under 16 MiB whatever the server sends. Measured on
// the process (wait4's ru_maxrss); skipped under ASan, whose shadow memory dwarfs the figure.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include "bounds/flood_server.h"
#include "bounds/plugin_process.h"
#include "support/fake_smtp_server.h"
#include "support/test_pki.h"

namespace smtpverify::test {
namespace {

using namespace std::chrono_literals;

constexpr long kMaxRssKib = 16 * 1024;
constexpr std::size_t k100MB = 100'000'000;
// One continuation line, 76 bytes: 100 MB of them would be 1.3 million lines.
const std::string kLine = std::string(70, 'x') + "\r\n";

// --helo-dns ignore: the test names must never reach the machine's resolver.
std::vector<std::string> args_for(std::uint16_t port, std::vector<std::string> more = {},
                                  const std::string& timeout = "10") {
  std::vector<std::string> args = {
      "-H", "127.0.0.1", "-p", std::to_string(port), "-F", "probe.smtpverify.test"};
  args.insert(args.end(), {"-t", timeout, "--helo-dns", "ignore"});
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

PluginRun run(const std::vector<std::string>& args) {
  return run_plugin_process(SMTPVERIFY_PLUGIN_PATH, args);
}

// The figure goes to the log (and the XML report) whether the bound holds or not. server_sent
// counts what the kernel took, socket buffers included, before the plugin hung up.
void expect_bounded(const PluginRun& r, std::size_t server_sent = 0) {
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  std::cout << "[ RSS ] " << test->name() << ": " << r.max_rss_kib << " KiB peak, "
            << r.elapsed.count() << " ms";
  if (server_sent != 0) std::cout << ", the server got " << server_sent << " bytes out";
  std::cout << "\n";
  ::testing::Test::RecordProperty("max_rss_kib", static_cast<int>(r.max_rss_kib));
  if (kAddressSanitizer) GTEST_SKIP() << "RSS is meaningless under ASan";
  EXPECT_GT(r.max_rss_kib, 0);
  EXPECT_LT(r.max_rss_kib, kMaxRssKib) << r.out;
}

TEST(RssBound, BaselineOk) {
  FakeSmtpServer server({send("220 mx ESMTP"), expect("EHLO probe.smtpverify.test"), send("250 mx"),
                         expect("QUIT"), send("221 bye"), expect_close()});
  const PluginRun r = run(args_for(server.port()));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  expect_bounded(r);
}

TEST(RssBound, GreetingContinuationLinesFor100MB) {
  FloodServer server("", false, "220-" + kLine, k100MB);
  const PluginRun r = run(args_for(server.port()));
  server.join();
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.first_line.rfind("SMTP CRITICAL - [127.0.0.1]:" + std::to_string(server.port()) +
                                   " over-long reply to greeting (reply longer than 64 KiB or "
                                   "1000 lines)",
                               0),
            0u)
      << r.first_line;
  EXPECT_LT(server.sent(), k100MB);  // the plugin hung up; it did not read (or keep) it all
  expect_bounded(r, server.sent());
}

TEST(RssBound, EhloContinuationLinesFor100MB) {
  FloodServer server("220 mx ESMTP\r\n", true, "250-" + kLine, k100MB);
  const PluginRun r = run(args_for(server.port()));
  server.join();
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.first_line.find(" over-long reply to EHLO probe.smtpverify.test (reply longer than "
                              "64 KiB or 1000 lines)"),
            std::string::npos)
      << r.first_line;
  EXPECT_LT(server.sent(), k100MB);
  expect_bounded(r, server.sent());
}

TEST(RssBound, OneLineOf100MBWithoutCrlf) {
  FloodServer server("220 ", false, std::string(65536, 'y'), k100MB);
  const PluginRun r = run(args_for(server.port()));
  server.join();
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.first_line.find(" over-long reply to greeting (reply line longer than 4096 bytes)"),
            std::string::npos)
      << r.first_line;
  EXPECT_LT(server.sent(), k100MB);
  expect_bounded(r, server.sent());
}

TEST(RssBound, TenKilobyteLineWithoutCrlfThenSilence) {
  FakeSmtpServer server({send_raw("220 " + std::string(10000, 'z')), hang()});
  const PluginRun r = run(args_for(server.port()));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.first_line.find(" over-long reply to greeting (reply line longer than 4096 bytes)"),
            std::string::npos)
      << r.first_line;
  expect_bounded(r);
}

TEST(RssBound, OneBytePer50msUntilTheDeadline) {
  FakeSmtpServer server({drip("220-" + std::string(200, 'd') + "\r\n", 50ms)});
  const PluginRun r = run(args_for(server.port(), {}, "2"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.first_line.rfind("SMTP CRITICAL - timeout after 2 s waiting for banner", 0), 0u)
      << r.first_line;
  expect_bounded(r);
}

TEST(RssBound, ContinuationLinesInsideImplicitTls) {
  const TestPki& pki = shared_test_pki();
  const TestCert cert = pki.leaf({"mx.smtpverify.test"}, -1, 90, {"127.0.0.1"});
  FakeSmtpServer server({start_tls({cert.cert_pem, cert.key_pem, {pki.intermediate_pem()}}),
                         stream_forever("220-" + kLine)});
  const PluginRun r = run(args_for(server.port(), {"-s", "--ca-file", pki.root_file()}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.first_line.find(" over-long reply to greeting (reply longer than 64 KiB or 1000 "
                              "lines)"),
            std::string::npos)
      << r.first_line;
  expect_bounded(r);
}

}  // namespace
}  // namespace smtpverify::test
