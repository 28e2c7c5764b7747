// The OpenSSL plumbing under tls_openssl.cpp: initialisation, error reasons, certificate
// facts, SIGPIPE, and the TLS channel over a socket. Internal to lib/net (the TLS module and
// smtpverify_tls).
#pragma once

#include <openssl/ssl.h>
#include <signal.h>

#include <memory>
#include <string>
#include <tl/expected.hpp>

#include "net/sigpipe.h"
#include "net/stream.h"
#include "net/tls.h"

namespace smtpverify::net::openssl {

using net::SigpipeGuard;  // net/sigpipe.h

struct CtxFree {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
};
struct SslFree {
  void operator()(SSL* p) const { SSL_free(p); }
};
using CtxPtr = std::unique_ptr<SSL_CTX, CtxFree>;
using SslPtr = std::unique_ptr<SSL, SslFree>;

/// Initialises OpenSSL our way (once), before any other OpenSSL call.
void init_openssl();

/// The reason of the newest OpenSSL error, in OpenSSL's words ("wrong version number"), or
/// `fallback`; clears OpenSSL's error queue.
std::string openssl_reason(const char* fallback);

/// An OpenSSL set-up call refused what we asked for: a fault of ours or of OpenSSL, never the
/// server's, and never a reason to go on without it. Setup, "internal error: WHAT: reason".
TlsFailure setup_failure(const std::string& what);

/// Subject, issuer and expiry of one certificate.
CertFacts facts_of(X509* cert);

/// After an OpenSSL I/O call returned `rc`: waits for what OpenSSL asked for (then the call is
/// to be repeated), or says why the stream is done (Eof, Timeout, or Error with `broken` as
/// errno when OpenSSL gave up).
tl::expected<void, IoError> wait_ssl(SSL* ssl, int fd, int rc, const Deadline& deadline,
                                     int broken);

/// The TLS channel over the socket it owns, once the handshake is done.
std::unique_ptr<Stream> openssl_stream(SslPtr ssl, Fd fd);

}  // namespace smtpverify::net::openssl
