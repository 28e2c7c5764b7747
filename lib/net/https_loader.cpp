// The plugin's HTTPS backend: libcurl lives in a module (SMTPVERIFY_HTTPS_MODULE_NAME) loaded
// on first use, only by --mta-sts. Where it may be found and when it is refused:
// module_loader.cpp.
#include "net/https_backend.h"
#include "net/module_loader.h"

namespace smtpverify::net {

namespace {

tl::expected<const HttpsBackend*, std::string> load() {
  auto module =
      load_module(SMTPVERIFY_HTTPS_MODULE_NAME, "smtpverify_https_backend_v1", "HTTPS module");
  if (!module) return tl::unexpected(module.error());
  using Entry = const HttpsBackend* (*)();
  const HttpsBackend* backend = reinterpret_cast<Entry>(module->symbol)();
  if (backend == nullptr || backend->abi != https_backend_abi()) {
    return tl::unexpected("the HTTPS module " + module->path +
                          " belongs to another build of check_smtp_verify (" +
                          SMTPVERIFY_HTTPS_ABI_VERSION + " expected)");
  }
  return backend;
}

}  // namespace

const tl::expected<const HttpsBackend*, std::string>& https_backend() {
  static const tl::expected<const HttpsBackend*, std::string> backend = load();
  return backend;
}

}  // namespace smtpverify::net
