// Server text and user text made safe for a Nagios status line.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace smtpverify::check {

/// Server text quoted in the first line is cut at this many characters (contract §3).
inline constexpr std::size_t kMaxQuotedChars = 200;

/// Printable ASCII only: control bytes, DEL, 8-bit bytes and '|' become "\xNN" (so no text can
/// forge perfdata or add lines); cut at `max_chars` output characters with "..." appended.
std::string sanitize(std::string_view text, std::size_t max_chars = kMaxQuotedChars);

}  // namespace smtpverify::check
