#include "check/sanitize.h"

namespace smtpverify::check {

std::string sanitize(std::string_view text, std::size_t max_chars) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size() < max_chars ? text.size() : max_chars);
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    const bool plain = c >= 0x20 && c < 0x7f && c != '|';
    const std::size_t width = plain ? 1 : 4;
    if (out.size() + width > max_chars) {
      out += "...";
      return out;
    }
    if (plain) {
      out += ch;
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

}  // namespace smtpverify::check
