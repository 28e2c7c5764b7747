// The SMTP verification dialogue as a sans-I/O state machine: bytes in (receive), bytes out
// (take_output), and want() says what the driver must do next. No sockets, no clock.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "smtp/capabilities.h"
#include "smtp/phase.h"
#include "smtp/reply.h"
#include "smtp/scrub.h"

namespace smtpverify::smtp {

/// What went wrong (or against expectation) in the dialogue; states are assigned elsewhere.
enum class FindingKind {
  BannerRejected,      ///< greeting not 220
  BannerMismatch,      ///< the -e string is not in the greeting
  ServiceClosing,      ///< 421 at any point: the server is closing the channel
  HeloRejected,        ///< EHLO (and the HELO fallback) rejected
  MailTempFailed,      ///< 4xx to MAIL FROM
  MailRejected,        ///< 5xx (or otherwise not 2xx) to MAIL FROM
  RcptTempFailed,      ///< 4xx to an --rcpt
  RcptRejected,        ///< 5xx to an --rcpt
  ProbeAccepted,       ///< a --reject-rcpt was accepted (open relay / unknown user accepted)
  ProbeTempFailed,     ///< a --reject-rcpt got 4xx: neither accepted nor rejected
  DataTempFailed,      ///< 4xx to DATA or to the end of data
  DataRejected,        ///< 5xx to DATA or to the end of data
  QuitFailed,          ///< QUIT not answered with 221
  MalformedReply,      ///< a reply that is not RFC 5321 syntax
  OverLongReply,       ///< a reply line or reply beyond the bounds
  UnsolicitedData,     ///< bytes arrived while no command was outstanding
  ConnectionClosed,    ///< the server closed before the dialogue ended
  StarttlsNotOffered,  ///< -S, but EHLO does not list STARTTLS
  StarttlsRefused,     ///< -S, but STARTTLS was not answered 220
  StarttlsInjection,   ///< bytes after the 220 to STARTTLS, before the handshake
  AuthNotOffered,      ///< -A, but the (post-TLS) EHLO does not offer the mechanism
  AuthRejected,        ///< -A, but AUTH was not answered 235
  // --plaintext-refused: what the server does before STARTTLS (RFC 3207 §4).
  PlaintextAuthOffered,   ///< the EHLO before TLS lists AUTH
  PlaintextMailAccepted,  ///< MAIL before STARTTLS not refused (2xx, or no 4xx/5xx at all)
  PlaintextMailDeferred,  ///< MAIL before STARTTLS answered 4xx: no promise either way
  PlaintextRsetFailed,    ///< the RSET after an accepted plaintext MAIL not answered 2xx
};

/// One finding with the command and reply it concerns.
struct Finding {
  FindingKind kind;
  Phase phase;
  std::string command;  ///< the command line concerned, or the -e string, or ""
  Reply reply;          ///< code 0 when there was no reply
  std::string detail;   ///< our own words (parser errors), never server text
};

/// One RCPT TO and what we expect of it.
struct Recipient {
  std::string address;         ///< without angle brackets
  bool expect_reject = false;  ///< --reject-rcpt: a 5xx is the good outcome
};

/// AUTH as the check layer prepared it. lib/smtp has no base64 (and no OpenSSL), so the
/// strings come encoded. The password (plain_response, login_password) is a secret and never
/// appears in events or findings; the LOGIN user name is no secret (-U is on the command line),
/// so the transcript shows its base64 as swaks does. A server may echo what we sent: every
/// reply is scrubbed of the password and of every encoded form we sent before it is used.
struct AuthPlan {
  enum class Mechanism { Plain, Login };
  Mechanism mechanism = Mechanism::Plain;
  std::string plain_response;  ///< PLAIN: base64("\0user\0password") (RFC 4616)
  std::string login_user;      ///< LOGIN: base64(user)
  std::string login_password;  ///< LOGIN: base64(password)
  std::string password;        ///< the raw password, for scrubbing only (never sent as is)

  /// Every secret is wiped (util::wipe) when the plan goes.
  ~AuthPlan();
};

/// Everything the dialogue needs to know, decided before connecting.
struct Plan {
  std::string helo_name;
  bool lmtp = false;  ///< LHLO instead of EHLO, one reply per RCPT after data
  std::optional<std::string> expect_banner;  ///< -e: must occur in the greeting
  std::optional<std::string> mail_from;      ///< without brackets, "" = null sender; none = no MAIL
  std::vector<Recipient> recipients;
  std::optional<std::string> payload;  ///< dot-stuffed CRLF message, without the final "."
  std::vector<std::string> commands;   ///< -C commands, sent after the transaction
  bool starttls = false;               ///< -S: STARTTLS is required before anything else
  bool tls_active = false;             ///< implicit TLS: the connection is encrypted already
  std::optional<AuthPlan> auth;        ///< -A: AUTH after EHLO (and after TLS), before MAIL
  /// --plaintext-refused (with starttls): before STARTTLS, MAIL FROM:<this> must be refused
  /// with 5xx and the EHLO must not list AUTH. Without brackets, "" = the null sender.
  std::optional<std::string> plaintext_probe;
  /// RFC 2920: when the (post-TLS) EHLO offers PIPELINING, MAIL, the RCPTs and DATA (or QUIT)
  /// go out as one group, and the message, its "." and QUIT as another. False:
  /// --no-pipelining, every command waits for the reply before it.
  bool pipelining = true;
};

/// The reply (if any) to one recipient.
struct RecipientResult {
  Recipient recipient;
  std::optional<Reply> reply;
};

/// The reply (if any) to one -C command.
struct CommandResult {
  std::string command;
  std::optional<Reply> reply;
};

/// The transcript is made from these at the edge (the driver stamps each with the time it
/// drains it); none of them ever holds a secret.
/// A phase's first command goes out (Banner: the session starts; Done: the dialogue ended).
/// In lock-step a phase runs until the next one starts. `pipelined`: the command is part of a
/// pipelined group (RFC 2920); the phase runs from the group's send to its PhaseEnded.
struct PhaseStarted {
  Phase phase;
  bool pipelined = false;
};
/// The reply that ends a pipelined phase arrived (the last reply of that phase in the group).
struct PhaseEnded {
  Phase phase;
};
/// A command line as shown: secrets masked ("AUTH PLAIN ********").
struct CommandSent {
  Phase phase;
  std::string text;
  bool secret = false;  ///< the line sent differs from `text`: a secret was masked
};
/// DATA's message body and its "." went out (phase Data).
struct PayloadSent {
  std::size_t bytes = 0;  ///< the dot-stuffed body, without the final "."
};
/// One complete reply, already scrubbed of every secret.
struct ReplyReceived {
  Phase phase;
  Reply reply;
};
/// STARTTLS was just sent: a handshake comes next if the server agrees (the driver may prepare
/// the TLS context meanwhile).
struct TlsWanted {};
/// Every step transition, by name (-vv logs it).
struct StepChanged {
  std::string_view from;
  std::string_view to;
};
/// Our own remark on the dialogue.
struct Note {
  Phase phase;
  std::string text;
};
using Event = std::variant<PhaseStarted, PhaseEnded, CommandSent, PayloadSent, ReplyReceived,
                           TlsWanted, StepChanged, Note>;

/// What the driver has to do next. StartTls: run the TLS handshake now, then call
/// tls_established() or tls_failed().
enum class Want { Write, Read, StartTls, Done };

/// The dialogue. Construct, then loop: Write → send take_output(); Read → receive(bytes) or
/// receive_eof(); Done → close the connection.
class Session {
 public:
  /// Starts in the banner phase, waiting for the greeting.
  explicit Session(Plan plan);

  [[nodiscard]] Want want() const;
  /// The bytes to send now (empties the buffer).
  std::string take_output();
  /// Bytes from the server, in any split.
  void receive(std::string_view bytes);
  /// The server closed the connection.
  void receive_eof();
  /// The TLS handshake after STARTTLS succeeded: forget everything learnt in plaintext and send
  /// EHLO again (RFC 3207 §4.2).
  void tls_established();
  /// The TLS handshake failed: the connection is unusable, nothing more is sent.
  void tls_failed();
  /// The handshake worked but the certificate was not trusted: only QUIT goes out (over TLS).
  void tls_untrusted();
  /// True once the connection is encrypted (implicit TLS, or STARTTLS done).
  [[nodiscard]] bool tls_active() const { return tls_active_; }
  /// The phase in progress (what a timeout is reported against).
  [[nodiscard]] Phase phase() const { return phase_; }
  /// What we are waiting for right now, e.g. "banner" or "reply to RCPT TO".
  [[nodiscard]] std::string waiting_for() const;
  /// Events since the last call. The events of queued output come only once take_output()
  /// took it; a command that never went out (the session aborted before take_output())
  /// leaves no event: it was not sent, and nothing is timed for it.
  std::vector<Event> take_events();

  [[nodiscard]] const std::vector<Finding>& findings() const { return findings_; }
  [[nodiscard]] const std::optional<Reply>& banner() const { return banner_; }
  [[nodiscard]] const std::optional<Reply>& greeting() const { return greeting_; }
  [[nodiscard]] bool used_helo() const { return used_helo_; }
  [[nodiscard]] const Capabilities& capabilities() const { return capabilities_; }
  [[nodiscard]] const std::optional<Reply>& mail_reply() const { return mail_reply_; }
  /// --plaintext-refused: the reply to MAIL FROM before STARTTLS.
  [[nodiscard]] const std::optional<Reply>& plaintext_reply() const { return plaintext_reply_; }
  [[nodiscard]] const std::vector<RecipientResult>& recipients() const { return recipients_; }
  [[nodiscard]] bool message_accepted() const { return message_accepted_; }
  /// True once a pipelined group went out (the server offered PIPELINING and the plan allows it).
  [[nodiscard]] bool pipelined() const { return pipelined_; }
  [[nodiscard]] const std::vector<CommandResult>& commands() const { return commands_; }

 private:
  // What reply the session is waiting for; each has one handler (on_banner, on_ehlo, ...).
  enum class Step {
    Banner,
    Ehlo,
    Helo,
    PlaintextMail,
    PlaintextRset,
    Starttls,
    TlsHandshake,
    Auth,
    AuthLoginUser,
    AuthLoginPassword,
    Mail,
    Rcpt,
    Data,
    DataEnd,
    Command,
    Quit,
    Done
  };
  static std::string_view step_name(Step step);

  // Where the session stood before the bytes in output_ were queued: abort() restores it,
  // since what is still queued was never sent.
  struct Unsent {
    std::size_t events = 0;
    Step step = Step::Banner;
    Phase phase = Phase::Banner;
    std::string last_command;
  };

  void on_reply(const Reply& reply);
  void on_banner(const Reply& reply);
  void on_ehlo(const Reply& reply);
  void on_helo(const Reply& reply);
  void on_plaintext_mail(const Reply& reply);
  void on_plaintext_rset(const Reply& reply);
  void on_starttls(const Reply& reply);
  void on_auth(const Reply& reply);
  void on_auth_login_user(const Reply& reply);
  void on_auth_login_password(const Reply& reply);
  void on_mail(const Reply& reply);
  void on_rcpt(const Reply& reply);
  void on_data(const Reply& reply);
  void on_data_end(const Reply& reply);
  void on_command(const Reply& reply);
  void on_quit(const Reply& reply);

  // A reply still due in a pipelined group, after the one the session waits for now.
  struct Due {
    Step step;
    Phase phase;
    std::string command;
  };

  void transition(Step step, Phase phase);
  void send_group();
  void group_command(Step step, Phase phase, std::string line);
  void next_in_group();
  [[nodiscard]] bool transaction_failed() const;
  void withhold_message();
  void send_message();
  void queue(std::string_view bytes);
  void send(Step step, Phase phase, std::string line);
  void send_secret(Step step, Phase phase, const std::string& line, std::string shown);
  void after_ehlo(const Reply& reply);
  void probe_plaintext();
  void start_starttls();
  void start_auth();
  void after_greeting();
  void next_recipient();
  void after_transaction();
  void quit();
  void unsend();
  void abort();
  void add(FindingKind kind, std::string command, const Reply& reply, std::string detail = {});
  void note(std::string text);

  Plan plan_;
  Scrubber scrub_;  // the secrets, masked in every reply
  ReplyParser parser_;
  Step step_ = Step::Banner;
  Phase phase_ = Phase::Banner;
  std::string output_;
  Unsent unsent_;
  std::string last_command_;
  std::vector<Event> events_;
  std::vector<Finding> findings_;

  std::optional<Reply> banner_;
  std::optional<Reply> greeting_;
  bool used_helo_ = false;
  Capabilities capabilities_;
  std::optional<Reply> mail_reply_;
  std::optional<Reply> plaintext_reply_;
  std::vector<RecipientResult> recipients_;
  std::size_t next_rcpt_ = 0;
  std::size_t rcpt_answered_ = 0;
  // The pipelined group (RFC 2920): whether the reply waited for now belongs to one, and the
  // replies due after it, in the order the commands went out.
  bool in_group_ = false;
  std::vector<Due> due_;
  std::size_t next_due_ = 0;
  bool pipelined_ = false;
  std::size_t data_replies_due_ = 0;
  bool message_accepted_ = false;
  std::vector<CommandResult> commands_;
  std::size_t next_command_ = 0;
  bool tls_active_ = false;
};

}  // namespace smtpverify::smtp
