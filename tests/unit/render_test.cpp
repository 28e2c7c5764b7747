#include "check/render.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace smtpverify::check {
namespace {

// What main() prints for a result in the Nagios format, and its exit state.
struct Rendered {
  State state;
  std::string text;
};

Rendered nagios(const CheckResult& result, const Config& config) {
  const Report report = make_report(result, config);
  return {report.state, format_nagios(report)};
}

CheckResult ok_result() {
  CheckResult r;
  r.endpoint = "mail.example.org[192.0.2.10]:25";
  r.total_seconds = 0.142;
  r.timings = {{"resolve", 0.0012}, {"connect", 0.001}, {"banner", 0.005}, {"ehlo", 0.001},
               {"mail", 0.001},     {"rcpt", 0.002},    {"quit", 0.0004}};
  r.facts = {"ESMTP Postfix", "2 rcpt accepted"};
  return r;
}

TEST(Render, OkLineWithPerfdata) {
  const Rendered out = nagios(ok_result(), Config{});
  EXPECT_EQ(out.state, State::Ok);
  EXPECT_EQ(out.text,
            "SMTP OK - mail.example.org[192.0.2.10]:25 ESMTP Postfix, 2 rcpt accepted, 0.142 s | "
            "time=0.142000s;;;0 resolve=0.001200s;;;0 connect=0.001000s;;;0 "
            "banner=0.005000s;;;0 ehlo=0.001000s;;;0 mail=0.001000s;;;0 rcpt=0.002000s;;;0 "
            "quit=0.000400s;;;0\n");
}

TEST(Render, ThresholdsAppearInPerfdata) {
  Config c;
  c.warning.emplace("time", *parse_range("5"));
  c.critical.emplace("time", *parse_range("10"));
  c.critical.emplace("banner", *parse_range("@0:0.001"));
  CheckResult r = ok_result();
  r.timings = {{"banner", 0.005}};
  const Rendered out = nagios(r, c);
  EXPECT_EQ(out.state, State::Ok);
  EXPECT_EQ(out.text,
            "SMTP OK - mail.example.org[192.0.2.10]:25 ESMTP Postfix, 2 rcpt accepted, 0.142 s | "
            "time=0.142000s;5;10;0 banner=0.005000s;;@0:0.001;0\n");
}

TEST(Render, CriticalNamesTheProblemAfterTheEndpoint) {
  CheckResult r = ok_result();
  r.timings.resize(2);
  r.problems = {{ProblemKind::Smtp, smtp::FindingKind::RcptRejected,
                 "RCPT TO:<postmaster@example.org> rejected: 550 5.1.1 user unknown"}};
  const Rendered out = nagios(r, Config{});
  EXPECT_EQ(out.state, State::Critical);
  EXPECT_EQ(out.text,
            "SMTP CRITICAL - mail.example.org[192.0.2.10]:25 RCPT TO:<postmaster@example.org> "
            "rejected: 550 5.1.1 user unknown | time=0.142000s;;;0 resolve=0.001200s;;;0 "
            "connect=0.001000s;;;0\n");
}

TEST(Render, TimeoutNamesTheEndpointItself) {
  CheckResult r;
  r.endpoint = "mail.example.org[192.0.2.10]:25";
  r.total_seconds = 10.001;
  r.timings = {{"connect", 0.001}};
  r.problems = {{ProblemKind::Timeout,
                 {},
                 "timeout after 10 s waiting for banner from mail.example.org[192.0.2.10]:25",
                 true}};
  Config c;
  EXPECT_EQ(nagios(r, c).text,
            "SMTP CRITICAL - timeout after 10 s waiting for banner from "
            "mail.example.org[192.0.2.10]:25 | time=10.001000s;;;0 connect=0.001000s;;;0\n");
  c.timeout_state = State::Unknown;
  const Rendered unknown = nagios(r, c);
  EXPECT_EQ(unknown.state, State::Unknown);
  EXPECT_EQ(unknown.text.rfind("SMTP UNKNOWN - timeout after 10 s", 0), 0u);
}

TEST(Render, WorstFirstAndBoundedList) {
  CheckResult r;
  r.endpoint = "h[192.0.2.1]:25";
  for (int i = 0; i < 7; ++i) {
    r.problems.push_back(
        {ProblemKind::Smtp, smtp::FindingKind::RcptTempFailed, "w" + std::to_string(i)});
  }
  r.problems.push_back({ProblemKind::Smtp, smtp::FindingKind::RcptRejected, "c"});
  const Rendered out = nagios(r, Config{});
  EXPECT_EQ(out.state, State::Critical);
  EXPECT_EQ(out.text,
            "SMTP CRITICAL - h[192.0.2.1]:25 c, w0, w1, w2, w3 (+3 more) | "
            "time=0.000000s;;;0\n");
}

TEST(Render, QuitFailureIgnoredWithQ) {
  CheckResult r = ok_result();
  r.problems = {{ProblemKind::Smtp, smtp::FindingKind::QuitFailed, "QUIT answered 500 x"}};
  EXPECT_EQ(nagios(r, Config{}).state, State::Warning);
  Config q;
  q.ignore_quit_failure = true;
  const Rendered out = nagios(r, q);
  EXPECT_EQ(out.state, State::Ok);
  EXPECT_EQ(out.text.rfind("SMTP OK - mail.example.org[192.0.2.10]:25 ESMTP Postfix", 0), 0u);
}

TEST(Render, VerboseTranscriptIsSanitisedLongOutput) {
  CheckResult r = ok_result();
  r.timings.clear();
  r.transcript = {"C: EHLO probe", "S: 250 evil | x=1", std::string("S: 250 a\0b", 10)};
  Config c;
  c.verbosity = 1;
  EXPECT_EQ(nagios(r, c).text,
            "SMTP OK - mail.example.org[192.0.2.10]:25 ESMTP Postfix, 2 rcpt accepted, 0.142 s | "
            "time=0.142000s;;;0\n"
            "C: EHLO probe\n"
            "S: 250 evil \\x7c x=1\n"
            "S: 250 a\\x00b\n");
}

TEST(Render, ServerTextInFactsIsSanitised) {
  CheckResult r = ok_result();
  r.facts = {"ESMTP |evil\nline"};
  r.timings.clear();
  EXPECT_EQ(nagios(r, Config{}).text,
            "SMTP OK - mail.example.org[192.0.2.10]:25 ESMTP \\x7cevil\\x0aline, 0.142 s | "
            "time=0.142000s;;;0\n");
}

TEST(Render, Unknown) {
  const Output out = render_unknown("unknown option '--x\n|y'");
  EXPECT_EQ(out.state, State::Unknown);
  EXPECT_EQ(out.text, "SMTP UNKNOWN - unknown option '--x\\x0a\\x7cy'\n");
}

TEST(Render, NumbersUseThePointWhateverTheLocale) {
  EXPECT_EQ(perf_seconds(1.5), "1.500000");
  EXPECT_EQ(short_seconds(10), "10");
  EXPECT_EQ(short_seconds(0.25), "0.25");
  EXPECT_EQ(short_seconds(0.1424), "0.142");
}

TEST(Report, PerfdataIsStructured) {
  Config c;
  c.warning.emplace("time", *parse_range("5"));
  c.critical.emplace("banner", *parse_range("@0:0.001"));
  c.cert_warning_days = 30;
  c.cert_critical_days = 7;
  CheckResult r = ok_result();
  r.timings = {{"banner", 0.005}};
  r.cert_days = -5;
  const Report report = make_report(r, c);
  ASSERT_EQ(report.perfdata.size(), 3u);
  const PerfItem& time = report.perfdata[0];
  EXPECT_EQ(time.label, "time");
  EXPECT_DOUBLE_EQ(time.value, 0.142);
  EXPECT_EQ(time.unit, PerfUnit::Seconds);
  EXPECT_EQ(time.warn, "5");
  EXPECT_EQ(time.crit, "");
  EXPECT_EQ(time.min, 0.0);
  EXPECT_EQ(report.perfdata[1].label, "banner");
  EXPECT_EQ(report.perfdata[1].crit, "@0:0.001");
  const PerfItem& days = report.perfdata[2];
  EXPECT_EQ(days.label, "cert_days");
  EXPECT_DOUBLE_EQ(days.value, -5);
  EXPECT_EQ(days.unit, PerfUnit::Days);
  EXPECT_EQ(days.min, std::nullopt);
  EXPECT_EQ(format_perfdata(report.perfdata),
            "time=0.142000s;5;;0 banner=0.005000s;;@0:0.001;0 cert_days=-5;30:;7:");
}

TEST(Report, ProblemsAreRatedWorstFirstAndSanitised) {
  CheckResult r = ok_result();
  r.problems = {{ProblemKind::Smtp, smtp::FindingKind::RcptTempFailed, "w\n|"},
                {ProblemKind::Smtp, smtp::FindingKind::RcptRejected, "c"}};
  const Report report = make_report(r, Config{});
  EXPECT_EQ(report.state, State::Critical);
  ASSERT_EQ(report.problems.size(), 2u);
  EXPECT_EQ(report.problems[0].state, State::Critical);
  EXPECT_EQ(report.problems[0].text, "c");
  EXPECT_EQ(report.problems[1].state, State::Warning);
  EXPECT_EQ(report.problems[1].text, "w\\x0a\\x7c");
  EXPECT_EQ(report.summary, "mail.example.org[192.0.2.10]:25 c, w\\x0a\\x7c");
  EXPECT_EQ(report.long_output, std::nullopt);  // no -v
}

// issue 14 #2: with --mx-all an MX host name becomes a label prefix ("<host>_<phase>"), and
// c-ares passes spaces, '=' and '|' in names. Such a name must not add perfdata items.
// One part of a check of several, with one timing.
Part part(Part::Kind kind, std::string name, std::string phase, double seconds) {
  Part p;
  p.kind = kind;
  p.name = std::move(name);
  p.result.timings = {{std::move(phase), seconds}};
  return p;
}

TEST(Report, HostNameInALabelCannotForgePerfdata) {
  CheckResult r = ok_result();
  r.timings.clear();
  r.parts = {part(Part::Kind::MxHost, "x cert_days=-5 time=99s y|z", "banner", 0.1)};
  const std::string text = nagios(r, Config{}).text;
  EXPECT_EQ(text,
            "SMTP OK - mail.example.org[192.0.2.10]:25 ESMTP Postfix, 2 rcpt accepted, 0.142 s | "
            "time=0.142000s;;;0 x_cert_days_-5_time_99s_y_z_banner=0.100000s;;;0\n");
  EXPECT_EQ(std::count(text.begin(), text.end(), '='), 2);
  EXPECT_EQ(std::count(text.begin(), text.end(), '|'), 1);
}

TEST(Report, EightBitHostNameInALabelIsAscii) {
  CheckResult r = ok_result();
  r.timings.clear();
  r.parts = {part(Part::Kind::MxHost, "caf\xc3\xa9.example\xff", "ehlo", 0.1)};
  const Report report = make_report(r, Config{});
  EXPECT_EQ(report.perfdata[1].label, "caf__.example__ehlo");
}

// --each-address, --mx-all: each part's phases (and certificate days) after the whole's, each
// label prefixed with the part's name (an IPv6 address's ':' made '_'), nested parts prefixed
// twice; thresholds are the phase's, whatever the prefix.
TEST(Report, PartsPrefixTheirLabelsAndKeepThePhasesThresholds) {
  Config c;
  c.warning.emplace("banner", *parse_range("0.15"));
  c.cert_warning_days = 30;
  CheckResult r;
  r.endpoint = "mail.example.org:25";
  r.total_seconds = 0.5;
  r.timings = {{"resolve", 0.001}};
  r.cert_days = 20;
  r.parts = {part(Part::Kind::Address, "192.0.2.1", "banner", 0.1),
             part(Part::Kind::Address, "2001:db8::1", "banner", 0.2)};
  r.parts[0].result.cert_days = 20;
  Part mx = part(Part::Kind::MxHost, "mx1.example.org", "mx", 0.001);
  mx.result.parts = {part(Part::Kind::Address, "192.0.2.2", "quit", 0.003)};
  r.parts.push_back(std::move(mx));
  r.tally = "3/3 addresses OK";
  r.facts = {r.tally};
  EXPECT_EQ(format_perfdata(make_report(r, c).perfdata),
            "time=0.500000s;;;0 resolve=0.001000s;;;0 cert_days=20;30:; "
            "192.0.2.1_banner=0.100000s;0.15;;0 192.0.2.1_cert_days=20;30:; "
            "2001_db8__1_banner=0.200000s;0.15;;0 mx1.example.org_mx=0.001000s;;;0 "
            "mx1.example.org_192.0.2.2_quit=0.003000s;;;0");
  EXPECT_EQ(make_report(r, c).summary, "mail.example.org:25 3/3 addresses OK, 0.5 s");
}

// A part's printed label takes its own -w/-c: rated with the part (its state, the tally), and
// shown in its perfdata before the phase's range.
TEST(Evaluate, APartsPrintedLabelTakesItsOwnThresholds) {
  Config c;
  c.critical.emplace("mx1.example.org_banner", *parse_range("0.05"));
  c.warning.emplace("mx1.example.org_192.0.2.1_quit", *parse_range("0.001"));
  CheckResult host;
  host.timings = {{"banner", 0.1}};
  host.parts = {part(Part::Kind::Address, "192.0.2.1", "quit", 0.003)};
  const Evaluation e = evaluate(host, c, "mx1.example.org_");
  EXPECT_EQ(e.state, State::Critical);
  ASSERT_EQ(e.problems.size(), 2u);
  EXPECT_EQ(e.problems[0].problem.text, "mx1.example.org_banner 0.1 s (critical 0.05)");
  EXPECT_EQ(e.problems[1].problem.text, "mx1.example.org_192.0.2.1_quit 0.003 s (warning 0.001)");
  EXPECT_EQ(evaluate(host, c).state, State::Ok);  // the whole check's own labels have no prefix
}

TEST(Report, APartsPrintedLabelShowsItsOwnThresholds) {
  Config c;
  c.warning.emplace("banner", *parse_range("5"));
  c.critical.emplace("mx1.example.org_banner", *parse_range("0.05"));
  c.warning.emplace("mx2.example.org_cert_days", *parse_range("30:"));
  CheckResult r;
  r.endpoint = "example.org";
  r.total_seconds = 0.5;
  r.parts = {part(Part::Kind::MxHost, "mx1.example.org", "banner", 0.1),
             part(Part::Kind::MxHost, "mx2.example.org", "banner", 0.1)};
  r.parts[1].result.cert_days = 20;
  EXPECT_EQ(format_perfdata(make_report(r, c).perfdata),
            "time=0.500000s;;;0 mx1.example.org_banner=0.100000s;5;0.05;0 "
            "mx2.example.org_banner=0.100000s;5;;0 mx2.example.org_cert_days=20;30:;");
}

// The tally heads a line with problems too: "1/2 addresses OK - <the problems>".
TEST(Report, TheTallyHeadsTheProblems) {
  CheckResult r;
  r.endpoint = "mail.example.org:25";
  r.tally = "1/2 addresses OK";
  r.problems = {{ProblemKind::Connect, smtp::FindingKind::ConnectionClosed,
                 "cannot connect to mail.example.org[192.0.2.3]:25: Connection refused", true}};
  EXPECT_EQ(make_report(r, Config{}).summary,
            "1/2 addresses OK - cannot connect to mail.example.org[192.0.2.3]:25: Connection "
            "refused");
}

// Every string of a result carries 8-bit bytes (an --mx name, a server, the command line); the
// JSON is still one valid object, with the same \xNN escapes as the status line.
TEST(RenderJson, EightBitBytesInEveryStringFieldNeverBreakIt) {
  const std::string b = "\xc3\xa9\xff";
  CheckResult r;
  r.endpoint = "mx" + b + "[192.0.2.1]:25";
  r.host = "mx" + b;
  r.address = "a" + b;
  r.local_address = "l" + b;
  r.resolved = {"r" + b};
  r.ptr = "p" + b;
  r.facts = {"f" + b};
  r.timings = {{"mx" + b + "_banner", 0.1}};
  r.exchanges = {{"mx" + b + "_banner", "C" + b, 220, {"s" + b}, true}};
  r.problems = {{ProblemKind::Smtp, smtp::FindingKind::BannerRejected, "t" + b}};
  r.transcript = {"S: 220 " + b};
  r.tls = net::TlsFacts{"v" + b, "c" + b, {{"s" + b, "i" + b, "n" + b, 1, {}, 0, "d" + b}},
                        1,       true,    ""};
  r.cert_days = 1;
  Config c;
  c.verbosity = 1;
  const Report report = make_report(r, c);
  std::string out;
  ASSERT_NO_THROW(out = format_json(report, r));
  const auto doc = nlohmann::json::parse(out);
  const std::string e = "\\xc3\\xa9\\xff";
  EXPECT_EQ(doc["host"], "mx" + e);
  EXPECT_EQ(doc["address"], "a" + e);
  EXPECT_EQ(doc["local_address"], "l" + e);
  EXPECT_EQ(doc["dns"]["resolved"][0], "r" + e);
  EXPECT_EQ(doc["dns"]["ptr"], "p" + e);
  EXPECT_EQ(doc["summary"], "mx" + e + "[192.0.2.1]:25 t" + e);
  EXPECT_EQ(doc["phases"][0]["name"], "mx____banner");
  EXPECT_EQ(doc["phases"][0]["exchanges"][0]["command"], "C" + e);
  EXPECT_EQ(doc["phases"][0]["exchanges"][0]["lines"][0], "s" + e);
  EXPECT_EQ(doc["problems"][0]["text"], "t" + e);
  EXPECT_EQ(doc["transcript"][0], "S: 220 " + e);
  EXPECT_EQ(doc["tls"]["version"], "v" + e);
  EXPECT_EQ(doc["tls"]["cipher"], "c" + e);
  EXPECT_EQ(doc["tls"]["chain"][0]["subject"], "s" + e);
  EXPECT_EQ(doc["tls"]["chain"][0]["issuer"], "i" + e);
  EXPECT_EQ(doc["tls"]["chain"][0]["not_after"], "n" + e);
  EXPECT_EQ(doc["tls"]["chain"][0]["spki_sha256"], "d" + e);
  EXPECT_EQ(doc["perfdata"], "time=0.000000s;;;0 mx____banner=0.100000s;;;0 cert_days=1;;");
  // The status line of the same report: ASCII only, one '|', no line but the transcript's.
  const std::string line = format_nagios(report);
  EXPECT_TRUE(std::all_of(line.begin(), line.end(),
                          [](char ch) { return static_cast<unsigned char>(ch) < 0x80; }));
  EXPECT_EQ(std::count(line.begin(), line.end(), '|'), 1);
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 2);
}

// --each-address: "addresses" lists each address's own facts; --mx-all: "hosts", nested.
TEST(RenderJson, PartsAreListedWithTheirOwnFacts) {
  CheckResult r;
  r.endpoint = "mail.example.org:25";
  Part dead = part(Part::Kind::Address, "192.0.2.3", "connect", 0.001);
  dead.state = State::Critical;
  dead.problems = {
      {{ProblemKind::Connect, smtp::FindingKind::ConnectionClosed, "refused\x01", true},
       State::Critical}};
  dead.result.endpoint = "mail.example.org[192.0.2.3]:25";
  r.parts = {std::move(dead)};
  Part mx = part(Part::Kind::MxHost, "mx1.example.org", "mx", 0.001);
  mx.result.parts = {part(Part::Kind::Address, "192.0.2.2", "quit", 0.003)};
  r.parts.push_back(std::move(mx));
  const auto doc = nlohmann::json::parse(format_json(make_report(r, Config{}), r));
  ASSERT_EQ(doc["addresses"].size(), 1u);
  const auto& a = doc["addresses"][0];
  EXPECT_EQ(a["address"], "192.0.2.3");
  EXPECT_EQ(a["state"], 2);
  EXPECT_EQ(a["state_name"], "CRITICAL");
  EXPECT_EQ(a["endpoint"], "mail.example.org[192.0.2.3]:25");
  EXPECT_EQ(a["phases"][0]["name"], "connect");
  EXPECT_EQ(a["problems"],
            nlohmann::json::parse(R"([{"state":"CRITICAL","text":"refused\\x01"}])"));
  EXPECT_EQ(a["tls"], nullptr);
  ASSERT_EQ(doc["hosts"].size(), 1u);
  EXPECT_EQ(doc["hosts"][0]["host"], "mx1.example.org");
  EXPECT_EQ(doc["hosts"][0]["addresses"][0]["address"], "192.0.2.2");
  EXPECT_EQ(doc["hosts"][0]["addresses"][0]["phases"][0]["name"], "quit");
  // A check of one target has neither list.
  const CheckResult one = ok_result();
  const auto plain = nlohmann::json::parse(format_json(make_report(one, Config{}), one));
  EXPECT_FALSE(plain.contains("addresses"));
  EXPECT_FALSE(plain.contains("hosts"));
}

TEST(RenderJson, SummaryStateAndPerfdataAreTheReports) {
  CheckResult r = ok_result();
  r.problems = {{ProblemKind::Smtp, smtp::FindingKind::RcptRejected, "RCPT TO:<a@b> rejected"}};
  const Report report = make_report(r, Config{});
  const auto doc = nlohmann::json::parse(format_json(report, r));
  EXPECT_EQ(doc["state"], 2);
  EXPECT_EQ(doc["state_name"], "CRITICAL");
  EXPECT_EQ(doc["summary"], "mail.example.org[192.0.2.10]:25 RCPT TO:<a@b> rejected");
  EXPECT_EQ(doc["perfdata"], format_perfdata(report.perfdata));
  EXPECT_FALSE(doc.contains("transcript"));  // no -v
}

}  // namespace
}  // namespace smtpverify::check
