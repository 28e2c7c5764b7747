// ASCII case for protocol text (DNS names, RFC 4343; SMTP keywords, RFC 5321 §2.4): letters
// A-Z/a-z only, never <ctype.h>, whose answers depend on the locale, on bytes from the wire or
// from files.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

namespace smtpverify::util {

/// `c` lower-cased if it is an ASCII capital letter, else unchanged.
constexpr char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

/// `c` upper-cased if it is an ASCII small letter, else unchanged.
constexpr char ascii_upper(char c) {
  return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}

/// `s` with its ASCII letters upper-cased.
inline std::string ascii_upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) { return ascii_upper(c); });
  return out;
}

/// Whether `a` and `b` are equal but for the case of ASCII letters.
inline bool equal_ignoring_ascii_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return ascii_lower(x) == ascii_lower(y);
         });
}

}  // namespace smtpverify::util
