// TLS over a connected socket with OpenSSL: verification, certificate facts, the handshake
// under the deadline. Knows nothing of SMTP. In the plugin, OpenSSL lives in a module loaded
// on first use (tls_loader.cpp), so only checks that ask for TLS or AUTH pay for it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "net/stream.h"

namespace smtpverify::net {

/// The lowest TLS version accepted (--tls-min).
enum class TlsVersion { Tls12, Tls13 };

/// One TLSA record (RFC 6698 §2.1) for DANE; lib/dns finds them, lib/net does not depend on it.
struct DaneRecord {
  std::uint8_t usage = 0;     ///< 2 DANE-TA and 3 DANE-EE are used; 0 and 1 are skipped
  std::uint8_t selector = 0;  ///< 0 whole certificate, 1 SubjectPublicKeyInfo
  std::uint8_t mtype = 0;     ///< matching type: 0 exact, 1 SHA-256, 2 SHA-512
  std::string data;           ///< certificate association data, raw bytes
};

/// How to authenticate the server.
struct TlsOptions {
  bool verify = true;                  ///< false: --no-verify (chain and name not checked)
  std::optional<std::string> ca_file;  ///< --ca-file; none and no ca_path = system store
  std::optional<std::string> ca_path;  ///< --ca-path (a c_rehash'ed directory)
  std::string verify_name;             ///< DNS name the certificate must carry, or ""
  std::string verify_ip;               ///< else the IP address it must carry, or ""
  std::string sni;                     ///< server name indication; "" = none (never an IP)
  TlsVersion min_version = TlsVersion::Tls12;
  /// Non-empty: DANE (RFC 7672): these TLSA records authenticate the server instead of the CA
  /// store (`verify`, `ca_file`, `ca_path` and `verify_ip` are then ignored).
  std::vector<DaneRecord> dane;
  /// The TLSA base domain (RFC 7671, RFC 7672; "" = verify_name): the name DANE-TA
  /// certificates must carry (verify_name too, when it differs), and the SNI when `sni` is "".
  std::string dane_base_domain;
};

/// At most this many of a certificate's names are kept (CertFacts::names), each cut at
/// kMaxCertNameBytes: a hostile certificate may carry thousands, of any length.
inline constexpr std::size_t kMaxCertNames = 3;
inline constexpr std::size_t kMaxCertNameBytes = 255;

/// Seconds in a day: the module builds CertFacts::seconds_left with it, lib/check reads days back.
inline constexpr long long kSecondsPerDay = 86400;

/// One certificate of the presented chain. Every text is the certificate's, unsanitised:
/// hostile until lib/check sanitises it.
struct CertFacts {
  std::string subject;      ///< RFC 2253 form
  std::string issuer;       ///< RFC 2253 form
  std::string not_after;    ///< "2027-02-26 15:04:05 UTC"
  long long days_left = 0;  ///< whole days until not_after, rounded down (negative: expired)
  /// The first kMaxCertNames DNS and IP subject alternative names ("DNS:mx.example.org",
  /// "IP:192.0.2.1"); with none of those, the subject's common name ("CN=mx.example.org").
  std::vector<std::string> names;
  std::size_t name_count = 0;  ///< how many there are in all (names holds the first few)
  std::string spki_sha256;     ///< SHA-256 of the DER SubjectPublicKeyInfo, lower-case hex
  long long seconds_left = 0;  ///< seconds until not_after (negative: expired)
};

/// What the handshake showed.
struct TlsFacts {
  std::string version;                     ///< "TLSv1.3"
  std::string cipher;                      ///< "TLS_AES_256_GCM_SHA384"
  std::vector<CertFacts> chain;            ///< as presented, leaf first
  std::optional<long long> min_days_left;  ///< the soonest expiry in the chain
  bool verified = false;                   ///< chain and name verified (false with --no-verify)
  std::string dane_match;  ///< DANE: the TLSA record that matched, "usage selector mtype" ("3 1 1")
};

/// Why TLS failed: the deadline passed, the handshake failed, the server could not be
/// authenticated, or TLS could not be set up (our side: the module, the options).
struct TlsFailure {
  enum class Kind { Timeout, Handshake, Verify, Setup };
  /// Verify: the failures whose report adds what was expected and what was found.
  enum class Cause {
    Other,
    Expired,       ///< a certificate has expired
    NameMismatch,  ///< the certificate does not carry the name (or address) verified
    DaneNoMatch,   ///< no TLSA record matched the chain
  };
  Kind kind = Kind::Setup;
  std::string reason;  ///< OpenSSL's words: "certificate has expired", "wrong version number"
  Cause cause = Cause::Other;
};

/// Makes TLS usable: in the plugin, loads the OpenSSL module (once). When it cannot, a Setup
/// failure says which file and why; TlsStream::handshake then fails with the same and
/// base64_encode throws. Call it before anything is sent.
tl::expected<void, TlsFailure> load_tls();

class TlsStream;

/// A completed handshake: the channel and what it showed.
struct Handshaken {
  std::unique_ptr<TlsStream> stream;
  TlsFacts facts;
};

/// A failed handshake. After a Verify failure the handshake did complete: `untrusted` holds
/// the working but unauthenticated channel (for QUIT, nothing else) and what it showed.
struct HandshakeFailure {
  TlsFailure failure;
  std::optional<Handshaken> untrusted;
};

/// A TLS client stream. Owns the socket once the handshake has started.
class TlsStream final : public Stream {
 public:
  /// Runs the client handshake on `fd` under the deadline, then checks the verification
  /// result.
  static tl::expected<Handshaken, HandshakeFailure> handshake(Fd fd, const TlsOptions& options,
                                                              const Deadline& deadline);
  /// Builds the connection-independent part of the handshake (the context with its trust
  /// anchors, most of TLS's cost) now, so that it overlaps a wait for the server (the reply to
  /// STARTTLS); handshake() with the same options reuses it. Failures are reported by handshake().
  static void prepare(const TlsOptions& options);
  ~TlsStream() override;
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  tl::expected<std::size_t, IoError> read(char* buffer, std::size_t size,
                                          const Deadline& deadline) override;
  tl::expected<void, IoError> write_all(std::string_view data, const Deadline& deadline) override;

 private:
  struct Impl;
  explicit TlsStream(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Base64 (RFC 4648) through OpenSSL, for AUTH. Throws std::runtime_error when TLS cannot be
/// loaded (see load_tls).
std::string base64_encode(std::string_view data);

}  // namespace smtpverify::net
