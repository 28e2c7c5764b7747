// The seam between TlsStream (tls.cpp, always linked) and the OpenSSL code (tls_openssl.cpp).
// The plugin keeps OpenSSL in a module that it dlopen()s only when TLS or AUTH is asked for
// (tls_loader.cpp), so a plain check never maps, relocates or initialises libssl/libcrypto;
// the tests link the same OpenSSL code in directly (tls_linked.cpp). Internal to lib/net.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

#include "net/module_loader.h"
#include "net/tls.h"

namespace smtpverify::net {

/// Where the OpenSSL side hands its findings over: `deliver` runs in the caller's code and
/// copies them into the caller's objects, so that every heap block is freed by the allocator
/// that made it, also when the plugin and the module each link their own libstdc++
/// (SMTPVERIFY_STATIC_RUNTIME).
struct TlsReport {
  void* context = nullptr;
  /// `failure` is nullptr when there was none.
  void (*deliver)(void* context, const TlsFacts& facts, const TlsFailure* failure) = nullptr;
};

/// Room base64_encode needs for `size` bytes: 4 per 3, rounded up, and a NUL.
constexpr std::size_t base64_capacity(std::size_t size) { return 4 * ((size + 2) / 3) + 1; }

/// What the OpenSSL side offers. C++ types cross the module boundary (the module is built from
/// the same tree with the same compiler; `abi` catches a module of another build), but no
/// ownership of heap memory does, except the stream, which is deleted through its virtual
/// destructor, in the module.
struct TlsBackend {
  std::uint64_t abi = 0;  ///< must equal tls_backend_abi()
  /// The handshake (see TlsStream::handshake), its findings delivered through `report`; the
  /// stream it returns is the TLS channel (after a Verify failure too; none after others).
  std::unique_ptr<Stream> (*handshake)(Fd fd, const TlsOptions& options, const Deadline& deadline,
                                       const TlsReport& report) = nullptr;
  /// Builds what handshake() will need for these options (see TlsStream::prepare).
  void (*prepare)(const TlsOptions& options) = nullptr;
  /// Base64 (RFC 4648) of `data` into `out` (base64_capacity(data.size()) bytes); returns the
  /// length, 0 when out is too small.
  std::size_t (*base64_encode)(std::string_view data, char* out, std::size_t capacity) = nullptr;
};

/// Bumped whenever a type that crosses the boundary changes in a way its size may not show
/// (a field's meaning or type, an enum's values), so that a module built before is refused.
/// 2: TlsFailure::Cause replaced `bool expired`; CertFacts names and spki_sha256.
/// 3: CertFacts::seconds_left.
inline constexpr std::uint64_t kTlsBackendRevision = 3;

/// The fingerprint of the types that cross the boundary, their revision and the version.
constexpr std::uint64_t tls_backend_abi() {
  return backend_abi({sizeof(TlsBackend), sizeof(TlsReport), sizeof(TlsOptions), sizeof(TlsFacts),
                      sizeof(TlsFailure), sizeof(CertFacts), sizeof(DaneRecord), sizeof(Deadline),
                      sizeof(Fd), sizeof(IoError), sizeof(tl::expected<std::size_t, IoError>),
                      sizeof(std::string), sizeof(std::unique_ptr<Stream>)},
                     kTlsBackendRevision, SMTPVERIFY_TLS_ABI_VERSION);
}

/// The backend, or why there is none (loader: which module file, and why it was not loaded).
/// Loaded once; later calls return the same answer.
const tl::expected<const TlsBackend*, std::string>& tls_backend();

}  // namespace smtpverify::net

/// The module's one exported entry point (also linked directly into the tests). The first call
/// sets the module up (before OpenSSL allocates anything).
extern "C" __attribute__((visibility("default"))) const smtpverify::net::TlsBackend*
smtpverify_tls_backend_v1();
