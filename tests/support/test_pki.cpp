#include "test_pki.h"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "openssl_util.h"

namespace smtpverify::test {

namespace {

using detail::EvpPkeyPtr;
using detail::GeneralNamePtr;
using detail::Owned;
using detail::throw_openssl;
using detail::X509Ptr;

constexpr long kSecondsPerDay = 24 * 60 * 60;

EvpPkeyPtr make_p256_key() {
  Owned<EVP_PKEY_CTX, EVP_PKEY_CTX_free> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_group_name(ctx.get(), "P-256") != 1) {
    throw_openssl("EC key generation setup");
  }
  EVP_PKEY* key = nullptr;
  if (EVP_PKEY_generate(ctx.get(), &key) != 1) throw_openssl("EVP_PKEY_generate");
  return EvpPkeyPtr(key);
}

// A random positive 63-bit serial: RFC 5280 4.1.2.2 wants serials unique per issuer, and two
// leaves with equal serials from one CA make some verifiers refuse both.
void set_random_serial(X509* cert) {
  Owned<BIGNUM, BN_free> bn(BN_new());
  if (!bn || BN_rand(bn.get(), 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1) {
    throw_openssl("BN_rand");
  }
  Owned<ASN1_INTEGER, ASN1_INTEGER_free> serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (!serial || X509_set_serialNumber(cert, serial.get()) != 1) {
    throw_openssl("X509_set_serialNumber");
  }
}

// RFC 5280 appendix A: a CN holds at most 64 characters; a longer name lives in the SAN alone.
constexpr size_t kMaxCommonName = 64;

void set_subject(X509* cert, const std::string& common_name) {
  X509_NAME* name = X509_get_subject_name(cert);
  const auto add = [&](const char* field, const std::string& value) {
    if (X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1,
                                   0) != 1) {
      throw_openssl("X509_NAME_add_entry_by_txt");
    }
  };
  add("O", "smtpverify tests");
  add("CN", common_name.size() <= kMaxCommonName ? common_name : "smtpverify test leaf");
}

// A certificate for key with the given subject, validity and version 3, not yet signed.
X509Ptr new_cert(EVP_PKEY* key, const std::string& common_name, int not_before_days,
                 int valid_days) {
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) throw_openssl("X509_new");
  set_random_serial(cert.get());
  set_subject(cert.get(), common_name);
  const long start = static_cast<long>(not_before_days) * kSecondsPerDay;
  const long end = start + static_cast<long>(valid_days) * kSecondsPerDay;
  if (X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, start, nullptr) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), 0, end, nullptr) == nullptr) {
    throw_openssl("X509_time_adj_ex");
  }
  if (X509_set_pubkey(cert.get(), key) != 1) throw_openssl("X509_set_pubkey");
  return cert;
}

// Adds one extension in openssl.cnf syntax; issuer == cert for self-signed certificates.
void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  Owned<X509_EXTENSION, X509_EXTENSION_free> extension(
      X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!extension || X509_add_ext(cert, extension.get(), -1) != 1) {
    throw_openssl(std::string("extension ") + OBJ_nid2sn(nid) + "=" + value);
  }
}

// The SAN built entry by entry rather than from "DNS:a,IP:b" text, so no name can be misparsed.
void add_subject_alt_names(X509* cert, const std::vector<std::string>& dns_names,
                           const std::vector<std::string>& ip_sans) {
  if (dns_names.empty() && ip_sans.empty()) return;
  Owned<GENERAL_NAMES, GENERAL_NAMES_free> names(sk_GENERAL_NAME_new_null());
  if (!names) throw_openssl("sk_GENERAL_NAME_new_null");
  const auto push = [&](GeneralNamePtr name) {
    if (sk_GENERAL_NAME_push(names.get(), name.get()) == 0) throw_openssl("sk_GENERAL_NAME_push");
    name.release();  // the stack owns it now
  };
  for (const std::string& dns : dns_names) {
    Owned<ASN1_IA5STRING, ASN1_IA5STRING_free> text(ASN1_IA5STRING_new());
    if (!text || ASN1_STRING_set(text.get(), dns.data(), static_cast<int>(dns.size())) != 1) {
      throw_openssl("ASN1_STRING_set");
    }
    GeneralNamePtr name(GENERAL_NAME_new());
    if (!name) throw_openssl("GENERAL_NAME_new");
    GENERAL_NAME_set0_value(name.get(), GEN_DNS, text.release());
    push(std::move(name));
  }
  for (const std::string& ip : ip_sans) {
    Owned<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free> address(a2i_IPADDRESS(ip.c_str()));
    if (!address) {
      ERR_clear_error();
      throw std::invalid_argument("not an IP address for a SAN: " + ip);
    }
    GeneralNamePtr name(GENERAL_NAME_new());
    if (!name) throw_openssl("GENERAL_NAME_new");
    GENERAL_NAME_set0_value(name.get(), GEN_IPADD, address.release());
    push(std::move(name));
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    throw_openssl("X509_add1_ext_i2d subjectAltName");
  }
}

void sign(X509* cert, EVP_PKEY* issuer_key) {
  if (X509_sign(cert, issuer_key, EVP_sha256()) <= 0) throw_openssl("X509_sign");
}

std::string sha256(const unsigned char* data, size_t size) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data, size, digest, &length, EVP_sha256(), nullptr) != 1) {
    throw_openssl("EVP_Digest");
  }
  return std::string(reinterpret_cast<const char*>(digest), length);
}

// Runs an i2d_* encoder into a string: the DER bytes of an object.
template <typename T, typename Encoder>
std::string to_der(T* object, Encoder encode) {
  unsigned char* der = nullptr;
  const int length = encode(object, &der);
  if (length <= 0) throw_openssl("DER encoding");
  std::string out(reinterpret_cast<const char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  return out;
}

}  // namespace

struct TestPki::Impl {
  EvpPkeyPtr root_key;
  X509Ptr root;
  EvpPkeyPtr intermediate_key;
  X509Ptr intermediate;
  std::string root_pem;
  std::string intermediate_pem;

  mutable std::mutex mutex;
  // Guarded by mutex.
  mutable std::optional<std::filesystem::path> temp_dir;
  mutable std::string root_file;

  // The directory for root_file() and write_file(), made on first use.
  const std::filesystem::path& directory() const {
    if (!temp_dir) {
      const char* tmp = std::getenv("TMPDIR");
      std::string pattern =
          std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/smtpverify-pki-XXXXXX";
      if (::mkdtemp(pattern.data()) == nullptr) {
        throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
      }
      temp_dir = pattern;
    }
    return *temp_dir;
  }

  std::string write(const std::string& name, std::string_view contents) const {
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
      throw std::invalid_argument("not a plain file name: " + name);
    }
    const std::filesystem::path path = directory() / name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.close();
    if (!out) throw std::runtime_error("cannot write " + path.string());
    return path.string();
  }
};

TestPki::TestPki() : impl_(std::make_unique<Impl>()) {
  Impl& pki = *impl_;
  // A year in the past, so a leaf back-dated for the "expired" cases still lies inside its
  // issuers' validity, as it would with a real CA.
  pki.root_key = make_p256_key();
  pki.root = new_cert(pki.root_key.get(), "smtpverify test root", -365, 3650);
  X509_set_issuer_name(pki.root.get(), X509_get_subject_name(pki.root.get()));
  add_extension(pki.root.get(), pki.root.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_extension(pki.root.get(), pki.root.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  add_extension(pki.root.get(), pki.root.get(), NID_subject_key_identifier, "hash");
  sign(pki.root.get(), pki.root_key.get());

  pki.intermediate_key = make_p256_key();
  pki.intermediate =
      new_cert(pki.intermediate_key.get(), "smtpverify test intermediate", -365, 3650);
  X509_set_issuer_name(pki.intermediate.get(), X509_get_subject_name(pki.root.get()));
  add_extension(pki.intermediate.get(), pki.root.get(), NID_basic_constraints,
                "critical,CA:TRUE,pathlen:0");
  add_extension(pki.intermediate.get(), pki.root.get(), NID_key_usage,
                "critical,keyCertSign,cRLSign");
  add_extension(pki.intermediate.get(), pki.root.get(), NID_subject_key_identifier, "hash");
  add_extension(pki.intermediate.get(), pki.root.get(), NID_authority_key_identifier,
                "keyid:always");
  sign(pki.intermediate.get(), pki.root_key.get());

  pki.root_pem = detail::to_pem(pki.root.get());
  pki.intermediate_pem = detail::to_pem(pki.intermediate.get());
}

TestPki::~TestPki() {
  if (impl_->temp_dir) {
    std::error_code ignored;  // a destructor must not throw; a leftover temp dir is harmless
    std::filesystem::remove_all(*impl_->temp_dir, ignored);
  }
}

const std::string& TestPki::root_pem() const { return impl_->root_pem; }

const std::string& TestPki::intermediate_pem() const { return impl_->intermediate_pem; }

TestCert TestPki::leaf(std::vector<std::string> dns_names, int not_before_days, int valid_days,
                       std::vector<std::string> ip_sans) const {
  EvpPkeyPtr key = make_p256_key();
  const std::string common_name = !dns_names.empty() ? dns_names.front()
                                  : !ip_sans.empty() ? ip_sans.front()
                                                     : "smtpverify test leaf";
  X509Ptr cert = new_cert(key.get(), common_name, not_before_days, valid_days);
  // Signing reads the intermediate's key; the lock keeps concurrent callers off OpenSSL's
  // lazily filled per-key caches.
  const std::lock_guard lock(impl_->mutex);
  X509* issuer = impl_->intermediate.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer));
  add_extension(cert.get(), issuer, NID_basic_constraints, "critical,CA:FALSE");
  // digitalSignature is what an ECDSA key does in a TLS handshake (RFC 5480 3).
  add_extension(cert.get(), issuer, NID_key_usage, "critical,digitalSignature");
  add_extension(cert.get(), issuer, NID_ext_key_usage, "serverAuth");
  add_extension(cert.get(), issuer, NID_subject_key_identifier, "hash");
  add_extension(cert.get(), issuer, NID_authority_key_identifier, "keyid:always");
  add_subject_alt_names(cert.get(), dns_names, ip_sans);
  sign(cert.get(), impl_->intermediate_key.get());
  return {detail::to_pem(cert.get()), detail::to_pem(key.get())};
}

TestCert TestPki::self_signed(std::string dns_name) const {
  EvpPkeyPtr key = make_p256_key();
  X509Ptr cert = new_cert(key.get(), dns_name, -1, 90);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  add_extension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_extension(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
  add_extension(cert.get(), cert.get(), NID_authority_key_identifier, "keyid:always");
  add_subject_alt_names(cert.get(), {dns_name}, {});
  sign(cert.get(), key.get());
  return {detail::to_pem(cert.get()), detail::to_pem(key.get())};
}

std::string TestPki::root_file() const {
  const std::lock_guard lock(impl_->mutex);
  if (impl_->root_file.empty()) impl_->root_file = impl_->write("root.pem", impl_->root_pem);
  return impl_->root_file;
}

std::string TestPki::write_file(const std::string& name, std::string_view contents) const {
  const std::lock_guard lock(impl_->mutex);
  return impl_->write(name, contents);
}

const TestPki& shared_test_pki() {
  static const TestPki pki;
  return pki;
}

std::string spki_sha256(const std::string& cert_pem) {
  X509Ptr cert = detail::read_cert(cert_pem);
  const std::string der = to_der(X509_get_X509_PUBKEY(cert.get()), i2d_X509_PUBKEY);
  return sha256(reinterpret_cast<const unsigned char*>(der.data()), der.size());
}

std::string cert_sha256(const std::string& cert_pem) {
  X509Ptr cert = detail::read_cert(cert_pem);
  const std::string der = to_der(cert.get(), i2d_X509);
  return sha256(reinterpret_cast<const unsigned char*>(der.data()), der.size());
}

std::string to_hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    out += kHex[byte >> 4];
    out += kHex[byte & 0x0f];
  }
  return out;
}

}  // namespace smtpverify::test
