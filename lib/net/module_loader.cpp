// Loads the plugin's modules (the TLS module, tls_loader.cpp; the HTTPS module, https_loader.cpp):
// code that only some checks need lives in a shared object opened on first use. Compiled into
// the executable (smtpverify_use_tls_module() in lib/CMakeLists.txt), which knows where the
// modules are.
//
// Where: whatever file is loaded runs its constructors in this process before any check of
// ours, so only two folders are ever looked at, both fixed when building:
//   1. in the build tree only (the executable's own file, /proc/self/exe, lies inside
//      SMTPVERIFY_BUILD_TREE): beside it as the build tree has it (plugin/../lib/), for the
//      tests;
//   2. the absolute install folder, SMTPVERIFY_MODULE_INSTALL_DIR. An installed plugin, or
//      a copy anywhere else, looks nowhere else: not relative to its own folder, which whoever
//      can write near a copy could fill.
// The module found is opened (O_NOFOLLOW) and refused unless it is a regular file owned by
// root or by us and writable by nobody else; what is loaded is that very file
// (/proc/self/fd/N), so it cannot be swapped between the check and dlopen(). A module of
// another build is refused by its backend's ABI check (load_backend(), module_loader.h). Not a
// DT_RUNPATH: the dynamic loader would search a RUNPATH folder for each of the plugin's own
// libraries too, on every start.
#include "net/module_loader.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <string>
#include <vector>

#include "net/stream.h"
#include "util/sanitizers.h"

namespace smtpverify::net {

namespace {

// RTLD_DEEPBIND: the module's symbols are looked up in its own dependency list first (module,
// libssl, libcrypto, then the rest) instead of after every object of the plugin's global scope,
// which makes binding OpenSSL much cheaper. Nothing in the plugin interposes on them, and the
// allocator pairs stay consistent: OpenSSL allocates through the module, which calls libc's
// malloc/free either way. Not under AddressSanitizer, whose malloc must stay first.
constexpr int kDeepBind = util::kAddressSanitizer ? 0 : RTLD_DEEPBIND;

// `rel` ("../lib") below the folder `dir`, its leading "../" resolved ("DIR/../lib" would do
// as well, but names the file less plainly in an error).
std::string below(std::string dir, std::string_view rel) {
  while (rel.substr(0, 3) == "../" && dir.rfind('/') != std::string::npos) {
    dir.resize(dir.rfind('/'));
    rel.remove_prefix(3);
  }
  return dir + "/" + std::string(rel);
}

// Where the module may be, most specific first (see the top of this file).
std::vector<std::string> candidates(const std::string& name) {
  std::vector<std::string> out;
  std::array<char, PATH_MAX> exe{};
  const ssize_t n = ::readlink("/proc/self/exe", exe.data(), exe.size() - 1);
  const std::string self(exe.data(), n > 0 ? static_cast<std::size_t>(n) : 0);
  if (self.rfind(std::string(SMTPVERIFY_BUILD_TREE) + "/", 0) == 0) {
    out.push_back(below(self.substr(0, self.rfind('/')), SMTPVERIFY_MODULE_BUILD_REL) + "/" + name);
  }
  const std::string installed = SMTPVERIFY_MODULE_INSTALL_DIR;
  if (!installed.empty()) out.push_back(installed + "/" + name);
  return out;
}

std::string dl_error() {
  const char* e = dlerror();
  return e != nullptr ? e : "unknown error";
}

// Opens the module at `path` for loading, or says why it must not be loaded. A file that
// others may write is a file others may have written.
tl::expected<Fd, std::string> open_module(const std::string& path, std::string_view what) {
  const std::string refused = "refusing the " + std::string(what) + " " + path + ": ";
  Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return tl::unexpected(refused + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return tl::unexpected(refused + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return tl::unexpected(refused + "not a regular file");
  if (st.st_uid != 0 && st.st_uid != ::geteuid()) {
    return tl::unexpected(refused + "owned by uid " + std::to_string(st.st_uid) +
                          ", neither root nor us");
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return tl::unexpected(refused + "writable by group or others");
  }
  return fd;
}

}  // namespace

tl::expected<ModuleEntry, std::string> load_module(const std::string& name, const char* entry,
                                                   std::string_view what) {
  const std::string module_words(what);
  const std::vector<std::string> paths = candidates(name);
  std::string path;
  for (const auto& p : paths) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) == 0) {
      path = p;
      break;
    }
  }
  if (path.empty()) {
    std::string list;
    for (const auto& p : paths) list += (list.empty() ? "" : ", ") + p;
    return tl::unexpected("cannot find the " + module_words + " " + name + " (looked for " + list +
                          ")");
  }
  auto fd = open_module(path, what);
  if (!fd) return tl::unexpected(fd.error());
  // RTLD_LOCAL: the library's symbols stay out of the global scope; RTLD_NOW: a broken module
  // is reported here, not at some later call.
  const std::string opened = "/proc/self/fd/" + std::to_string(fd->get());
  void* module = dlopen(opened.c_str(), RTLD_NOW | RTLD_LOCAL | kDeepBind);
  if (module == nullptr) {
    return tl::unexpected("cannot load the " + module_words + " " + path + ": " + dl_error());
  }
  // The fd stays open as long as the module stays loaded (the process): dlopen() knows an
  // object by the name it was opened by, so a second module opened under the same
  // /proc/self/fd/N (the number reused once closed) would be taken for the first.
  static_cast<void>(fd->release());
  void* symbol = dlsym(module, entry);
  if (symbol == nullptr) {
    return tl::unexpected("the " + module_words + " " + path + " is not ours: " + dl_error());
  }
  return ModuleEntry{symbol, path};
}

}  // namespace smtpverify::net
