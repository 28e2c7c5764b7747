// Component tier: the fake server reads our PROXY header and checks the addresses in it.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <chrono>

#include "component/component_util.h"
#include "support/fake_smtp_server.h"
#include "support/smtp_script.h"

namespace smtpverify::test {
namespace {

using namespace std::chrono_literals;
using check::State;

TEST(Proxy, V1HeaderCarriesTheRealAddresses) {
  std::vector<Step> script = {expect_prefix("PROXY TCP4 127.0.0.1 127.0.0.1 ")};
  for (const auto& s : ok_script()) script.push_back(s);
  FakeSmtpServer server(script);
  auto config = config_for(server.port());
  config.proxy = net::ProxyVersion::V1;
  config.verbosity = 1;
  const auto c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(c.state, State::Ok) << c.text;
  const std::string header = server.received_lines().at(0);
  // "PROXY TCP4 127.0.0.1 127.0.0.1 <our port> <server port>", our port as the transcript says.
  const std::regex form("PROXY TCP4 127\\.0\\.0\\.1 127\\.0\\.0\\.1 ([0-9]+) " +
                        std::to_string(server.port()));
  std::smatch m;
  ASSERT_TRUE(std::regex_match(header, m, form)) << header;
  EXPECT_NE(c.text.find("* connected to 127.0.0.1:" + std::to_string(server.port()) +
                        " from 127.0.0.1:" + m[1].str() + "\n"),
            std::string::npos)
      << c.text;
  EXPECT_NE(c.text.find("\nC: " + header + "\n"), std::string::npos) << c.text;
}

// -r against a server that expects no PROXY header: it answers the header as a command right
// after its greeting. The line says so instead of "unsolicited data".
TEST(Proxy, HeaderRejectedIsNamed) {
  // Both in one write, as they follow each other on the wire: no race with our EHLO.
  FakeSmtpServer server(
      {expect_prefix("PROXY TCP4 "),
       send_raw("220 mx ESMTP Fake\r\n500 5.5.2 Error: command not recognized\r\n"),
       expect_close()});
  auto config = config_for(server.port());
  config.proxy = net::ProxyVersion::V1;
  const auto c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(c.state, State::Critical) << c.text;
  EXPECT_EQ(c.line, "SMTP CRITICAL - [127.0.0.1]:" + std::to_string(server.port()) +
                        " PROXY header rejected: 500 5.5.2 Error: command not recognized | "
                        "time=Ts;;;0 connect=Ts;;;0 banner=Ts;;;0");
}

// The same when the 500 comes only after our EHLO went out: it is taken for EHLO's reply, and
// EHLO's real reply then arrives unsolicited.
TEST(Proxy, HeaderRejectedAfterOurEhloIsNamedToo) {
  FakeSmtpServer server(
      {send_raw("220 mx ESMTP Fake\r\n"), expect_prefix("PROXY TCP4 "), expect_prefix("EHLO "),
       send_raw("500 5.5.2 Error: command not recognized\r\n250 mx\r\n"), expect_close()});
  auto config = config_for(server.port());
  config.proxy = net::ProxyVersion::V1;
  const auto c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(c.state, State::Critical) << c.text;
  EXPECT_EQ(c.line.substr(0, c.line.find(" |")),
            "SMTP CRITICAL - [127.0.0.1]:" + std::to_string(server.port()) +
                " PROXY header rejected: 500 5.5.2 Error: command not recognized");
}

TEST(Proxy, V2HeaderBytes) {
  std::vector<Step> script = {expect_raw(28)};
  for (const auto& s : ok_script()) script.push_back(s);
  FakeSmtpServer server(script);
  auto config = config_for(server.port());
  config.proxy = net::ProxyVersion::V2;
  const auto c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(c.state, State::Ok) << c.text;
  ASSERT_EQ(server.raw_reads().size(), 1u);
  const std::string h = server.raw_reads()[0];
  ASSERT_EQ(h.size(), 28u);
  EXPECT_EQ(h.substr(0, 12), std::string("\r\n\r\n\0\r\nQUIT\n", 12));
  EXPECT_EQ(h.substr(12, 4), std::string("\x21\x11\x00\x0c", 4));
  EXPECT_EQ(h.substr(16, 4), std::string("\x7f\x00\x00\x01", 4));  // source 127.0.0.1
  EXPECT_EQ(h.substr(20, 4), std::string("\x7f\x00\x00\x01", 4));  // destination 127.0.0.1
  const auto port_at = [&](std::size_t i) {
    return static_cast<unsigned>(static_cast<unsigned char>(h[i]) << 8 |
                                 static_cast<unsigned char>(h[i + 1]));
  };
  EXPECT_NE(port_at(24), 0u);
  EXPECT_EQ(port_at(26), server.port());
}

TEST(Proxy, V2OverIpv6) {
  std::vector<Step> script = {expect_raw(52)};
  for (const auto& s : ok_script()) script.push_back(s);
  FakeSmtpServer server(script, AF_INET6);
  auto config = config_for(server.port(), "::1");
  config.proxy = net::ProxyVersion::V2;
  const auto c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(c.state, State::Ok) << c.text;
  const std::string h = server.raw_reads().at(0);
  EXPECT_EQ(h.substr(12, 4), std::string("\x21\x21\x00\x24", 4));
  EXPECT_EQ(h.substr(16, 16), std::string(15, '\0') + "\x01");
  EXPECT_EQ(h.substr(32, 16), std::string(15, '\0') + "\x01");
}

}  // namespace
}  // namespace smtpverify::test
