// The plugin's TLS backend: the OpenSSL code lives in a module (SMTPVERIFY_TLS_MODULE_NAME)
// that is loaded on first use, so a plain check never maps, relocates or initialises
// libssl/libcrypto (what that saves: tests/bench/README.md). Where it may be found and when it
// is refused: module_loader.cpp.
#include "net/module_loader.h"
#include "net/tls_backend.h"

namespace smtpverify::net {

namespace {

tl::expected<const TlsBackend*, std::string> load() {
  auto module = load_module(SMTPVERIFY_TLS_MODULE_NAME, "smtpverify_tls_backend_v1", "TLS module");
  if (!module) return tl::unexpected(module.error());
  using Entry = const TlsBackend* (*)();
  const TlsBackend* backend = reinterpret_cast<Entry>(module->symbol)();
  if (backend == nullptr || backend->abi != tls_backend_abi()) {
    return tl::unexpected("the TLS module " + module->path +
                          " belongs to another build of check_smtp_verify (" +
                          SMTPVERIFY_TLS_ABI_VERSION + " expected)");
  }
  return backend;
}

}  // namespace

const tl::expected<const TlsBackend*, std::string>& tls_backend() {
  static const tl::expected<const TlsBackend*, std::string> backend = load();
  return backend;
}

}  // namespace smtpverify::net
