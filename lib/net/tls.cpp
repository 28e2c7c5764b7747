#include "net/tls.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <ctime>

namespace smtpverify::net {

namespace {

// OpenSSL's socket BIO writes with write(), not send(MSG_NOSIGNAL): to a peer that has gone,
// that raises SIGPIPE, which would kill the plugin. Around each OpenSSL call that may write,
// block SIGPIPE for this thread only, swallow one raised meanwhile, and restore the mask;
// nothing process-wide changes.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeGuard() {
    if (!was_pending_) {
      const timespec zero{};
      while (sigtimedwait(&pipe_, nullptr, &zero) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_{};
  sigset_t old_{};
  bool was_pending_ = false;
};

struct CtxFree {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
};
struct SslFree {
  void operator()(SSL* p) const { SSL_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
using CtxPtr = std::unique_ptr<SSL_CTX, CtxFree>;
using SslPtr = std::unique_ptr<SSL, SslFree>;

// The reason of the newest OpenSSL error, in OpenSSL's words ("wrong version number").
std::string openssl_reason(const char* fallback) {
  unsigned long last = 0;
  while (const unsigned long e = ERR_get_error()) last = e;
  if (last == 0) return fallback;
  const char* reason = ERR_reason_error_string(last);
  return reason != nullptr ? reason : fallback;
}

std::string name_of(const X509_NAME* name) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return "?";
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return len > 0 ? std::string(data, static_cast<std::size_t>(len)) : std::string();
}

CertFacts facts_of(X509* cert) {
  CertFacts f;
  f.subject = name_of(X509_get_subject_name(cert));
  f.issuer = name_of(X509_get_issuer_name(cert));
  const ASN1_TIME* not_after = X509_get0_notAfter(cert);
  std::tm tm{};
  if (ASN1_TIME_to_tm(not_after, &tm) == 1) {
    std::array<char, 32> buf{};
    std::strftime(buf.data(), buf.size(), "%Y-%m-%d %H:%M:%S UTC", &tm);
    f.not_after = buf.data();
  }
  int days = 0;
  int secs = 0;
  if (ASN1_TIME_diff(&days, &secs, nullptr, not_after) == 1) {
    // Whole days, rounded down: 0.5 days left is 0, half a day past is -1.
    f.days_left = days;
    if (secs < 0) f.days_left = days - 1;  // ASN1_TIME_diff gives both with one sign
  }
  return f;
}

// One context per check: no openssl.cnf (it is not ours to load, and costs time), our own
// protocol floor, and trust anchors looked up lazily by subject hash from a directory rather
// than parsed from the whole bundle on every run.
CtxPtr make_context(const TlsOptions& options, TlsFailure& failure) {
  OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr);
  CtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) {
    failure = {TlsFailure::Kind::Setup, openssl_reason("cannot create a TLS context")};
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(
      ctx.get(), options.min_version == TlsVersion::Tls13 ? TLS1_3_VERSION : TLS1_2_VERSION);
  SSL_CTX_set_security_level(ctx.get(), 2);  // Debian's default, which we do not load
  // A one-shot client never resumes: asking for no tickets also spares a round of server
  // writes that Nagle and delayed ACK turn into a 40 ms stall.
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // We read the verification result after the handshake, so a failure can be reported in
  // words with the certificate facts, and QUIT can still be sent.
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  if (!options.dane.empty()) {
    // RFC 7672 §3.1: with DANE the TLSA records are the trust anchors; no CA store is loaded,
    // so a chain that only a public CA vouches for can never pass.
    if (SSL_CTX_dane_enable(ctx.get()) <= 0) {
      failure = {TlsFailure::Kind::Setup, "cannot enable DANE: " + openssl_reason("no digests")};
      return nullptr;
    }
  } else if (options.verify) {
    bool ok = true;
    if (options.ca_file)
      ok = ok && SSL_CTX_load_verify_file(ctx.get(), options.ca_file->c_str()) == 1;
    if (options.ca_path)
      ok = ok && SSL_CTX_load_verify_dir(ctx.get(), options.ca_path->c_str()) == 1;
    if (!options.ca_file && !options.ca_path) ok = SSL_CTX_set_default_verify_dir(ctx.get()) == 1;
    if (!ok) {
      failure = {TlsFailure::Kind::Setup,
                 "cannot load the trust anchors: " + openssl_reason("unreadable CA file or path")};
      return nullptr;
    }
  }
  return ctx;
}

// TLSA certificate usages (RFC 7218).
constexpr std::uint8_t kUsageDaneTa = 2;
constexpr std::uint8_t kUsageDaneEe = 3;

// Turns DANE on for this connection: the base domain as reference name, the usable records.
// Returns the number of records OpenSSL took, or -1 with `failure` set.
int enable_dane(SSL* ssl, const TlsOptions& options, TlsFailure& failure) {
  std::string base =
      options.dane_base_domain.empty() ? options.verify_name : options.dane_base_domain;
  if (!base.empty() && base.back() == '.') base.pop_back();
  if (base.empty()) {
    failure = {TlsFailure::Kind::Setup, "DANE needs the TLSA base domain (a host name)"};
    return -1;
  }
  // The base domain becomes the reference identifier for DANE-TA (RFC 7672) and the SNI
  // when none was set, as RFC 7672 asks.
  if (SSL_dane_enable(ssl, base.c_str()) <= 0) {
    failure = {TlsFailure::Kind::Setup,
               "cannot enable DANE for '" + base + "': " + openssl_reason("bad TLSA base domain")};
    return -1;
  }
  // RFC 7672 §3.1.1 (RFC 7671 §5.1): DANE-EE binds the server's key; its names, issuer and
  // dates do not matter. DANE-TA keeps the name checks, wildcards only as a whole left-most
  // label (RFC 7672 §3.2.3).
  SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (!options.verify_name.empty() && options.verify_name != base) {
    SSL_add1_host(ssl, options.verify_name.c_str());
  }
  int usable = 0;
  for (const DaneRecord& r : options.dane) {
    // RFC 7672 §3.1.3: PKIX-TA(0) and PKIX-EE(1) are unusable for SMTP, where no CA is agreed.
    if (r.usage != kUsageDaneTa && r.usage != kUsageDaneEe) continue;
    // 0: parameters OpenSSL does not support; < 0: e.g. a digest of the wrong length. Either
    // way the record is unusable (RFC 7671), not fatal.
    if (SSL_dane_tlsa_add(ssl, r.usage, r.selector, r.mtype,
                          reinterpret_cast<const unsigned char*>(r.data.data()),
                          r.data.size()) > 0) {
      ++usable;
    }
  }
  ERR_clear_error();
  return usable;
}

// The DANE verdict, read after the handshake like the PKIX one.
void check_dane(SSL* ssl, int usable, TlsFacts& facts, TlsFailure& failure) {
  if (facts.chain.empty()) {
    failure = {TlsFailure::Kind::Verify, "no certificate presented"};
    return;
  }
  if (usable == 0) {
    // OpenSSL would fall back to the (empty) CA store; say what is really wrong.
    failure = {TlsFailure::Kind::Verify, "DANE: no usable TLSA records"};
    return;
  }
  const long result = SSL_get_verify_result(ssl);
  std::uint8_t usage = 0;
  std::uint8_t selector = 0;
  std::uint8_t mtype = 0;
  const int depth = SSL_get0_dane_tlsa(ssl, &usage, &selector, &mtype, nullptr, nullptr);
  if (result == X509_V_ERR_DANE_NO_MATCH || (result == X509_V_OK && depth < 0)) {
    failure = {TlsFailure::Kind::Verify, "DANE: no TLSA record matched"};
    return;
  }
  if (result != X509_V_OK) {
    // E.g. a DANE-TA match with the wrong name or an expired leaf.
    failure = {TlsFailure::Kind::Verify,
               std::string("DANE: ") + X509_verify_cert_error_string(result),
               result == X509_V_ERR_CERT_HAS_EXPIRED};
    return;
  }
  facts.dane_match =
      std::to_string(usage) + " " + std::to_string(selector) + " " + std::to_string(mtype);
  facts.dane_depth = depth;
  facts.verified = true;
}

}  // namespace

struct TlsStream::Impl {
  CtxPtr ctx;
  SslPtr ssl;
  Fd fd;
};

TlsStream::TlsStream(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

TlsStream::~TlsStream() {
  // Best effort close_notify, never blocking: the kernel closes the socket anyway.
  if (impl_ && impl_->ssl) {
    const SigpipeGuard guard;
    SSL_shutdown(impl_->ssl.get());
  }
}

namespace {

// Waits for what OpenSSL asked for. Returns false on timeout or error.
IoResult::Status wait_ssl(SSL* ssl, int fd, int rc, const Deadline& deadline, bool& retry) {
  retry = false;
  const int err = SSL_get_error(ssl, rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
    const int ready = wait_for(fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
    if (ready == 0) return IoResult::Status::Timeout;
    if (ready < 0) return IoResult::Status::Error;
    retry = true;
    return IoResult::Status::Ok;
  }
  if (err == SSL_ERROR_ZERO_RETURN) return IoResult::Status::Eof;
  return IoResult::Status::Error;
}

}  // namespace

std::unique_ptr<TlsStream> TlsStream::handshake(Fd fd, const TlsOptions& options,
                                                const Deadline& deadline, TlsFacts& facts,
                                                TlsFailure& failure) {
  failure = {};
  facts = {};
  ERR_clear_error();
  auto impl = std::make_unique<Impl>();
  impl->ctx = make_context(options, failure);
  if (!impl->ctx) return nullptr;
  impl->ssl.reset(SSL_new(impl->ctx.get()));
  impl->fd = std::move(fd);
  SSL* ssl = impl->ssl.get();
  if (ssl == nullptr || SSL_set_fd(ssl, impl->fd.get()) != 1) {
    failure = {TlsFailure::Kind::Setup, openssl_reason("cannot set up TLS")};
    return nullptr;
  }
  if (!options.sni.empty()) SSL_set_tlsext_host_name(ssl, options.sni.c_str());
  int usable_tlsa = 0;
  if (!options.dane.empty()) {
    usable_tlsa = enable_dane(ssl, options, failure);
    if (usable_tlsa < 0) return nullptr;
  } else if (options.verify) {
    // The name (or address) is checked by OpenSSL as part of chain verification.
    if (!options.verify_name.empty()) {
      SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      SSL_set1_host(ssl, options.verify_name.c_str());
    } else if (!options.verify_ip.empty()) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), options.verify_ip.c_str());
    }
  }
  for (;;) {
    int rc = 0;
    {
      const SigpipeGuard guard;
      rc = SSL_connect(ssl);
    }
    if (rc == 1) break;
    bool retry = false;
    const auto status = wait_ssl(ssl, impl->fd.get(), rc, deadline, retry);
    if (retry) continue;
    if (status == IoResult::Status::Timeout) {
      failure = {TlsFailure::Kind::Timeout, "timeout"};
    } else {
      failure = {TlsFailure::Kind::Handshake, openssl_reason("connection closed")};
    }
    return nullptr;
  }
  facts.version = SSL_get_version(ssl);
  facts.cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(ssl));
  if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl)) {
    for (int i = 0; i < sk_X509_num(chain); ++i) {
      facts.chain.push_back(facts_of(sk_X509_value(chain, i)));
      const long long days = facts.chain.back().days_left;
      if (!facts.min_days_left || days < *facts.min_days_left) facts.min_days_left = days;
    }
  }
  if (!options.dane.empty()) {
    check_dane(ssl, usable_tlsa, facts, failure);
  } else if (options.verify) {
    const long result = SSL_get_verify_result(ssl);
    if (facts.chain.empty()) {
      failure = {TlsFailure::Kind::Verify, "no certificate presented"};
      return std::unique_ptr<TlsStream>(new TlsStream(std::move(impl)));
    }
    if (result != X509_V_OK) {
      failure = {TlsFailure::Kind::Verify, X509_verify_cert_error_string(result),
                 result == X509_V_ERR_CERT_HAS_EXPIRED};
      return std::unique_ptr<TlsStream>(new TlsStream(std::move(impl)));
    }
    facts.verified = true;
  }
  return std::unique_ptr<TlsStream>(new TlsStream(std::move(impl)));
}

IoResult TlsStream::read(char* buffer, std::size_t size, const Deadline& deadline) {
  SSL* ssl = impl_->ssl.get();
  for (;;) {
    ERR_clear_error();
    std::size_t got = 0;
    int rc = 0;
    {
      const SigpipeGuard guard;  // a read may write too (alerts, key updates)
      rc = SSL_read_ex(ssl, buffer, size, &got);
    }
    if (rc == 1) return {IoResult::Status::Ok, got, 0};
    bool retry = false;
    const auto status = wait_ssl(ssl, impl_->fd.get(), rc, deadline, retry);
    if (retry) continue;
    return {status, 0, status == IoResult::Status::Timeout ? ETIMEDOUT : ECONNRESET};
  }
}

IoResult TlsStream::write_all(std::string_view data, const Deadline& deadline) {
  SSL* ssl = impl_->ssl.get();
  std::size_t sent = 0;
  while (sent < data.size()) {
    ERR_clear_error();
    std::size_t n = 0;
    int rc = 0;
    {
      const SigpipeGuard guard;
      rc = SSL_write_ex(ssl, data.data() + sent, data.size() - sent, &n);
    }
    if (rc == 1) {
      sent += n;
      continue;
    }
    bool retry = false;
    const auto status = wait_ssl(ssl, impl_->fd.get(), rc, deadline, retry);
    if (retry) continue;
    return {status == IoResult::Status::Eof ? IoResult::Status::Error : status, sent,
            status == IoResult::Status::Timeout ? ETIMEDOUT : EPIPE};
  }
  return {IoResult::Status::Ok, sent, 0};
}

std::string base64_encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(data.data()),
                                static_cast<int>(data.size()));
  out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return out;
}

}  // namespace smtpverify::net
