// SMTP reply parsing (RFC 5321 §4.2), bounded and sans-I/O.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace smtpverify::smtp {

/// One complete server reply: the code and the text of every line.
struct Reply {
  int code = 0;
  /// Text after "NNN-" / "NNN " on each line, raw bytes as received (CR/LF stripped).
  std::vector<std::string> lines;

  /// The reply class, i.e. the first digit (RFC 5321 §4.2.1: it alone decides the outcome).
  [[nodiscard]] int klass() const { return code / 100; }
  /// "250 text" of the first line, the form quoted in status lines.
  [[nodiscard]] std::string first_line() const;
  /// Every line as "NNN-text"/"NNN text", joined by "\n" (what -R regexes match against).
  [[nodiscard]] std::string full_text() const;
};

/// Why a reply could not be parsed.
enum class ReplyError {
  None,
  Malformed,  ///< not "NNN[ -]text", code out of range, or codes differ between lines
  OverLong,   ///< a line over kMaxLineBytes, a reply over kMaxReplyBytes or kMaxReplyLines
};

/// Incremental reply parser: bytes in, at most one complete reply out per call.
class ReplyParser {
 public:
  static constexpr std::size_t kMaxLineBytes = 4096;
  static constexpr std::size_t kMaxReplyBytes = 64 * 1024;
  static constexpr std::size_t kMaxReplyLines = 1000;

  enum class Status { NeedMore, Complete, Error };

  /// Consumes bytes from the front of `in`, stopping right after the end of one reply, so the
  /// caller sees whatever follows it (unsolicited bytes). After Complete, take() the reply.
  Status feed(std::string_view& in);
  /// Moves the completed reply out and resets the parser for the next one.
  Reply take();
  /// True when part of a reply has been received but not all of it.
  [[nodiscard]] bool in_progress() const { return !line_.empty() || !reply_.lines.empty(); }
  [[nodiscard]] ReplyError error() const { return error_; }
  /// A short description of the error, without server text.
  [[nodiscard]] const std::string& error_detail() const { return error_detail_; }

 private:
  Status fail(ReplyError error, std::string detail);
  Status parse_line(std::string_view line);

  std::string line_;  // bytes of the current, unfinished line
  Reply reply_;
  std::size_t reply_bytes_ = 0;
  bool complete_ = false;
  ReplyError error_ = ReplyError::None;
  std::string error_detail_;
};

}  // namespace smtpverify::smtp
