// A stand-in for the TLS module of another build of check_smtp_verify: the same file name and
// entry point, its backend fingerprinted as that build's would be (the same crossing types,
// another version: SMTPVERIFY_TLS_ABI_VERSION is set to "0.0.0-another-build" for this file).
// It offers nothing else: the plugin must refuse it before it calls anything of it
// (Plugin.ModuleOfAnotherBuildIsRefused).
#include "net/tls_backend.h"

const smtpverify::net::TlsBackend* smtpverify_tls_backend_v1() {
  static const smtpverify::net::TlsBackend backend{smtpverify::net::tls_backend_abi()};
  return &backend;
}
