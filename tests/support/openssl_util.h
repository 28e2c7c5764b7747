// Internal OpenSSL helpers shared by the test PKI, the TLS side of the fake SMTP server and the
// support self-tests: owning pointers for every handle, PEM in and out, readable errors.
// Not part of the fakes' public API.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace smtpverify::test::detail {

/// A unique_ptr deleter that calls the OpenSSL free function Free.
template <auto Free>
struct OpenSslFree {
  /// Frees p (OpenSSL free functions accept nullptr, unique_ptr never passes it anyway).
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};

/// Owns a T and frees it with Free, e.g. Owned<BIGNUM, BN_free>.
template <typename T, auto Free>
using Owned = std::unique_ptr<T, OpenSslFree<Free>>;

/// Frees a certificate list without its certificates (sk_X509_free is a macro, no address).
inline void free_x509_list(STACK_OF(X509) * list) { sk_X509_free(list); }

// The handles used in many places.
using BioPtr = Owned<BIO, BIO_free_all>;                        ///< a BIO chain
using EvpPkeyPtr = Owned<EVP_PKEY, EVP_PKEY_free>;              ///< a key (pair)
using X509Ptr = Owned<X509, X509_free>;                         ///< a certificate
using GeneralNamePtr = Owned<GENERAL_NAME, GENERAL_NAME_free>;  ///< one subjectAltName entry
using SslCtxPtr = Owned<SSL_CTX, SSL_CTX_free>;                 ///< a TLS context
using SslPtr = Owned<SSL, SSL_free>;                            ///< a TLS connection

/// Drains this thread's OpenSSL error queue and returns the most recent reason, e.g.
/// "wrong version number"; fallback when the queue is empty.
inline std::string openssl_error_reason(std::string fallback = "unknown OpenSSL error") {
  unsigned long last = 0;
  while (const unsigned long code = ERR_get_error()) last = code;
  if (last == 0) return fallback;
  if (const char* reason = ERR_reason_error_string(last)) return reason;
  char text[256];
  ERR_error_string_n(last, text, sizeof(text));
  return text;
}

/// Throws std::runtime_error naming the failed call and OpenSSL's reason.
[[noreturn]] inline void throw_openssl(const std::string& what) {
  throw std::runtime_error(what + ": " + openssl_error_reason());
}

/// A read-only memory BIO over pem (which must outlive it).
inline BioPtr memory_bio(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) throw_openssl("BIO_new_mem_buf");
  return bio;
}

/// Every certificate in pem, in order. Throws std::invalid_argument if there is none or the PEM
/// is damaged.
inline std::vector<X509Ptr> read_certs(std::string_view pem) {
  BioPtr bio = memory_bio(pem);
  std::vector<X509Ptr> certs;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certs.emplace_back(cert);
  }
  // The loop always ends with "no start line"; anything else means a damaged PEM block.
  const unsigned long last = ERR_peek_last_error();
  const bool clean_end =
      ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE;
  ERR_clear_error();
  if (certs.empty() || (last != 0 && !clean_end)) {
    throw std::invalid_argument("not a PEM certificate (list)");
  }
  return certs;
}

/// The first certificate in pem. Throws std::invalid_argument if there is none.
inline X509Ptr read_cert(std::string_view pem) { return std::move(read_certs(pem).front()); }

/// The private key in pem. Throws std::invalid_argument if there is none.
inline EvpPkeyPtr read_key(std::string_view pem) {
  BioPtr bio = memory_bio(pem);
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!key) throw std::invalid_argument("not a PEM private key");
  return key;
}

/// The contents of a memory BIO.
inline std::string bio_contents(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(size));
}

/// cert as PEM.
inline std::string to_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) throw_openssl("PEM_write_bio_X509");
  return bio_contents(bio.get());
}

/// key's private half as unencrypted PKCS#8 PEM ("BEGIN PRIVATE KEY").
inline std::string to_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    throw_openssl("PEM_write_bio_PrivateKey");
  }
  return bio_contents(bio.get());
}

}  // namespace smtpverify::test::detail
