// An in-process test PKI for the TLS tests: a root CA, an intermediate CA and leaves made with the
// OpenSSL 3 API (no openssl command, nothing checked in that could expire).
//
// Keys are EC P-256 because generating one takes well under a millisecond, so every test can have
// fresh leaves. A leaf from a second TestPki is the "unknown CA" case; a server that sends the
// leaf without intermediate_pem() is the "missing intermediate" case (see TlsSetup::chain_pem).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace smtpverify::test {

/// A certificate with its private key, PEM-encoded.
struct TestCert {
  /// The certificate ("BEGIN CERTIFICATE").
  std::string cert_pem;
  /// Its unencrypted PKCS#8 private key ("BEGIN PRIVATE KEY").
  std::string key_pem;
};

/// A small PKI made once per test process: a root CA, an intermediate CA, and leaves.
///
/// Thread-safe: every const member may be called from several threads at once.
class TestPki {
 public:
  /// Generates the root CA (CN "smtpverify test root") and the intermediate CA
  /// (CN "smtpverify test intermediate", path length 0), both valid from 1 year ago for 10 years.
  TestPki();
  /// Removes the temporary directory of root_file() and write_file(), if one was made.
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  /// The trust anchor (what --ca-file gets).
  const std::string& root_pem() const;
  /// The intermediate CA that signs every leaf; a server sends it after the leaf.
  const std::string& intermediate_pem() const;
  /// A leaf signed by the intermediate for TLS servers (serverAuth), subject CN = the first DNS
  /// name, SAN = dns_names then ip_sans ("127.0.0.1", "::1"), valid from not_before_days
  /// (relative to now, negative = past) for valid_days. Throws std::invalid_argument for an IP
  /// SAN that is not an IP literal.
  TestCert leaf(std::vector<std::string> dns_names, int not_before_days = -1, int valid_days = 90,
                std::vector<std::string> ip_sans = {}) const;
  /// A self-signed certificate for dns_name (CN and SAN), shaped like `openssl req -x509` makes
  /// it (CA:TRUE), valid from yesterday for 90 days; it verifies only when it is its own anchor.
  TestCert self_signed(std::string dns_name) const;
  /// Writes root_pem() to "root.pem" in this PKI's temporary directory (made on first use,
  /// removed by the destructor) and returns the file's path; later calls return the same path.
  std::string root_file() const;
  /// Writes contents to name (a plain file name, no '/') in the same temporary directory,
  /// replacing an earlier file of that name, and returns its path.
  std::string write_file(const std::string& name, std::string_view contents) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The process-wide TestPki, made on first use (thread-safe) and kept until exit, so a test
/// binary pays for its CAs once.
const TestPki& shared_test_pki();

/// SHA-256 of the DER SubjectPublicKeyInfo of the first certificate in cert_pem: 32 raw bytes,
/// the data of a DANE TLSA "3 1 1" (or "2 1 1") record as tlsa_record() takes it.
std::string spki_sha256(const std::string& cert_pem);
/// SHA-256 of the whole DER certificate (the first in cert_pem): 32 raw bytes, the data of a
/// TLSA "3 0 1" (or "2 0 1") record.
std::string cert_sha256(const std::string& cert_pem);
/// bytes as lower-case hex, e.g. for the text form of a TLSA record or a fingerprint.
std::string to_hex(std::string_view bytes);

}  // namespace smtpverify::test
