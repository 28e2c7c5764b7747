// Fuzz target: smtp::ReplyParser fed arbitrary bytes in arbitrary splits. The first input byte
// chooses the split; the same bytes must give the same replies whole, byte by byte and split.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "smtp/reply.h"

namespace {

using smtpverify::smtp::Reply;
using smtpverify::smtp::ReplyError;
using smtpverify::smtp::ReplyParser;

struct Outcome {
  std::vector<Reply> replies;
  ReplyError error = ReplyError::None;
  bool in_progress = false;
};

void check_reply(const Reply& r) {
  // RFC 5321 §4.2: %x32-35 %x30-35 %x30-39, and the bounds the parser promises.
  FUZZ_CHECK(r.code >= 200 && r.code <= 559 && r.code / 10 % 10 <= 5);
  FUZZ_CHECK(!r.lines.empty() && r.lines.size() <= ReplyParser::kMaxReplyLines);
  for (const auto& line : r.lines) {
    FUZZ_CHECK(line.size() <= ReplyParser::kMaxLineBytes && line.find('\n') == std::string::npos);
  }
  FUZZ_CHECK(r.first_line().rfind(std::to_string(r.code), 0) == 0);
}

// chunk(remaining) says how many bytes the next read delivers.
template <typename Chunker>
Outcome parse(std::string_view bytes, Chunker chunk) {
  ReplyParser parser;
  Outcome out;
  while (!bytes.empty()) {
    const std::size_t n = chunk(bytes.size());
    std::string_view read = bytes.substr(0, n);
    bytes.remove_prefix(n);
    while (!read.empty()) {
      const std::size_t before = read.size();
      const auto status = parser.feed(read);
      if (status == ReplyParser::Status::Error) {
        FUZZ_CHECK(parser.error() != ReplyError::None && !parser.error_detail().empty());
        std::string_view more = "220 ok\r\n";  // an error is final
        FUZZ_CHECK(parser.feed(more) == ReplyParser::Status::Error);
        out.error = parser.error();
        return out;
      }
      if (status == ReplyParser::Status::NeedMore) {
        FUZZ_CHECK(read.empty());  // NeedMore only once everything offered is taken
        break;
      }
      FUZZ_CHECK(read.size() < before);  // a reply ends with at least its LF
      out.replies.push_back(parser.take());
      check_reply(out.replies.back());
    }
  }
  out.in_progress = parser.in_progress();
  return out;
}

bool same(const Outcome& a, const Outcome& b) {
  if (a.error != b.error || a.in_progress != b.in_progress) return false;
  if (a.replies.size() != b.replies.size()) return false;
  for (std::size_t i = 0; i < a.replies.size(); ++i) {
    if (a.replies[i].code != b.replies[i].code || a.replies[i].lines != b.replies[i].lines) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t max_read = data[0] + 1u;
  std::uint32_t state = data[0] | 1u;
  // A cheap xorshift: the split pattern depends on the first byte only.
  const auto random_split = [&state, max_read](std::size_t left) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return std::min<std::size_t>(left, 1 + state % max_read);
  };
  const Outcome whole = parse(bytes, [](std::size_t left) { return left; });
  FUZZ_CHECK(same(whole, parse(bytes, [](std::size_t) { return std::size_t{1}; })));
  FUZZ_CHECK(same(whole, parse(bytes, random_split)));
  return 0;
}
