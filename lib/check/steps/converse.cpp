#include <array>
#include <cstring>

#include "check/steps/plan.h"
#include "check/steps/steps.h"

namespace smtpverify::check {

namespace {

// Reply lines arrive as "NNN-text" / "NNN text" / "NNN" (the session parsed them). A reply
// with no command before it (the greeting, a second LMTP reply) opens its own exchange.
void record_reply_line(Context& ctx, const smtp::Event& e) {
  auto& exchanges = ctx.rec.exchanges();
  if (exchanges.empty() || exchanges.back().complete) {
    exchanges.push_back({std::string(smtp::phase_name(e.phase)), "", 0, {}});
  }
  auto& x = exchanges.back();
  x.code = (e.text[0] - '0') * 100 + (e.text[1] - '0') * 10 + (e.text[2] - '0');
  x.lines.push_back(e.text.size() > 4 ? e.text.substr(4) : std::string());
  x.complete = e.text.size() == 3 || e.text[3] == ' ';
}

// What the session did since the last call, into the recorder. Returns whether STARTTLS was
// just sent (the TLS context is then built while the server answers).
bool drain(Context& ctx, smtp::Session& session) {
  const auto now = net::Clock::now();
  bool tls_next = false;
  for (auto& e : session.take_events()) {
    switch (e.kind) {
      case smtp::Event::Kind::PhaseStart:
        if (e.phase == smtp::Phase::Starttls) tls_next = true;
        if (e.phase == smtp::Phase::Done) {
          ctx.rec.stop(now);
        } else {
          ctx.rec.start(e.phase, now);
        }
        break;
      case smtp::Event::Kind::Sent:
        ctx.rec.log("C: " + e.text);
        // A new exchange per command; the message body of DATA is not a command.
        if (e.text.rfind("[message:", 0) != 0 && e.text != ".") {
          ctx.rec.exchanges().push_back({std::string(smtp::phase_name(e.phase)), e.text, 0, {}});
        }
        break;
      case smtp::Event::Kind::Received:
        ctx.rec.log("S: " + e.text);
        record_reply_line(ctx, e);
        break;
      case smtp::Event::Kind::Note:
        ctx.rec.log("* " + e.text);
        break;
    }
  }
  return tls_next;
}

// The session wants the TLS handshake after STARTTLS's 220.
void starttls(Context& ctx, smtp::Session& session, std::array<char, 16384>& buffer) {
  // Anything already waiting in the socket now was sent before our ClientHello: hand it to
  // the session, which refuses the handshake (response injection).
  const auto early =
      ctx.stream->read(buffer.data(), buffer.size(), net::Deadline(net::Clock::now()));
  if (early.status == net::IoResult::Status::Ok) {
    session.receive(std::string_view(buffer.data(), early.bytes));
    return;
  }
  switch (start_tls(ctx, "STARTTLS")) {
    case TlsOutcome::Established:
      session.tls_established();
      return;
    case TlsOutcome::Untrusted:
      session.tls_untrusted();  // verification failed on a working channel: QUIT only
      return;
    case TlsOutcome::Failed:
      ctx.rec.abandon();
      session.tls_failed();
      return;
  }
}

// Sends what the session has queued. Returns false when the connection is gone.
bool write(Context& ctx, smtp::Session& session) {
  const auto r = ctx.stream->write_all(session.take_output(), ctx.deadline);
  if (r.status == net::IoResult::Status::Ok) return true;
  if (r.status == net::IoResult::Status::Timeout) {
    ctx.rec.abandon();
    ctx.timeout("the server to accept our data");
  } else {
    ctx.rec.problem(ProblemKind::Network,
                    std::string("connection lost while sending: ") + std::strerror(r.error));
  }
  return false;
}

// Reads what the server sent into the session. Returns false when the connection is gone.
bool read(Context& ctx, smtp::Session& session, std::array<char, 16384>& buffer) {
  const auto r = ctx.stream->read(buffer.data(), buffer.size(), ctx.deadline);
  switch (r.status) {
    case net::IoResult::Status::Ok:
      session.receive(std::string_view(buffer.data(), r.bytes));
      return true;
    case net::IoResult::Status::Eof:
      session.receive_eof();
      return true;
    case net::IoResult::Status::Timeout:
      ctx.rec.abandon();
      ctx.timeout(session.waiting_for());
      return false;
    default:
      ctx.rec.problem(ProblemKind::Network, "connection lost while waiting for " +
                                                session.waiting_for() + ": " +
                                                std::strerror(r.error));
      return false;
  }
}

// The Session↔Stream loop until the session is done or the connection is gone.
void loop(Context& ctx, smtp::Session& session) {
  std::array<char, 16384> buffer;  // not zeroed: only what read() filled is used
  bool prepare = drain(ctx, session);
  for (;;) {
    const smtp::Want want = session.want();
    if (want == smtp::Want::Done) break;
    if (want == smtp::Want::StartTls) {
      starttls(ctx, session, buffer);
    } else if (want == smtp::Want::Write) {
      if (!write(ctx, session)) break;
    } else {
      if (prepare) {
        // STARTTLS is on its way: the TLS context (most of the cost of TLS) is built while
        // the server answers it. Not earlier: the banner and EHLO times stay the server's.
        prepare = false;
        prepare_tls(ctx);
      }
      if (!read(ctx, session, buffer)) break;
    }
    prepare = drain(ctx, session) || prepare;
    if (ctx.helo_lookup) ctx.helo_lookup->pump();  // DNS answers that arrived meanwhile
  }
  drain(ctx, session);
  ctx.rec.stop(net::Clock::now());
}

}  // namespace

Next converse(Context& ctx) {
  if (ctx.helo_name.empty()) ctx.helo_name = ctx.local_literal();
  smtp::Plan plan = make_plan(ctx.config, ctx.helo_name);
  if (ctx.config.implicit_tls) {
    if (start_tls(ctx, "TLS") != TlsOutcome::Established) return Next::Stop;
    plan.tls_active = true;
  }
  smtp::Session session(std::move(plan));
  loop(ctx, session);
  summarize_dialogue(ctx, session);
  return Next::Continue;
}

}  // namespace smtpverify::check
