// The OpenSSL side of TLS: the handshake, verification, DANE, certificate facts, base64.
// Compiled into the plugin's TLS module (check_smtp_verify_tls.so, loaded by tls_loader.cpp)
// and, for the tests, into smtpverify_tls (tls_linked.cpp). Reached only through
// smtpverify_tls_backend_v1(); everything else here has hidden visibility in the module.
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>

#include "net/tls.h"
#include "net/tls_backend.h"
#ifdef SMTPVERIFY_TLS_ARENA
#include "net/tls_arena.h"
#endif

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

// OpenSSL is initialised by us, before any other OpenSSL call, without what a one-shot probe
// does not need (what each costs: tests/bench/README.md):
// - no openssl.cnf: the system's OpenSSL configuration is not ours to apply to a probe;
//   --ca-file/--ca-path/--tls-min say what we need;
// - no error-string tables: loaded only when an error is reported (openssl_reason);
// - no atexit(OPENSSL_cleanup): the process ends right after the check and the kernel
//   reclaims everything. Nothing is left that LSan calls a leak: it stays reachable from
//   OpenSSL's globals;
// - no legacy name table of every cipher (libssl's init asks for it, and the first fetch
//   copies all those aliases into the provider name map). Documented: once
//   OPENSSL_INIT_NO_ADD_ALL_CIPHERS is given, later requests to add them are ignored. TLS
//   fetches its ciphers from the provider by their short names, which the provider knows;
//   the ciphers of TLS cipher suites are still added, so that they keep their NIDs. Digests
//   keep their legacy names: X509 looks them up by NID (the security level of a signature).
// The ciphers of the TLS cipher suites OpenSSL 3.0 knows (ssl/ssl_ciph.c) that the default
// provider has.
const EVP_CIPHER* (*const kTlsCiphers[])() = {
    EVP_aes_128_cbc,       EVP_aes_256_cbc,      EVP_aes_128_gcm,
    EVP_aes_256_gcm,       EVP_aes_128_ccm,      EVP_aes_256_ccm,
#if !defined(OPENSSL_NO_CHACHA) && !defined(OPENSSL_NO_POLY1305)
    EVP_chacha20_poly1305,
#endif
#ifndef OPENSSL_NO_ARIA
    EVP_aria_128_gcm,      EVP_aria_256_gcm,
#endif
#ifndef OPENSSL_NO_CAMELLIA
    EVP_camellia_128_cbc,  EVP_camellia_256_cbc,
#endif
#ifndef OPENSSL_NO_DES
    EVP_des_ede3_cbc,
#endif
};

void init_openssl() {
  static const bool done = [] {
    constexpr std::uint64_t kOptions =
        OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ATEXIT | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS;
    OPENSSL_init_crypto(kOptions | OPENSSL_INIT_NO_ADD_ALL_CIPHERS, nullptr);
    for (const auto cipher : kTlsCiphers) EVP_add_cipher(cipher());
    OPENSSL_init_ssl(kOptions | OPENSSL_INIT_NO_LOAD_SSL_STRINGS, nullptr);
    return true;
  }();
  (void)done;
}

// The error-string tables of the libraries whose reasons we report, on the failure path only.
// The per-library loaders are deprecated in OpenSSL 3.0 but are the only way to load strings
// after OPENSSL_INIT_NO_LOAD_*_STRINGS.
void load_error_strings() {
  static bool loaded = false;
  if (loaded) return;
  loaded = true;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  ERR_load_ERR_strings();
  ERR_load_SSL_strings();
  ERR_load_X509_strings();
  ERR_load_X509V3_strings();
  ERR_load_PEM_strings();
  ERR_load_ASN1_strings();
  ERR_load_BIO_strings();
  ERR_load_EVP_strings();
#pragma GCC diagnostic pop
}

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
  load_error_strings();
  const char* reason = ERR_reason_error_string(last);
  return reason != nullptr ? reason : fallback;
}

// An OpenSSL set-up call refused what we asked for: a fault of ours or of OpenSSL, never the
// server's, and never a reason to go on without it.
TlsFailure setup_failure(const std::string& what) {
  return {TlsFailure::Kind::Setup, "internal error: " + what + ": " + openssl_reason("refused")};
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

// The context: our own protocol floor, and trust anchors looked up lazily by subject hash from
// a directory rather than parsed from the whole bundle on every run.
CtxPtr make_context(const TlsOptions& options, TlsFailure& failure) {
  CtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) {
    failure = {TlsFailure::Kind::Setup, openssl_reason("cannot create a TLS context")};
    return nullptr;
  }
  if (SSL_CTX_set_min_proto_version(
          ctx.get(), options.min_version == TlsVersion::Tls13 ? TLS1_3_VERSION : TLS1_2_VERSION) !=
      1) {
    failure = setup_failure("cannot set the lowest TLS version");
    return nullptr;
  }
  SSL_CTX_set_security_level(ctx.get(), 2);  // Debian's default, which we do not load
  // A one-shot client never resumes: asking for no tickets also spares a round of server
  // writes that Nagle and delayed ACK turn into a 40 ms stall.
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
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

// What the context depends on; the rest of TlsOptions is set per connection.
struct ContextKey {
  TlsVersion min_version = TlsVersion::Tls12;
  bool dane = false;
  bool verify = true;
  std::optional<std::string> ca_file;
  std::optional<std::string> ca_path;
  bool operator==(const ContextKey&) const = default;
};

// One SSL_CTX per run: creating it is the dearest step of TLS (every cipher and digest of the
// provider is fetched, the trust anchors are read), and with --mx-all or an MX fallback one run
// makes several handshakes with the same settings; prepare() also builds it early, while the
// server answers STARTTLS. Never freed: it stays reachable until the process
// ends (SSL_new holds its own reference, so replacing it under a live connection is safe).
SSL_CTX* shared_context(const TlsOptions& options, TlsFailure& failure) {
  static SSL_CTX* ctx = nullptr;
  static ContextKey key;
  ContextKey wanted{options.min_version, !options.dane.empty(), options.verify, options.ca_file,
                    options.ca_path};
  if (ctx != nullptr && key == wanted) return ctx;
  CtxPtr fresh = make_context(options, failure);
  if (!fresh) return nullptr;
  SSL_CTX_free(ctx);
  ctx = fresh.release();
  key = std::move(wanted);
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
  if (!options.verify_name.empty() && options.verify_name != base &&
      SSL_add1_host(ssl, options.verify_name.c_str()) != 1) {
    failure = setup_failure("cannot add the name to verify '" + options.verify_name + "'");
    return -1;
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
  facts.verified = true;
}

// Waits for what OpenSSL asked for. Returns false on timeout or error.
IoResult::Status wait_ssl(SSL* ssl, int fd, int rc, const Deadline& deadline, bool& retry) {
  retry = false;
  const int err = SSL_get_error(ssl, rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
    const int ready =
        err == SSL_ERROR_WANT_READ ? wait_readable(fd, deadline) : wait_for(fd, POLLOUT, deadline);
    if (ready == 0) return IoResult::Status::Timeout;
    if (ready < 0) return IoResult::Status::Error;
    retry = true;
    return IoResult::Status::Ok;
  }
  if (err == SSL_ERROR_ZERO_RETURN) return IoResult::Status::Eof;
  return IoResult::Status::Error;
}

// The TLS channel over the socket it owns.
class OpenSslStream final : public Stream {
 public:
  OpenSslStream(SslPtr ssl, Fd fd) : ssl_(std::move(ssl)), fd_(std::move(fd)) {}
  ~OpenSslStream() override {
    // Best effort close_notify, never blocking: the kernel closes the socket anyway.
    const SigpipeGuard guard;
    SSL_shutdown(ssl_.get());
  }
  OpenSslStream(const OpenSslStream&) = delete;
  OpenSslStream& operator=(const OpenSslStream&) = delete;

  IoResult read(char* buffer, std::size_t size, const Deadline& deadline) override {
    for (;;) {
      ERR_clear_error();
      std::size_t got = 0;
      int rc = 0;
      {
        const SigpipeGuard guard;  // a read may write too (alerts, key updates)
        rc = SSL_read_ex(ssl_.get(), buffer, size, &got);
      }
      if (rc == 1) return {IoResult::Status::Ok, got, 0};
      bool retry = false;
      const auto status = wait_ssl(ssl_.get(), fd_.get(), rc, deadline, retry);
      if (retry) continue;
      return {status, 0, status == IoResult::Status::Timeout ? ETIMEDOUT : ECONNRESET};
    }
  }

  IoResult write_all(std::string_view data, const Deadline& deadline) override {
    std::size_t sent = 0;
    while (sent < data.size()) {
      ERR_clear_error();
      std::size_t n = 0;
      int rc = 0;
      {
        const SigpipeGuard guard;
        rc = SSL_write_ex(ssl_.get(), data.data() + sent, data.size() - sent, &n);
      }
      if (rc == 1) {
        sent += n;
        continue;
      }
      bool retry = false;
      const auto status = wait_ssl(ssl_.get(), fd_.get(), rc, deadline, retry);
      if (retry) continue;
      return {status == IoResult::Status::Eof ? IoResult::Status::Error : status, sent,
              status == IoResult::Status::Timeout ? ETIMEDOUT : EPIPE};
    }
    return {IoResult::Status::Ok, sent, 0};
  }

 private:
  SslPtr ssl_;
  Fd fd_;
};

std::unique_ptr<Stream> handshake(Fd fd, const TlsOptions& options, const Deadline& deadline,
                                  TlsFacts& facts, TlsFailure& failure) {
  failure = {};
  facts = {};
  init_openssl();
  ERR_clear_error();
  SSL_CTX* ctx = shared_context(options, failure);
  if (ctx == nullptr) return nullptr;
  SslPtr owned(SSL_new(ctx));
  SSL* ssl = owned.get();
  if (ssl == nullptr || SSL_set_fd(ssl, fd.get()) != 1) {
    failure = {TlsFailure::Kind::Setup, openssl_reason("cannot set up TLS")};
    return nullptr;
  }
  if (!options.sni.empty() && SSL_set_tlsext_host_name(ssl, options.sni.c_str()) != 1) {
    failure = setup_failure("cannot set the server name indication '" + options.sni + "'");
    return nullptr;
  }
  int usable_tlsa = 0;
  if (!options.dane.empty()) {
    usable_tlsa = enable_dane(ssl, options, failure);
    if (usable_tlsa < 0) return nullptr;
  } else if (options.verify) {
    // The name (or address) is checked by OpenSSL as part of chain verification. Should
    // OpenSSL not take it, the check would silently go without: fail closed.
    if (!options.verify_name.empty()) {
      SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      if (SSL_set1_host(ssl, options.verify_name.c_str()) != 1) {
        failure = setup_failure("cannot set the name to verify '" + options.verify_name + "'");
        return nullptr;
      }
    } else if (!options.verify_ip.empty() &&
               X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), options.verify_ip.c_str()) != 1) {
      failure = setup_failure("cannot set the address to verify '" + options.verify_ip + "'");
      return nullptr;
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
    const auto status = wait_ssl(ssl, fd.get(), rc, deadline, retry);
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
    } else if (result != X509_V_OK) {
      failure = {TlsFailure::Kind::Verify, X509_verify_cert_error_string(result),
                 result == X509_V_ERR_CERT_HAS_EXPIRED};
    } else {
      facts.verified = true;
    }
  }
  // A verification failure still returns the channel: QUIT goes over it.
  return std::make_unique<OpenSslStream>(std::move(owned), std::move(fd));
}

void prepare(const TlsOptions& options) {
  init_openssl();
  TlsFailure ignored;  // handshake() meets the same failure again and reports it
  shared_context(options, ignored);
  ERR_clear_error();
}

// Nothing may leave the module as an exception, and no heap block made here may be freed by the
// plugin: with SMTPVERIFY_STATIC_RUNTIME each has its own libstdc++ and its own operator new.
// So the findings are built here and handed over by report.deliver, which copies them in the
// plugin's code; the stream is deleted through its virtual destructor, which is ours.
std::unique_ptr<Stream> handshake_entry(Fd fd, const TlsOptions& options, const Deadline& deadline,
                                        const TlsReport& report) noexcept {
  try {
    TlsFacts facts;
    TlsFailure failure;
    std::unique_ptr<Stream> stream = handshake(std::move(fd), options, deadline, facts, failure);
    report.deliver(report.context, facts, failure);
    return stream;
  } catch (const std::exception& e) {
    report.deliver(report.context, {}, {TlsFailure::Kind::Setup, std::string("TLS: ") + e.what()});
  } catch (...) {
    report.deliver(report.context, {}, {TlsFailure::Kind::Setup, "TLS: internal error"});
  }
  return nullptr;
}

void prepare_entry(const TlsOptions& options) noexcept {
  try {
    prepare(options);
  } catch (...) {  // handshake() will say what is wrong
  }
}

std::size_t base64_entry(std::string_view data, char* out, std::size_t capacity) noexcept {
  if (capacity < base64_capacity(data.size())) return 0;
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out),
                                reinterpret_cast<const unsigned char*>(data.data()),
                                static_cast<int>(data.size()));
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

}  // namespace

}  // namespace smtpverify::net

const smtpverify::net::TlsBackend* smtpverify_tls_backend_v1() {
  using namespace smtpverify::net;
  static const TlsBackend backend = [] {
#ifdef SMTPVERIFY_TLS_ARENA
    arena::install();  // before OpenSSL allocates anything
#endif
    TlsBackend b;
    b.abi = tls_backend_abi();
    b.handshake = handshake_entry;
    b.prepare = prepare_entry;
    b.base64_encode = base64_entry;
    return b;
  }();
  return &backend;
}
