// Finding, vetting and opening the plugin's modules (module_loader.cpp). Internal to lib/net;
// compiled into the plugin only.
#pragma once

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

}  // namespace smtpverify::net
