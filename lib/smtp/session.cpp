#include "smtp/session.h"

#include <algorithm>
#include <utility>

#include "util/ascii.h"

namespace smtpverify::smtp {

Session::Session(Plan plan) : plan_(std::move(plan)), tls_active_(plan_.tls_active) {
  for (const auto& rcpt : plan_.recipients) recipients_.push_back({rcpt, std::nullopt});
  for (const auto& command : plan_.commands) commands_.push_back({command, std::nullopt});
  events_.push_back({Event::Kind::PhaseStart, Phase::Banner, {}});
}

Want Session::want() const {
  if (!output_.empty()) return Want::Write;
  if (step_ == Step::TlsHandshake) return Want::StartTls;
  return step_ == Step::Done ? Want::Done : Want::Read;
}

std::string Session::take_output() { return std::exchange(output_, {}); }

std::vector<Event> Session::take_events() { return std::exchange(events_, {}); }

std::string Session::waiting_for() const {
  switch (step_) {
    case Step::Banner:
      return "banner";
    case Step::Ehlo:
      return plan_.lmtp ? "reply to LHLO" : "reply to EHLO";
    case Step::Helo:
      return "reply to HELO";
    case Step::Starttls:
      return "reply to STARTTLS";
    case Step::TlsHandshake:
      return "TLS handshake";
    case Step::Auth:
    case Step::AuthLoginUser:
    case Step::AuthLoginPassword:
      return "reply to AUTH";
    case Step::Mail:
      return "reply to MAIL FROM";
    case Step::Rcpt:
      return "reply to RCPT TO";
    case Step::Data:
      return "reply to DATA";
    case Step::DataEnd:
      return "reply to end of data";
    case Step::Command:
      return "reply to -C command";
    case Step::Quit:
      return "reply to QUIT";
    case Step::Done:
      return "nothing";
  }
  return "nothing";
}

// The one place the dialogue state changes; phase changes are logged for timings and -v.
void Session::transition(Step step, Phase phase) {
  step_ = step;
  if (phase != phase_) {
    phase_ = phase;
    events_.push_back({Event::Kind::PhaseStart, phase, {}});
  }
}

void Session::send(Step step, Phase phase, std::string line) {
  transition(step, phase);
  events_.push_back({Event::Kind::Sent, phase, line});
  output_ += line;
  output_ += "\r\n";
  last_command_ = std::move(line);
}

// The line goes out; events and findings only ever see `shown` (the secret masked).
void Session::send_secret(Step step, Phase phase, const std::string& line, std::string shown) {
  transition(step, phase);
  events_.push_back({Event::Kind::Sent, phase, shown});
  output_ += line;
  output_ += "\r\n";
  last_command_ = std::move(shown);
}

void Session::note(std::string text) {
  events_.push_back({Event::Kind::Note, phase_, std::move(text)});
}

void Session::add(FindingKind kind, std::string command, const Reply& reply, std::string detail) {
  findings_.push_back({kind, phase_, std::move(command), reply, std::move(detail)});
}

void Session::quit() { send(Step::Quit, Phase::Quit, "QUIT"); }

// The connection is no longer usable (server closing, desynchronised): close without QUIT.
void Session::abort() {
  output_.clear();
  transition(Step::Done, Phase::Done);
}

void Session::receive(std::string_view bytes) {
  // No pipelining: a reply is only expected once our command has gone out (output_ empty).
  std::string answered = last_command_;  // the command whose reply came last ("" = greeting)
  while (!bytes.empty() && step_ != Step::Done && step_ != Step::TlsHandshake && output_.empty()) {
    answered = last_command_;
    const auto status = parser_.feed(bytes);
    if (status == ReplyParser::Status::NeedMore) return;
    if (status == ReplyParser::Status::Error) {
      const bool over_long = parser_.error() == ReplyError::OverLong;
      add(over_long ? FindingKind::OverLongReply : FindingKind::MalformedReply, last_command_, {},
          parser_.error_detail());
      abort();
      return;
    }
    Reply reply = parser_.take();
    for (std::size_t i = 0; i < reply.lines.size(); ++i) {
      const bool last = i + 1 == reply.lines.size();
      std::string line = std::to_string(reply.code) + (last ? " " : "-") + reply.lines[i];
      if (last && reply.lines[i].empty()) line.pop_back();
      events_.push_back({Event::Kind::Received, phase_, std::move(line)});
    }
    on_reply(std::move(reply));
  }
  // Bytes beyond the reply we asked for arrived before our next command went out: the server
  // is not in step with us, or is injecting replies. (After QUIT or an abort nothing matters.)
  if (!bytes.empty() && step_ == Step::TlsHandshake) {
    // RFC 3207 §4.2 and the STARTTLS command-injection class of bugs: bytes buffered after
    // the 220 would be taken as if they had come through TLS. Refuse the handshake.
    add(FindingKind::StarttlsInjection, "STARTTLS", {});
    abort();
    return;
  }
  if (!bytes.empty() && step_ != Step::Done) {
    add(FindingKind::UnsolicitedData, answered, {});
    abort();
  }
}

void Session::receive_eof() {
  if (step_ == Step::Done) return;
  if (step_ == Step::Quit) {
    add(FindingKind::QuitFailed, "QUIT", {}, "connection closed without a reply");
  } else {
    add(FindingKind::ConnectionClosed, last_command_, {},
        parser_.in_progress() ? "connection closed in the middle of a reply" : "connection closed");
  }
  abort();
}

void Session::tls_established() {
  if (step_ != Step::TlsHandshake) return;
  tls_active_ = true;
  // RFC 3207 §4.2: discard all knowledge obtained from the server in plaintext.
  capabilities_ = Capabilities{};
  greeting_.reset();
  note("TLS established; capabilities from before TLS discarded");
  send(Step::Ehlo, Phase::Ehlo, (plan_.lmtp ? "LHLO " : "EHLO ") + plan_.helo_name);
}

void Session::tls_failed() {
  if (step_ == Step::TlsHandshake) abort();
}

void Session::tls_untrusted() {
  if (step_ != Step::TlsHandshake) return;
  tls_active_ = true;
  quit();  // nothing secret, and no "lost connection" in the server's log
}

// After a successful EHLO/LHLO (or HELO): STARTTLS first if required, then AUTH, then MAIL.
void Session::after_ehlo(const Reply& reply) {
  greeting_ = reply;
  capabilities_ = Capabilities::from_ehlo(reply);
  if (plan_.starttls && !tls_active_) {
    if (!capabilities_.has("STARTTLS")) {
      add(FindingKind::StarttlsNotOffered, "STARTTLS", {});
      quit();
      return;
    }
    send(Step::Starttls, Phase::Starttls, "STARTTLS");
    return;
  }
  if (plan_.auth) {
    start_auth();
    return;
  }
  after_greeting();
}

void Session::start_auth() {
  const bool plain = plan_.auth->mechanism == AuthPlan::Mechanism::Plain;
  const std::string name = plain ? "PLAIN" : "LOGIN";
  // RFC 4954 §3: the mechanisms are the space-separated parameters of the AUTH keyword.
  bool offered = false;
  const std::string params = capabilities_.params("AUTH") + " ";
  std::size_t start = 0;
  for (std::size_t space = params.find(' '); space != std::string::npos;
       start = space + 1, space = params.find(' ', start)) {
    const std::string mech = util::ascii_upper(params.substr(start, space - start));
    offered = offered || mech == name;
  }
  if (!offered) {
    add(FindingKind::AuthNotOffered, "AUTH " + name, {}, capabilities_.params("AUTH"));
    quit();
    return;
  }
  if (plain) {
    send_secret(Step::Auth, Phase::Auth, "AUTH PLAIN " + plan_.auth->plain_response,
                "AUTH PLAIN ********");
  } else {
    send(Step::Auth, Phase::Auth, "AUTH LOGIN");
  }
}

void Session::after_greeting() {
  if (plan_.mail_from) {
    send(Step::Mail, Phase::Mail, "MAIL FROM:<" + *plan_.mail_from + ">");
  } else {
    after_transaction();
  }
}

void Session::after_transaction() {
  if (next_command_ < commands_.size()) {
    send(Step::Command, Phase::Commands, commands_[next_command_++].command);
  } else {
    quit();
  }
}

void Session::on_reply(Reply reply) {
  const int klass = reply.klass();
  // RFC 5321 §3.8: 421 may be sent in reply to any command; the server is closing.
  if (reply.code == 421 && step_ != Step::Quit) {
    if (step_ == Step::Banner) banner_ = reply;
    add(FindingKind::ServiceClosing, last_command_, reply);
    abort();
    return;
  }
  switch (step_) {
    case Step::Banner:
      banner_ = reply;
      // RFC 5321 §4.2: 220 is the only greeting that invites EHLO; 554 asks for QUIT.
      if (reply.code != 220) {
        add(FindingKind::BannerRejected, {}, reply);
        quit();
        return;
      }
      if (plan_.expect_banner &&
          reply.full_text().find(*plan_.expect_banner) == std::string::npos) {
        add(FindingKind::BannerMismatch, *plan_.expect_banner, reply);
        quit();
        return;
      }
      send(Step::Ehlo, Phase::Ehlo, (plan_.lmtp ? "LHLO " : "EHLO ") + plan_.helo_name);
      return;

    case Step::Ehlo:
      if (klass == 2) {
        after_ehlo(reply);
        return;
      }
      // RFC 5321 §4.1.4: a server that does not know EHLO answers 500/502/504; then HELO.
      // LMTP (RFC 2033) has no HELO to fall back to.
      // HELO cannot announce STARTTLS or AUTH, so it is no fallback when either is required.
      if (!plan_.lmtp && !plan_.starttls && !plan_.auth &&
          (reply.code == 500 || reply.code == 502 || reply.code == 504)) {
        note("EHLO not supported, falling back to HELO");
        used_helo_ = true;
        send(Step::Helo, Phase::Ehlo, "HELO " + plan_.helo_name);
        return;
      }
      add(FindingKind::HeloRejected, last_command_, reply);
      quit();
      return;

    case Step::Helo:
      if (klass == 2) {
        after_ehlo(reply);
        return;
      }
      add(FindingKind::HeloRejected, last_command_, reply);
      quit();
      return;

    case Step::Starttls:
      if (reply.code == 220) {
        transition(Step::TlsHandshake, Phase::Starttls);  // the driver takes over: Want::StartTls
        return;
      }
      add(FindingKind::StarttlsRefused, last_command_, reply);
      quit();
      return;

    case Step::TlsHandshake:
      return;  // never reached: receive() parses nothing while the handshake is due

    case Step::Auth:
      if (reply.code == 235) {
        after_greeting();
        return;
      }
      if (reply.code == 334 && plan_.auth->mechanism == AuthPlan::Mechanism::Login) {
        send(Step::AuthLoginUser, Phase::Auth, plan_.auth->login_user);
        return;
      }
      add(FindingKind::AuthRejected, last_command_, reply);
      quit();
      return;

    case Step::AuthLoginUser:
      if (reply.code == 334) {
        send_secret(Step::AuthLoginPassword, Phase::Auth, plan_.auth->login_password, "********");
        return;
      }
      add(FindingKind::AuthRejected, "AUTH LOGIN", reply);
      quit();
      return;

    case Step::AuthLoginPassword:
      if (reply.code == 235) {
        after_greeting();
        return;
      }
      add(FindingKind::AuthRejected, "AUTH LOGIN", reply);
      quit();
      return;

    case Step::Mail:
      mail_reply_ = reply;
      if (klass != 2) {
        add(klass == 4 ? FindingKind::MailTempFailed : FindingKind::MailRejected, last_command_,
            reply);
        quit();
        return;
      }
      break;  // on to the recipients below

    case Step::Rcpt: {
      auto& result = recipients_[next_rcpt_ - 1];
      result.reply = reply;
      if (result.recipient.expect_reject) {
        if (klass == 4) add(FindingKind::ProbeTempFailed, last_command_, reply);
        if (klass != 4 && klass != 5) add(FindingKind::ProbeAccepted, last_command_, reply);
      } else if (klass != 2) {
        add(klass == 4 ? FindingKind::RcptTempFailed : FindingKind::RcptRejected, last_command_,
            reply);
      }
      break;  // every recipient is tried, so one run reports all of them
    }

    case Step::Data:
      data_replies_.push_back(reply);
      if (reply.code != 354) {
        add(klass == 4 ? FindingKind::DataTempFailed : FindingKind::DataRejected, last_command_,
            reply);
        quit();
        return;
      }
      // RFC 2033 §4.2: an LMTP server answers the end of data once per accepted recipient.
      // At least one reply: a server that says 354 although it accepted nobody (only
      // --reject-rcpt probes, all refused) must not leave us waiting for none.
      data_replies_due_ = 1;
      if (plan_.lmtp) {
        data_replies_due_ = 0;
        for (const auto& r : recipients_) {
          if (!r.recipient.expect_reject && r.reply && r.reply->klass() == 2) ++data_replies_due_;
        }
        data_replies_due_ = std::max<std::size_t>(data_replies_due_, 1);
      }
      transition(Step::DataEnd, Phase::Data);
      events_.push_back({Event::Kind::Sent, Phase::Data,
                         "[message: " + std::to_string(plan_.payload->size()) + " bytes]"});
      events_.push_back({Event::Kind::Sent, Phase::Data, "."});
      output_ += *plan_.payload;
      output_ += ".\r\n";
      last_command_ = "end of data";
      return;

    case Step::DataEnd:
      data_replies_.push_back(reply);
      if (klass != 2) {
        add(klass == 4 ? FindingKind::DataTempFailed : FindingKind::DataRejected, last_command_,
            reply);
      }
      if (--data_replies_due_ > 0) return;  // more LMTP replies to come
      for (const auto& f : findings_) {
        if (f.phase == Phase::Data) {
          quit();
          return;
        }
      }
      message_accepted_ = true;
      after_transaction();
      return;

    case Step::Command:
      commands_[next_command_ - 1].reply = reply;
      after_transaction();
      return;

    case Step::Quit:
      quit_reply_ = reply;
      if (reply.code != 221) add(FindingKind::QuitFailed, "QUIT", reply);
      transition(Step::Done, Phase::Done);
      return;

    case Step::Done:
      return;
  }

  // MAIL accepted or one RCPT answered: the next recipient, DATA, or what follows.
  if (next_rcpt_ < recipients_.size()) {
    const auto& address = recipients_[next_rcpt_++].recipient.address;
    send(Step::Rcpt, Phase::Rcpt, "RCPT TO:<" + address + ">");
    return;
  }
  if (!findings_.empty()) {  // any recipient not as expected: no message, no commands
    quit();
    return;
  }
  if (plan_.payload) {
    send(Step::Data, Phase::Data, "DATA");
    return;
  }
  after_transaction();
}

}  // namespace smtpverify::smtp
