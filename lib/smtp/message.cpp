#include "smtp/message.h"

#include <array>
#include <cstdio>

namespace smtpverify::smtp {

std::string to_data_payload(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 16 + 2);
  bool line_start = true;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\r' || c == '\n') {
      // CRLF counts once; a lone CR or LF is a line end too.
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      out += "\r\n";
      line_start = true;
      continue;
    }
    // RFC 5321 §4.5.2: a line starting with "." gets one more, so the server strips it.
    if (line_start && c == '.') out += '.';
    out += c;
    line_start = false;
  }
  if (!line_start) out += "\r\n";
  return out;
}

std::string format_rfc5322_date(std::time_t when) {
  static constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::tm tm{};
  gmtime_r(&when, &tm);
  std::array<char, 64> buf{};
  std::snprintf(buf.data(), buf.size(), "%s, %02d %s %04d %02d:%02d:%02d +0000",
                kDays[static_cast<std::size_t>(tm.tm_wday) % 7], tm.tm_mday,
                kMonths[static_cast<std::size_t>(tm.tm_mon) % 12], tm.tm_year + 1900, tm.tm_hour,
                tm.tm_min, tm.tm_sec);
  return buf.data();
}

std::string build_test_message(const TestMessage& message) {
  std::string to;
  for (const auto& rcpt : message.to) {
    if (!to.empty()) to += ", ";
    to += '<' + rcpt + '>';
  }
  std::string out;
  out += "Date: " + message.date + "\n";
  out += "From: <" + message.from + ">\n";
  out += "To: " + to + "\n";
  out += "Message-ID: <" + message.message_id + ">\n";
  out += "Subject: check_smtp_verify test message\n";
  out += "Auto-Submitted: auto-generated\n";
  out += "MIME-Version: 1.0\n";
  out += "Content-Type: text/plain; charset=us-ascii\n";
  out += "\n";
  out += "This is a test message sent by check_smtp_verify from " + message.helo_name + ".\n";
  out += "It verifies that this server accepts mail; it needs no action.\n";
  return out;
}

}  // namespace smtpverify::smtp
