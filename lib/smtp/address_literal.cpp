#include "smtp/address_literal.h"

#include <arpa/inet.h>

#include <array>

namespace smtpverify::smtp {

std::optional<std::string> address_literal(std::string_view text) {
  if (text.size() < 3 || text.front() != '[' || text.back() != ']') return std::nullopt;
  std::string inner(text.substr(1, text.size() - 2));
  // RFC 5321 §4.1.3: IPv6 literals carry the "IPv6:" tag (accepted without it, as before).
  if (inner.rfind("IPv6:", 0) == 0) inner.erase(0, 5);
  std::array<unsigned char, 16> bytes{};
  std::array<char, INET6_ADDRSTRLEN> canonical{};
  for (const int family : {AF_INET, AF_INET6}) {
    if (::inet_pton(family, inner.c_str(), bytes.data()) == 1 &&
        ::inet_ntop(family, bytes.data(), canonical.data(), canonical.size()) != nullptr) {
      return std::string(canonical.data());
    }
  }
  return std::nullopt;
}

}  // namespace smtpverify::smtp
