// The tests' TLS backend: the OpenSSL code linked in, no module to find.
#include "net/tls_backend.h"

namespace smtpverify::net {

const tl::expected<const TlsBackend*, std::string>& tls_backend() {
  static const tl::expected<const TlsBackend*, std::string> backend = smtpverify_tls_backend_v1();
  return backend;
}

}  // namespace smtpverify::net
