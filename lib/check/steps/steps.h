// The steps of one check, in the order run_check() runs them. Each is a free function in the
// file named after it; each reads and extends the Context and reports only through its
// Recorder. A step that returns Next::Stop ends the list; the finishing steps always run.
#pragma once

#include <string>

#include "check/steps/context.h"
#include "smtp/session.h"

namespace smtpverify::check {

/// TLS and AUTH need the OpenSSL module; loaded before anything is sent (tls.cpp).
Next load_tls_module(Context& ctx);
/// Decides the HELO name and starts its lookup, to run beside the dialogue (helo_name.cpp).
Next start_helo_lookup(Context& ctx);
/// The host's addresses, or the literal itself (resolve.cpp).
Next resolve(Context& ctx);
/// --dane: the TLSA records, before anything is sent (tlsa.cpp).
Next find_tlsa(Context& ctx);
/// TCP to the first address that answers, then the PROXY header (connect.cpp).
Next connect(Context& ctx);
/// The SMTP dialogue: the Session and the stream in a loop, implicit TLS first (converse.cpp).
Next converse(Context& ctx);

/// How a TLS handshake ended (tls.cpp).
enum class TlsOutcome {
  Established,  ///< encrypted and trusted: go on
  Untrusted,    ///< encrypted, but the certificate failed verification: QUIT only
  Failed,       ///< no usable connection
};
/// Hands the TCP socket to TLS; `how` names it in the transcript ("TLS", "STARTTLS").
TlsOutcome start_tls(Context& ctx, const std::string& how);
/// Builds the TLS context ahead of the handshake (while the server answers STARTTLS).
void prepare_tls(const Context& ctx);

/// The facts an OK line lists, and the -R verdicts, from the finished dialogue (summary.cpp).
void summarize_dialogue(Context& ctx, const smtp::Session& session);
/// -D: days left of the soonest-expiring certificate presented (summary.cpp).
void certificate_days(Context& ctx);
/// The HELO name's addresses must include ours (helo_name.cpp).
void check_helo_name(Context& ctx);

}  // namespace smtpverify::check
