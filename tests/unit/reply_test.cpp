#include "smtp/reply.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace smtpverify::smtp {
namespace {

struct Parsed {
  ReplyParser::Status status;
  Reply reply;
  ReplyError error;
  std::string rest;  // bytes left after the reply
};

// Feeds `chunks` in order, stopping at the first complete reply or error.
Parsed parse_chunks(const std::vector<std::string>& chunks) {
  ReplyParser parser;
  Parsed out{ReplyParser::Status::NeedMore, {}, ReplyError::None, {}};
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    std::string_view in = chunks[i];
    out.status = parser.feed(in);
    if (out.status != ReplyParser::Status::NeedMore) {
      out.rest = std::string(in);
      for (std::size_t j = i + 1; j < chunks.size(); ++j) out.rest += chunks[j];
      if (out.status == ReplyParser::Status::Complete) out.reply = parser.take();
      out.error = parser.error();
      return out;
    }
  }
  return out;
}

// Parses `text` whole, then split at every byte boundary and byte by byte; all must agree.
Parsed parse_every_split(const std::string& text) {
  const Parsed whole = parse_chunks({text});
  for (std::size_t cut = 1; cut < text.size(); ++cut) {
    const Parsed split = parse_chunks({text.substr(0, cut), text.substr(cut)});
    EXPECT_EQ(split.status, whole.status) << "split at " << cut;
    EXPECT_EQ(split.reply.code, whole.reply.code) << "split at " << cut;
    EXPECT_EQ(split.reply.lines, whole.reply.lines) << "split at " << cut;
    EXPECT_EQ(split.rest, whole.rest) << "split at " << cut;
  }
  std::vector<std::string> bytes;
  for (const char c : text) bytes.emplace_back(1, c);
  const Parsed single = parse_chunks(bytes);
  EXPECT_EQ(single.status, whole.status);
  EXPECT_EQ(single.reply.lines, whole.reply.lines);
  EXPECT_EQ(single.rest, whole.rest);
  return whole;
}

TEST(ReplyParser, SingleLine) {
  const auto p = parse_every_split("250 2.0.0 Ok\r\n");
  ASSERT_EQ(p.status, ReplyParser::Status::Complete);
  EXPECT_EQ(p.reply.code, 250);
  EXPECT_EQ(p.reply.lines, (std::vector<std::string>{"2.0.0 Ok"}));
  EXPECT_EQ(p.reply.first_line(), "250 2.0.0 Ok");
}

TEST(ReplyParser, MultiLineGreeting) {
  const auto p = parse_every_split("220-mail.example.org ESMTP\r\n220-second\r\n220 last\r\n");
  ASSERT_EQ(p.status, ReplyParser::Status::Complete);
  EXPECT_EQ(p.reply.code, 220);
  EXPECT_EQ(p.reply.lines, (std::vector<std::string>{"mail.example.org ESMTP", "second", "last"}));
  EXPECT_EQ(p.reply.full_text(), "220-mail.example.org ESMTP\n220-second\n220 last");
}

TEST(ReplyParser, BareCodeWithoutText) {
  const auto p = parse_every_split("250\r\n");
  ASSERT_EQ(p.status, ReplyParser::Status::Complete);
  EXPECT_EQ(p.reply.code, 250);
  EXPECT_EQ(p.reply.lines, (std::vector<std::string>{""}));
  EXPECT_EQ(p.reply.first_line(), "250");
}

TEST(ReplyParser, BareLfLineEndTolerated) {
  const auto p = parse_every_split("250-a\n250 b\n");
  ASSERT_EQ(p.status, ReplyParser::Status::Complete);
  EXPECT_EQ(p.reply.lines, (std::vector<std::string>{"a", "b"}));
}

TEST(ReplyParser, ContinuationTextThatLooksLikeACode) {
  const auto p = parse_every_split("250-234 text\r\n250 ok\r\n");
  ASSERT_EQ(p.status, ReplyParser::Status::Complete);
  EXPECT_EQ(p.reply.code, 250);
  EXPECT_EQ(p.reply.lines, (std::vector<std::string>{"234 text", "ok"}));
}

TEST(ReplyParser, UnknownCodeKeepsItsClass) {
  const auto p = parse_every_split("259 odd but valid\r\n");
  ASSERT_EQ(p.status, ReplyParser::Status::Complete);
  EXPECT_EQ(p.reply.klass(), 2);
}

TEST(ReplyParser, StopsRightAfterTheReply) {
  const auto p = parse_every_split("250 ok\r\n354 extra\r\n");
  ASSERT_EQ(p.status, ReplyParser::Status::Complete);
  EXPECT_EQ(p.rest, "354 extra\r\n");
}

TEST(ReplyParser, MismatchedCodesAreMalformed) {
  const auto p = parse_every_split("250-a\r\n251 b\r\n");
  EXPECT_EQ(p.status, ReplyParser::Status::Error);
  EXPECT_EQ(p.error, ReplyError::Malformed);
}

TEST(ReplyParser, OutOfRangeCodesAreMalformed) {
  for (const std::string& text :
       {std::string("600 x\r\n"), std::string("199 x\r\n"), std::string("260 x\r\n"),
        std::string("100 x\r\n"), std::string("2x0 x\r\n"), std::string("25\r\n"),
        std::string("250x\r\n"), std::string("\r\n"), std::string("hello\r\n"),
        std::string("\x00\x01\x02\r\n", 5)}) {
    const auto p = parse_chunks({text});
    EXPECT_EQ(p.status, ReplyParser::Status::Error) << text;
    EXPECT_EQ(p.error, ReplyError::Malformed) << text;
  }
}

TEST(ReplyParser, LineOverFourKibWithoutEndIsOverLongAtOnce) {
  ReplyParser parser;
  const std::string chunk(1000, 'a');
  std::string_view in = "250-";
  EXPECT_EQ(parser.feed(in), ReplyParser::Status::NeedMore);
  ReplyParser::Status status = ReplyParser::Status::NeedMore;
  int chunks = 0;
  while (status == ReplyParser::Status::NeedMore && chunks < 100) {
    std::string_view c = chunk;
    status = parser.feed(c);
    ++chunks;
  }
  EXPECT_EQ(status, ReplyParser::Status::Error);
  EXPECT_EQ(parser.error(), ReplyError::OverLong);
  EXPECT_LE(chunks, 5);  // noticed within the first 4 KiB, not after buffering everything
}

TEST(ReplyParser, LineOfExactlyFourKibIsFine) {
  const std::string line = "250 " + std::string(4092, 'x') + "\r\n";
  const auto p = parse_chunks({line});
  EXPECT_EQ(p.status, ReplyParser::Status::Complete);
  const auto q = parse_chunks({"250 " + std::string(4093, 'x') + "\r\n"});
  EXPECT_EQ(q.status, ReplyParser::Status::Error);
  EXPECT_EQ(q.error, ReplyError::OverLong);
}

TEST(ReplyParser, ThousandAndOneLinesIsOverLong) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "250-x\r\n";
  text += "250 end\r\n";
  const auto p = parse_chunks({text});
  EXPECT_EQ(p.status, ReplyParser::Status::Error);
  EXPECT_EQ(p.error, ReplyError::OverLong);
  std::string ok;
  for (int i = 0; i < 999; ++i) ok += "250-x\r\n";
  ok += "250 end\r\n";
  EXPECT_EQ(parse_chunks({ok}).status, ReplyParser::Status::Complete);
}

TEST(ReplyParser, OverSixtyFourKibIsOverLong) {
  std::string text;
  for (int i = 0; i < 20; ++i) text += "250-" + std::string(4000, 'y') + "\r\n";
  text += "250 end\r\n";
  const auto p = parse_chunks({text});
  EXPECT_EQ(p.status, ReplyParser::Status::Error);
  EXPECT_EQ(p.error, ReplyError::OverLong);
}

TEST(ReplyParser, ControlAndEightBitBytesInTextAreKept) {
  static constexpr char kText[] =
      "250 a\x00"
      "b\x1b[31m\xff|x\r\n";
  const std::string text(kText, sizeof kText - 1);
  const auto p = parse_every_split(text);
  ASSERT_EQ(p.status, ReplyParser::Status::Complete);
  EXPECT_EQ(p.reply.lines.front(), text.substr(4, text.size() - 6));
  EXPECT_EQ(p.reply.lines.front().size(), 11u);
}

TEST(ReplyParser, ParsesConsecutiveReplies) {
  ReplyParser parser;
  std::string_view in = "250 one\r\n251 two\r\n";
  ASSERT_EQ(parser.feed(in), ReplyParser::Status::Complete);
  EXPECT_EQ(parser.take().code, 250);
  ASSERT_EQ(parser.feed(in), ReplyParser::Status::Complete);
  EXPECT_EQ(parser.take().code, 251);
  EXPECT_TRUE(in.empty());
}

}  // namespace
}  // namespace smtpverify::smtp
