// Finding, vetting and opening the plugin's modules (module_loader.cpp), and what both of
// them share: the fingerprint of a backend's crossing types (backend_abi(), used on both sides
// of the boundary) and taking the backend from a module (load_backend(), tls_loader.cpp and
// https_loader.cpp). Internal to lib/net; load_module() is compiled into the plugin only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

namespace smtpverify::net {

/// A module opened and its entry point found.
struct ModuleEntry {
  void* symbol = nullptr;  ///< the entry point's address
  std::string path;        ///< the module file loaded, for messages
};

/// Loads the module file `name` from the only folders allowed (module_loader.cpp) and looks up
/// `entry`; otherwise why not, naming the module as `what` ("TLS module"). The module stays
/// loaded for the life of the process.
tl::expected<ModuleEntry, std::string> load_module(const std::string& name, const char* entry,
                                                   std::string_view what);

/// A fingerprint of the types that cross a module's boundary (their sizes), of their revision
/// and of the version (FNV-1a): a module from another build (stale, or installed by another
/// version) is refused, not trusted.
constexpr std::uint64_t backend_abi(std::initializer_list<std::size_t> sizes,
                                    std::uint64_t revision, std::string_view version) {
  std::uint64_t h = 1469598103934665603ULL;
  const auto mix = [&h](std::uint64_t v) {
    h ^= v;
    h *= 1099511628211ULL;
  };
  for (const std::size_t size : sizes) mix(size);
  mix(revision);
  for (const char c : version) mix(static_cast<unsigned char>(c));
  return h;
}

/// The backend a module offers: loads the module file `name` (load_module()) and calls its
/// entry point `entry`, which returns a `const Backend*`; refused unless its `abi` is `abi`
/// (a module of another build; `version` is the one expected).
template <typename Backend>
tl::expected<const Backend*, std::string> load_backend(const std::string& name, const char* entry,
                                                       std::string_view what, std::uint64_t abi,
                                                       std::string_view version) {
  auto module = load_module(name, entry, what);
  if (!module) return tl::unexpected(module.error());
  using Entry = const Backend* (*)();
  const Backend* backend = reinterpret_cast<Entry>(module->symbol)();
  if (backend == nullptr || backend->abi != abi) {
    return tl::unexpected("the " + std::string(what) + " " + module->path +
                          " belongs to another build of check_smtp_verify (" +
                          std::string(version) + " expected)");
  }
  return backend;
}

}  // namespace smtpverify::net
