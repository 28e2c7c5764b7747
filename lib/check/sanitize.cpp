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

std::string perfdata_label(std::string_view text) {
  static constexpr std::size_t kTail = 30;
  static constexpr std::string_view kJoin = "..";
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '.' || c == '-';
    out += safe ? ch : '_';
  }
  if (out.empty()) return "_";
  if (out.size() > kMaxLabelChars) {
    const std::size_t head = kMaxLabelChars - kJoin.size() - kTail;
    out = out.substr(0, head) + std::string(kJoin) + out.substr(out.size() - kTail);
  }
  return out;
}

}  // namespace smtpverify::check
