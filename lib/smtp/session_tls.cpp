// The Session's steps around TLS: the --plaintext-refused probe before STARTTLS (RFC 3207 §4),
// STARTTLS itself and what the driver reports of the handshake (RFC 3207 §4.2). session.cpp has
// the rest of the dialogue.
#include "smtp/session.h"

namespace smtpverify::smtp {

// --plaintext-refused, after the EHLO before TLS: AUTH must not be offered there (RFC 3207 §4,
// RFC 4954 §4: a password in plaintext), and MAIL must be refused. The probe runs whether or
// not STARTTLS is offered: both findings are true on their own.
void Session::probe_plaintext() {
  // "AUTH=PLAIN LOGIN" is the pre-RFC 2554 spelling some servers add for old clients.
  if (capabilities_.has("AUTH")) {
    add(FindingKind::PlaintextAuthOffered, {}, {}, capabilities_.params("AUTH"));
  } else if (const auto old = capabilities_.keyword_starting("AUTH=")) {
    add(FindingKind::PlaintextAuthOffered, {}, {}, old->substr(5));
  }
  send(Step::PlaintextMail, Phase::Plaintext, "MAIL FROM:<" + *plan_.plaintext_probe + ">");
}

void Session::start_starttls() {
  if (!capabilities_.has("STARTTLS")) {
    add(FindingKind::StarttlsNotOffered, "STARTTLS", {});
    quit();
    return;
  }
  send(Step::Starttls, Phase::Starttls, "STARTTLS");
  events_.emplace_back(TlsWanted{});
}

// --plaintext-refused. RFC 3207 §4: a server that requires TLS answers every command but
// NOOP, EHLO, STARTTLS and QUIT before it with "530 5.7.0 Must issue a STARTTLS command
// first". Any 5xx keeps that promise; a 4xx promises nothing (a temporary refusal may be
// greylisting or a rate limit); anything else let a transaction start in plaintext, which RSET
// ends before STARTTLS (Postfix, for one, refuses STARTTLS inside a transaction).
void Session::on_plaintext_mail(const Reply& reply) {
  plaintext_reply_ = reply;
  const int klass = reply.klass();
  if (klass == 5) {
    note("MAIL refused before TLS, as required");
    start_starttls();
    return;
  }
  if (klass == 4) {
    add(FindingKind::PlaintextMailDeferred, last_command_, reply);
    start_starttls();
    return;
  }
  add(FindingKind::PlaintextMailAccepted, last_command_, reply);
  send(Step::PlaintextRset, Phase::Plaintext, "RSET");
}

void Session::on_plaintext_rset(const Reply& reply) {
  if (reply.klass() == 2) {
    start_starttls();
    return;
  }
  // A transaction may still be open: STARTTLS now would be refused or, worse, carry it over.
  add(FindingKind::PlaintextRsetFailed, last_command_, reply);
  quit();
}

void Session::on_starttls(const Reply& reply) {
  if (reply.code == 220) {
    transition(Step::TlsHandshake, Phase::Starttls);  // the driver takes over: Want::StartTls
    return;
  }
  add(FindingKind::StarttlsRefused, last_command_, reply);
  quit();
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

}  // namespace smtpverify::smtp
