// The MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) text formats: the TXT records, the policy
// file, and the mx pattern matching of RFC 8461 §4.1.
#include "check/mta_sts.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace smtpverify::check::mta_sts {
namespace {

std::string error_of(const tl::expected<Policy, std::string>& p) {
  return p ? std::string("parsed") : p.error();
}

TEST(MtaStsRecord, TheOneV1RecordAmongOthersGivesItsId) {
  const auto r =
      sts_record({"google-site-verification=abc", "v=STSv1; id=20261204T000000;", "v=spf1 -all"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->id, "20261204T000000");
  // Whitespace around fields, extensions ignored, no trailing ';'.
  const auto s = sts_record({"v=STSv1;  x_ext=1 ;id=abc"});
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->id, "abc");
}

TEST(MtaStsRecord, NoneSeveralOrMalformedIsWhy) {
  EXPECT_EQ(sts_record({}).error(), "no MTA-STS policy");
  EXPECT_EQ(sts_record({"v=spf1 -all", "v=STSv10; id=1"}).error(), "no MTA-STS policy");
  EXPECT_EQ(sts_record({"v=STSv1; id=1", "v=STSv1; id=2"}).error(),
            "2 v=STSv1 records, exactly one allowed");
  EXPECT_EQ(sts_record({"v=STSv1"}).error(), "malformed MTA-STS record: no id");
  EXPECT_EQ(sts_record({"v=STSv1; id="}).error(),
            "malformed MTA-STS record: id is not 1-32 letters and digits");
  EXPECT_EQ(sts_record({"v=STSv1; id=" + std::string(33, 'a')}).error(),
            "malformed MTA-STS record: id is not 1-32 letters and digits");
  EXPECT_EQ(sts_record({"v=STSv1; id=a-b"}).error(),
            "malformed MTA-STS record: id is not 1-32 letters and digits");
  EXPECT_EQ(sts_record({"v=STSv1; id=1; id=2"}).error(),
            "malformed MTA-STS record: id given twice");
  EXPECT_EQ(sts_record({"v=STSv1; junk"}).error(),
            "malformed MTA-STS record: field 2 is not name=value");
}

TEST(MtaStsPolicy, CrlfAndLfBothParse) {
  for (const std::string nl : {"\r\n", "\n"}) {
    const auto p =
        parse_policy("version: STSv1" + nl + "mode: enforce" + nl + "mx: mail.example.org" + nl +
                     "mx: *.example.net" + nl + "max_age: 604800" + nl);
    ASSERT_TRUE(p) << p.error();
    EXPECT_EQ(p->mode, Mode::Enforce);
    EXPECT_EQ(p->mx, (std::vector<std::string>{"mail.example.org", "*.example.net"}));
    EXPECT_EQ(p->max_age, 604800);
  }
}

TEST(MtaStsPolicy, UnknownKeysWhitespaceAndNoFinalNewlineAreFine) {
  const auto p = parse_policy(
      "version: STSv1\nx-comment: anything at all\nmode:testing\nmx:\tmx.example.org  \n"
      "max_age: 31557600");
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ(p->mode, Mode::Testing);
  EXPECT_EQ(p->mx, std::vector<std::string>{"mx.example.org"});
  EXPECT_EQ(p->max_age, kMaxAge);
  // Mode none needs no mx.
  const auto none = parse_policy("version: STSv1\nmode: none\nmax_age: 1\n");
  ASSERT_TRUE(none) << none.error();
  EXPECT_EQ(none->mode, Mode::None);
  EXPECT_TRUE(none->mx.empty());
}

TEST(MtaStsPolicy, MalformedNamesTheLine) {
  const std::string head = "version: STSv1\nmode: enforce\n";
  EXPECT_EQ(error_of(parse_policy("version: STSv2\n")),
            "malformed MTA-STS policy: line 1 has a version other than STSv1");
  EXPECT_EQ(error_of(parse_policy(head + "mx mail.example.org\n")),
            "malformed MTA-STS policy: line 3 is not key: value");
  EXPECT_EQ(error_of(parse_policy("version: STSv1\nmode: strict\n")),
            "malformed MTA-STS policy: line 2 has a mode other than enforce, testing or none");
  EXPECT_EQ(error_of(parse_policy(head + "mx: a.example\nmax_age: 31557601\n")),
            "malformed MTA-STS policy: line 4 has a max_age over 31557600 s");
  EXPECT_EQ(error_of(parse_policy(head + "mx: a.example\nmax_age: 12345678901\n")),
            "malformed MTA-STS policy: line 4 has a max_age that is not 1-10 digits");
  EXPECT_EQ(error_of(parse_policy(head + "mx: a.example\nmax_age: -1\n")),
            "malformed MTA-STS policy: line 4 has a max_age that is not 1-10 digits");
  EXPECT_EQ(error_of(parse_policy(head + "mx: bad name|x\n")),
            "malformed MTA-STS policy: line 3 has an mx that is not a host name pattern");
  EXPECT_EQ(error_of(parse_policy(head + "mx: a.*.example\n")),
            "malformed MTA-STS policy: line 3 has an mx that is not a host name pattern");
  EXPECT_EQ(error_of(parse_policy(head + "mode: none\n")),
            "malformed MTA-STS policy: line 3 repeats mode");
  EXPECT_EQ(error_of(parse_policy(head + "mx: a.example\n")),
            "malformed MTA-STS policy: no max_age");
  EXPECT_EQ(error_of(parse_policy(head + "max_age: 5\n")), "malformed MTA-STS policy: no mx");
  EXPECT_EQ(error_of(parse_policy("mode: enforce\nmx: a.example\nmax_age: 5\n")),
            "malformed MTA-STS policy: no version");
  EXPECT_EQ(error_of(parse_policy("")), "malformed MTA-STS policy: no version");
  EXPECT_EQ(error_of(parse_policy("<html>404</html>")),
            "malformed MTA-STS policy: line 1 is not key: value");
}

// RFC 8461 §4.1.
TEST(MtaStsMx, PatternTable) {
  struct Case {
    const char* pattern;
    const char* host;
    bool match;
  };
  for (const Case& c : {
           Case{"mail.example.com", "mail.example.com", true},
           Case{"mail.example.com", "MAIL.Example.COM", true},
           Case{"mail.example.com", "mail.example.com.", true},  // a trailing dot is no label
           Case{"mail.example.com.", "mail.example.com", true},
           Case{"mail.example.com", "mail2.example.com", false},
           Case{"mail.example.com", "example.com", false},
           Case{"*.example.com", "mx1.example.com", true},
           Case{"*.example.com", "MX1.EXAMPLE.COM.", true},
           Case{"*.example.com", "example.com", false},      // one label, not none
           Case{"*.example.com", "a.b.example.com", false},  // one label, not two
           Case{"*.example.com", "mx1.example.com.evil", false},
           Case{"*.example.com", ".example.com", false},
           Case{"*.example.com", "mx1example.com", false},
           Case{"*example.com", "mxexample.com", false},  // only a leading "*."
           Case{"", "mail.example.com", false},
           Case{"mail.example.com", "", false},
       }) {
    EXPECT_EQ(mx_matches(c.pattern, c.host), c.match) << c.pattern << " vs " << c.host;
  }
}

TEST(TlsRptRecord, TheOneRecordGivesItsRua) {
  const auto r = tls_rpt_record(
      {"v=spf1 -all", "v=TLSRPTv1; rua=mailto:tls@example.org,https://r.example.org/v1"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->rua,
            (std::vector<std::string>{"mailto:tls@example.org", "https://r.example.org/v1"}));
  const auto s = tls_rpt_record({"v=TLSRPTv1;rua=mailto:a@example.org;ext=1;"});
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->rua, std::vector<std::string>{"mailto:a@example.org"});
}

TEST(TlsRptRecord, NoneSeveralOrMalformedIsWhy) {
  EXPECT_EQ(tls_rpt_record({}).error(), "no TLS-RPT record");
  EXPECT_EQ(tls_rpt_record({"v=TLSRPTv1; rua=mailto:a@b", "v=TLSRPTv1; rua=mailto:c@d"}).error(),
            "2 v=TLSRPTv1 records, exactly one allowed");
  EXPECT_EQ(tls_rpt_record({"v=TLSRPTv1"}).error(), "malformed TLS-RPT record: no rua");
  EXPECT_EQ(tls_rpt_record({"v=TLSRPTv1; rua=http://plain.example.org/"}).error(),
            "malformed TLS-RPT record: rua holds a URI that is not mailto: or https:");
  EXPECT_EQ(tls_rpt_record({"v=TLSRPTv1; rua=mailto:a@b,"}).error(),
            "malformed TLS-RPT record: rua holds a URI that is not mailto: or https:");
  EXPECT_EQ(tls_rpt_record({"v=TLSRPTv1; rua"}).error(),
            "malformed TLS-RPT record: field 2 is not name=value");
}

TEST(MtaSts, ModeNames) {
  EXPECT_EQ(mode_name(Mode::Enforce), "enforce");
  EXPECT_EQ(mode_name(Mode::Testing), "testing");
  EXPECT_EQ(mode_name(Mode::None), "none");
}

}  // namespace
}  // namespace smtpverify::check::mta_sts
