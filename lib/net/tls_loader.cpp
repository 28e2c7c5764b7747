// The plugin's TLS backend: the OpenSSL code lives in a module (SMTPVERIFY_TLS_MODULE_NAME)
// that is loaded on first use, so a plain check never maps, relocates or initialises
// libssl/libcrypto (what that saves: tests/bench/README.md). Where it may be found and when it
// is refused: module_loader.cpp.
#include "net/module_loader.h"
#include "net/tls_backend.h"

namespace smtpverify::net {

const tl::expected<const TlsBackend*, std::string>& tls_backend() {
  static const tl::expected<const TlsBackend*, std::string> backend =
      load_backend<TlsBackend>(SMTPVERIFY_TLS_MODULE_NAME, "smtpverify_tls_backend_v1",
                               "TLS module", tls_backend_abi(), SMTPVERIFY_TLS_ABI_VERSION);
  return backend;
}

}  // namespace smtpverify::net
