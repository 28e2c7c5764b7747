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

/// A perfdata label is at most this many characters (a DNS name, 253, fits with its phase).
inline constexpr std::size_t kMaxLabelChars = 100;

/// A perfdata label made of [A-Za-z0-9_.-] only: every other byte (space, '=', '|', quotes,
/// control and 8-bit bytes) becomes '_', so no name can forge perfdata or break a grapher.
/// Longer than kMaxLabelChars: the first 68 and the last 30 characters joined by "..", so the
/// phase suffix of "<MX host>_<phase>" survives. "" becomes "_".
std::string perfdata_label(std::string_view text);

}  // namespace smtpverify::check
