// The plugin's TLS backend: the OpenSSL code lives in a module (SMTPVERIFY_TLS_MODULE_NAME)
// that is loaded on first use, so a plain check never maps, relocates or initialises
// libssl/libcrypto (~3.5 M instructions and ~1.8 MB of RSS a run). Compiled into the
// executable (smtpverify_use_tls_module() in lib/CMakeLists.txt), which knows where it and
// the module are installed.
//
// Finding the module: by absolute path, in this order:
//   1. relative to the plugin's own file (/proc/self/exe) as installed: e.g.
//      /usr/lib/nagios/plugins/../../x86_64-linux-gnu/check-smtp-verify/ (SMTPVERIFY_MODULEDIR),
//      so `cmake --install --prefix ANY`, the .deb and the .rpm each find their own module;
//   2. relative to it as in the build tree (plugin/../lib/), for the tests;
//   3. the absolute install folder, for a plugin copied elsewhere or a system without /proc.
// Each is stat()ed; the first that exists is loaded, and if that fails its error is reported.
// Cost: readlink + stat + open, only when TLS or AUTH is used. Not a DT_RUNPATH: the loader
// would search a RUNPATH folder for each of the plugin's own libraries too, ~46 failing
// openat()/stat() calls (glibc-hwcaps and legacy hwcaps subfolders) on every start, plain or
// not. A module of another build is refused by the ABI check below.
#include <dlfcn.h>
#include <link.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <climits>
#include <string>
#include <vector>

#include "net/tls_backend.h"

namespace smtpverify::net {

namespace {

// Binding libssl and libcrypto costs ~4,000 symbol lookups. Loaded normally, each lookup first
// misses in every object of the global scope (the plugin, libstdc++, Boost, c-ares, libc, ...)
// before it reaches the module's own libraries: ~1.9 M instructions more than when the plugin
// was linked with them. RTLD_DEEPBIND searches the module's own dependency list first (module,
// libssl, libcrypto, then the rest). Nothing in the plugin interposes on them, and the
// allocator pairs stay consistent: OpenSSL allocates through tls_openssl.cpp, which calls
// libc's malloc/free either way. Not under AddressSanitizer, whose malloc must stay first.
#if defined(__SANITIZE_ADDRESS__)
constexpr int kDeepBind = 0;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr int kDeepBind = 0;
#else
constexpr int kDeepBind = RTLD_DEEPBIND;
#endif
#else
constexpr int kDeepBind = RTLD_DEEPBIND;
#endif

// Where the module may be, most specific first (see the top of this file).
std::vector<std::string> candidates(const std::string& name) {
  std::vector<std::string> out;
  const auto add = [&out](std::string path) {
    for (const auto& p : out) {
      if (p == path) return;
    }
    out.push_back(std::move(path));
  };
  std::array<char, PATH_MAX> exe{};
  const ssize_t n = ::readlink("/proc/self/exe", exe.data(), exe.size() - 1);
  if (n > 0) {
    std::string dir(exe.data(), static_cast<std::size_t>(n));
    dir.resize(dir.rfind('/') + 1);
    for (const std::string rel :
         {SMTPVERIFY_TLS_MODULE_INSTALL_REL, SMTPVERIFY_TLS_MODULE_BUILD_REL}) {
      if (!rel.empty()) add(dir + rel + "/" + name);
    }
  }
  const std::string installed = SMTPVERIFY_TLS_MODULE_INSTALL_DIR;
  if (!installed.empty()) add(installed + "/" + name);
  return out;
}

std::string dl_error() {
  const char* e = dlerror();
  return e != nullptr ? e : "unknown error";
}

const TlsBackend* load(std::string& error) {
  const std::string name = SMTPVERIFY_TLS_MODULE_NAME;
  const std::vector<std::string> paths = candidates(name);
  std::string path;
  for (const auto& p : paths) {
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0) {
      path = p;
      break;
    }
  }
  if (path.empty()) {
    std::string list;
    for (const auto& p : paths) list += (list.empty() ? "" : ", ") + p;
    error = "cannot find the TLS module " + name + " (looked for " + list + ")";
    return nullptr;
  }
  // RTLD_LOCAL: OpenSSL's symbols stay out of the global scope; RTLD_NOW: a broken module is
  // reported here, not at some later call.
  void* module = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | kDeepBind);
  if (module == nullptr) {
    error = "cannot load the TLS module: " + dl_error();
    return nullptr;
  }
  using Entry = const TlsBackend* (*)();
  auto entry = reinterpret_cast<Entry>(dlsym(module, "smtpverify_tls_backend_v1"));
  if (entry == nullptr) {
    error = "the TLS module " + path + " is not ours: " + dl_error();
    return nullptr;
  }
  const TlsBackend* backend = entry();
  if (backend == nullptr || backend->abi != tls_backend_abi()) {
    error = "the TLS module " + path + " belongs to another build of check_smtp_verify (" +
            SMTPVERIFY_TLS_ABI_VERSION + " expected)";
    return nullptr;
  }
  return backend;
}

}  // namespace

const TlsBackend* tls_backend(std::string& error) {
  static std::string failure;
  static const TlsBackend* const backend = load(failure);
  error = failure;
  return backend;
}

}  // namespace smtpverify::net
