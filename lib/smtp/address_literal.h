// SMTP address literals (RFC 5321 §4.1.3): "[192.0.2.1]", "[IPv6:2001:db8::1]".
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace smtpverify::smtp {

/// "[192.0.2.1]" / "[IPv6:2001:db8::1]" -> the address in canonical text form ("192.0.2.1",
/// "2001:db8::1"; the tag may be missing); nullopt for anything else (a name, a bare address).
std::optional<std::string> address_literal(std::string_view text);

}  // namespace smtpverify::smtp
