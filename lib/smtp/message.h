// The DATA payload: a generated RFC 5322 test message, or a user's file, made wire-ready.
#pragma once

#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace smtpverify::smtp {

/// Normalises every line end (CRLF, bare LF, bare CR) to CRLF, ends the text with CRLF, and
/// dot-stuffs lines that start with "." (RFC 5321 §4.5.2). The result excludes the final ".".
std::string to_data_payload(std::string_view text);

/// RFC 5322 §3.3 date-time of a UTC instant, e.g. "Sat, 28 Nov 2026 15:04:05 +0000".
/// Locale-free: day and month names are fixed English.
std::string format_rfc5322_date(std::time_t when);

/// The fields of the generated test message.
struct TestMessage {
  std::string from;             ///< header From address (never empty)
  std::vector<std::string> to;  ///< header To addresses
  std::string date;             ///< from format_rfc5322_date
  std::string message_id;       ///< without angle brackets
  std::string helo_name;        ///< named in the body so a reader knows which probe sent it
};

/// The generated message as plain text (LF line ends); pass it through to_data_payload().
std::string build_test_message(const TestMessage& message);

}  // namespace smtpverify::smtp
