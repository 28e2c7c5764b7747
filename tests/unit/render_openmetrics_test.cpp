// --output openmetrics: the whole exposition for representative results, asserted as text. That
// the text is valid OpenMetrics is checked by the strict parser in the integration tests
// (tests/integration/plain_test.sh, tls_test.sh, dns_test.sh).
#include <gtest/gtest.h>

#include "check/options.h"
#include "check/render.h"

namespace smtpverify::check {
namespace {

std::string version() {
  const std::string text = version_text();
  return text.substr(text.rfind(' ') + 1);
}

// What main() prints: the report made once, then the exposition.
struct Rendered {
  State state;
  std::string text;
};

Rendered openmetrics(const CheckResult& result, const Config& config = {}) {
  const Report report = make_report(result, config);
  return {report.state, format_openmetrics(report, result)};
}

Exchange greeting(std::string phase = "banner", int code = 220) {
  return {std::move(phase), "", code, {"mx.example.org ESMTP"}, true};
}

// -H mail.example.org -S -D 30,14 -f … --rcpt postmaster@… --reject-rcpt someone@example.net
CheckResult ok_result() {
  CheckResult r;
  r.endpoint = "mail.example.org[192.0.2.10]:25";
  r.host = "mail.example.org";
  r.port = 25;
  r.total_seconds = 0.142;
  r.timings = {{"resolve", 0.0012}, {"connect", 0.001}, {"banner", 0.005},
               {"ehlo", 0.001},     {"starttls", 0.03}, {"mail", 0.001},
               {"rcpt", 0.002},     {"quit", 0.0004},   {"helo_dns", 0.003}};
  r.exchanges = {greeting()};
  r.cert_days = 87;
  r.recipients = {{"postmaster@example.org", false, 250}, {"someone@example.net", true, 554}};
  r.facts = {"ESMTP Postfix"};
  return r;
}

TEST(RenderOpenMetrics, OkCheckIsTheWholeExposition) {
  const Rendered out = openmetrics(ok_result());
  EXPECT_EQ(out.state, State::Ok);
  EXPECT_EQ(out.text,
            "# TYPE smtp_verify_state gauge\n"
            "# HELP smtp_verify_state The check's state, the same as its exit code: 0 OK, "
            "1 WARNING, 2 CRITICAL, 3 UNKNOWN.\n"
            "smtp_verify_state{host=\"mail.example.org\",port=\"25\"} 0\n"
            "# TYPE smtp_verify_up gauge\n"
            "# HELP smtp_verify_up 1 when a connection was made and the server greeted with 220, "
            "else 0.\n"
            "smtp_verify_up{host=\"mail.example.org\",port=\"25\"} 1\n"
            "# TYPE smtp_verify_duration_seconds gauge\n"
            "# UNIT smtp_verify_duration_seconds seconds\n"
            "# HELP smtp_verify_duration_seconds The whole check, from start to end.\n"
            "smtp_verify_duration_seconds{host=\"mail.example.org\",port=\"25\"} 0.142000\n"
            "# TYPE smtp_verify_phase_seconds gauge\n"
            "# UNIT smtp_verify_phase_seconds seconds\n"
            "# HELP smtp_verify_phase_seconds The time each phase took; phases that did not "
            "complete are left out.\n"
            "smtp_verify_phase_seconds{host=\"mail.example.org\",port=\"25\",phase=\"resolve\"} "
            "0.001200\n"
            "smtp_verify_phase_seconds{host=\"mail.example.org\",port=\"25\",phase=\"connect\"} "
            "0.001000\n"
            "smtp_verify_phase_seconds{host=\"mail.example.org\",port=\"25\",phase=\"banner\"} "
            "0.005000\n"
            "smtp_verify_phase_seconds{host=\"mail.example.org\",port=\"25\",phase=\"ehlo\"} "
            "0.001000\n"
            "smtp_verify_phase_seconds{host=\"mail.example.org\",port=\"25\",phase=\"starttls\"} "
            "0.030000\n"
            "smtp_verify_phase_seconds{host=\"mail.example.org\",port=\"25\",phase=\"mail\"} "
            "0.001000\n"
            "smtp_verify_phase_seconds{host=\"mail.example.org\",port=\"25\",phase=\"rcpt\"} "
            "0.002000\n"
            "smtp_verify_phase_seconds{host=\"mail.example.org\",port=\"25\",phase=\"quit\"} "
            "0.000400\n"
            "smtp_verify_phase_seconds{host=\"mail.example.org\",port=\"25\",phase=\"helo_dns\"} "
            "0.003000\n"
            "# TYPE smtp_verify_cert_days gauge\n"
            "# HELP smtp_verify_cert_days Whole days left on the soonest-expiring certificate of "
            "the presented chain (negative: expired).\n"
            "smtp_verify_cert_days{host=\"mail.example.org\",port=\"25\"} 87\n"
            "# TYPE smtp_verify_rcpt_as_expected gauge\n"
            "# HELP smtp_verify_rcpt_as_expected 1 when the recipient was answered as expected "
            "(expect=accept: 2xx, expect=reject: 5xx), else 0.\n"
            "smtp_verify_rcpt_as_expected{host=\"mail.example.org\",port=\"25\","
            "rcpt=\"postmaster@example.org\",expect=\"accept\"} 1\n"
            "smtp_verify_rcpt_as_expected{host=\"mail.example.org\",port=\"25\","
            "rcpt=\"someone@example.net\",expect=\"reject\"} 1\n"
            "# TYPE smtp_verify_rcpt_reply_code gauge\n"
            "# HELP smtp_verify_rcpt_reply_code The code of the reply to RCPT TO, for recipients "
            "that were answered.\n"
            "smtp_verify_rcpt_reply_code{host=\"mail.example.org\",port=\"25\","
            "rcpt=\"postmaster@example.org\",expect=\"accept\"} 250\n"
            "smtp_verify_rcpt_reply_code{host=\"mail.example.org\",port=\"25\","
            "rcpt=\"someone@example.net\",expect=\"reject\"} 554\n"
            "# TYPE smtp_verify_version gauge\n"
            "# HELP smtp_verify_version 1; the version label is the plugin's version.\n"
            "smtp_verify_version{host=\"mail.example.org\",port=\"25\",version=\"" +
                version() +
                "\"} 1\n"
                "# EOF\n");
}

// Nothing answered on the port: CRITICAL (2 = the exit code), up 0, only the connect phase, no
// certificate, every recipient not as expected and without a reply code.
TEST(RenderOpenMetrics, ConnectionRefusedIsCriticalAndDown) {
  CheckResult r;
  r.endpoint = "[192.0.2.10]:2525";
  r.host = "192.0.2.10";
  r.port = 2525;
  r.total_seconds = 0.0004;
  r.timings = {{"connect", 0.0003}};
  r.problems = {{ProblemKind::Connect, {}, "cannot connect to [192.0.2.10]:2525", true}};
  r.recipients = {{"postmaster@example.org", false, 0}, {"someone@example.net", true, 0}};
  const Rendered out = openmetrics(r);
  EXPECT_EQ(out.state, State::Critical);
  const std::string l = "{host=\"192.0.2.10\",port=\"2525\"";
  EXPECT_EQ(out.text,
            "# TYPE smtp_verify_state gauge\n"
            "# HELP smtp_verify_state The check's state, the same as its exit code: 0 OK, "
            "1 WARNING, 2 CRITICAL, 3 UNKNOWN.\n"
            "smtp_verify_state" +
                l +
                "} 2\n"
                "# TYPE smtp_verify_up gauge\n"
                "# HELP smtp_verify_up 1 when a connection was made and the server greeted with "
                "220, else 0.\n"
                "smtp_verify_up" +
                l +
                "} 0\n"
                "# TYPE smtp_verify_duration_seconds gauge\n"
                "# UNIT smtp_verify_duration_seconds seconds\n"
                "# HELP smtp_verify_duration_seconds The whole check, from start to end.\n"
                "smtp_verify_duration_seconds" +
                l +
                "} 0.000400\n"
                "# TYPE smtp_verify_phase_seconds gauge\n"
                "# UNIT smtp_verify_phase_seconds seconds\n"
                "# HELP smtp_verify_phase_seconds The time each phase took; phases that did not "
                "complete are left out.\n"
                "smtp_verify_phase_seconds" +
                l +
                ",phase=\"connect\"} 0.000300\n"
                "# TYPE smtp_verify_rcpt_as_expected gauge\n"
                "# HELP smtp_verify_rcpt_as_expected 1 when the recipient was answered as "
                "expected (expect=accept: 2xx, expect=reject: 5xx), else 0.\n"
                "smtp_verify_rcpt_as_expected" +
                l +
                ",rcpt=\"postmaster@example.org\",expect=\"accept\"} 0\n"
                "smtp_verify_rcpt_as_expected" +
                l +
                ",rcpt=\"someone@example.net\",expect=\"reject\"} 0\n"
                "# TYPE smtp_verify_version gauge\n"
                "# HELP smtp_verify_version 1; the version label is the plugin's version.\n"
                "smtp_verify_version" +
                l + ",version=\"" + version() +
                "\"} 1\n"
                "# EOF\n");
}

// The state metric is the report's state, thresholds included; the thresholds themselves and the
// wrong answers stay out of the metrics.
TEST(RenderOpenMetrics, StateIsTheExitStateAndAnswersCount) {
  Config c;
  c.warning.emplace("banner", *parse_range("0.001"));
  CheckResult r = ok_result();
  r.recipients = {{"postmaster@example.org", false, 450}, {"someone@example.net", true, 250}};
  const Rendered out = openmetrics(r, c);
  EXPECT_EQ(out.state, State::Warning);
  const std::string l = "{host=\"mail.example.org\",port=\"25\"";
  EXPECT_NE(out.text.find("\nsmtp_verify_state" + l + "} 1\n"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("\nsmtp_verify_rcpt_as_expected" + l +
                          ",rcpt=\"postmaster@example.org\",expect=\"accept\"} 0\n"
                          "smtp_verify_rcpt_as_expected" +
                          l + ",rcpt=\"someone@example.net\",expect=\"reject\"} 0\n"),
            std::string::npos)
      << out.text;
  EXPECT_EQ(out.text.find("0.001"), out.text.find("0.001200")) << "a threshold leaked";
}

// A greeting other than 220 (421 busy, 554 no service) is not up, though a server answered.
TEST(RenderOpenMetrics, UpOnlyForA220Greeting) {
  CheckResult r = ok_result();
  r.exchanges = {greeting("banner", 554)};
  EXPECT_NE(openmetrics(r).text.find("smtp_verify_up{host=\"mail.example.org\",port=\"25\"} 0\n"),
            std::string::npos);
  r.exchanges = {};
  EXPECT_NE(openmetrics(r).text.find("smtp_verify_up{host=\"mail.example.org\",port=\"25\"} 0\n"),
            std::string::npos);
}

// The same --rcpt twice would be the same series twice, which Prometheus refuses: one sample.
TEST(RenderOpenMetrics, ARecipientGivenTwiceIsOneSeries) {
  CheckResult r = ok_result();
  r.recipients = {
      {"a@example.org", false, 250}, {"a@example.org", false, 250}, {"a@example.org", true, 250}};
  const std::string text = openmetrics(r).text;
  const std::string accept = "rcpt=\"a@example.org\",expect=\"accept\"} ";
  const std::string reject = "rcpt=\"a@example.org\",expect=\"reject\"} ";
  auto count = [&](const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count(accept), 2u) << text;  // as_expected and reply_code
  EXPECT_EQ(count(reject), 2u) << text;
}

// --mx-all: the domain's state (the exit code), duration and MX lookup; then each host's state,
// up, phases, certificate and recipients labelled with mx_host. A hostile MX name ('"', '\', a
// newline, a CR, an 8-bit byte) is escaped and stays one valid UTF-8 label value.
TEST(RenderOpenMetrics, MxAllLabelsEachHostAndEscapesHostileNames) {
  const std::string hostile = std::string("evil\"\\\n\r\xff.example.org");
  CheckResult a = ok_result();
  a.host = "mx1.example.org";
  a.timings = {{"connect", 0.001}, {"banner", 0.002}, {"quit", 0.0003}};
  a.recipients = {{"postmaster@example.org", false, 250}};
  CheckResult b;
  b.host = hostile;
  b.port = 25;
  b.endpoint = hostile + ":25";
  b.problems = {{ProblemKind::Connect, {}, "cannot connect to " + hostile, true}};
  b.recipients = {{"postmaster@example.org", false, 0}};
  CheckResult r;
  r.endpoint = "example.org MX";
  r.host = "example.org";
  r.port = 25;
  r.mx_domain = "example.org";
  r.total_seconds = 0.5;
  r.timings = {{"mx", 0.004}};
  r.problems = b.problems;
  r.cert_days = 87;  // the parts' soonest, as add_part keeps it: printed only per host
  r.recipients = {{"postmaster@example.org", false, 0}};
  r.parts.push_back({Part::Kind::MxHost, "mx1.example.org", State::Ok, {}, a});
  r.parts.push_back({Part::Kind::MxHost, hostile, State::Critical, {}, b});
  const Rendered out = openmetrics(r);
  EXPECT_EQ(out.state, State::Critical);
  const std::string d = "{domain=\"example.org\",port=\"25\"";
  const std::string h1 = d + ",mx_host=\"mx1.example.org\"";
  const std::string h2 = d + ",mx_host=\"evil\\\"\\\\\\n\\\\x0d\\\\xff.example.org\"";
  EXPECT_EQ(out.text,
            "# TYPE smtp_verify_state gauge\n"
            "# HELP smtp_verify_state The check's state, the same as its exit code: 0 OK, "
            "1 WARNING, 2 CRITICAL, 3 UNKNOWN.\n"
            "smtp_verify_state" +
                d +
                "} 2\n"
                "# TYPE smtp_verify_target_state gauge\n"
                "# HELP smtp_verify_target_state The state of one target of a check of several "
                "on its own: an MX host (--mx-all) or an address (--each-address).\n"
                "smtp_verify_target_state" +
                h1 + "} 0\nsmtp_verify_target_state" + h2 +
                "} 2\n"
                "# TYPE smtp_verify_up gauge\n"
                "# HELP smtp_verify_up 1 when a connection was made and the server greeted with "
                "220, else 0.\n"
                "smtp_verify_up" +
                h1 + "} 1\nsmtp_verify_up" + h2 +
                "} 0\n"
                "# TYPE smtp_verify_duration_seconds gauge\n"
                "# UNIT smtp_verify_duration_seconds seconds\n"
                "# HELP smtp_verify_duration_seconds The whole check, from start to end.\n"
                "smtp_verify_duration_seconds" +
                d +
                "} 0.500000\n"
                "# TYPE smtp_verify_phase_seconds gauge\n"
                "# UNIT smtp_verify_phase_seconds seconds\n"
                "# HELP smtp_verify_phase_seconds The time each phase took; phases that did not "
                "complete are left out.\n"
                "smtp_verify_phase_seconds" +
                d + ",phase=\"mx\"} 0.004000\nsmtp_verify_phase_seconds" + h1 +
                ",phase=\"connect\"} 0.001000\nsmtp_verify_phase_seconds" + h1 +
                ",phase=\"banner\"} 0.002000\nsmtp_verify_phase_seconds" + h1 +
                ",phase=\"quit\"} 0.000300\n"
                "# TYPE smtp_verify_cert_days gauge\n"
                "# HELP smtp_verify_cert_days Whole days left on the soonest-expiring certificate "
                "of the presented chain (negative: expired).\n"
                "smtp_verify_cert_days" +
                h1 +
                "} 87\n"
                "# TYPE smtp_verify_rcpt_as_expected gauge\n"
                "# HELP smtp_verify_rcpt_as_expected 1 when the recipient was answered as "
                "expected (expect=accept: 2xx, expect=reject: 5xx), else 0.\n"
                "smtp_verify_rcpt_as_expected" +
                h1 + ",rcpt=\"postmaster@example.org\",expect=\"accept\"} 1\n" +
                "smtp_verify_rcpt_as_expected" + h2 +
                ",rcpt=\"postmaster@example.org\",expect=\"accept\"} 0\n"
                "# TYPE smtp_verify_rcpt_reply_code gauge\n"
                "# HELP smtp_verify_rcpt_reply_code The code of the reply to RCPT TO, for "
                "recipients that were answered.\n"
                "smtp_verify_rcpt_reply_code" +
                h1 +
                ",rcpt=\"postmaster@example.org\",expect=\"accept\"} 250\n"
                "# TYPE smtp_verify_version gauge\n"
                "# HELP smtp_verify_version 1; the version label is the plugin's version.\n"
                "smtp_verify_version" +
                d + ",version=\"" + version() +
                "\"} 1\n"
                "# EOF\n");
}

// Every line of `want` is a line of `text`, and `text` has none of `unwanted`.
void expect_lines(const std::string& text, const std::vector<std::string>& want,
                  const std::vector<std::string>& unwanted = {}) {
  for (const auto& line : want) {
    EXPECT_NE(("\n" + text).find("\n" + line + "\n"), std::string::npos) << line << " in\n" << text;
  }
  for (const auto& part : unwanted) {
    EXPECT_EQ(text.find(part), std::string::npos) << part << " in\n" << text;
  }
}

// --each-address (and --mx-all --each-address): the host's resolve is the host's; each address
// is a target labelled address, under its MX host when there is one.
TEST(RenderOpenMetrics, EachAddressLabelsEachAddress) {
  CheckResult v4 = ok_result();
  v4.timings = {{"connect", 0.001}};
  v4.recipients = {};
  CheckResult v6;
  v6.port = 25;
  v6.timings = {{"connect", 0.002}};
  v6.problems = {{ProblemKind::Connect, {}, "cannot connect", true}};
  CheckResult host;
  host.host = "mail.example.org";
  host.port = 25;
  host.timings = {{"resolve", 0.003}};
  host.parts.push_back({Part::Kind::Address, "192.0.2.10", State::Ok, {}, v4});
  host.parts.push_back({Part::Kind::Address, "2001:db8::1", State::Critical, {}, v6});
  host.problems = v6.problems;
  const std::string h = "{host=\"mail.example.org\",port=\"25\"";
  expect_lines(
      openmetrics(host).text,
      {"smtp_verify_state" + h + "} 2",
       "smtp_verify_target_state" + h + ",address=\"192.0.2.10\"} 0",
       "smtp_verify_target_state" + h + ",address=\"2001:db8::1\"} 2",
       "smtp_verify_up" + h + ",address=\"192.0.2.10\"} 1",
       "smtp_verify_up" + h + ",address=\"2001:db8::1\"} 0",
       "smtp_verify_phase_seconds" + h + ",phase=\"resolve\"} 0.003000",
       "smtp_verify_phase_seconds" + h + ",address=\"192.0.2.10\",phase=\"connect\"} 0.001000",
       "smtp_verify_phase_seconds" + h + ",address=\"2001:db8::1\",phase=\"connect\"} 0.002000",
       "smtp_verify_cert_days" + h + ",address=\"192.0.2.10\"} 87"},
      {"smtp_verify_up" + h + "}"});

  CheckResult mx;
  mx.host = "example.org";
  mx.port = 25;
  mx.mx_domain = "example.org";
  mx.timings = {{"mx", 0.004}};
  host.host = "mx1.example.org";
  mx.parts.push_back({Part::Kind::MxHost, "mx1.example.org", State::Critical, {}, host});
  mx.problems = v6.problems;
  const std::string m = "{domain=\"example.org\",port=\"25\",mx_host=\"mx1.example.org\"";
  expect_lines(
      openmetrics(mx).text,
      {"smtp_verify_target_state" + m + "} 2",
       "smtp_verify_target_state" + m + ",address=\"2001:db8::1\"} 2",
       "smtp_verify_up" + m + ",address=\"192.0.2.10\"} 1",
       "smtp_verify_phase_seconds{domain=\"example.org\",port=\"25\",phase=\"mx\"} 0.004000",
       "smtp_verify_phase_seconds" + m + ",phase=\"resolve\"} 0.003000"},
      {"smtp_verify_up" + m + "}"});
}

// --mx alone: the lookup is the domain's, everything else the host checked (mx_host); no target
// state, as there is one target.
TEST(RenderOpenMetrics, MxAloneLabelsTheHostChecked) {
  CheckResult r = ok_result();
  r.host = "mx1.example.org";
  r.mx_domain = "example.org";
  r.mx_host_checked = true;
  r.timings = {{"mx", 0.004}, {"connect", 0.001}};
  const std::string d = "{domain=\"example.org\",port=\"25\"";
  const std::string m = d + ",mx_host=\"mx1.example.org\"";
  expect_lines(openmetrics(r).text,
               {"smtp_verify_state" + d + "} 0", "smtp_verify_up" + m + "} 1",
                "smtp_verify_phase_seconds" + d + ",phase=\"mx\"} 0.004000",
                "smtp_verify_phase_seconds" + m + ",phase=\"connect\"} 0.001000",
                "smtp_verify_cert_days" + m + "} 87",
                "smtp_verify_rcpt_reply_code" + m +
                    ",rcpt=\"postmaster@example.org\",expect=\"accept\"} 250"},
               {"target_state", m + ",phase=\"mx\""});
}

// --mx (one host) whose lookup failed: the domain's metrics only, no host was checked.
TEST(RenderOpenMetrics, MxLookupFailureHasNoHostMetrics) {
  CheckResult r;
  r.endpoint = "example.org MX";
  r.host = "example.org";
  r.port = 25;
  r.mx_domain = "example.org";
  r.total_seconds = 0.01;
  r.problems = {{ProblemKind::Resolve, {}, "cannot resolve MX of example.org: SERVFAIL", true}};
  const std::string d = "{domain=\"example.org\",port=\"25\"";
  EXPECT_EQ(openmetrics(r).text,
            "# TYPE smtp_verify_state gauge\n"
            "# HELP smtp_verify_state The check's state, the same as its exit code: 0 OK, "
            "1 WARNING, 2 CRITICAL, 3 UNKNOWN.\n"
            "smtp_verify_state" +
                d +
                "} 2\n"
                "# TYPE smtp_verify_duration_seconds gauge\n"
                "# UNIT smtp_verify_duration_seconds seconds\n"
                "# HELP smtp_verify_duration_seconds The whole check, from start to end.\n"
                "smtp_verify_duration_seconds" +
                d +
                "} 0.010000\n"
                "# TYPE smtp_verify_version gauge\n"
                "# HELP smtp_verify_version 1; the version label is the plugin's version.\n"
                "smtp_verify_version" +
                d + ",version=\"" + version() +
                "\"} 1\n"
                "# EOF\n");
}

TEST(RenderOpenMetrics, LabelValuesAreEscapedValidUtf8) {
  // OpenMetrics' three escapes.
  EXPECT_EQ(openmetrics_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  // Other control characters and DEL: the text \xNN, its backslash escaped.
  EXPECT_EQ(openmetrics_label_value(std::string("\r\t\x1b\x7f\0", 5)),
            "\\\\x0d\\\\x09\\\\x1b\\\\x7f\\\\x00");
  // Valid UTF-8 stays: 2, 3 and 4 byte sequences.
  EXPECT_EQ(openmetrics_label_value("m\xc3\xbcller\xe2\x82\xac\xf0\x9f\x98\x80"),
            "m\xc3\xbcller\xe2\x82\xac\xf0\x9f\x98\x80");
  // C1 controls are valid UTF-8 but control characters (U+009B is CSI): escaped byte by byte.
  EXPECT_EQ(openmetrics_label_value("\xc2\x9b\xc2\xa0"), "\\\\xc2\\\\x9b\xc2\xa0");
  // Not UTF-8: a lone continuation byte, 0xff, an overlong '/', a surrogate, a code point above
  // U+10FFFF, a truncated sequence at the end.
  EXPECT_EQ(openmetrics_label_value("\x80\xff"), "\\\\x80\\\\xff");
  EXPECT_EQ(openmetrics_label_value("\xc0\xaf"), "\\\\xc0\\\\xaf");
  EXPECT_EQ(openmetrics_label_value("\xed\xa0\x80"), "\\\\xed\\\\xa0\\\\x80");
  EXPECT_EQ(openmetrics_label_value("\xf4\x90\x80\x80"), "\\\\xf4\\\\x90\\\\x80\\\\x80");
  EXPECT_EQ(openmetrics_label_value("\xe0\xa0\x80\xe2\x82"), "\xe0\xa0\x80\\\\xe2\\\\x82");
  EXPECT_EQ(openmetrics_label_value(""), "");
}

}  // namespace
}  // namespace smtpverify::check
