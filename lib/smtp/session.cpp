#include "smtp/session.h"

#include <algorithm>
#include <array>
#include <iterator>
#include <utility>

#include "util/ascii.h"
#include "util/wipe.h"

namespace smtpverify::smtp {

namespace {

// What a server echoing our AUTH could quote: the password and every encoded form we send.
Scrubber scrubber_for(const std::optional<AuthPlan>& auth) {
  if (!auth) return {};
  return Scrubber({auth->password, auth->plain_response, auth->login_user, auth->login_password});
}

// Every step in Step order: its name (StepChanged) and what the session waits for in it.
struct StepInfo {
  std::string_view name;
  std::string_view waiting_for;
};
constexpr std::array<StepInfo, 17> kSteps = {{
    {"banner", "banner"},
    {"ehlo", "reply to EHLO"},
    {"helo", "reply to HELO"},
    {"plaintext-mail", "reply to MAIL FROM before STARTTLS"},
    {"plaintext-rset", "reply to RSET before STARTTLS"},
    {"starttls", "reply to STARTTLS"},
    {"tls-handshake", "TLS handshake"},
    {"auth", "reply to AUTH"},
    {"auth-login-user", "reply to AUTH"},
    {"auth-login-password", "reply to AUTH"},
    {"mail", "reply to MAIL FROM"},
    {"rcpt", "reply to RCPT TO"},
    {"data", "reply to DATA"},
    {"data-end", "reply to end of data"},
    {"command", "reply to -C command"},
    {"quit", "reply to QUIT"},
    {"done", "nothing"},
}};

}  // namespace

AuthPlan::~AuthPlan() {
  for (auto* s : {&plain_response, &login_user, &login_password, &password}) util::wipe(*s);
}

Session::Session(Plan plan)
    : plan_(std::move(plan)), scrub_(scrubber_for(plan_.auth)), tls_active_(plan_.tls_active) {
  for (const auto& rcpt : plan_.recipients) recipients_.push_back({rcpt, std::nullopt});
  for (const auto& command : plan_.commands) commands_.push_back({command, std::nullopt});
  events_.emplace_back(PhaseStarted{Phase::Banner});
}

Want Session::want() const {
  if (!output_.empty()) return Want::Write;
  if (step_ == Step::TlsHandshake) return Want::StartTls;
  return step_ == Step::Done ? Want::Done : Want::Read;
}

std::string Session::take_output() { return std::exchange(output_, {}); }

std::vector<Event> Session::take_events() {
  if (output_.empty()) return std::exchange(events_, {});
  // The events of what is still queued are held back until take_output(): abort() may yet
  // take that back, and then it was never sent.
  const auto held = events_.begin() + static_cast<std::ptrdiff_t>(unsent_.events);
  std::vector<Event> out(std::make_move_iterator(events_.begin()), std::make_move_iterator(held));
  events_.erase(events_.begin(), held);
  unsent_.events = 0;
  return out;
}

std::string_view Session::step_name(Step step) {
  return kSteps.at(static_cast<std::size_t>(step)).name;
}

std::string Session::waiting_for() const {
  if (step_ == Step::Ehlo && plan_.lmtp) return "reply to LHLO";
  return std::string(kSteps.at(static_cast<std::size_t>(step_)).waiting_for);
}

// The one place the dialogue state changes; step and phase changes become events.
void Session::transition(Step step, Phase phase) {
  if (step != step_) events_.emplace_back(StepChanged{step_name(step_), step_name(step)});
  step_ = step;
  if (phase != phase_) {
    phase_ = phase;
    events_.emplace_back(PhaseStarted{phase});
  }
}

// Remembers where the session stood before the first queued bytes (see abort()).
void Session::queue(std::string_view bytes) {
  if (output_.empty()) unsent_ = {events_.size(), step_, phase_, last_command_};
  output_ += bytes;
}

void Session::send(Step step, Phase phase, std::string line) {
  queue(line + "\r\n");
  transition(step, phase);
  events_.emplace_back(CommandSent{phase, line});
  last_command_ = std::move(line);
}

// The line goes out; events and findings only ever see `shown` (the secret masked).
void Session::send_secret(Step step, Phase phase, const std::string& line, std::string shown) {
  queue(line + "\r\n");
  transition(step, phase);
  events_.emplace_back(CommandSent{phase, shown, true});
  last_command_ = std::move(shown);
}

void Session::note(std::string text) { events_.emplace_back(Note{phase_, std::move(text)}); }

void Session::add(FindingKind kind, std::string command, const Reply& reply, std::string detail) {
  findings_.push_back({kind, phase_, std::move(command), reply, std::move(detail)});
}

void Session::quit() { send(Step::Quit, Phase::Quit, "QUIT"); }

// What is still queued was never sent: back to where the session stood before it, and no
// event (no PhaseStarted, no CommandSent, nothing timed) for it.
void Session::unsend() {
  if (output_.empty()) return;
  output_.clear();
  in_group_ = false;  // a group still queued never went out; one sent was answered before
  due_.clear();
  next_due_ = 0;
  events_.erase(events_.begin() + static_cast<std::ptrdiff_t>(unsent_.events), events_.end());
  step_ = unsent_.step;
  phase_ = unsent_.phase;
  last_command_ = std::move(unsent_.last_command);
}

// The connection is no longer usable (server closing, desynchronised): close without QUIT.
void Session::abort() {
  unsend();
  in_group_ = false;  // the replies still due will never be read
  due_.clear();
  next_due_ = 0;
  transition(Step::Done, Phase::Done);
}

void Session::receive(std::string_view bytes) {
  // A reply is only expected once our command has gone out (output_ empty); in a pipelined
  // group every reply still due is expected, in order, and each is handled by its own step.
  // The command whose reply came last ("" = greeting); with a command still queued, the one
  // before it.
  std::string answered = output_.empty() ? last_command_ : unsent_.last_command;
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
    scrub_(reply);  // before the reply is stored or shown anywhere
    events_.emplace_back(ReplyReceived{phase_, reply});
    on_reply(reply);
  }
  // Bytes beyond the replies we asked for (all of a pipelined group's, RFC 2920 §3.1) arrived
  // before our next command went out: the server is not in step with us, or is injecting
  // replies. (After QUIT or an abort nothing matters.)
  if (!bytes.empty() && step_ == Step::TlsHandshake) {
    // RFC 3207 §4.2 and the STARTTLS command-injection class of bugs: bytes buffered after
    // the 220 would be taken as if they had come through TLS. Refuse the handshake.
    add(FindingKind::StarttlsInjection, "STARTTLS", {});
    abort();
    return;
  }
  if (!bytes.empty() && step_ != Step::Done) {
    unsend();  // the command queued in answer was never sent: the finding is the reply's
    // What arrived, when it is one whole reply, may say why (a 500 to a PROXY header).
    Reply extra;
    ReplyParser parser;
    if (std::string_view rest = bytes; parser.feed(rest) == ReplyParser::Status::Complete) {
      extra = parser.take();
      scrub_(extra);
    }
    add(FindingKind::UnsolicitedData, answered, extra);
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

void Session::on_reply(const Reply& reply) {
  // RFC 5321 §3.8: 421 may be sent in reply to any command; the server is closing.
  if (reply.code == 421 && step_ != Step::Quit) {
    if (step_ == Step::Banner) banner_ = reply;
    add(FindingKind::ServiceClosing, last_command_, reply);
    abort();
    return;
  }
  switch (step_) {
    case Step::Banner:
      return on_banner(reply);
    case Step::Ehlo:
      return on_ehlo(reply);
    case Step::Helo:
      return on_helo(reply);
    case Step::PlaintextMail:
      return on_plaintext_mail(reply);
    case Step::PlaintextRset:
      return on_plaintext_rset(reply);
    case Step::Starttls:
      return on_starttls(reply);
    case Step::Auth:
      return on_auth(reply);
    case Step::AuthLoginUser:
      return on_auth_login_user(reply);
    case Step::AuthLoginPassword:
      return on_auth_login_password(reply);
    case Step::Mail:
      return on_mail(reply);
    case Step::Rcpt:
      return on_rcpt(reply);
    case Step::Data:
      return on_data(reply);
    case Step::DataEnd:
      return on_data_end(reply);
    case Step::Command:
      return on_command(reply);
    case Step::Quit:
      return on_quit(reply);
    case Step::TlsHandshake:  // never reached: receive() parses nothing while it is due
    case Step::Done:
      return;
  }
}

void Session::on_banner(const Reply& reply) {
  banner_ = reply;
  // RFC 5321 §4.2: 220 is the only greeting that invites EHLO; 554 asks for QUIT.
  if (reply.code != 220) {
    add(FindingKind::BannerRejected, {}, reply);
    quit();
    return;
  }
  if (plan_.expect_banner && reply.full_text().find(*plan_.expect_banner) == std::string::npos) {
    add(FindingKind::BannerMismatch, *plan_.expect_banner, reply);
    quit();
    return;
  }
  send(Step::Ehlo, Phase::Ehlo, (plan_.lmtp ? "LHLO " : "EHLO ") + plan_.helo_name);
}

void Session::on_ehlo(const Reply& reply) {
  if (reply.klass() == 2) {
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
}

void Session::on_helo(const Reply& reply) {
  if (reply.klass() == 2) {
    after_ehlo(reply);
    return;
  }
  add(FindingKind::HeloRejected, last_command_, reply);
  quit();
}

void Session::on_auth(const Reply& reply) {
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
}

void Session::on_auth_login_user(const Reply& reply) {
  if (reply.code == 334) {
    send_secret(Step::AuthLoginPassword, Phase::Auth, plan_.auth->login_password,
                std::string(kMask));
    return;
  }
  add(FindingKind::AuthRejected, "AUTH LOGIN", reply);
  quit();
}

void Session::on_auth_login_password(const Reply& reply) {
  if (reply.code == 235) {
    after_greeting();
    return;
  }
  add(FindingKind::AuthRejected, "AUTH LOGIN", reply);
  quit();
}

void Session::on_mail(const Reply& reply) {
  mail_reply_ = reply;
  if (reply.klass() != 2) {
    add(reply.klass() == 4 ? FindingKind::MailTempFailed : FindingKind::MailRejected, last_command_,
        reply);
  }
  if (in_group_) {
    next_in_group();
    if (in_group_) return;  // the replies to the RCPTs and DATA (or QUIT) sent with it are due
    // The group was MAIL alone (no --rcpt, no message: -C commands follow, in lock-step).
  }
  if (reply.klass() != 2) {
    quit();
    return;
  }
  next_recipient();
}

void Session::on_rcpt(const Reply& reply) {
  const int klass = reply.klass();
  auto& result = recipients_[rcpt_answered_++];
  // In a group after a refused MAIL, the server refuses every RCPT (503: no transaction): a
  // consequence of the MAIL finding, not a recipient's outcome.
  const bool consequence = in_group_ && mail_reply_ && mail_reply_->klass() != 2;
  if (!consequence) {
    result.reply = reply;
    if (result.recipient.expect_reject) {
      if (klass == 4) add(FindingKind::ProbeTempFailed, last_command_, reply);
      if (klass != 4 && klass != 5) add(FindingKind::ProbeAccepted, last_command_, reply);
    } else if (klass != 2) {
      add(klass == 4 ? FindingKind::RcptTempFailed : FindingKind::RcptRejected, last_command_,
          reply);
    }
  }
  if (in_group_) {
    next_in_group();
    if (in_group_) return;
    // The group ended with this RCPT (-C commands follow, in lock-step).
    if (transaction_failed()) {
      quit();
      return;
    }
  }
  next_recipient();  // every recipient is tried, so one run reports all of them
}

void Session::on_data(const Reply& reply) {
  if (in_group_) {
    next_in_group();  // DATA is the group's last command
    if (transaction_failed()) {
      if (reply.code == 354) {
        withhold_message();
        return;
      }
      quit();  // DATA refused for want of a transaction or a recipient: no finding of its own
      return;
    }
  }
  if (reply.code != 354) {
    add(reply.klass() == 4 ? FindingKind::DataTempFailed : FindingKind::DataRejected, last_command_,
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
  send_message();
}

// After DATA's 354: the message and its "."; pipelined with QUIT when no -C command follows
// (RFC 2920 §3.1: the message may start a group).
void Session::send_message() {
  const bool group = pipelined_ && commands_.empty();
  queue(*plan_.payload + ".\r\n");
  // After a pipelined DATA the data phase ended with the 354; it starts again with the message.
  if (pipelined_) events_.emplace_back(PhaseStarted{Phase::Data, group});
  transition(Step::DataEnd, Phase::Data);
  events_.emplace_back(PayloadSent{plan_.payload->size()});
  last_command_ = "end of data";
  if (group) {
    in_group_ = true;
    due_.clear();
    next_due_ = 0;
    group_command(Step::Quit, Phase::Quit, "QUIT");
  }
}

// RCPT results forbid the message (a --rcpt refused, a --reject-rcpt accepted) but DATA, sent
// with them, was answered 354. No message: closing now, without the final ".", makes the
// server discard the transaction (RFC 5321 §3.8: a connection closed early is treated as RSET;
// a QUIT would be taken as a line of the message).
void Session::withhold_message() {
  static constexpr std::string_view kWithheld =
      "message not sent: connection closed after DATA's 354, the server discards the transaction";
  for (auto& f : findings_) {
    if (f.phase == Phase::Mail || f.phase == Phase::Rcpt) f.detail = kWithheld;
  }
  note(std::string(kWithheld));
  abort();
}

// The transaction cannot carry the message: MAIL refused, or a recipient not as expected.
bool Session::transaction_failed() const {
  if (mail_reply_ && mail_reply_->klass() != 2) return true;
  return std::any_of(findings_.begin(), findings_.end(),
                     [](const Finding& f) { return f.phase == Phase::Rcpt; });
}

void Session::on_data_end(const Reply& reply) {
  if (reply.klass() != 2) {
    add(reply.klass() == 4 ? FindingKind::DataTempFailed : FindingKind::DataRejected, last_command_,
        reply);
  }
  if (--data_replies_due_ > 0) return;  // more LMTP replies to come
  const bool failed = std::any_of(findings_.begin(), findings_.end(),
                                  [](const Finding& f) { return f.phase == Phase::Data; });
  message_accepted_ = !failed;
  if (in_group_) {
    next_in_group();  // QUIT went out with the message
    return;
  }
  if (failed) {
    quit();
    return;
  }
  after_transaction();
}

void Session::on_command(const Reply& reply) {
  commands_[next_command_ - 1].reply = reply;
  after_transaction();
}

void Session::on_quit(const Reply& reply) {
  if (reply.code != 221) add(FindingKind::QuitFailed, "QUIT", reply);
  if (in_group_) next_in_group();  // QUIT ends its group
  transition(Step::Done, Phase::Done);
}

// After a successful EHLO/LHLO (or HELO): STARTTLS first if required, then AUTH, then MAIL.
void Session::after_ehlo(const Reply& reply) {
  greeting_ = reply;
  capabilities_ = Capabilities::from_ehlo(reply);
  if (plan_.starttls && !tls_active_) {
    if (plan_.plaintext_probe) {
      probe_plaintext();
    } else {
      start_starttls();
    }
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
                "AUTH PLAIN " + std::string(kMask));
  } else {
    send(Step::Auth, Phase::Auth, "AUTH LOGIN");
  }
}

void Session::after_greeting() {
  // RFC 2920: only what the (post-TLS) EHLO offered; HELO offers nothing.
  if (plan_.mail_from && plan_.pipelining && !used_helo_ && capabilities_.has("PIPELINING")) {
    send_group();
    return;
  }
  if (plan_.mail_from) {
    send(Step::Mail, Phase::Mail, "MAIL FROM:<" + *plan_.mail_from + ">");
  } else {
    after_transaction();
  }
}

// MAIL accepted or one RCPT answered: the next recipient, DATA, or what follows.
void Session::next_recipient() {
  if (next_rcpt_ < recipients_.size()) {
    const auto& address = recipients_[next_rcpt_++].recipient.address;
    send(Step::Rcpt, Phase::Rcpt, "RCPT TO:<" + address + ">");
    return;
  }
  // Any recipient not as expected: no message, no commands. (Findings of other phases that
  // let the dialogue go on, those of --plaintext-refused, do not stop the transaction.)
  if (std::any_of(findings_.begin(), findings_.end(),
                  [](const Finding& f) { return f.phase == Phase::Rcpt; })) {
    quit();
    return;
  }
  if (plan_.payload) {
    send(Step::Data, Phase::Data, "DATA");
    return;
  }
  after_transaction();
}

// RFC 2920 §3.1: MAIL, every RCPT and DATA (or QUIT, the group's last command) in one write.
// EHLO, STARTTLS and AUTH are never in a group: what follows them depends on their reply.
void Session::send_group() {
  pipelined_ = true;
  in_group_ = true;
  due_.clear();
  next_due_ = 0;
  group_command(Step::Mail, Phase::Mail, "MAIL FROM:<" + *plan_.mail_from + ">");
  while (next_rcpt_ < recipients_.size()) {
    group_command(Step::Rcpt, Phase::Rcpt,
                  "RCPT TO:<" + recipients_[next_rcpt_++].recipient.address + ">");
  }
  if (plan_.payload) {
    group_command(Step::Data, Phase::Data, "DATA");
  } else if (commands_.empty()) {
    group_command(Step::Quit, Phase::Quit, "QUIT");
  }
}

// One command of a group. The first (or the message before it) sets what the session waits
// for; the others' replies are due after it, in order. Each phase starts once, as pipelined:
// it is timed from the group's send to its PhaseEnded.
void Session::group_command(Step step, Phase phase, std::string line) {
  const bool first = output_.empty();
  const Phase previous = first ? Phase::Done : due_.empty() ? phase_ : due_.back().phase;
  queue(line + "\r\n");
  if (phase != previous) events_.emplace_back(PhaseStarted{phase, true});
  events_.emplace_back(CommandSent{phase, line});
  if (!first) {
    due_.push_back({step, phase, std::move(line)});
    return;
  }
  if (step != step_) events_.emplace_back(StepChanged{step_name(step_), step_name(step)});
  step_ = step;
  phase_ = phase;
  last_command_ = std::move(line);
}

// The reply just handled completed its command: wait for the next reply due in the group, or
// the group is over. A phase ends with its last reply of the group.
void Session::next_in_group() {
  if (next_due_ == due_.size()) {
    in_group_ = false;
    due_.clear();
    next_due_ = 0;
    events_.emplace_back(PhaseEnded{phase_});
    return;
  }
  Due& next = due_[next_due_++];
  if (next.phase != phase_) events_.emplace_back(PhaseEnded{phase_});
  if (next.step != step_) events_.emplace_back(StepChanged{step_name(step_), step_name(next.step)});
  step_ = next.step;
  phase_ = next.phase;
  last_command_ = std::move(next.command);
}

void Session::after_transaction() {
  if (next_command_ < commands_.size()) {
    send(Step::Command, Phase::Commands, commands_[next_command_++].command);
  } else {
    quit();
  }
}

}  // namespace smtpverify::smtp
