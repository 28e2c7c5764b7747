// The plugin's HTTPS backend: libcurl lives in a module (SMTPVERIFY_HTTPS_MODULE_NAME) loaded
// on first use, only by --mta-sts. Where it may be found and when it is refused:
// module_loader.cpp.
#include "net/https_backend.h"
#include "net/module_loader.h"

namespace smtpverify::net {

const tl::expected<const HttpsBackend*, std::string>& https_backend() {
  static const tl::expected<const HttpsBackend*, std::string> backend =
      load_backend<HttpsBackend>(SMTPVERIFY_HTTPS_MODULE_NAME, "smtpverify_https_backend_v1",
                                 "HTTPS module", https_backend_abi(), SMTPVERIFY_HTTPS_ABI_VERSION);
  return backend;
}

}  // namespace smtpverify::net
