// The tests' HTTPS backend: the libcurl code linked in, no module to find.
#include "net/https_backend.h"

namespace smtpverify::net {

const tl::expected<const HttpsBackend*, std::string>& https_backend() {
  static const tl::expected<const HttpsBackend*, std::string> backend =
      smtpverify_https_backend_v1();
  return backend;
}

}  // namespace smtpverify::net
