#include "smtp/reply.h"

#include <algorithm>
#include <utility>

namespace smtpverify::smtp {

namespace {

// RFC 5321 §4.2: Reply-code = %x32-35 %x30-35 %x30-39. Anything else is not a reply code.
bool parse_code(std::string_view line, int& code) {
  if (line.size() < 3) return false;
  const char a = line[0], b = line[1], c = line[2];
  if (a < '2' || a > '5' || b < '0' || b > '5' || c < '0' || c > '9') return false;
  code = (a - '0') * 100 + (b - '0') * 10 + (c - '0');
  return true;
}

}  // namespace

std::string Reply::first_line() const {
  std::string out = std::to_string(code);
  if (!lines.empty() && !lines.front().empty()) {
    out += ' ';
    out += lines.front();
  }
  return out;
}

std::string Reply::full_text() const {
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i != 0) out += '\n';
    out += std::to_string(code);
    out += (i + 1 == lines.size()) ? ' ' : '-';
    out += lines[i];
  }
  return out;
}

ReplyParser::Status ReplyParser::fail(ReplyError error, std::string detail) {
  error_ = error;
  error_detail_ = std::move(detail);
  return Status::Error;
}

ReplyParser::Status ReplyParser::feed(std::string_view& in) {
  if (error_ != ReplyError::None) return Status::Error;
  if (complete_) return Status::Complete;
  while (!in.empty()) {
    const auto lf = in.find('\n');
    const std::size_t take = (lf == std::string_view::npos) ? in.size() : lf + 1;
    // Bound memory before copying: a line without an end can never grow past the cap.
    if (line_.size() + take > kMaxLineBytes + 2) {
      return fail(ReplyError::OverLong, "reply line longer than 4096 bytes");
    }
    line_.append(in.substr(0, take));
    in.remove_prefix(take);
    if (lf == std::string_view::npos) return Status::NeedMore;

    // A full line: strip LF and an optional CR (a bare LF line end is tolerated).
    std::string_view line(line_);
    line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > kMaxLineBytes) {
      return fail(ReplyError::OverLong, "reply line longer than 4096 bytes");
    }
    reply_bytes_ += line_.size();
    if (reply_bytes_ > kMaxReplyBytes || reply_.lines.size() + 1 > kMaxReplyLines) {
      return fail(ReplyError::OverLong, "reply longer than 64 KiB or 1000 lines");
    }
    const Status status = parse_line(line);
    line_.clear();
    if (status != Status::NeedMore) return status;
  }
  return Status::NeedMore;
}

ReplyParser::Status ReplyParser::parse_line(std::string_view line) {
  int code = 0;
  if (!parse_code(line, code)) return fail(ReplyError::Malformed, "not an SMTP reply line");
  // RFC 5321 §4.2.1: every line of a multi-line reply carries the same code.
  if (!reply_.lines.empty() && code != reply_.code) {
    return fail(ReplyError::Malformed, "reply codes differ between lines");
  }
  reply_.code = code;
  if (line.size() == 3) {  // a bare code without text ends the reply (§4.2)
    reply_.lines.emplace_back();
    complete_ = true;
    return Status::Complete;
  }
  const char sep = line[3];
  if (sep != ' ' && sep != '-') return fail(ReplyError::Malformed, "not an SMTP reply line");
  reply_.lines.emplace_back(line.substr(4));
  if (sep == ' ') {
    complete_ = true;
    return Status::Complete;
  }
  return Status::NeedMore;
}

Reply ReplyParser::take() {
  Reply out = std::move(reply_);
  reply_ = Reply{};
  reply_bytes_ = 0;
  complete_ = false;
  return out;
}

}  // namespace smtpverify::smtp
