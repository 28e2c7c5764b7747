// The OpenSSL side of TLS: the handshake, verification, DANE, certificate facts, base64.
// Compiled into the plugin's TLS module (check_smtp_verify_tls.so, loaded by tls_loader.cpp)
// and, for the tests, into smtpverify_tls (tls_linked.cpp). Reached only through
// smtpverify_tls_backend_v1(); everything else here has hidden visibility in the module.
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <exception>
#include <tl/expected.hpp>

#include "net/tls.h"
#include "net/tls_backend.h"
#include "net/tls_openssl_util.h"
#ifdef SMTPVERIFY_TLS_ARENA
#include "net/tls_arena.h"
#endif

namespace smtpverify::net {

namespace {

using openssl::CtxPtr;
using openssl::openssl_reason;
using openssl::setup_failure;
using openssl::SslPtr;

// The context: our own protocol floor, and trust anchors looked up lazily by subject hash from
// a directory rather than parsed from the whole bundle on every run.
tl::expected<CtxPtr, TlsFailure> make_context(const TlsOptions& options) {
  const auto failed = [](TlsFailure failure) { return tl::unexpected(std::move(failure)); };
  CtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return failed({TlsFailure::Kind::Setup, openssl_reason("cannot create a TLS context")});
  if (SSL_CTX_set_min_proto_version(
          ctx.get(), options.min_version == TlsVersion::Tls13 ? TLS1_3_VERSION : TLS1_2_VERSION) !=
      1) {
    return failed(setup_failure("cannot set the lowest TLS version"));
  }
  SSL_CTX_set_security_level(ctx.get(), 2);  // Debian's default, which we do not load
  // A one-shot client never resumes: asking for no tickets also spares a round of server
  // writes that Nagle and delayed ACK turn into a 40 ms stall.
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  // Record buffers (~17 KiB each way) only while a record is in them: a check that waits on a
  // slow server then holds none (see release_free_pages()).
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  // We read the verification result after the handshake, so a failure can be reported in
  // words with the certificate facts, and QUIT can still be sent.
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  if (!options.dane.empty()) {
    // RFC 7672 §3.1: with DANE the TLSA records are the trust anchors; no CA store is loaded,
    // so a chain that only a public CA vouches for can never pass.
    if (SSL_CTX_dane_enable(ctx.get()) <= 0) {
      return failed(
          {TlsFailure::Kind::Setup, "cannot enable DANE: " + openssl_reason("no digests")});
    }
  } else if (options.verify) {
    bool ok = true;
    if (options.ca_file)
      ok = ok && SSL_CTX_load_verify_file(ctx.get(), options.ca_file->c_str()) == 1;
    if (options.ca_path)
      ok = ok && SSL_CTX_load_verify_dir(ctx.get(), options.ca_path->c_str()) == 1;
    if (!options.ca_file && !options.ca_path) ok = SSL_CTX_set_default_verify_dir(ctx.get()) == 1;
    if (!ok) {
      return failed({TlsFailure::Kind::Setup, "cannot load the trust anchors: " +
                                                  openssl_reason("unreadable CA file or path")});
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
tl::expected<SSL_CTX*, TlsFailure> shared_context(const TlsOptions& options) {
  static SSL_CTX* ctx = nullptr;
  static ContextKey key;
  ContextKey wanted{options.min_version, !options.dane.empty(), options.verify, options.ca_file,
                    options.ca_path};
  if (ctx != nullptr && key == wanted) return ctx;
  auto fresh = make_context(options);
  if (!fresh) return tl::unexpected(fresh.error());
  SSL_CTX_free(ctx);
  ctx = fresh->release();
  key = std::move(wanted);
  return ctx;
}

// TLSA certificate usages (RFC 7218).
constexpr std::uint8_t kUsageDaneTa = 2;
constexpr std::uint8_t kUsageDaneEe = 3;

// Turns DANE on for this connection: the base domain as reference name, the usable records.
// Returns the number of records OpenSSL took.
tl::expected<int, TlsFailure> enable_dane(SSL* ssl, const TlsOptions& options) {
  std::string base =
      options.dane_base_domain.empty() ? options.verify_name : options.dane_base_domain;
  if (!base.empty() && base.back() == '.') base.pop_back();
  if (base.empty()) {
    return tl::unexpected(
        TlsFailure{TlsFailure::Kind::Setup, "DANE needs the TLSA base domain (a host name)"});
  }
  // The base domain becomes the reference identifier for DANE-TA (RFC 7672) and the SNI
  // when none was set, as RFC 7672 asks.
  if (SSL_dane_enable(ssl, base.c_str()) <= 0) {
    return tl::unexpected(TlsFailure{
        TlsFailure::Kind::Setup,
        "cannot enable DANE for '" + base + "': " + openssl_reason("bad TLSA base domain")});
  }
  // RFC 7672 §3.1.1 (RFC 7671 §5.1): DANE-EE binds the server's key; its names, issuer and
  // dates do not matter. DANE-TA keeps the name checks, wildcards only as a whole left-most
  // label (RFC 7672 §3.2.3).
  SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (!options.verify_name.empty() && options.verify_name != base &&
      SSL_add1_host(ssl, options.verify_name.c_str()) != 1) {
    return tl::unexpected(
        setup_failure("cannot add the name to verify '" + options.verify_name + "'"));
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

// What verification found: authenticated or not (--no-verify), and the DANE record that did.
struct Verdict {
  bool verified = false;
  std::string dane_match;
};

tl::unexpected<TlsFailure> untrusted(std::string reason,
                                     TlsFailure::Cause cause = TlsFailure::Cause::Other) {
  return tl::unexpected(TlsFailure{TlsFailure::Kind::Verify, std::move(reason), cause});
}

// Which verification failures the report explains with what was expected and found.
TlsFailure::Cause cause_of(long result) {
  switch (result) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return TlsFailure::Cause::Expired;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return TlsFailure::Cause::NameMismatch;
    case X509_V_ERR_DANE_NO_MATCH:
      return TlsFailure::Cause::DaneNoMatch;
    default:
      return TlsFailure::Cause::Other;
  }
}

// The DANE verdict, read after the handshake like the PKIX one.
tl::expected<Verdict, TlsFailure> check_dane(SSL* ssl, int usable) {
  // OpenSSL would fall back to the (empty) CA store; say what is really wrong.
  if (usable == 0) return untrusted("DANE: no usable TLSA records");
  const long result = SSL_get_verify_result(ssl);
  std::uint8_t usage = 0;
  std::uint8_t selector = 0;
  std::uint8_t mtype = 0;
  const int depth = SSL_get0_dane_tlsa(ssl, &usage, &selector, &mtype, nullptr, nullptr);
  if (result == X509_V_ERR_DANE_NO_MATCH || (result == X509_V_OK && depth < 0)) {
    return untrusted("DANE: no TLSA record matched", TlsFailure::Cause::DaneNoMatch);
  }
  if (result != X509_V_OK) {
    // E.g. a DANE-TA match with the wrong name or an expired leaf.
    return untrusted(std::string("DANE: ") + X509_verify_cert_error_string(result),
                     cause_of(result));
  }
  return Verdict{
      true, std::to_string(usage) + " " + std::to_string(selector) + " " + std::to_string(mtype)};
}

// The verdict on the completed handshake: DANE, PKIX (chain and name), or none (--no-verify).
tl::expected<Verdict, TlsFailure> verify(SSL* ssl, const TlsOptions& options, int usable_tlsa,
                                         const TlsFacts& facts) {
  if (options.dane.empty() && !options.verify) return Verdict{};
  if (facts.chain.empty()) return untrusted("no certificate presented");
  if (!options.dane.empty()) return check_dane(ssl, usable_tlsa);
  const long result = SSL_get_verify_result(ssl);
  if (result != X509_V_OK) {
    return untrusted(X509_verify_cert_error_string(result), cause_of(result));
  }
  return Verdict{true, ""};
}

// What the handshake showed: protocol, cipher, the chain as presented.
TlsFacts facts_of_connection(SSL* ssl) {
  TlsFacts facts;
  facts.version = SSL_get_version(ssl);
  facts.cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(ssl));
  if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl)) {
    for (int i = 0; i < sk_X509_num(chain); ++i) {
      facts.chain.push_back(openssl::facts_of(sk_X509_value(chain, i)));
      const long long days = facts.chain.back().days_left;
      if (!facts.min_days_left || days < *facts.min_days_left) facts.min_days_left = days;
    }
  }
  return facts;
}

// The name (or address) the certificate must carry, checked by OpenSSL as part of chain
// verification. Should OpenSSL not take it, the check would silently go without: fail closed.
tl::expected<void, TlsFailure> set_reference_identity(SSL* ssl, const TlsOptions& options) {
  if (!options.verify_name.empty()) {
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set1_host(ssl, options.verify_name.c_str()) != 1) {
      return tl::unexpected(
          setup_failure("cannot set the name to verify '" + options.verify_name + "'"));
    }
  } else if (!options.verify_ip.empty() &&
             X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), options.verify_ip.c_str()) != 1) {
    return tl::unexpected(
        setup_failure("cannot set the address to verify '" + options.verify_ip + "'"));
  }
  return {};
}

// A connection ready for the handshake, and how many TLSA records it took.
struct Connection {
  SslPtr ssl;
  int usable_tlsa = 0;
};

tl::expected<Connection, TlsFailure> new_connection(int fd, const TlsOptions& options) {
  auto ctx = shared_context(options);
  if (!ctx) return tl::unexpected(ctx.error());
  Connection c{SslPtr(SSL_new(*ctx))};
  SSL* ssl = c.ssl.get();
  if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1) {
    return tl::unexpected(TlsFailure{TlsFailure::Kind::Setup, openssl_reason("cannot set up TLS")});
  }
  if (!options.sni.empty() && SSL_set_tlsext_host_name(ssl, options.sni.c_str()) != 1) {
    return tl::unexpected(
        setup_failure("cannot set the server name indication '" + options.sni + "'"));
  }
  if (!options.dane.empty()) {
    auto usable = enable_dane(ssl, options);
    if (!usable) return tl::unexpected(usable.error());
    c.usable_tlsa = *usable;
  } else if (options.verify) {
    if (auto set = set_reference_identity(ssl, options); !set) {
      return tl::unexpected(set.error());
    }
  }
  return c;
}

// SSL_connect under the deadline.
tl::expected<void, TlsFailure> connect(SSL* ssl, int fd, const Deadline& deadline) {
  for (;;) {
    int rc = 0;
    {
      const openssl::SigpipeGuard guard;
      rc = SSL_connect(ssl);
    }
    if (rc == 1) return {};
    const auto waited = openssl::wait_ssl(ssl, fd, rc, deadline, ECONNRESET);
    if (waited) continue;
    if (waited.error().kind == IoError::Kind::Timeout) {
      return tl::unexpected(TlsFailure{TlsFailure::Kind::Timeout, "timeout"});
    }
    return tl::unexpected(
        TlsFailure{TlsFailure::Kind::Handshake, openssl_reason("connection closed")});
  }
}

// The handshake, then the verdict. A verification failure still returns the channel: QUIT
// goes over it.
std::unique_ptr<Stream> handshake(Fd fd, const TlsOptions& options, const Deadline& deadline,
                                  const TlsReport& report) {
  openssl::init_openssl();
  ERR_clear_error();
  auto connection = new_connection(fd.get(), options);
  if (!connection) {
    report.deliver(report.context, {}, &connection.error());
    return nullptr;
  }
  if (const auto connected = connect(connection->ssl.get(), fd.get(), deadline); !connected) {
    report.deliver(report.context, {}, &connected.error());
    return nullptr;
  }
  SSL* ssl = connection->ssl.get();
  TlsFacts facts = facts_of_connection(ssl);
  const auto verdict = verify(ssl, options, connection->usable_tlsa, facts);
  if (verdict) {
    facts.verified = verdict->verified;
    facts.dane_match = verdict->dane_match;
  }
  report.deliver(report.context, facts, verdict ? nullptr : &verdict.error());
  return openssl::openssl_stream(std::move(connection->ssl), std::move(fd));
}

void prepare(const TlsOptions& options) {
  openssl::init_openssl();
  (void)shared_context(options);  // a failure is met again, and reported, by handshake()
  ERR_clear_error();
}

// Nothing may leave the module as an exception, and no heap block made here may be freed by the
// plugin: with SMTPVERIFY_STATIC_RUNTIME each has its own libstdc++ and its own operator new.
// So the findings are built here and handed over by report.deliver, which copies them in the
// plugin's code; the stream is deleted through its virtual destructor, which is ours.
std::unique_ptr<Stream> handshake_entry(Fd fd, const TlsOptions& options, const Deadline& deadline,
                                        const TlsReport& report) noexcept {
  try {
    return handshake(std::move(fd), options, deadline, report);
  } catch (const std::exception& e) {
    const TlsFailure failure{TlsFailure::Kind::Setup, std::string("TLS: ") + e.what()};
    report.deliver(report.context, {}, &failure);
  } catch (...) {
    const TlsFailure failure{TlsFailure::Kind::Setup, "TLS: internal error"};
    report.deliver(report.context, {}, &failure);
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
