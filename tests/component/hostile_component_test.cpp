// Component tier: what a hostile server tried and must not get through (fault catalogue,
// "Hostile server").
#include <gtest/gtest.h>

#include <chrono>

#include "component/component_util.h"
#include "support/fake_smtp_server.h"

namespace smtpverify::test {
namespace {

using namespace std::chrono_literals;
using check::State;

// An EHLO reply of exactly `size` bytes: continuation lines of filler, then "250 8BITMIME".
std::string ehlo_reply_of(std::size_t size) {
  const std::string last = "250 8BITMIME\r\n";
  std::string reply;
  while (reply.size() + last.size() < size) {
    const std::size_t room = size - reply.size() - last.size();
    // Every line is "250-" + text + CRLF, at least 7 bytes; keep the rest for one more line.
    std::size_t text = std::min<std::size_t>(room - 6, 400);
    if (room - 6 - text > 0 && room - 6 - text < 7) text -= 7;
    reply += "250-X" + std::string(text - 1, 'x') + "\r\n";
  }
  return reply + last;
}

// A reply to MAIL sent in the same write as an EHLO reply that exactly fills read buffers
// (16384 bytes: four of the loop's 4096, one of OpenSSL's records) is unsolicited: we had not
// sent MAIL yet. Before every command, whatever is already buffered or readable counts,
// whatever the buffer sizes.
TEST(Hostile, ForgedReplyBehindAFullReadBuffer) {
  const std::string ehlo = ehlo_reply_of(16384);
  ASSERT_EQ(ehlo.size(), 16384u);
  FakeSmtpServer server({send_raw("220 mx.smtpverify.test ESMTP Fake\r\n"),
                         expect("EHLO probe.smtpverify.test"),
                         send_raw(ehlo + "250 2.1.0 forged\r\n"), expect_close()});
  auto config = config_for(server.port());
  config.mail_from = "monitor@smtpverify.test";
  config.rcpts = {"probe@smtpverify.test"};
  const auto c = check_with(config);
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(c.state, State::Critical);
  EXPECT_EQ(c.line, "SMTP CRITICAL - [127.0.0.1]:" + std::to_string(server.port()) +
                        " unsolicited data from the server after EHLO probe.smtpverify.test | "
                        "time=Ts;;;0 connect=Ts;;;0 banner=Ts;;;0 ehlo=Ts;;;0");
}

// -vvv: the transcript also names every step change of the Session (its typed StepChanged
// events); -v and -vv do not.
TEST(Transcript, VvvLogsEveryStepChange) {
  const std::vector<Step> script = {send_raw("220 mx.smtpverify.test ESMTP Fake\r\n"),
                                    expect("EHLO probe.smtpverify.test"),
                                    send_raw("250 mx\r\n"),
                                    expect("QUIT"),
                                    send_raw("221 bye\r\n"),
                                    expect_close()};
  for (const int verbosity : {2, 3}) {
    FakeSmtpServer server(script);
    auto config = config_for(server.port());
    config.verbosity = verbosity;
    const auto c = check_with(config);
    EXPECT_TRUE(server.wait_done(3s));
    EXPECT_EQ(c.state, State::Ok);
    const bool logged = c.text.find("* step banner -> ehlo\n") != std::string::npos &&
                        c.text.find("* step ehlo -> quit\n") != std::string::npos &&
                        c.text.find("* step quit -> done\n") != std::string::npos;
    EXPECT_EQ(logged, verbosity == 3) << c.text;
  }
}

}  // namespace
}  // namespace smtpverify::test
