#include "smtp/message.h"

#include <gtest/gtest.h>

namespace smtpverify::smtp {
namespace {

TEST(DataPayload, LineEndsBecomeCrlf) {
  EXPECT_EQ(to_data_payload("a\nb\r\nc\rd"), "a\r\nb\r\nc\r\nd\r\n");
  EXPECT_EQ(to_data_payload("a\r\n"), "a\r\n");
  EXPECT_EQ(to_data_payload(""), "");
  EXPECT_EQ(to_data_payload("\n\n"), "\r\n\r\n");
}

TEST(DataPayload, DotStuffing) {
  EXPECT_EQ(to_data_payload(".\n..x\n.y\nz.\n"), "..\r\n...x\r\n..y\r\nz.\r\n");
  EXPECT_EQ(to_data_payload("a\r\n.\r\nb"), "a\r\n..\r\nb\r\n");
  EXPECT_EQ(to_data_payload(".leading"), "..leading\r\n");
}

TEST(Rfc5322Date, FixedEnglishUtc) {
  EXPECT_EQ(format_rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(format_rfc5322_date(1795879445), "Sat, 28 Nov 2026 15:24:05 +0000");
}

TEST(TestMessage, HeadersAndBody) {
  TestMessage m{"monitor@example.org",
                {"a@example.org", "b@example.org"},
                "Sat, 28 Nov 2026 15:24:05 +0000",
                "1.2.3@probe.example.org",
                "probe.example.org"};
  EXPECT_EQ(build_test_message(m),
            "Date: Sat, 28 Nov 2026 15:24:05 +0000\n"
            "From: <monitor@example.org>\n"
            "To: <a@example.org>, <b@example.org>\n"
            "Message-ID: <1.2.3@probe.example.org>\n"
            "Subject: check_smtp_verify test message\n"
            "Auto-Submitted: auto-generated\n"
            "MIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=us-ascii\n"
            "\n"
            "This is a test message sent by check_smtp_verify from probe.example.org.\n"
            "It verifies that this server accepts mail; it needs no action.\n");
}

}  // namespace
}  // namespace smtpverify::smtp
