#include <array>
#include <cstring>
#include <iterator>
#include <variant>

#include "check/steps/plan.h"
#include "check/steps/steps.h"

namespace smtpverify::check {

namespace {

// One read's worth. Small on purpose: it lives on the stack below every TLS call, so each KiB
// here is a KiB of stack each check keeps resident while it waits (a reply longer than this
// takes more reads; OpenSSL keeps the rest of a record in its own buffer).
using ReadBuffer = std::array<char, 4096>;

// A reply answers the oldest command still unanswered (a pipelined group leaves several,
// RFC 2920: replies come in the order of the commands). A reply with no command of its phase
// waiting (the greeting, the reply to the message, a second LMTP reply) opens its own
// exchange, before the commands sent after it (the QUIT pipelined with the message).
void record_reply(Context& ctx, const smtp::ReplyReceived& e) {
  auto& exchanges = ctx.rec.exchanges();
  const std::string phase(smtp::phase_name(e.phase));
  auto oldest = exchanges.end();
  while (oldest != exchanges.begin() && !std::prev(oldest)->complete) --oldest;
  if (oldest == exchanges.end() || oldest->phase != phase) {
    oldest = exchanges.insert(oldest, {phase, "", 0, {}});
  }
  auto& x = *oldest;
  x.code = e.reply.code;
  x.lines.insert(x.lines.end(), e.reply.lines.begin(), e.reply.lines.end());
  x.complete = true;
}

// The session's typed events into the recorder: timings, the transcript (made here, at the
// edge) and the exchanges.
struct Drain {
  Context& ctx;
  net::Clock::time_point now;
  bool tls_next = false;

  void operator()(const smtp::PhaseStarted& e) {
    if (e.pipelined) {
      ctx.rec.start_pipelined(e.phase, now);
    } else if (e.phase == smtp::Phase::Done) {
      ctx.rec.stop(now);
    } else {
      ctx.rec.start(e.phase, now);
    }
  }
  // In a pipelined group each phase runs from the group's send to its last reply's arrival.
  void operator()(const smtp::PhaseEnded& e) { ctx.rec.end_pipelined(e.phase, now); }
  void operator()(const smtp::CommandSent& e) {
    ctx.rec.log("C: " + e.text);
    ctx.rec.exchanges().push_back({std::string(smtp::phase_name(e.phase)), e.text, 0, {}});
  }
  void operator()(const smtp::PayloadSent& e) {
    // The message body of DATA is not a command: no exchange of its own.
    ctx.rec.log("C: [message: " + std::to_string(e.bytes) + " bytes]");
    ctx.rec.log("C: .");
  }
  void operator()(const smtp::ReplyReceived& e) {
    for (std::size_t i = 0; i < e.reply.lines.size(); ++i) {
      const bool last = i + 1 == e.reply.lines.size();
      const std::string& text = e.reply.lines[i];
      ctx.rec.log("S: " + std::to_string(e.reply.code) +
                  (last && text.empty() ? "" : (last ? " " : "-") + text));
    }
    record_reply(ctx, e);
  }
  void operator()(const smtp::TlsWanted&) { tls_next = true; }
  void operator()(const smtp::StepChanged& e) {
    if (ctx.config.verbosity > 2) {  // -vvv: the dialogue's state machine step by step
      ctx.rec.log("* step " + std::string(e.from) + " -> " + std::string(e.to));
    }
  }
  void operator()(const smtp::Note& e) { ctx.rec.log("* " + e.text); }
};

// What the session did since the last call, into the recorder. Returns whether STARTTLS was
// just sent (the TLS context is then built while the server answers).
bool drain(Context& ctx, smtp::Session& session) {
  Drain d{ctx, net::Clock::now()};
  for (const auto& event : session.take_events()) std::visit(d, event);
  return d.tls_next;
}

// The session wants the TLS handshake after STARTTLS's 220.
void starttls(Context& ctx, smtp::Session& session, ReadBuffer& buffer) {
  // Anything already waiting in the socket now was sent before our ClientHello: hand it to
  // the session, which refuses the handshake (response injection).
  const auto early =
      ctx.stream->read(buffer.data(), buffer.size(), net::Deadline(net::Clock::now()));
  if (early) {
    session.receive(std::string_view(buffer.data(), *early));
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
bool write(Context& ctx, smtp::Session& session, ReadBuffer& buffer) {
  // Before every command: any byte already buffered or readable now came before we asked, so
  // it is unsolicited, whatever the read buffer's size (the session refuses it and sends
  // nothing more).
  const auto early =
      ctx.stream->read(buffer.data(), buffer.size(), net::Deadline(net::Clock::now()));
  if (early) {
    session.receive(std::string_view(buffer.data(), *early));
    return true;
  }
  const auto r = ctx.stream->write_all(session.take_output(), ctx.deadline);
  if (r) return true;
  if (r.error().kind == net::IoError::Kind::Timeout) {
    ctx.rec.abandon();
    ctx.timeout("the server to accept our data");
  } else {
    ctx.rec.problem(ProblemKind::Network, std::string("connection lost while sending: ") +
                                              std::strerror(r.error().error));
  }
  return false;
}

// Reads what the server sent into the session. Returns false when the connection is gone.
bool read(Context& ctx, smtp::Session& session, ReadBuffer& buffer) {
  const auto r = ctx.stream->read(buffer.data(), buffer.size(), ctx.deadline);
  if (r) {
    ctx.heard_from_server = ctx.heard_from_server || *r > 0;
    session.receive(std::string_view(buffer.data(), *r));
    return true;
  }
  switch (r.error().kind) {
    case net::IoError::Kind::Eof:
      session.receive_eof();
      return true;
    case net::IoError::Kind::Timeout:
      ctx.rec.abandon();
      // Silence where a greeting belongs is what a TLS port, or a listener waiting for a PROXY
      // header, does to a client that waits to be greeted.
      ctx.timeout(
          session.waiting_for(),
          session.phase() != smtp::Phase::Banner || ctx.config.implicit_tls || ctx.heard_from_server
              ? ""
          : ctx.config.proxy ? " (implicit TLS port? try -s)"
                             : " (implicit TLS port? try -s; PROXY listener? try -r)");
      return false;
    default:
      ctx.rec.problem(ProblemKind::Network, "connection lost while waiting for " +
                                                session.waiting_for() + ": " +
                                                std::strerror(r.error().error));
      return false;
  }
}

// The Session↔Stream loop until the session is done or the connection is gone.
void loop(Context& ctx, smtp::Session& session) {
  ReadBuffer buffer;  // not zeroed: only what read() filled is used
  bool prepare = drain(ctx, session);
  for (;;) {
    const smtp::Want want = session.want();
    if (want == smtp::Want::Done) break;
    if (want == smtp::Want::StartTls) {
      starttls(ctx, session, buffer);
    } else if (want == smtp::Want::Write) {
      if (!write(ctx, session, buffer)) break;
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
