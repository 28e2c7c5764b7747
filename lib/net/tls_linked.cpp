// The tests' TLS backend: the OpenSSL code linked in, no module to find.
#include "net/tls_backend.h"

namespace smtpverify::net {

const TlsBackend* tls_backend(std::string& /*error*/) { return smtpverify_tls_backend_v1(); }

}  // namespace smtpverify::net
