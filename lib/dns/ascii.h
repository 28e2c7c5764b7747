// DNS names compare case-insensitively, ASCII letters only (RFC 4343): never <ctype.h>, whose
// answers depend on the locale, on names from the wire or from files.
#pragma once

#include <algorithm>
#include <string_view>

namespace smtpverify::dns {

inline char lower_ascii(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline bool equal_ignoring_ascii_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return lower_ascii(x) == lower_ascii(y);
         });
}

}  // namespace smtpverify::dns
