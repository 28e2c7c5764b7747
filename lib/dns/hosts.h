// The hosts(5) file, read the way `hostname -f` does for our own name.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace smtpverify::dns {

/// The canonical name (the first name of its line) of `name` in a hosts(5) text, matched
/// case-insensitively against every name of every line; nullopt when no line names it.
std::optional<std::string> hosts_canonical_name(std::string_view hosts_text, std::string_view name);

}  // namespace smtpverify::dns
