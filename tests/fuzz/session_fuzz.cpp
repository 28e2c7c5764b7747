// Fuzz target: smtp::Session fed arbitrary server bytes, driven like run_check drives it.
// Input: [plan flags] [read mode] [TLS outcome] server bytes... Flags 0 is the plan using every
// feature (STARTTLS, AUTH PLAIN, two rcpts and a reject-rcpt, a payload, two -C commands).
// Read mode: the low 7 bits N > 0 read 1..N bytes at a time, 0 a line at a time (so a seed is a
// plain server transcript); without bit 7 no read goes past a line end, with it reads cross
// lines (mode 0x80: everything at once, replies pipelined). TLS outcome & 3: 0 the handshake
// succeeds, 1 it succeeds with an untrusted certificate (then only QUIT may go out), 2 it fails,
// 3 the next bytes arrive before the handshake (a response injection); bit 2 of that byte adds
// the --plaintext-refused probe (MAIL, and RSET if accepted, before STARTTLS) to a STARTTLS plan.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "fuzz/fuzz_check.h"
#include "smtp/message.h"
#include "smtp/session.h"

namespace {

using namespace smtpverify::smtp;

// The secrets of the plan, raw and encoded; no event or finding may ever show them, not even
// when the server sends them (every reply is scrubbed before it is used).
constexpr std::string_view kPlainSecret = "AHByb2JlAHMzY3JldC1wbGFpbi1wdw==";
constexpr std::string_view kLoginSecret = "czNjcmV0LWxvZ2luLXB3";
constexpr std::string_view kPassword = "s3cret-pw";

bool leaks(std::string_view text) {
  return text.find(kPlainSecret) != std::string_view::npos ||
         text.find(kLoginSecret) != std::string_view::npos ||
         text.find(kPassword) != std::string_view::npos;
}

bool leaks(const Reply& reply) {
  return std::any_of(reply.lines.begin(), reply.lines.end(),
                     [](const std::string& line) { return leaks(line); });
}

Plan make_plan(std::uint8_t flags, bool probe_plaintext) {
  Plan p;
  p.helo_name = "probe.smtpverify.test";
  p.lmtp = (flags & 0x02) != 0;
  p.tls_active = (flags & 0x04) != 0;
  if ((flags & 0x08) != 0) p.expect_banner = "ESMTP";
  if ((flags & 0x10) == 0) p.mail_from = "probe@smtpverify.test";
  if ((flags & 0x20) == 0) {
    const auto mech = (flags & 0x01) ? AuthPlan::Mechanism::Login : AuthPlan::Mechanism::Plain;
    p.auth = AuthPlan{mech, std::string(kPlainSecret), "cHJvYmU=", std::string(kLoginSecret),
                      std::string(kPassword)};
  }
  if ((flags & 0x40) == 0) p.payload = to_data_payload("Subject: fuzz\n\n.dot-stuffed\nbody\n");
  p.starttls = (flags & 0x80) == 0;
  if (p.starttls && probe_plaintext) p.plaintext_probe = p.mail_from.value_or("");
  p.recipients = {{"a@smtpverify.test", false},
                  {"b@smtpverify.test", false},
                  {"nosuchuser@smtpverify.test", true}};
  p.commands = {"NOOP", "VRFY postmaster"};
  return p;
}

// Returns how many events said something went out (a command, or the message with its ".").
// With `secrets` (the plan has AUTH), none of them may show a secret; without AUTH those strings
// are no secrets and the server may well send them.
std::size_t check_events(Session& s, bool secrets) {
  std::size_t sent = 0;
  for (const auto& event : s.take_events()) {
    sent +=
        std::holds_alternative<CommandSent>(event) || std::holds_alternative<PayloadSent>(event);
    if (!secrets) continue;
    if (const auto* e = std::get_if<CommandSent>(&event)) FUZZ_CHECK(!leaks(e->text));
    if (const auto* e = std::get_if<ReplyReceived>(&event)) FUZZ_CHECK(!leaks(e->reply));
    if (const auto* e = std::get_if<Note>(&event)) FUZZ_CHECK(!leaks(e->text));
  }
  if (!secrets) return sent;
  for (const auto& f : s.findings()) {
    FUZZ_CHECK(!leaks(f.command) && !leaks(f.detail) && !leaks(f.reply));
  }
  if (s.banner()) FUZZ_CHECK(!leaks(*s.banner()));
  if (s.greeting()) FUZZ_CHECK(!leaks(*s.greeting()));
  return sent;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  Plan plan = make_plan(data[0], (data[2] & 4) != 0);
  plan.pipelining = (data[2] & 8) == 0;  // RFC 2920 groups when the EHLO offers PIPELINING
  const bool across_lines = (data[1] & 0x80) != 0;
  const std::size_t max_read = data[1] & 0x7f;
  const std::uint8_t tls = data[2] & 3;
  std::string_view in(reinterpret_cast<const char*>(data) + 3, size - 3);
  std::uint32_t rng = data[1] | 1u;
  const auto next_read = [&]() -> std::size_t {
    const auto lf = in.find('\n');
    const std::size_t line = lf == std::string_view::npos ? in.size() : lf + 1;
    if (max_read == 0) return across_lines ? in.size() : line;
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    const std::size_t n = std::min<std::size_t>(in.size(), 1 + rng % max_read);
    return across_lines ? n : std::min(n, line);
  };
  // One write is one command line or the message with its final "."; pipelined (RFC 2920):
  // MAIL, every RCPT and DATA or QUIT, or the message, its "." and QUIT.
  const std::size_t max_write = std::max<std::size_t>(
      plan.payload ? plan.payload->size() + 3 + 6 : 0, 512 * (plan.recipients.size() + 2));
  // How many commands a write carries (the message with its "." is one): each has its event.
  const auto commands_in = [&](std::string_view out) {
    std::size_t n = 0;
    if (plan.payload && out.starts_with(*plan.payload + ".\r\n")) {
      out.remove_prefix(plan.payload->size() + 3);
      n = 1;
    }
    for (auto lf = out.find('\n'); lf != std::string_view::npos; lf = out.find('\n')) {
      ++n;
      out.remove_prefix(lf + 1);
    }
    return n;
  };
  const std::size_t max_total = (plan.payload ? plan.payload->size() : 0) + 4096;

  Session s(plan);
  std::size_t written = 0;
  std::size_t writes = 0;  // commands written
  std::size_t sent_events = 0;
  bool untrusted = false;
  for (;;) {
    sent_events += check_events(s, plan.auth.has_value());
    const Want want = s.want();
    if (want == Want::Done) break;
    if (want == Want::Write) {
      const std::string out = s.take_output();
      FUZZ_CHECK(out.size() >= 2 && out.size() <= max_write && out.ends_with("\r\n"));
      FUZZ_CHECK(!untrusted || out == "QUIT\r\n");  // nothing else over an untrusted channel
      written += out.size();
      const std::size_t commands = commands_in(out);
      FUZZ_CHECK(commands >= 1 && commands <= plan.recipients.size() + 2);
      FUZZ_CHECK(plan.pipelining || commands == 1);
      writes += commands;
      FUZZ_CHECK(written <= max_total && s.want() != Want::Write);
    } else if (want == Want::StartTls && (tls != 3 || in.empty())) {
      if (tls == 0) {
        s.tls_established();
      } else if (tls == 1) {
        untrusted = true;
        s.tls_untrusted();
      } else {
        s.tls_failed();
      }
    } else if (in.empty()) {
      s.receive_eof();  // the server closed: whatever the state, the dialogue is over
      FUZZ_CHECK(s.want() == Want::Done);
    } else {
      const std::size_t n = next_read();
      s.receive(in.substr(0, n));
      in.remove_prefix(n);
      if (want == Want::StartTls) FUZZ_CHECK(s.want() == Want::Done);  // injection refused
    }
  }
  sent_events += check_events(s, plan.auth.has_value());
  // Issue 14 #8: an event for every command written, and none for what an abort discarded.
  FUZZ_CHECK(sent_events == writes);
  FUZZ_CHECK(s.phase() == Phase::Done && s.take_output().empty());
  // --plaintext-refused adds at most three: AUTH offered, MAIL accepted, RSET refused.
  FUZZ_CHECK(s.findings().size() <= plan.recipients.size() + 3 + (plan.plaintext_probe ? 3 : 0));
  // Once done, nothing the server does changes anything.
  const std::size_t findings = s.findings().size();
  s.receive("250 ok\r\n");
  s.receive_eof();
  FUZZ_CHECK(s.want() == Want::Done && s.findings().size() == findings);
  return 0;
}
