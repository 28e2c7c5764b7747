// Proves the test fakes do what the component and e2e tests rely on, with plain socket clients
// (and, when SMTPVERIFY_TEST_HAVE_CARES is defined, with c-ares against the DNS fake).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "fake_dns_server.h"
#include "fake_smtp_server.h"
#include "loopback_client.h"
#include "socket_util.h"

#ifdef SMTPVERIFY_TEST_HAVE_CARES
#include <ares.h>
#endif

namespace smtpverify::test {
namespace {

using namespace std::chrono_literals;
using detail::UniqueFd;
using Clock = std::chrono::steady_clock;

// ---- FakeSmtpServer -----------------------------------------------------------------------

TEST(FakeSmtpServer, PlaysADialogue) {
  FakeSmtpServer server({send("220 fake ESMTP"), expect("EHLO client.test"), send("250-fake"),
                         send("250 STARTTLS"), expect("QUIT"), send("221 bye"),
                         close_connection()});
  UniqueFd client = connect_to(AF_INET, server.port());
  EXPECT_EQ(read_line(client.get()), "220 fake ESMTP\r\n");
  write_all(client.get(), "EHLO client.test\r\n");
  EXPECT_EQ(read_line(client.get()), "250-fake\r\n");
  EXPECT_EQ(read_line(client.get()), "250 STARTTLS\r\n");
  write_all(client.get(), "QUIT\r\n");
  EXPECT_EQ(read_line(client.get()), "221 bye\r\n");
  EXPECT_TRUE(sees_eof(client.get()));
  ASSERT_TRUE(server.wait_done());
  EXPECT_EQ(server.error(), "");
  EXPECT_TRUE(server.client_connected());
  EXPECT_EQ(server.received_lines(), (std::vector<std::string>{"EHLO client.test", "QUIT"}));
  EXPECT_EQ(server.host(), "127.0.0.1");
}

TEST(FakeSmtpServer, LinesSplitAcrossWritesAndBareLf) {
  FakeSmtpServer server({expect("EHLO a"), expect("NOOP"), expect("QUIT")});
  UniqueFd client = connect_to(AF_INET, server.port());
  for (const char c : std::string_view("EHLO a\r\nNO")) write_all(client.get(), {&c, 1});
  std::this_thread::sleep_for(20ms);
  write_all(client.get(), "OP\nQUIT\r\n");
  client.reset();
  ASSERT_TRUE(server.wait_done());
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(server.received_lines(), (std::vector<std::string>{"EHLO a", "NOOP", "QUIT"}));
}

TEST(FakeSmtpServer, SendRawAddsNoCrlf) {
  FakeSmtpServer server({send_raw("250-abc"), send_raw("\r\n250 x"), close_connection()});
  UniqueFd client = connect_to(AF_INET, server.port());
  EXPECT_EQ(read_all(client.get()), "250-abc\r\n250 x");
  ASSERT_TRUE(server.wait_done());
  EXPECT_EQ(server.error(), "");
}

TEST(FakeSmtpServer, ExpectMismatchIsReportedAndClosesTheConnection) {
  FakeSmtpServer server(
      {send("220 hi"), expect("EHLO a"), expect("MAIL FROM:<a@b>"), send("250 ok")});
  UniqueFd client = connect_to(AF_INET, server.port());
  read_line(client.get());
  write_all(client.get(), "EHLO a\r\nQUIT\r\n");
  EXPECT_TRUE(sees_eof(client.get()));
  ASSERT_TRUE(server.wait_done());
  EXPECT_EQ(server.error(), "step 3: expected 'MAIL FROM:<a@b>', got 'QUIT'");
  EXPECT_EQ(server.received_lines(), (std::vector<std::string>{"EHLO a", "QUIT"}));
}

TEST(FakeSmtpServer, ExpectPrefix) {
  FakeSmtpServer ok({expect_prefix("EHLO "), expect_prefix("MAIL FROM:")});
  {
    UniqueFd client = connect_to(AF_INET, ok.port());
    write_all(client.get(), "EHLO anything.test\r\nMAIL FROM:<x@y> SIZE=10\r\n");
  }
  ASSERT_TRUE(ok.wait_done());
  EXPECT_EQ(ok.error(), "");

  FakeSmtpServer bad({expect_prefix("EHLO ")});
  {
    UniqueFd client = connect_to(AF_INET, bad.port());
    write_all(client.get(), "ehlo lower.test\r\n");
  }
  ASSERT_TRUE(bad.wait_done());
  EXPECT_EQ(bad.error(), "step 1: expected a line starting with 'EHLO ', got 'ehlo lower.test'");
}

TEST(FakeSmtpServer, DataBodyIsCapturedExactlyWithDotStuffing) {
  FakeSmtpServer server({expect("DATA"), send("354 go"), expect_data(), send("250 queued"),
                         expect("QUIT"), send("221 bye")});
  // The final ".\r\n" ends the body; everything before it must come back byte for byte.
  const std::string body = "Subject: test\r\n\r\n..leading dot stuffed\r\n.\r\n";
  const std::string expected = "Subject: test\r\n\r\n..leading dot stuffed\r\n";
  UniqueFd client = connect_to(AF_INET, server.port());
  write_all(client.get(), "DATA\r\n");
  EXPECT_EQ(read_line(client.get()), "354 go\r\n");
  // Byte by byte, so the terminator is found across reads too.
  for (const char c : body) write_all(client.get(), {&c, 1});
  EXPECT_EQ(read_line(client.get()), "250 queued\r\n");
  write_all(client.get(), "QUIT\r\n");
  EXPECT_EQ(read_line(client.get()), "221 bye\r\n");
  client.reset();
  ASSERT_TRUE(server.wait_done());
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(server.data_bodies(), std::vector<std::string>{expected});
  EXPECT_EQ(server.received_lines(), (std::vector<std::string>{"DATA", "QUIT"}));
}

TEST(FakeSmtpServer, EmptyDataBodyAndCloseDuringBody) {
  FakeSmtpServer empty({expect_data(), expect_data()});
  {
    UniqueFd client = connect_to(AF_INET, empty.port());
    write_all(client.get(), ".\r\nx\r\n...\r\n.\r\n");
  }
  ASSERT_TRUE(empty.wait_done());
  EXPECT_EQ(empty.error(), "");
  EXPECT_EQ(empty.data_bodies(), (std::vector<std::string>{"", "x\r\n...\r\n"}));

  FakeSmtpServer cut({expect_data()});
  {
    UniqueFd client = connect_to(AF_INET, cut.port());
    write_all(client.get(), "line\r\npartial");
  }
  ASSERT_TRUE(cut.wait_done());
  EXPECT_EQ(cut.error(),
            "step 1: client closed during the DATA body (after an unterminated "
            "'partial')");
}

TEST(FakeSmtpServer, DelayWaits) {
  FakeSmtpServer server({delay(150ms), send("220 late")});
  UniqueFd client = connect_to(AF_INET, server.port());
  const auto took = time_of([&] { EXPECT_EQ(read_line(client.get()), "220 late\r\n"); });
  EXPECT_GE(took, 140ms);
}

TEST(FakeSmtpServer, CloseConnectionSendsEof) {
  FakeSmtpServer server({send("421 going away"), close_connection(), send("never sent")});
  UniqueFd client = connect_to(AF_INET, server.port());
  EXPECT_EQ(read_all(client.get()), "421 going away\r\n");
  ASSERT_TRUE(server.wait_done());
  EXPECT_EQ(server.error(), "");
}

TEST(FakeSmtpServer, CloseConnectionWithUnreadClientDataStillDeliversTheReply) {
  // The client pipelines lines the server never reads; the 421 must still arrive (no RST).
  FakeSmtpServer server({expect("EHLO a"), send("421 bye"), close_connection()});
  UniqueFd client = connect_to(AF_INET, server.port());
  write_all(client.get(), "EHLO a\r\nMAIL FROM:<>\r\nRCPT TO:<b@c>\r\n");
  EXPECT_EQ(read_all(client.get()), "421 bye\r\n");
  ASSERT_TRUE(server.wait_done());
}

TEST(FakeSmtpServer, HangKeepsTheSocketOpenUntilTheClientCloses) {
  FakeSmtpServer server({send("220 hi"), hang()});
  UniqueFd client = connect_to(AF_INET, server.port());
  EXPECT_EQ(read_line(client.get()), "220 hi\r\n");
  write_all(client.get(), "EHLO a\r\n");  // never read, never answered
  pollfd pfd{client.get(), POLLIN, 0};
  EXPECT_EQ(::poll(&pfd, 1, 200), 0) << "the hanging server sent or closed something";
  EXPECT_FALSE(server.wait_done(10ms));
  EXPECT_EQ(server.error(), "");
  client.reset();
  EXPECT_TRUE(server.wait_done());
  EXPECT_EQ(server.error(), "");
  EXPECT_TRUE(server.received_lines().empty());
}

TEST(FakeSmtpServer, DestructorIsPromptWhileHanging) {
  auto server = std::make_unique<FakeSmtpServer>(std::vector<Step>{hang()});
  UniqueFd client = connect_to(AF_INET, server->port());
  std::this_thread::sleep_for(50ms);
  EXPECT_LT(time_of([&] { server.reset(); }), kPrompt);
  EXPECT_TRUE(sees_eof(client.get()));
}

TEST(FakeSmtpServer, DestructorIsPromptWithoutAClient) {
  auto server = std::make_unique<FakeSmtpServer>(std::vector<Step>{send("220 hi")});
  EXPECT_FALSE(server->client_connected());
  EXPECT_EQ(server->error(), "client never connected");
  EXPECT_FALSE(server->wait_done(20ms));
  EXPECT_LT(time_of([&] { server.reset(); }), kPrompt);
}

TEST(FakeSmtpServer, DestructorIsPromptWhileExpecting) {
  auto server = std::make_unique<FakeSmtpServer>(std::vector<Step>{send("220"), expect("x")});
  UniqueFd client = connect_to(AF_INET, server->port());
  read_line(client.get());
  EXPECT_TRUE(eventually([&] {
    return server->error() == "script incomplete: step 2 (expect 'x') did not finish";
  })) << server->error();
  EXPECT_LT(time_of([&] { server.reset(); }), kPrompt);
}

TEST(FakeSmtpServer, DestructorIsPromptDuringALongDelay) {
  auto server = std::make_unique<FakeSmtpServer>(std::vector<Step>{delay(60s)});
  UniqueFd client = connect_to(AF_INET, server->port());
  EXPECT_LT(time_of([&] { server.reset(); }), kPrompt);
}

TEST(FakeSmtpServer, DripSendsOneByteAtATime) {
  FakeSmtpServer server({drip("220 slow\r\n", 15ms), expect("QUIT")});
  UniqueFd client = connect_to(AF_INET, server.port());
  std::vector<std::string> reads;
  const auto took = time_of([&] {
    std::string got;
    char buffer[64];
    while (got.size() < 10) {
      const ssize_t n = ::recv(client.get(), buffer, sizeof(buffer), 0);
      ASSERT_GT(n, 0);
      got.append(buffer, static_cast<size_t>(n));
      reads.emplace_back(buffer, static_cast<size_t>(n));
    }
    EXPECT_EQ(got, "220 slow\r\n");
  });
  EXPECT_GE(took, 9 * 15ms - 10ms);
  EXPECT_GE(reads.size(), 5u) << "bytes were not dripped";
  write_all(client.get(), "QUIT\r\n");
  client.reset();
  ASSERT_TRUE(server.wait_done());
  EXPECT_EQ(server.error(), "");
}

TEST(FakeSmtpServer, DestructorIsPromptWhileDripping) {
  auto server = std::make_unique<FakeSmtpServer>(std::vector<Step>{drip("220 x\r\n", 30s)});
  UniqueFd client = connect_to(AF_INET, server->port());
  char c = 0;
  EXPECT_EQ(::recv(client.get(), &c, 1, 0), 1);
  EXPECT_LT(time_of([&] { server.reset(); }), kPrompt);
}

TEST(FakeSmtpServer, StreamForeverUntilTheClientCloses) {
  FakeSmtpServer server({send("220 hi"), stream_forever("250-continuation\r\n")});
  UniqueFd client = connect_to(AF_INET, server.port());
  std::string got;
  char buffer[65536];
  while (got.size() < 2 * 1024 * 1024) {
    const ssize_t n = ::recv(client.get(), buffer, sizeof(buffer), 0);
    ASSERT_GT(n, 0);
    got.append(buffer, static_cast<size_t>(n));
  }
  EXPECT_TRUE(got.starts_with("220 hi\r\n250-continuation\r\n250-continuation\r\n"));
  client.reset();
  ASSERT_TRUE(server.wait_done());
  EXPECT_EQ(server.error(), "");
}

TEST(FakeSmtpServer, DestructorIsPromptWhileStreamingToAClientThatDoesNotRead) {
  auto server = std::make_unique<FakeSmtpServer>(std::vector<Step>{stream_forever("250-x\r\n")});
  UniqueFd client = connect_to(AF_INET, server->port());
  std::this_thread::sleep_for(100ms);  // long enough to fill the socket buffers
  EXPECT_LT(time_of([&] { server.reset(); }), kPrompt);
}

TEST(FakeSmtpServer, ExpectClose) {
  FakeSmtpServer ok({send("221 bye"), expect_close()});
  {
    UniqueFd client = connect_to(AF_INET, ok.port());
    read_line(client.get());
    EXPECT_TRUE(eventually([&] {
      return ok.error() == "script incomplete: step 2 (expect_close) did not finish";
    })) << ok.error();
  }
  ASSERT_TRUE(ok.wait_done());
  EXPECT_EQ(ok.error(), "");

  FakeSmtpServer bad({send("221 bye"), expect_close()});
  {
    UniqueFd client = connect_to(AF_INET, bad.port());
    read_line(client.get());
    write_all(client.get(), "NOOP\r\nRSET\r\ntail");
  }
  ASSERT_TRUE(bad.wait_done());
  EXPECT_EQ(bad.error(), "step 2: expected the client to close, got 'NOOP'");
  EXPECT_EQ(bad.received_lines(), (std::vector<std::string>{"NOOP", "RSET", "tail"}));
}

TEST(FakeSmtpServer, LinesAfterTheScriptAreErrorsButRecorded) {
  FakeSmtpServer server({expect("QUIT"), send("221 bye")});
  {
    UniqueFd client = connect_to(AF_INET, server.port());
    write_all(client.get(), "QUIT\r\n");
    read_line(client.get());
    write_all(client.get(), "NOOP\r\nRSET\r\n");
  }
  ASSERT_TRUE(server.wait_done());
  EXPECT_EQ(server.error(), "unexpected line after script: 'NOOP'");
  EXPECT_EQ(server.received_lines(), (std::vector<std::string>{"QUIT", "NOOP", "RSET"}));
}

TEST(FakeSmtpServer, ClientClosingWhileExpectedIsAnError) {
  FakeSmtpServer server({send("220 hi"), expect("QUIT")});
  {
    UniqueFd client = connect_to(AF_INET, server.port());
    read_line(client.get());
  }
  ASSERT_TRUE(server.wait_done());
  EXPECT_EQ(server.error(), "step 2: client closed while expecting 'QUIT'");
}

TEST(FakeSmtpServer, ClientClosingEarlyIsNoCrashAndNoErrorWithoutExpects) {
  // 8 MiB cannot fit into socket buffers, so the server is still writing when the client goes.
  const std::string big(8 * 1024 * 1024, 'x');
  FakeSmtpServer quiet({send_raw(big), send("250 more")});
  connect_to(AF_INET, quiet.port());
  ASSERT_TRUE(quiet.wait_done());
  EXPECT_EQ(quiet.error(), "");

  FakeSmtpServer expecting({send_raw(big), expect("QUIT")});
  connect_to(AF_INET, expecting.port());
  ASSERT_TRUE(expecting.wait_done());
  EXPECT_EQ(expecting.error(),
            "step 1: client closed while the server was sending; step 2 (expect 'QUIT') never "
            "ran");
}

TEST(FakeSmtpServer, OneMebibyteLineIsAcceptedLongerIsRejected) {
  const std::string longest(1024 * 1024, 'a');
  FakeSmtpServer ok({expect(longest)});
  {
    UniqueFd client = connect_to(AF_INET, ok.port());
    write_all(client.get(), longest + "\r\n");
  }
  ASSERT_TRUE(ok.wait_done());
  EXPECT_EQ(ok.error(), "");

  FakeSmtpServer too_long({expect("x")});
  UniqueFd client = connect_to(AF_INET, too_long.port());
  try {
    write_all(client.get(), longest + "aa");  // no line end: the server must give up anyway
  } catch (const std::system_error&) {
    // The server may already have closed the connection.
  }
  ASSERT_TRUE(too_long.wait_done());
  EXPECT_EQ(too_long.error(), "step 1: line longer than 1 MiB");
}

TEST(FakeSmtpServer, ErrorMessagesEscapeControlBytes) {
  FakeSmtpServer server({expect("EHLO a")});
  {
    UniqueFd client = connect_to(AF_INET, server.port());
    write_all(client.get(), std::string("EHLO \x1b[31m\0\xff", 12) + "\r\n");
  }
  ASSERT_TRUE(server.wait_done());
  EXPECT_EQ(server.error(), "step 1: expected 'EHLO a', got 'EHLO \\x1b[31m\\x00\\xff'");
}

TEST(FakeSmtpServer, SecondConnectionIsRefused) {
  FakeSmtpServer server({send("220 hi"), hang()});
  UniqueFd first = connect_to(AF_INET, server.port());
  EXPECT_EQ(read_line(first.get()), "220 hi\r\n");
  EXPECT_THROW(connect_to(AF_INET, server.port()), std::system_error);
}

TEST(FakeSmtpServer, Ipv6) {
  if (!ipv6_loopback_available()) GTEST_SKIP() << "no ::1 here";
  FakeSmtpServer server({send("220 v6"), expect("QUIT")}, AF_INET6);
  EXPECT_EQ(server.host(), "::1");
  {
    UniqueFd client = connect_to(AF_INET6, server.port());
    EXPECT_EQ(read_line(client.get()), "220 v6\r\n");
    write_all(client.get(), "QUIT\r\n");
  }
  ASSERT_TRUE(server.wait_done());
  EXPECT_EQ(server.error(), "");
}

TEST(FakeSmtpServer, ManyServersInParallel) {
  std::vector<std::future<std::string>> results;
  for (int i = 0; i < 32; ++i) {
    results.push_back(std::async(std::launch::async, [i] {
      const std::string name = "EHLO client" + std::to_string(i);
      FakeSmtpServer server({send("220 hi"), expect(name), send("250 ok"), expect_close()});
      UniqueFd client = connect_to(AF_INET, server.port());
      read_line(client.get());
      write_all(client.get(), name + "\r\n");
      read_line(client.get());
      client.reset();
      return server.wait_done() ? server.error() : "not done";
    }));
  }
  for (auto& result : results) EXPECT_EQ(result.get(), "");
}

// ---- FakeDnsServer: a raw client ----------------------------------------------------------

std::string make_query(uint16_t id, std::string_view name, uint16_t qtype, bool edns = false) {
  std::string out;
  auto put16 = [&out](uint16_t v) {
    out += static_cast<char>(v >> 8);
    out += static_cast<char>(v & 0xff);
  };
  put16(id);
  put16(0x0100);  // RD
  put16(1);
  put16(0);
  put16(0);
  put16(edns ? 1 : 0);
  out += encode_dns_name(name);
  put16(qtype);
  put16(1);
  if (edns) {
    out += '\0';
    put16(41);
    put16(4096);
    put16(0);
    put16(0x8000);  // DO
    put16(0);
  }
  return out;
}

struct ParsedRecord {
  std::string name;
  uint16_t type = 0;
  uint32_t ttl = 0;
  std::string rdata;
};

struct ParsedReply {
  uint16_t id = 0;
  uint16_t flags = 0;
  uint16_t qdcount = 0;
  uint16_t arcount = 0;
  std::string qname;
  uint16_t qtype = 0;
  std::vector<ParsedRecord> answers;
  bool malformed = false;

  uint16_t rcode() const { return flags & 0xf; }
  bool qr() const { return (flags & 0x8000) != 0; }
  bool tc() const { return (flags & 0x0200) != 0; }
  bool rd() const { return (flags & 0x0100) != 0; }
  bool ra() const { return (flags & 0x0080) != 0; }
  bool ad() const { return (flags & 0x0020) != 0; }
};

uint16_t get16(std::string_view b, size_t pos) {
  return static_cast<uint16_t>(static_cast<uint8_t>(b[pos]) << 8 |
                               static_cast<uint8_t>(b[pos + 1]));
}

// The test's own name reader: the server sends uncompressed names, so pointers are a failure.
std::optional<std::string> take_name(std::string_view msg, size_t& pos) {
  std::string name;
  for (;;) {
    if (pos >= msg.size()) return std::nullopt;
    const auto length = static_cast<uint8_t>(msg[pos++]);
    if (length == 0) return name;
    if (length > 63 || pos + length > msg.size()) return std::nullopt;
    if (!name.empty()) name += '.';
    name.append(msg.substr(pos, length));
    pos += length;
  }
}

ParsedReply parse_reply(std::string_view msg) {
  ParsedReply reply;
  if (msg.size() < 12) {
    reply.malformed = true;
    return reply;
  }
  reply.id = get16(msg, 0);
  reply.flags = get16(msg, 2);
  reply.qdcount = get16(msg, 4);
  const uint16_t ancount = get16(msg, 6);
  reply.arcount = get16(msg, 10);
  size_t pos = 12;
  if (reply.qdcount == 1) {
    const auto qname = take_name(msg, pos);
    if (!qname || pos + 4 > msg.size()) {
      reply.malformed = true;
      return reply;
    }
    reply.qname = *qname;
    reply.qtype = get16(msg, pos);
    pos += 4;
  }
  for (uint16_t i = 0; i < ancount; ++i) {
    ParsedRecord record;
    const auto name = take_name(msg, pos);
    if (!name || pos + 10 > msg.size()) {
      reply.malformed = true;
      return reply;
    }
    record.name = *name;
    record.type = get16(msg, pos);
    record.ttl = static_cast<uint32_t>(get16(msg, pos + 4)) << 16 | get16(msg, pos + 6);
    const uint16_t rdlength = get16(msg, pos + 8);
    pos += 10;
    if (pos + rdlength > msg.size()) {
      reply.malformed = true;
      return reply;
    }
    record.rdata = msg.substr(pos, rdlength);
    pos += rdlength;
    reply.answers.push_back(record);
  }
  return reply;
}

// One UDP exchange; nullopt if nothing came back within timeout.
std::optional<std::string> udp_ask(const FakeDnsServer& server, const std::string& query,
                                   int family = AF_INET, int timeout_ms = 2000) {
  UniqueFd fd = connect_to(family, server.port(), SOCK_DGRAM);
  write_all(fd.get(), query);
  pollfd pfd{fd.get(), POLLIN, 0};
  if (::poll(&pfd, 1, timeout_ms) != 1) return std::nullopt;
  char buffer[65536];
  const ssize_t n = ::recv(fd.get(), buffer, sizeof(buffer), 0);
  if (n < 0) return std::nullopt;
  return std::string(buffer, static_cast<size_t>(n));
}

// Several queries pipelined in ONE write on one TCP connection; returns the replies in order.
std::vector<std::string> tcp_ask(const FakeDnsServer& server,
                                 const std::vector<std::string>& queries, size_t expected_replies,
                                 int family = AF_INET) {
  UniqueFd fd = connect_to(family, server.port());
  std::string out;
  for (const std::string& query : queries) {
    out += static_cast<char>(query.size() >> 8);
    out += static_cast<char>(query.size() & 0xff);
    out += query;
  }
  write_all(fd.get(), out);
  std::string in;
  std::vector<std::string> replies;
  char buffer[4096];
  while (replies.size() < expected_replies) {
    const ssize_t n = ::recv(fd.get(), buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    in.append(buffer, static_cast<size_t>(n));
    while (in.size() >= 2 && in.size() >= 2u + get16(in, 0)) {
      replies.push_back(in.substr(2, get16(in, 0)));
      in.erase(0, 2u + replies.back().size());
    }
  }
  return replies;
}

DnsAnswer only(DnsAnswer::Kind kind, std::vector<DnsRecord> rrs = {}) {
  DnsAnswer answer;
  answer.kind = kind;
  answer.records = std::move(rrs);
  return answer;
}

TEST(FakeDnsServer, AnswersAOverUdp) {
  FakeDnsServer dns;
  dns.set("Mail.Example.Test.", kDnsTypeA, records({a_record("mail.example.test", "192.0.2.10")}));
  const auto raw = udp_ask(dns, make_query(0x1234, "mail.example.TEST", kDnsTypeA));
  ASSERT_TRUE(raw);
  const ParsedReply reply = parse_reply(*raw);
  ASSERT_FALSE(reply.malformed);
  EXPECT_EQ(reply.id, 0x1234);
  EXPECT_TRUE(reply.qr());
  EXPECT_TRUE(reply.rd());
  EXPECT_TRUE(reply.ra());
  EXPECT_FALSE(reply.ad());
  EXPECT_FALSE(reply.tc());
  EXPECT_EQ(reply.rcode(), 0);
  EXPECT_EQ(reply.qname, "mail.example.TEST");  // the question is echoed as asked
  EXPECT_EQ(reply.qtype, kDnsTypeA);
  ASSERT_EQ(reply.answers.size(), 1u);
  EXPECT_EQ(reply.answers[0].name, "mail.example.test");
  EXPECT_EQ(reply.answers[0].type, kDnsTypeA);
  EXPECT_EQ(reply.answers[0].ttl, 300u);
  EXPECT_EQ(reply.answers[0].rdata, std::string("\xc0\x00\x02\x0a", 4));
  EXPECT_EQ(dns.query_count("MAIL.example.test", kDnsTypeA), 1);
  EXPECT_EQ(dns.query_count("mail.example.test", kDnsTypeAaaa), 0);
  EXPECT_EQ(dns.address_port(), "127.0.0.1:" + std::to_string(dns.port()));
}

TEST(FakeDnsServer, AnswersAaaaMxTlsaAndPtr) {
  FakeDnsServer dns;
  dns.set("mail.example.test", kDnsTypeAaaa,
          records({aaaa_record("mail.example.test", "2001:db8::10")}));
  dns.set("example.test", kDnsTypeMx,
          records({mx_record("example.test", 10, "mail.example.test"),
                   mx_record("example.test", 20, "backup.example.test.")}));
  const std::string digest(32, '\xab');
  dns.set("_25._tcp.mail.example.test", kDnsTypeTlsa,
          records({tlsa_record("_25._tcp.mail.example.test", 3, 1, 1, digest)}, true));
  dns.set("10.2.0.192.in-addr.arpa", kDnsTypePtr,
          records({ptr_record("10.2.0.192.in-addr.arpa", "mail.example.test")}));

  ParsedReply aaaa = parse_reply(*udp_ask(dns, make_query(1, "mail.example.test", kDnsTypeAaaa)));
  ASSERT_EQ(aaaa.answers.size(), 1u);
  EXPECT_EQ(aaaa.answers[0].rdata, std::string("\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x10", 16));

  ParsedReply mx = parse_reply(*udp_ask(dns, make_query(2, "example.test", kDnsTypeMx)));
  ASSERT_EQ(mx.answers.size(), 2u);
  EXPECT_EQ(mx.answers[0].rdata, std::string("\0\x0a\4mail\7example\4test\0", 21));
  EXPECT_EQ(mx.answers[1].rdata, std::string("\0\x14\6backup\7example\4test\0", 23));

  ParsedReply tlsa =
      parse_reply(*udp_ask(dns, make_query(3, "_25._tcp.mail.example.test", kDnsTypeTlsa)));
  EXPECT_TRUE(tlsa.ad());
  ASSERT_EQ(tlsa.answers.size(), 1u);
  EXPECT_EQ(tlsa.answers[0].type, kDnsTypeTlsa);
  EXPECT_EQ(tlsa.answers[0].rdata, std::string("\3\1\1", 3) + digest);

  ParsedReply ptr = parse_reply(*udp_ask(dns, make_query(4, "10.2.0.192.in-addr.arpa", 12)));
  ASSERT_EQ(ptr.answers.size(), 1u);
  EXPECT_EQ(ptr.answers[0].rdata, encode_dns_name("mail.example.test"));
}

TEST(FakeDnsServer, NegativeAnswers) {
  FakeDnsServer dns;
  dns.set("nx.example.test", kDnsTypeA, only(DnsAnswer::Kind::NxDomain));
  dns.set("nodata.example.test", kDnsTypeA, only(DnsAnswer::Kind::NoData));
  dns.set("fail.example.test", kDnsTypeA, only(DnsAnswer::Kind::ServFail));
  dns.set("refused.example.test", kDnsTypeA, only(DnsAnswer::Kind::Refused));
  const auto rcode_of = [&](std::string_view name) {
    const ParsedReply reply = parse_reply(*udp_ask(dns, make_query(7, name, kDnsTypeA)));
    EXPECT_TRUE(reply.answers.empty()) << name;
    EXPECT_EQ(reply.qname, name);
    return reply.rcode();
  };
  EXPECT_EQ(rcode_of("nx.example.test"), 3);
  EXPECT_EQ(rcode_of("unknown.example.test"), 3);
  EXPECT_EQ(rcode_of("nodata.example.test"), 0);
  EXPECT_EQ(rcode_of("fail.example.test"), 2);
  EXPECT_EQ(rcode_of("refused.example.test"), 5);
}

TEST(FakeDnsServer, DropNeverAnswersButCounts) {
  FakeDnsServer dns;
  dns.set("slow.example.test", kDnsTypeA, only(DnsAnswer::Kind::Drop));
  EXPECT_FALSE(udp_ask(dns, make_query(9, "slow.example.test", kDnsTypeA), AF_INET, 200));
  UniqueFd tcp = connect_to(AF_INET, dns.port());
  const std::string query = make_query(10, "slow.example.test", kDnsTypeA);
  write_all(tcp.get(), std::string{static_cast<char>(0), static_cast<char>(query.size())} + query);
  EXPECT_TRUE(eventually([&] { return dns.query_count("slow.example.test", kDnsTypeA) == 2; }));
  pollfd pfd{tcp.get(), POLLIN, 0};
  EXPECT_EQ(::poll(&pfd, 1, 200), 0) << "a dropped query was answered over TCP";
}

TEST(FakeDnsServer, TruncatedOverUdpFullOverTcp) {
  FakeDnsServer dns;
  dns.set("big.example.test", kDnsTypeA,
          only(DnsAnswer::Kind::Truncated, {a_record("big.example.test", "192.0.2.1"),
                                            a_record("big.example.test", "192.0.2.2")}));
  const ParsedReply udp = parse_reply(*udp_ask(dns, make_query(5, "big.example.test", 1)));
  EXPECT_TRUE(udp.tc());
  EXPECT_EQ(udp.rcode(), 0);
  EXPECT_TRUE(udp.answers.empty());

  const auto tcp = tcp_ask(dns, {make_query(6, "big.example.test", 1)}, 1);
  ASSERT_EQ(tcp.size(), 1u);
  const ParsedReply full = parse_reply(tcp[0]);
  EXPECT_FALSE(full.tc());
  EXPECT_EQ(full.id, 6);
  EXPECT_EQ(full.answers.size(), 2u);
  EXPECT_EQ(dns.query_count("big.example.test", kDnsTypeA), 2);
}

TEST(FakeDnsServer, OversizedUdpAnswerIsTruncatedUnlessEdnsAllowsIt) {
  FakeDnsServer dns;
  std::vector<DnsRecord> many;
  for (int i = 0; i < 40; ++i) {
    many.push_back(a_record("many.example.test", "192.0.2." + std::to_string(i + 1)));
  }
  dns.set("many.example.test", kDnsTypeA, records(many));  // ~1.3 kB
  const ParsedReply plain = parse_reply(*udp_ask(dns, make_query(1, "many.example.test", 1)));
  EXPECT_TRUE(plain.tc());
  EXPECT_TRUE(plain.answers.empty());
  const ParsedReply edns =
      parse_reply(*udp_ask(dns, make_query(2, "many.example.test", 1, /*edns=*/true)));
  EXPECT_FALSE(edns.tc());
  EXPECT_EQ(edns.answers.size(), 40u);
  EXPECT_EQ(edns.arcount, 1) << "an EDNS query gets an OPT record back";
}

TEST(FakeDnsServer, SeveralQueriesOnOneTcpConnection) {
  FakeDnsServer dns;
  dns.set("a.example.test", kDnsTypeA, records({a_record("a.example.test", "192.0.2.1")}));
  dns.set("a.example.test", kDnsTypeAaaa, records({aaaa_record("a.example.test", "2001:db8::1")}));
  const auto replies = tcp_ask(
      dns,
      {make_query(11, "a.example.test", kDnsTypeA), make_query(12, "a.example.test", kDnsTypeAaaa),
       make_query(13, "missing.example.test", kDnsTypeA)},
      3);
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(parse_reply(replies[0]).id, 11);
  EXPECT_EQ(parse_reply(replies[0]).answers.at(0).rdata, std::string("\xc0\0\2\1", 4));
  EXPECT_EQ(parse_reply(replies[1]).id, 12);
  EXPECT_EQ(parse_reply(replies[1]).answers.at(0).type, kDnsTypeAaaa);
  EXPECT_EQ(parse_reply(replies[2]).rcode(), 3);
}

TEST(FakeDnsServer, GarbageMatchesTheQueryButDoesNotParse) {
  FakeDnsServer dns;
  dns.set("junk.example.test", kDnsTypeA, only(DnsAnswer::Kind::Garbage));
  const ParsedReply udp = parse_reply(*udp_ask(dns, make_query(21, "junk.example.test", 1)));
  EXPECT_EQ(udp.id, 21);
  EXPECT_EQ(udp.qname, "junk.example.test");
  EXPECT_TRUE(udp.malformed);
  const auto tcp = tcp_ask(dns, {make_query(22, "junk.example.test", 1)}, 1);
  ASSERT_EQ(tcp.size(), 1u);
  EXPECT_TRUE(parse_reply(tcp[0]).malformed);
}

TEST(FakeDnsServer, MalformedQueriesDoNotHurtTheServer) {
  FakeDnsServer dns;
  dns.set("ok.example.test", kDnsTypeA, records({a_record("ok.example.test", "192.0.2.7")}));
  // A compression pointer to itself, a pointer forward, a label past the end, a short header.
  std::string loop = make_query(31, "x", 1).substr(0, 12) + std::string("\xc0\x0c\0\1\0\1", 6);
  std::string forward = make_query(32, "x", 1).substr(0, 12) + std::string("\xc0\x20\0\1\0\1", 6);
  std::string overrun = make_query(33, "x", 1).substr(0, 12) + std::string("\x3fshort", 6);
  const auto formerr = [](const std::optional<std::string>& raw) {
    return raw && parse_reply(*raw).rcode() == 1;
  };
  EXPECT_TRUE(formerr(udp_ask(dns, loop)));
  EXPECT_TRUE(formerr(udp_ask(dns, forward)));
  EXPECT_TRUE(formerr(udp_ask(dns, overrun)));
  EXPECT_FALSE(udp_ask(dns, "short", AF_INET, 200));
  const auto answered = tcp_ask(dns, {loop, make_query(35, "ok.example.test", 1)}, 2);
  ASSERT_EQ(answered.size(), 2u);
  EXPECT_EQ(parse_reply(answered[1]).answers.size(), 1u);
  EXPECT_EQ(dns.query_count("ok.example.test", kDnsTypeA), 1);
}

TEST(FakeDnsServer, SetWhileRunningAndDestructorIsPrompt) {
  auto dns = std::make_unique<FakeDnsServer>();
  EXPECT_EQ(parse_reply(*udp_ask(*dns, make_query(1, "late.test", 1))).rcode(), 3);
  dns->set("late.test", kDnsTypeA, records({a_record("late.test", "192.0.2.3")}));
  EXPECT_EQ(parse_reply(*udp_ask(*dns, make_query(2, "late.test", 1))).answers.size(), 1u);
  UniqueFd idle = connect_to(AF_INET, dns->port());  // an idle TCP client must not delay it
  EXPECT_LT(time_of([&] { dns.reset(); }), kPrompt);
}

TEST(FakeDnsServer, Ipv6) {
  if (!ipv6_loopback_available()) GTEST_SKIP() << "no ::1 here";
  FakeDnsServer dns(AF_INET6);
  EXPECT_EQ(dns.address_port(), "[::1]:" + std::to_string(dns.port()));
  dns.set("v6.test", kDnsTypeAaaa, records({aaaa_record("v6.test", "::1")}));
  const auto udp = udp_ask(dns, make_query(1, "v6.test", kDnsTypeAaaa), AF_INET6);
  ASSERT_TRUE(udp);
  EXPECT_EQ(parse_reply(*udp).answers.size(), 1u);
  EXPECT_EQ(tcp_ask(dns, {make_query(2, "v6.test", kDnsTypeAaaa)}, 1, AF_INET6).size(), 1u);
}

TEST(FakeDnsServer, RecordHelpersRejectBadInput) {
  EXPECT_THROW(a_record("x", "999.1.1.1"), std::invalid_argument);
  EXPECT_THROW(aaaa_record("x", "192.0.2.1"), std::invalid_argument);
  EXPECT_THROW(encode_dns_name("a..b"), std::invalid_argument);
  EXPECT_THROW(encode_dns_name(std::string(64, 'a')), std::invalid_argument);
  EXPECT_EQ(encode_dns_name("."), std::string(1, '\0'));
  EXPECT_EQ(encode_dns_name("a.b."), std::string("\1a\1b\0", 5));
}

#ifdef SMTPVERIFY_TEST_HAVE_CARES

// ---- FakeDnsServer against c-ares ---------------------------------------------------------

struct AresLibrary {
  AresLibrary() { ares_library_init(ARES_LIB_INIT_ALL); }
  ~AresLibrary() { ares_library_cleanup(); }
};

// A channel that asks only the fake server, never /etc/hosts, with fast retries.
class AresChannel {
 public:
  explicit AresChannel(const std::string& servers) {
    ares_options options{};
    options.timeout = 300;
    options.tries = 2;
    char lookups[] = "b";
    options.lookups = lookups;
    options.ndomains = 0;
    const int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS | ARES_OPT_DOMAINS;
    EXPECT_EQ(ares_init_options(&channel_, &options, mask), ARES_SUCCESS);
    EXPECT_EQ(ares_set_servers_ports_csv(channel_, servers.c_str()), ARES_SUCCESS);
  }
  ~AresChannel() { ares_destroy(channel_); }
  AresChannel(const AresChannel&) = delete;
  AresChannel& operator=(const AresChannel&) = delete;

  ares_channel get() const { return channel_; }

  // Drives the channel with poll() until no query is pending.
  void run() const {
    for (;;) {
      ares_socket_t sockets[ARES_GETSOCK_MAXNUM];
      const int bits = ares_getsock(channel_, sockets, ARES_GETSOCK_MAXNUM);
      std::vector<pollfd> fds;
      for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
        short events = 0;
        if (ARES_GETSOCK_READABLE(bits, i)) events |= POLLIN;
        if (ARES_GETSOCK_WRITABLE(bits, i)) events |= POLLOUT;
        if (events != 0) fds.push_back({sockets[i], events, 0});
      }
      if (fds.empty()) return;
      timeval tv{};
      ares_timeout(channel_, nullptr, &tv);
      const int ms = static_cast<int>(tv.tv_sec * 1000 + tv.tv_usec / 1000);
      if (::poll(fds.data(), fds.size(), ms) == 0) {
        ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
        continue;
      }
      for (const pollfd& pfd : fds) {
        const bool readable = (pfd.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
        const bool writable = (pfd.revents & POLLOUT) != 0;
        if (readable || writable) {
          ares_process_fd(channel_, readable ? pfd.fd : ARES_SOCKET_BAD,
                          writable ? pfd.fd : ARES_SOCKET_BAD);
        }
      }
    }
  }

 private:
  ares_channel channel_ = nullptr;
};

struct QueryResult {
  int status = -1;
  std::string answer;
};

QueryResult ares_ask(const std::string& servers, const char* name, int type) {
  AresLibrary library;
  AresChannel channel(servers);
  QueryResult result;
  ares_query(
      channel.get(), name, 1, type,
      [](void* arg, int status, int, unsigned char* abuf, int alen) {
        auto* out = static_cast<QueryResult*>(arg);
        out->status = status;
        if (abuf != nullptr) out->answer.assign(reinterpret_cast<char*>(abuf), alen);
      },
      &result);
  channel.run();
  return result;
}

TEST(FakeDnsServerWithCares, QueryA) {
  FakeDnsServer dns;
  dns.set("mail.example.test", kDnsTypeA, records({a_record("mail.example.test", "192.0.2.10")}));
  const QueryResult result = ares_ask(dns.address_port(), "mail.example.test", kDnsTypeA);
  ASSERT_EQ(result.status, ARES_SUCCESS);
  ares_addrttl addresses[4];
  int count = 4;
  ASSERT_EQ(ares_parse_a_reply(reinterpret_cast<const unsigned char*>(result.answer.data()),
                               static_cast<int>(result.answer.size()), nullptr, addresses, &count),
            ARES_SUCCESS);
  ASSERT_EQ(count, 1);
  EXPECT_EQ(ntohl(addresses[0].ipaddr.s_addr), 0xc000020au);
  EXPECT_EQ(addresses[0].ttl, 300);
}

TEST(FakeDnsServerWithCares, NxDomainServFailAndGarbage) {
  FakeDnsServer dns;
  dns.set("fail.example.test", kDnsTypeA, only(DnsAnswer::Kind::ServFail));
  dns.set("junk.example.test", kDnsTypeA, only(DnsAnswer::Kind::Garbage));
  EXPECT_EQ(ares_ask(dns.address_port(), "nx.example.test", kDnsTypeA).status, ARES_ENOTFOUND);
  // c-ares 1.18 with a single server reports SERVFAIL as ARES_ECONNREFUSED after its tries
  // (later versions say ARES_ESERVFAIL); either way the fake's SERVFAIL reached it, every try.
  const int servfail = ares_ask(dns.address_port(), "fail.example.test", kDnsTypeA).status;
  EXPECT_TRUE(servfail == ARES_ESERVFAIL || servfail == ARES_ECONNREFUSED) << servfail;
  EXPECT_EQ(dns.query_count("fail.example.test", kDnsTypeA), 2);  // tries = 2
  const QueryResult junk = ares_ask(dns.address_port(), "junk.example.test", kDnsTypeA);
  if (junk.status == ARES_SUCCESS) {
    ares_addrttl addresses[4];
    int count = 4;
    EXPECT_EQ(ares_parse_a_reply(reinterpret_cast<const unsigned char*>(junk.answer.data()),
                                 static_cast<int>(junk.answer.size()), nullptr, addresses, &count),
              ARES_EBADRESP);
  } else {
    EXPECT_EQ(junk.status, ARES_EBADRESP);
  }
}

TEST(FakeDnsServerWithCares, TruncatedUdpFallsBackToTcp) {
  FakeDnsServer dns;
  const std::string digest(32, '\x5a');
  DnsAnswer answer = only(DnsAnswer::Kind::Truncated,
                          {tlsa_record("_25._tcp.mail.example.test", 3, 1, 1, digest)});
  answer.authenticated_data = true;
  dns.set("_25._tcp.mail.example.test", kDnsTypeTlsa, answer);
  const QueryResult result =
      ares_ask(dns.address_port(), "_25._tcp.mail.example.test", kDnsTypeTlsa);
  ASSERT_EQ(result.status, ARES_SUCCESS);
  const ParsedReply reply = parse_reply(result.answer);
  EXPECT_TRUE(reply.ad());
  ASSERT_EQ(reply.answers.size(), 1u);
  EXPECT_EQ(reply.answers[0].rdata, std::string("\3\1\1", 3) + digest);
  // One query over UDP (answered with TC), the retry over TCP.
  EXPECT_EQ(dns.query_count("_25._tcp.mail.example.test", kDnsTypeTlsa), 2);
}

TEST(FakeDnsServerWithCares, GetAddrInfo) {
  FakeDnsServer dns;
  dns.set("mail.example.test", kDnsTypeA, records({a_record("mail.example.test", "192.0.2.10")}));
  dns.set("mail.example.test", kDnsTypeAaaa,
          records({aaaa_record("mail.example.test", "2001:db8::10")}));
  AresLibrary library;
  AresChannel channel(dns.address_port());
  struct Result {
    int status = -1;
    std::vector<std::string> addresses;
  } result;
  ares_addrinfo_hints hints{};
  hints.ai_family = AF_UNSPEC;
  ares_getaddrinfo(
      channel.get(), "mail.example.test", nullptr, &hints,
      [](void* arg, int status, int, ares_addrinfo* info) {
        auto* out = static_cast<Result*>(arg);
        out->status = status;
        if (info == nullptr) return;
        for (const ares_addrinfo_node* node = info->nodes; node != nullptr; node = node->ai_next) {
          char text[INET6_ADDRSTRLEN] = {};
          const void* address =
              node->ai_family == AF_INET
                  ? static_cast<const void*>(
                        &reinterpret_cast<const sockaddr_in*>(node->ai_addr)->sin_addr)
                  : static_cast<const void*>(
                        &reinterpret_cast<const sockaddr_in6*>(node->ai_addr)->sin6_addr);
          ::inet_ntop(node->ai_family, address, text, sizeof(text));
          out->addresses.emplace_back(text);
        }
        ares_freeaddrinfo(info);
      },
      &result);
  channel.run();
  ASSERT_EQ(result.status, ARES_SUCCESS);
  std::sort(result.addresses.begin(), result.addresses.end());
  EXPECT_EQ(result.addresses, (std::vector<std::string>{"192.0.2.10", "2001:db8::10"}));
}

TEST(FakeDnsServerWithCares, Ipv6Server) {
  if (!ipv6_loopback_available()) GTEST_SKIP() << "no ::1 here";
  FakeDnsServer dns(AF_INET6);
  dns.set("v6.test", kDnsTypeA, records({a_record("v6.test", "192.0.2.6")}));
  EXPECT_EQ(ares_ask(dns.address_port(), "v6.test", kDnsTypeA).status, ARES_SUCCESS);
}

#endif  // SMTPVERIFY_TEST_HAVE_CARES

}  // namespace
}  // namespace smtpverify::test
