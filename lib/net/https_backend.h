// The seam between https_get() (https.cpp, always linked) and the libcurl code
// (https_curl.cpp): the plugin keeps libcurl in a module that it dlopen()s only for
// --mta-sts (https_loader.cpp); the tests link the same code in directly (https_linked.cpp).
// Internal to lib/net. Built like tls_backend.h: no heap memory crosses the boundary.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

#include "net/https.h"
#include "net/module_loader.h"

namespace smtpverify::net {

/// Where the libcurl side hands its outcome over: `deliver` runs in the caller's code and
/// copies the views (valid only during the call). `error` is empty on success.
struct HttpsReport {
  void* context = nullptr;
  void (*deliver)(void* context, long status, std::string_view content_type, std::string_view body,
                  std::string_view error) = nullptr;
};

/// What the libcurl side offers.
struct HttpsBackend {
  std::uint64_t abi = 0;  ///< must equal https_backend_abi()
  void (*get)(const HttpsRequest& request, const Deadline& deadline,
              const HttpsReport& report) = nullptr;
};

/// Bumped whenever a type that crosses the boundary changes in a way its size may not show.
inline constexpr std::uint64_t kHttpsBackendRevision = 1;

/// The fingerprint of the crossing types, their revision and the version (as tls_backend_abi()).
constexpr std::uint64_t https_backend_abi() {
  return backend_abi({sizeof(HttpsBackend), sizeof(HttpsReport), sizeof(HttpsRequest),
                      sizeof(Deadline), sizeof(std::string), sizeof(std::optional<std::string>)},
                     kHttpsBackendRevision, SMTPVERIFY_HTTPS_ABI_VERSION);
}

/// The backend, or why there is none. Loaded once; later calls return the same answer.
const tl::expected<const HttpsBackend*, std::string>& https_backend();

}  // namespace smtpverify::net

/// The module's one exported entry point (also linked directly into the tests).
extern "C" __attribute__((visibility("default"))) const smtpverify::net::HttpsBackend*
smtpverify_https_backend_v1();
