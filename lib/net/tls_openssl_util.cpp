// The OpenSSL plumbing under tls_openssl.cpp (see tls_openssl_util.h).
#include "net/tls_openssl_util.h"

#include <arpa/inet.h>
#include <malloc.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <ctime>

namespace smtpverify::net::openssl {

namespace {

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

struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};

std::string name_of(const X509_NAME* name) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return "?";
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return len > 0 ? std::string(data, static_cast<std::size_t>(len)) : std::string();
}

struct GeneralNamesFree {
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
};

// An ASN.1 string's bytes, cut at kMaxCertNameBytes (still hostile: lib/check sanitises).
std::string bounded(const ASN1_STRING* s) {
  const int len = ASN1_STRING_length(s);
  if (len <= 0) return "";
  const auto n = std::min(static_cast<std::size_t>(len), kMaxCertNameBytes);
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), n);
}

// An iPAddress name: 4 or 16 bytes as text; anything else is no address.
std::string address_of(const ASN1_OCTET_STRING* ip) {
  const int len = ASN1_STRING_length(ip);
  const int family = len == 4 ? AF_INET : len == 16 ? AF_INET6 : AF_UNSPEC;
  std::array<char, INET6_ADDRSTRLEN> buf{};
  if (family == AF_UNSPEC ||
      inet_ntop(family, ASN1_STRING_get0_data(ip), buf.data(), buf.size()) == nullptr) {
    return "(" + std::to_string(len) + " bytes)";
  }
  return buf.data();
}

// The DNS and IP subject alternative names (the first kMaxCertNames, and how many), or the
// common name when there are none: what a name check looked at.
void names_of(X509* cert, CertFacts& f) {
  const auto add = [&f](std::string name) {
    if (f.names.size() < kMaxCertNames) f.names.push_back(std::move(name));
    ++f.name_count;
  };
  const std::unique_ptr<GENERAL_NAMES, GeneralNamesFree> sans(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (sans) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans.get()); ++i) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans.get(), i);
      if (g->type == GEN_DNS) add("DNS:" + bounded(g->d.dNSName));
      if (g->type == GEN_IPADD) add("IP:" + address_of(g->d.iPAddress));
    }
  }
  if (f.name_count > 0) return;
  const X509_NAME* subject = X509_get_subject_name(cert);
  const int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (at < 0) return;
  const X509_NAME_ENTRY* cn = X509_NAME_get_entry(subject, at);
  if (cn != nullptr) add("CN=" + bounded(X509_NAME_ENTRY_get_data(cn)));
}

// SHA-256 of the DER SubjectPublicKeyInfo in hex: the data of a TLSA "3 1 1" (or "2 1 1")
// record for this certificate. X509_pubkey_digest would hash the key's bit string only.
std::string spki_sha256_of(X509* cert) {
  unsigned char* der = nullptr;
  const int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
  if (len <= 0) return "";
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int md_len = 0;
  const bool ok = EVP_Digest(der, static_cast<std::size_t>(len), md.data(), &md_len, EVP_sha256(),
                             nullptr) == 1;
  OPENSSL_free(der);
  if (!ok) return "";
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < md_len; ++i) {
    hex += kHex[md[i] >> 4];
    hex += kHex[md[i] & 0xf];
  }
  return hex;
}

// Free heap pages back to the kernel (glibc keeps them otherwise).
void release_free_pages() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
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

  tl::expected<std::size_t, IoError> read(char* buffer, std::size_t size,
                                          const Deadline& deadline) override {
    for (;;) {
      ERR_clear_error();
      std::size_t got = 0;
      int rc = 0;
      {
        const SigpipeGuard guard;  // a read may write too (alerts, key updates)
        rc = SSL_read_ex(ssl_.get(), buffer, size, &got);
      }
      if (rc == 1) return got;
      // About to wait, perhaps long, on a slow server: OpenSSL has just given its record
      // buffers back (SSL_MODE_RELEASE_BUFFERS), so hand the free pages to the kernel while
      // this check is in flight (~40 KiB of ~1.3 MiB; ~1,200 instructions a wait). Not for
      // the look before each command (an expired deadline: no wait follows).
      if (!deadline.expired()) release_free_pages();
      if (auto waited = wait_ssl(ssl_.get(), fd_.get(), rc, deadline, ECONNRESET); !waited) {
        return tl::unexpected(waited.error());
      }
    }
  }

  tl::expected<void, IoError> write_all(std::string_view data, const Deadline& deadline) override {
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
      if (auto waited = wait_ssl(ssl_.get(), fd_.get(), rc, deadline, EPIPE); !waited) {
        if (waited.error().kind == IoError::Kind::Eof) {
          return tl::unexpected(IoError{IoError::Kind::Error, EPIPE});  // closed under our write
        }
        return tl::unexpected(waited.error());
      }
    }
    return {};
  }

 private:
  SslPtr ssl_;
  Fd fd_;
};

}  // namespace

tl::expected<void, IoError> wait_ssl(SSL* ssl, int fd, int rc, const Deadline& deadline,
                                     int broken) {
  const int err = SSL_get_error(ssl, rc);
  if (err == SSL_ERROR_WANT_READ) return wait_readable(fd, deadline);
  if (err == SSL_ERROR_WANT_WRITE) return wait_for(fd, POLLOUT, deadline);
  if (err == SSL_ERROR_ZERO_RETURN) return tl::unexpected(IoError{IoError::Kind::Eof, 0});
  return tl::unexpected(IoError{IoError::Kind::Error, broken});
}

std::unique_ptr<Stream> openssl_stream(SslPtr ssl, Fd fd) {
  return std::make_unique<OpenSslStream>(std::move(ssl), std::move(fd));
}

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

std::string openssl_reason(const char* fallback) {
  unsigned long last = 0;
  while (const unsigned long e = ERR_get_error()) last = e;
  if (last == 0) return fallback;
  load_error_strings();
  const char* reason = ERR_reason_error_string(last);
  return reason != nullptr ? reason : fallback;
}

TlsFailure setup_failure(const std::string& what) {
  return {TlsFailure::Kind::Setup, "internal error: " + what + ": " + openssl_reason("refused")};
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
    f.seconds_left = static_cast<long long>(days) * kSecondsPerDay + secs;
  }
  names_of(cert, f);
  f.spki_sha256 = spki_sha256_of(cert);
  return f;
}

}  // namespace smtpverify::net::openssl
