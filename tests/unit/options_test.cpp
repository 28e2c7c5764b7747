#include "check/options.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "check/result.h"
#include "smtp/phase.h"

namespace smtpverify::check {
namespace {

ParsedOptions parse(std::vector<std::string> args) {
  args.insert(args.begin(), "check_smtp_verify");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return parse_options(static_cast<int>(argv.size()), argv.data());
}

std::string error_of(std::vector<std::string> args) {
  const auto p = parse(std::move(args));
  EXPECT_EQ(p.action, ParsedOptions::Action::Error);
  return p.text;
}

TEST(Options, Defaults) {
  const auto p = parse({"-H", "mail.example.org"});
  ASSERT_EQ(p.action, ParsedOptions::Action::Run) << p.text;
  const Config& c = p.config;
  EXPECT_EQ(c.host, "mail.example.org");
  EXPECT_EQ(c.port, 25);
  EXPECT_EQ(c.family, AF_UNSPEC);
  EXPECT_EQ(c.timeout, std::chrono::milliseconds(10000));
  EXPECT_EQ(c.timeout_state, State::Critical);
  EXPECT_FALSE(c.mail_from.has_value());
  EXPECT_EQ(c.helo_name, "");
  EXPECT_EQ(c.verbosity, 0);
}

TEST(Options, EverythingGiven) {
  const auto p = parse({"-H",
                        "[2001:db8::1]",
                        "-p",
                        "2525",
                        "-6",
                        "-e",
                        "Postfix",
                        "-F",
                        "probe.example.org",
                        "-f",
                        "<>",
                        "--rcpt",
                        "<a@example.org>",
                        "--rcpt",
                        "b@example.org",
                        "--reject-rcpt",
                        "x@example.net",
                        "--data",
                        "-C",
                        "NOOP",
                        "-R",
                        "^250",
                        "-w",
                        "2",
                        "-c",
                        "banner=0.5",
                        "-w",
                        "banner=0.25",
                        "-t",
                        "20:unknown",
                        "-q",
                        "--dns-server",
                        "127.0.0.1:5353",
                        "--dns-server",
                        "[::1]:53",
                        "-v",
                        "-vv"});
  ASSERT_EQ(p.action, ParsedOptions::Action::Run) << p.text;
  const Config& c = p.config;
  EXPECT_EQ(c.host, "2001:db8::1");
  EXPECT_EQ(c.port, 2525);
  EXPECT_EQ(c.family, AF_INET6);
  EXPECT_EQ(c.expect, "Postfix");
  EXPECT_EQ(c.helo_name, "probe.example.org");
  EXPECT_EQ(c.mail_from, "");
  EXPECT_EQ(c.rcpts, (std::vector<std::string>{"a@example.org", "b@example.org"}));
  EXPECT_EQ(c.reject_rcpts, (std::vector<std::string>{"x@example.net"}));
  EXPECT_TRUE(c.data);
  EXPECT_EQ(c.commands, (std::vector<std::string>{"NOOP"}));
  EXPECT_EQ(c.responses, (std::vector<std::string>{"^250"}));
  EXPECT_EQ(c.warning.at("time").text, "2");
  EXPECT_EQ(c.warning.at("banner").text, "0.25");
  EXPECT_EQ(c.critical.at("banner").text, "0.5");
  EXPECT_EQ(c.timeout, std::chrono::milliseconds(20000));
  EXPECT_EQ(c.timeout_state, State::Unknown);
  EXPECT_TRUE(c.ignore_quit_failure);
  EXPECT_EQ(c.dns_servers, (std::vector<std::string>{"127.0.0.1:5353", "[::1]:53"}));
  EXPECT_EQ(c.verbosity, 3);
}

TEST(Options, LmtpDefaultPortAndFractionalTimeout) {
  const auto p = parse({"-H", "h", "-L", "-t", "0.25"});
  ASSERT_EQ(p.action, ParsedOptions::Action::Run) << p.text;
  EXPECT_EQ(p.config.port, 24);
  EXPECT_TRUE(p.config.lmtp);
  EXPECT_EQ(p.config.timeout, std::chrono::milliseconds(250));
}

TEST(Options, HelpAndVersion) {
  EXPECT_EQ(parse({"-h"}).action, ParsedOptions::Action::Help);
  EXPECT_EQ(parse({"--help"}).action, ParsedOptions::Action::Help);
  EXPECT_EQ(parse({"-V"}).action, ParsedOptions::Action::Version);
  EXPECT_EQ(parse({"-V"}).text, "check_smtp_verify " SMTPVERIFY_TEST_VERSION);
}

TEST(Options, HelpUsageFitsEightyColumns) {
  const std::string help = help_text();
  std::size_t start = 0;
  while (start < help.size()) {
    auto end = help.find('\n', start);
    if (end == std::string::npos) end = help.size();
    EXPECT_LE(end - start, 80u) << help.substr(start, end - start);
    start = end + 1;
  }
}

// Issue 13 #3: --help names the phases of the registry, for -w/-c and in the perfdata.
TEST(Options, HelpNamesEveryPhaseOfTheRegistry) {
  std::string help;  // words separated by single spaces, the line breaks gone
  for (const char ch : help_text()) {
    const bool space = ch == ' ' || ch == '\n';
    if (!space || (!help.empty() && help.back() != ' ')) help += space ? ' ' : ch;
  }
  EXPECT_NE(
      help.find("Phases: mx, mta_sts, resolve, connect, tls, banner, ehlo, plaintext, starttls, "
                "auth, mail, rcpt, data, commands, quit, helo_dns. Critical"),
      std::string::npos)
      << help;
  EXPECT_NE(
      help.find("Perfdata: time (total), then mx mta_sts resolve connect tls banner ehlo plaintext "
                "starttls auth mail rcpt data commands quit helo_dns for the phases"),
      std::string::npos);
  EXPECT_NE(help.find("Phases: " + smtp::threshold_phase_names(", ") + ". "), std::string::npos);
}

TEST(Options, EveryBadInputIsOneExactLine) {
  EXPECT_EQ(error_of({}), "missing -H/--hostname (or --mx DOMAIN)");
  EXPECT_EQ(error_of({"-H", ""}), "missing -H/--hostname (or --mx DOMAIN)");
  EXPECT_EQ(error_of({"-H", "h", "--bogus"}), "unknown option '--bogus'");
  EXPECT_EQ(error_of({"-H", "h", "-Z"}), "unknown option '-Z'");
  EXPECT_EQ(error_of({"-H", "h", "stray"}),
            "unexpected argument (a word that belongs to no option; not shown)");
  EXPECT_EQ(error_of({"-H", "h", "-p", "0"}), "port '0' is not a number from 1 to 65535");
  EXPECT_EQ(error_of({"-H", "h", "-p", "65536"}), "port '65536' is not a number from 1 to 65535");
  EXPECT_EQ(error_of({"-H", "h", "-p", "25x"}), "port '25x' is not a number from 1 to 65535");
  EXPECT_EQ(error_of({"-H", "h", "-p", "-1"}), "port '-1' is not a number from 1 to 65535");
  EXPECT_EQ(error_of({"-H", "h", "-4", "-6"}), "-4 and -6 exclude each other");
  EXPECT_EQ(error_of({"-H", "::1", "-4"}), "-H ::1 is not an IPv4 address");
  EXPECT_EQ(error_of({"-H", "127.0.0.1", "-6"}), "-H 127.0.0.1 is not an IPv6 address");
  EXPECT_EQ(error_of({"-H", "h", "-w", "10:5"}), "-w: range '10:5' has start > end");
  EXPECT_EQ(error_of({"-H", "h", "-c", "abc"}), "-c: 'abc' is not a range");
  EXPECT_EQ(error_of({"-H", "h", "-w", "helo=1"}),
            "-w: unknown label 'helo' (labels: time mx mta_sts resolve connect tls banner ehlo "
            "plaintext starttls auth mail rcpt data commands quit helo_dns cert_days, or PREFIX_ "
            "one of them)");
  EXPECT_EQ(error_of({"-H", "h", "-w", "1", "-w", "2"}), "-w given twice for time");
  EXPECT_EQ(error_of({"-H", "h", "-t", "0"}),
            "-t '0': seconds must be a number above 0 and at most 86400");
  EXPECT_EQ(error_of({"-H", "h", "-t", "abc"}),
            "-t 'abc': seconds must be a number above 0 and at most 86400");
  EXPECT_EQ(error_of({"-H", "h", "-t", "5:SOMETIMES"}),
            "-t state 'SOMETIMES' is not OK, WARNING, CRITICAL or UNKNOWN");
  EXPECT_EQ(error_of({"-H", "h", "-f", "a b@example.org"}),
            "--from contains a space or control character");
  EXPECT_EQ(error_of({"-H", "h", "-f", "a@example.org\r\nRCPT TO:<x@y>"}),
            "--from contains a space or control character");
  EXPECT_EQ(error_of({"-H", "h", "-f", "m@x", "--rcpt",
                      "a\x01"
                      "b"}),
            "--rcpt contains a space or control character");
  EXPECT_EQ(error_of({"-H", "h", "-f", "m@x", "--rcpt", "a@b\n"}),
            "--rcpt contains a space or control character");
  EXPECT_EQ(error_of({"-H", "h", "-f", "m@x", "--reject-rcpt", "a @b"}),
            "--reject-rcpt contains a space or control character");
  EXPECT_EQ(error_of({"-H", "h", "-f", "m@x", "--rcpt", "<a@b"}),
            "--rcpt '<a@b' has stray angle brackets");
  EXPECT_EQ(error_of({"-H", "h", "-f", "m@x", "--rcpt", ""}), "--rcpt is empty");
  EXPECT_EQ(error_of({"-H", "h", "-F", "bad name"}),
            "-F must be a name without spaces or control characters");
  EXPECT_EQ(error_of({"-H", "h", "-F", "bad\rname"}),
            "-F must be a name without spaces or control characters");
  EXPECT_EQ(error_of({"-H", "h", "-C", "NOOP\r\nQUIT"}),
            "-C command is empty or contains a control character");
  EXPECT_EQ(error_of({"-H", "h", "-C", "NOOP", "-R", "a", "-R", "b"}),
            "more -R than -C: each -R checks the reply to the -C at the same position");
  EXPECT_EQ(error_of({"-H", "h", "-C", "NOOP", "-R", "(unclosed"}).rfind("-R '(unclosed': ", 0),
            0u);
  EXPECT_EQ(error_of({"-H", "h", "--rcpt", "a@b"}), "--rcpt needs --from");
  EXPECT_EQ(error_of({"-H", "h", "--reject-rcpt", "a@b"}), "--reject-rcpt needs --from");
  EXPECT_EQ(error_of({"-H", "h", "--data"}), "--data needs --from");
  EXPECT_EQ(error_of({"-H", "h", "-f", "m@x", "--data"}), "--data needs at least one --rcpt");
  EXPECT_EQ(error_of({"-H", "h", "-f", "m@x", "--rcpt", "a@b", "--data-file", "/nonexistent/x"}),
            "cannot read --data-file '/nonexistent/x'");
  EXPECT_EQ(error_of({"-H", "h", "-f", "m@x", "--rcpt", "a@b", "--data-file", "/"}),
            "--data-file '/' is not a regular file");
  EXPECT_EQ(error_of({"-H", "h", "--dns-server", "nonsense"}),
            "--dns-server 'nonsense': not an IP address");
  EXPECT_EQ(error_of({"-H", "h", "--dns-server", "127.0.0.1:99999"}),
            "--dns-server '127.0.0.1:99999': port must be 1-65535");
  EXPECT_EQ(error_of({"-H", "h", "-H", "i"}),
            "option '--hostname' cannot be specified more than once");
  EXPECT_EQ(error_of({"-H"}), "the required argument for option '--hostname' is missing");
  EXPECT_EQ(error_of({"-H", "h x"}), "-H contains a space or control character");
  EXPECT_EQ(error_of({"-H", "[]"}), "-H '[]' is not a host name or address");
}

TEST(Options, ProxyAndBind) {
  auto p = parse({"-H", "127.0.0.1", "-r"});
  ASSERT_EQ(p.action, ParsedOptions::Action::Run) << p.text;
  EXPECT_EQ(p.config.proxy, net::ProxyVersion::V1);
  p = parse({"-H", "127.0.0.1", "--proxy=v2"});
  EXPECT_EQ(p.config.proxy, net::ProxyVersion::V2);
  p = parse({"-H", "127.0.0.1", "--proxy", "v2"});
  EXPECT_EQ(p.config.proxy, net::ProxyVersion::V2);
  p = parse({"-H", "127.0.0.1", "-r", "-v"});  // a bare -r before another option is v1
  EXPECT_EQ(p.config.proxy, net::ProxyVersion::V1);
  EXPECT_EQ(p.config.verbosity, 1);
  EXPECT_FALSE(parse({"-H", "127.0.0.1"}).config.proxy.has_value());
  p = parse({"-H", "mail.example.org", "-b", "[::1]"});
  ASSERT_EQ(p.action, ParsedOptions::Action::Run) << p.text;
  EXPECT_EQ(p.config.bind, "::1");
  EXPECT_EQ(p.config.family, AF_INET6);  // only the bind family's addresses are reachable
  EXPECT_EQ(error_of({"-H", "h", "--proxy=v3"}), "--proxy 'v3' is not v1 or v2");
  EXPECT_EQ(error_of({"-H", "h", "-b", "eth0"}), "-b 'eth0' is not an IP address");
  EXPECT_EQ(error_of({"-H", "h", "-6", "-b", "127.0.0.2"}), "-b 127.0.0.2 is not an IPv6 address");
  EXPECT_EQ(error_of({"-H", "::1", "-b", "127.0.0.2"}), "-b 127.0.0.2 is IPv4 but -H ::1 is not");
}

TEST(Options, TlsAndAuth) {
  auto p = parse({"-H", "mail.example.org", "-s"});
  ASSERT_EQ(p.action, ParsedOptions::Action::Run) << p.text;
  EXPECT_TRUE(p.config.implicit_tls);
  EXPECT_EQ(p.config.port, 465);
  p = parse({"-H", "mail.example.org", "--tls", "-p", "10465"});
  EXPECT_TRUE(p.config.implicit_tls);
  EXPECT_EQ(p.config.port, 10465);
  p = parse({"-H", "mail.example.org", "-S", "--sni", "mx.example.org", "--verify-name",
             "mx.example.org", "--no-verify", "-D", "30,14", "--tls-min", "1.3", "--ca-path",
             "/etc/ssl/certs"});
  ASSERT_EQ(p.action, ParsedOptions::Action::Run) << p.text;
  EXPECT_TRUE(p.config.starttls);
  EXPECT_EQ(p.config.port, 25);
  EXPECT_EQ(p.config.sni, "mx.example.org");
  EXPECT_EQ(p.config.verify_name, "mx.example.org");
  EXPECT_TRUE(p.config.no_verify);
  EXPECT_EQ(p.config.cert_warning_days, 30);
  EXPECT_EQ(p.config.cert_critical_days, 14);
  EXPECT_EQ(p.config.tls_min, net::TlsVersion::Tls13);
  p = parse({"-H", "h", "-S", "-A", "login", "-U", "u", "-P", "secret"});
  ASSERT_EQ(p.action, ParsedOptions::Action::Run) << p.text;
  EXPECT_EQ(p.config.auth_mechanism, AuthMechanism::Login);
  EXPECT_EQ(auth_mechanism_name(AuthMechanism::Login), "LOGIN");
  EXPECT_EQ(auth_mechanism_name(AuthMechanism::Plain), "PLAIN");
  EXPECT_EQ(p.config.auth_password, "secret");
  setenv("SMTP_AUTHPASS", "from-env", 1);
  p = parse({"-H", "h", "-S", "-A", "PLAIN", "-U", "u"});
  EXPECT_EQ(p.config.auth_password, "from-env");
  p = parse({"-H", "h", "-S", "-A", "PLAIN", "-U", "u", "-P", "argv"});
  EXPECT_EQ(p.config.auth_password, "argv");  // explicit beats the environment
  unsetenv("SMTP_AUTHPASS");
  p = parse({"-H", "h", "-A", "PLAIN", "-U", "u", "-P", "x", "--auth-plaintext"});
  EXPECT_EQ(p.action, ParsedOptions::Action::Run) << p.text;
}

TEST(Options, AuthPasswordFileFirstLine) {
  char path[] = "/tmp/smtpverify_passXXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string text = "s3cret pass\r\nsecond line\n";
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  const auto p =
      parse({"-H", "h", "-S", "-A", "PLAIN", "-U", "u", "--authpass-file", path, "-P", "ignored"});
  unlink(path);
  ASSERT_EQ(p.action, ParsedOptions::Action::Run) << p.text;
  EXPECT_EQ(p.config.auth_password, "s3cret pass");
}

TEST(Options, AuthPasswordFileIsBounded) {
  char path[] = "/tmp/smtpverify_passXXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string text(5000, 'x');  // no newline within 4096 bytes
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  const std::string message = error_of(
      {"-H", "h", "-S", "-A", "PLAIN", "-U", "u", "--authpass-file", path, "-P", "ignored"});
  unlink(path);
  EXPECT_EQ(message,
            "--authpass-file '" + std::string(path) + "' has a first line longer than 4096 bytes");
}

// --data-file is read whole, byte for byte, however its size falls against the read sizes;
// one byte over 10 MiB is refused.
TEST(Options, DataFileReadWholeAndBounded) {
  for (const std::size_t size :
       {std::size_t{0}, std::size_t{1}, std::size_t{4096}, std::size_t{200'003},
        std::size_t{10} * 1024 * 1024, std::size_t{10} * 1024 * 1024 + 1}) {
    char path[] = "/tmp/smtpverify_dataXXXXXX";
    const int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    std::string text(size, '\0');
    for (std::size_t i = 0; i < size; ++i) text[i] = static_cast<char>('a' + i % 23);
    ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    close(fd);
    const auto p = parse({"-H", "h", "-f", "m@x", "--rcpt", "a@b", "--data-file", path});
    unlink(path);
    if (size > std::size_t{10} * 1024 * 1024) {
      EXPECT_EQ(p.action, ParsedOptions::Action::Error);
      EXPECT_EQ(p.text, "--data-file '" + std::string(path) + "' is larger than 10 MiB");
      continue;
    }
    ASSERT_EQ(p.action, ParsedOptions::Action::Run) << p.text;
    ASSERT_TRUE(p.config.data_file_text.has_value()) << size;
    EXPECT_EQ(p.config.data_file_text->size(), size);
    EXPECT_TRUE(*p.config.data_file_text == text) << size;
  }
}

// Issue 14 #10: a FIFO read as an empty file (--data-file sent a message of only ".",
// --authpass-file gave "the AUTH password is empty"), and a FIFO with a writer that never
// writes was waited for before -t started. Only regular files are read.
TEST(Options, DataAndPasswordFilesMustBeRegular) {
  char dir[] = "/tmp/smtpverify_fifoXXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string fifo = std::string(dir) + "/pass";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(error_of({"-H", "h", "-S", "-A", "PLAIN", "-U", "u", "--authpass-file", fifo}),
            "--authpass-file '" + fifo + "' is not a regular file");
  EXPECT_EQ(error_of({"-H", "h", "-f", "m@x", "--rcpt", "a@b", "--data-file", fifo}),
            "--data-file '" + fifo + "' is not a regular file");
  const int writer = open(fifo.c_str(), O_RDWR | O_NONBLOCK);  // a writer that never writes
  ASSERT_GE(writer, 0);
  EXPECT_EQ(error_of({"-H", "h", "-f", "m@x", "--rcpt", "a@b", "--data-file", fifo}),
            "--data-file '" + fifo + "' is not a regular file");
  EXPECT_EQ(error_of({"-H", "h", "-S", "-A", "PLAIN", "-U", "u", "--authpass-file", fifo}),
            "--authpass-file '" + fifo + "' is not a regular file");
  close(writer);
  EXPECT_EQ(error_of({"-H", "h", "-S", "-A", "PLAIN", "-U", "u", "--authpass-file", "/dev/null"}),
            "--authpass-file '/dev/null' is not a regular file");
  EXPECT_EQ(error_of({"-H", "h", "-S", "-A", "PLAIN", "-U", "u", "--authpass-file", dir}),
            "--authpass-file '" + std::string(dir) + "' is not a regular file");
  unlink(fifo.c_str());
  rmdir(dir);
}

// OpenSSL opens --ca-file and --ca-path without a time limit: a FIFO (which blocks open()
// until a writer comes) is refused at once instead of hanging past -t.
TEST(Options, CaFileAndCaPathMustBeFileAndFolder) {
  char dir[] = "/tmp/smtpverify_caXXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string fifo = std::string(dir) + "/ca.pem";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::string file = std::string(dir) + "/file.pem";
  const int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  close(fd);
  EXPECT_EQ(error_of({"-H", "h", "-S", "--ca-file", fifo}),
            "--ca-file '" + fifo + "' is not a regular file");
  EXPECT_EQ(error_of({"-H", "h", "-S", "--ca-file", dir}),
            "--ca-file '" + std::string(dir) + "' is not a regular file");
  EXPECT_EQ(error_of({"-H", "h", "-S", "--ca-path", fifo}),
            "--ca-path '" + fifo + "' is not a folder");
  EXPECT_EQ(error_of({"-H", "h", "-S", "--ca-path", file}),
            "--ca-path '" + file + "' is not a folder");
  EXPECT_EQ(error_of({"-H", "h", "-S", "--ca-path", std::string(dir) + "/none"}),
            "cannot read --ca-path '" + std::string(dir) + "/none'");
  EXPECT_EQ(parse({"-H", "h", "-S", "--ca-file", file, "--ca-path", dir}).config.ca_path, dir);
  unlink(fifo.c_str());
  unlink(file.c_str());
  rmdir(dir);
}

// check_smtp's -D alone checks the STARTTLS certificate (contract §3), and configs written for
// it must keep working: -D implies -S; with -s it stays implicit TLS.
TEST(Options, CertificateDaysAloneImplyStarttls) {
  const auto p = parse({"-H", "h", "-D", "30,14"});
  ASSERT_EQ(p.action, ParsedOptions::Action::Run) << p.text;
  EXPECT_TRUE(p.config.starttls);
  EXPECT_TRUE(p.config.starttls_implied);
  const auto s = parse({"-H", "h", "-s", "-D", "30"});
  EXPECT_FALSE(s.config.starttls);
  EXPECT_FALSE(s.config.starttls_implied);
  EXPECT_FALSE(parse({"-H", "h", "-S", "-D", "30"}).config.starttls_implied);
}

// Every perfdata label takes -w/-c: cert_days too, as a range of days (alert below: "30:").
TEST(Options, CertDaysTakesThresholds) {
  const auto p = parse({"-H", "h", "-S", "-w", "cert_days=30:", "-c", "cert_days=14:"});
  ASSERT_EQ(p.action, ParsedOptions::Action::Run) << p.text;
  EXPECT_EQ(cert_days_range(p.config, false)->text, "30:");
  EXPECT_EQ(cert_days_range(p.config, true)->text, "14:");
  // -D is the same ranges.
  const auto d = parse({"-H", "h", "-S", "-D", "30,14"});
  EXPECT_EQ(cert_days_range(d.config, false)->text, "30:");
  EXPECT_EQ(cert_days_range(d.config, true)->text, "14:");
  EXPECT_FALSE(cert_days_range(parse({"-H", "h", "-S", "-D", "30"}).config, true).has_value());
  EXPECT_EQ(error_of({"-H", "h", "-S", "-D", "30", "-w", "cert_days=20:"}),
            "-D and -w/-c cert_days=... exclude each other");
  EXPECT_EQ(error_of({"-H", "h", "-c", "cert_days=14:"}), "cert_days thresholds need -S or -s");
}

// Every label takes -w/-c, also as --mx-all and --each-address print it.
TEST(Options, PrefixedLabelsTakeThresholds) {
  for (const char* label : {"mx1.example.org_banner", "192.0.2.1_cert_days", "2001_db8__1_ehlo",
                            "mx1.example.org_192.0.2.1_quit", "a-b_helo_dns"}) {
    const auto p = parse({"-H", "h", "-S", "-w", std::string(label) + "=1"});
    ASSERT_EQ(p.action, ParsedOptions::Action::Run) << label << ": " << p.text;
    EXPECT_EQ(p.config.warning.count(label), 1u) << label;
  }
  for (const char* label : {"mx1_time", "_banner", "mx1_helo", "mx 1_banner", "mx1_"}) {
    EXPECT_EQ(error_of({"-H", "h", "-w", std::string(label) + "=1"}),
              "-w: unknown label '" + std::string(label) +
                  "' (labels: time mx mta_sts resolve connect tls banner ehlo plaintext starttls "
                  "auth mail "
                  "rcpt data commands quit helo_dns cert_days, or PREFIX_ one of them)")
        << label;
  }
}

// The HELO name's lookup changes the state by default only when the admin chose the name.
TEST(Options, HeloDnsRatesOnlyAChosenName) {
  EXPECT_EQ(parse({"-H", "h"}).config.helo_dns, HeloDnsMode::Report);
  EXPECT_EQ(parse({"-H", "h", "-F", "me.example.org"}).config.helo_dns, HeloDnsMode::Warning);
  EXPECT_EQ(parse({"-H", "h", "-F", "me.example.org", "--helo-dns", "critical"}).config.helo_dns,
            HeloDnsMode::Critical);
  EXPECT_EQ(parse({"-H", "h", "--helo-dns", "warning"}).config.helo_dns, HeloDnsMode::Warning);
}

TEST(Options, TlsAndAuthBadInputs) {
  unsetenv("SMTP_AUTHPASS");
  EXPECT_EQ(error_of({"-H", "h", "-S", "-s"}), "-S and -s exclude each other");
  EXPECT_EQ(error_of({"-H", "h", "--sni", "x"}), "--sni needs -S or -s");
  EXPECT_EQ(error_of({"-H", "h", "--no-verify"}), "--no-verify needs -S or -s");
  EXPECT_EQ(error_of({"-H", "h", "-S", "--sni", "192.0.2.1"}),
            "--sni must be a host name, not an address");
  EXPECT_EQ(error_of({"-H", "h", "-S", "--ca-file", "/nonexistent.pem"}),
            "cannot read --ca-file '/nonexistent.pem'");
  EXPECT_EQ(error_of({"-H", "h", "-S", "-D", "10,30"}),
            "-D '10,30': critical days must not exceed warning days");
  EXPECT_EQ(error_of({"-H", "h", "-S", "-D", "x"}),
            "-D 'x': days must be whole numbers from 0 to 36500");
  EXPECT_EQ(error_of({"-H", "h", "-S", "--tls-min", "1.1"}), "--tls-min '1.1' is not 1.2 or 1.3");
  EXPECT_EQ(error_of({"-H", "h", "-S", "-A", "CRAM-MD5", "-U", "u", "-P", "p"}),
            "-A 'CRAM-MD5' is not PLAIN or LOGIN");
  EXPECT_EQ(error_of({"-H", "h", "-A", "PLAIN", "-U", "u", "-P", "p"}),
            "-A without -S or -s would send the password in plaintext (--auth-plaintext)");
  EXPECT_EQ(error_of({"-H", "h", "-S", "-A", "PLAIN", "-P", "p"}), "-A needs -U/--authuser");
  EXPECT_EQ(error_of({"-H", "h", "-S", "-A", "PLAIN", "-U", "u"}),
            "-A needs a password: --authpass-file, SMTP_AUTHPASS or -P");
  EXPECT_EQ(error_of({"-H", "h", "-S", "-A", "PLAIN", "-U", "u", "--authpass-file", "/nope"}),
            "cannot read --authpass-file '/nope'");
  EXPECT_EQ(error_of({"-H", "h", "-S", "-U", "u"}), "--authuser needs -A");
  EXPECT_EQ(error_of({"-H", "h", "--auth-plaintext"}), "--auth-plaintext needs -A");
}

TEST(Options, CheckSmtpLongNames) {
  EXPECT_EQ(parse({"-H", "h", "--use-ipv4"}).config.family, AF_INET);
  EXPECT_EQ(parse({"-H", "h", "--use-ipv6"}).config.family, AF_INET6);
  EXPECT_EQ(error_of({"-H", "h", "--use-ipv4", "-6"}), "-4 and -6 exclude each other");
}

TEST(Options, HeloDnsMode) {
  EXPECT_EQ(parse({"-H", "h", "--helo-dns", "ignore"}).config.helo_dns, HeloDnsMode::Ignore);
  EXPECT_EQ(parse({"-H", "h", "--helo-dns", "warning"}).config.helo_dns, HeloDnsMode::Warning);
  EXPECT_EQ(parse({"-H", "h", "--helo-dns", "critical"}).config.helo_dns, HeloDnsMode::Critical);
  EXPECT_EQ(error_of({"-H", "h", "--helo-dns", "loud"}),
            "--helo-dns 'loud' is not ignore, warning or critical");
}

TEST(Options, MxMode) {
  auto p = parse({"--mx", "example.org", "--mx-all"});
  ASSERT_EQ(p.action, ParsedOptions::Action::Run) << p.text;
  EXPECT_EQ(p.config.mx, "example.org");
  EXPECT_TRUE(p.config.mx_all);
  EXPECT_EQ(error_of({"-H", "h", "--mx", "example.org"}), "-H and --mx exclude each other");
  EXPECT_EQ(error_of({"-H", "h", "--mx-all"}), "--mx-all needs --mx");
  EXPECT_EQ(error_of({"--mx", "192.0.2.1"}), "--mx needs a domain name");
}

TEST(Options, EachAddress) {
  EXPECT_FALSE(parse({"-H", "mx.example.org"}).config.each_address);
  EXPECT_TRUE(parse({"-H", "mx.example.org", "--each-address"}).config.each_address);
  EXPECT_TRUE(parse({"--mx", "example.org", "--mx-all", "--each-address"}).config.each_address);
  EXPECT_EQ(error_of({"-H", "h", "--each-address=yes"}),
            "option '--each-address' does not take any arguments");
}

TEST(Options, Dane) {
  const auto p = parse({"-H", "mx.example.org", "-S", "--dane", "--dane-insecure"});
  ASSERT_EQ(p.action, ParsedOptions::Action::Run) << p.text;
  EXPECT_TRUE(p.config.dane);
  EXPECT_TRUE(p.config.dane_insecure);
  EXPECT_EQ(error_of({"-H", "h", "--dane"}), "--dane needs -S or -s");
  EXPECT_EQ(error_of({"-H", "h", "-S", "--dane-insecure"}), "--dane-insecure needs --dane");
  EXPECT_EQ(error_of({"-H", "h", "-S", "--dane", "--no-verify"}),
            "--dane and --no-verify exclude each other");
  EXPECT_EQ(error_of({"-H", "192.0.2.1", "-S", "--dane"}),
            "--dane needs -H to be a host name (the TLSA owner), not an address");
}

// Issue 16: MTA-STS and TLS-RPT are published by a mail domain; MTA-STS holds its MX hosts
// to STARTTLS with a certificate verified for each MX host's own name.
TEST(Options, MtaStsAndTlsRptNeedMxAndMtaStsTurnsStarttlsOn) {
  const auto p = parse({"--mx", "example.org", "--mta-sts", "--tls-rpt"});
  ASSERT_EQ(p.action, ParsedOptions::Action::Run) << p.text;
  EXPECT_TRUE(p.config.mta_sts);
  EXPECT_TRUE(p.config.tls_rpt);
  EXPECT_TRUE(p.config.starttls);
  EXPECT_TRUE(p.config.starttls_by_mta_sts);
  const auto s = parse({"--mx", "example.org", "--mta-sts", "-S"});
  ASSERT_EQ(s.action, ParsedOptions::Action::Run) << s.text;
  EXPECT_TRUE(s.config.starttls);
  EXPECT_FALSE(s.config.starttls_by_mta_sts);  // -S asked for it: its findings stay CRITICAL
  const auto r = parse({"--mx", "example.org", "--tls-rpt"});
  ASSERT_EQ(r.action, ParsedOptions::Action::Run) << r.text;
  EXPECT_FALSE(r.config.starttls);
  EXPECT_EQ(error_of({"-H", "h", "--mta-sts"}), "--mta-sts needs --mx DOMAIN");
  EXPECT_EQ(error_of({"-H", "h", "--tls-rpt"}), "--tls-rpt needs --mx DOMAIN");
  EXPECT_EQ(error_of({"--mx", "example.org", "--mta-sts", "-s"}),
            "--mta-sts checks STARTTLS (RFC 8461): not with -s");
  EXPECT_EQ(error_of({"--mx", "example.org", "--mta-sts", "--no-verify"}),
            "--mta-sts and --no-verify exclude each other");
  EXPECT_EQ(error_of({"--mx", "example.org", "--mta-sts", "--verify-name", "x.example.org"}),
            "--mta-sts verifies each MX host's own name: not with --verify-name");
}

// Issue 17: only STARTTLS has a plaintext part for --plaintext-refused to probe.
TEST(Options, PlaintextRefused) {
  const auto p = parse({"-H", "h", "-S", "--plaintext-refused"});
  ASSERT_EQ(p.action, ParsedOptions::Action::Run) << p.text;
  EXPECT_TRUE(p.config.plaintext_refused);
  EXPECT_FALSE(parse({"-H", "h", "-S"}).config.plaintext_refused);
  EXPECT_EQ(error_of({"-H", "h", "--plaintext-refused"}), "--plaintext-refused needs -S");
  EXPECT_EQ(error_of({"-H", "h", "-s", "--plaintext-refused"}),
            "--plaintext-refused needs -S: with -s nothing is sent before TLS");
  const auto mx = parse({"--mx", "example.org", "--mx-all", "-S", "--plaintext-refused", "-r", "-f",
                         "m@example.org"});
  ASSERT_EQ(mx.action, ParsedOptions::Action::Run) << mx.text;
  EXPECT_TRUE(mx.config.plaintext_refused);
}

TEST(Options, OutputFormat) {
  EXPECT_EQ(parse({"-H", "h"}).config.output, OutputFormat::Nagios);
  EXPECT_EQ(parse({"-H", "h", "--output", "nagios"}).config.output, OutputFormat::Nagios);
  EXPECT_EQ(parse({"-H", "h", "--output", "json"}).config.output, OutputFormat::Json);
  EXPECT_EQ(parse({"-H", "h", "--output", "openmetrics"}).config.output, OutputFormat::OpenMetrics);
  EXPECT_EQ(error_of({"-H", "h", "--output", "xml"}),
            "--output 'xml' is not nagios, json or openmetrics");
  // OpenMetrics allows no comment lines: a transcript has no place in the exposition.
  EXPECT_EQ(error_of({"-H", "h", "--output", "openmetrics", "-v"}),
            "-v cannot be combined with --output openmetrics");
  EXPECT_EQ(parse({"-H", "h", "--output", "json", "-v"}).action, ParsedOptions::Action::Run);
}

TEST(Options, AbbreviatedLongOptionsAreNotGuessed) {
  EXPECT_EQ(error_of({"-H", "h", "--verb"}), "unknown option '--verb'");
}

TEST(Options, DataFileIsRead) {
  char path[] = "/tmp/smtpverify_optXXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string body = "Subject: hi\n\nbody\n";
  ASSERT_EQ(write(fd, body.data(), body.size()), static_cast<ssize_t>(body.size()));
  close(fd);
  const auto p = parse({"-H", "h", "-f", "m@x", "--rcpt", "a@b", "--data-file", path});
  unlink(path);
  ASSERT_EQ(p.action, ParsedOptions::Action::Run) << p.text;
  EXPECT_TRUE(p.config.data);
  EXPECT_EQ(p.config.data_file_text, body);
}

// Issue 14 #6: an unknown option or a stray word may carry a password; error lines name the
// option and never show the value.
TEST(Options, ErrorsNeverShowAnUnknownValue) {
  EXPECT_EQ(error_of({"-H", "h", "--authpas=hunter2secret"}), "unknown option '--authpas'");
  EXPECT_EQ(error_of({"-H", "h", "--authpas", "hunter2secret"}), "unknown option '--authpas'");
  EXPECT_EQ(error_of({"-H", "h", "-Zhunter2secret"}), "unknown option '-Z'");
  EXPECT_EQ(error_of({"-H", "h", "-4Zhunter2secret"}), "unknown option '-Z'");  // in a group
  EXPECT_EQ(error_of({"-H", "h", "-4vSZ"}), "unknown option '-Z'");
  const std::string stray = "unexpected argument (a word that belongs to no option; not shown)";
  EXPECT_EQ(error_of({"-H", "h", "-S", "-A", "PLAIN", "-U", "u", "-P", "hunter2", "secret"}),
            stray);
  EXPECT_EQ(error_of({"-H", "h", "--", "hunter2secret"}), stray);
  EXPECT_EQ(error_of({"hunter2secret", "-H", "h"}), stray);
}

std::string repeat(char c, std::size_t n) { return std::string(n, c); }

// A name of `labels` labels of `length` octets each, joined by dots.
std::string dns_name(std::size_t labels, std::size_t length) {
  std::string name;
  for (std::size_t i = 0; i < labels; ++i) name += (i ? "." : "") + repeat('a', length);
  return name;
}

// Issue 14 #7: what we send stays within RFC 5321's limits, refused before any connection.
TEST(Options, CommandsWithinRfc5321Limits) {
  ASSERT_EQ(dns_name(4, 62).size(), 251u);
  const std::string ok253 = dns_name(4, 62) + ".b";
  ASSERT_EQ(ok253.size(), 253u);
  EXPECT_EQ(parse({"-H", ok253}).action, ParsedOptions::Action::Run);
  EXPECT_EQ(parse({"-H", ok253 + "."}).action, ParsedOptions::Action::Run);  // the root's dot
  EXPECT_EQ(parse({"-H", dns_name(2, 63)}).action, ParsedOptions::Action::Run);
  EXPECT_EQ(error_of({"-H", ok253 + "b"}), "-H is longer than 253 octets (RFC 1035 2.3.4)");
  const std::string label64 = repeat('a', 64) + ".example.org";
  EXPECT_EQ(error_of({"-H", label64}), "-H has a label longer than 63 octets (RFC 1035 2.3.4)");
  EXPECT_EQ(error_of({"--mx", label64}), "--mx has a label longer than 63 octets (RFC 1035 2.3.4)");
  EXPECT_EQ(error_of({"-H", "h", "-S", "--sni", label64}),
            "--sni has a label longer than 63 octets (RFC 1035 2.3.4)");
  EXPECT_EQ(error_of({"-H", "h", "-S", "--verify-name", label64}),
            "--verify-name has a label longer than 63 octets (RFC 1035 2.3.4)");
  EXPECT_EQ(error_of({"-H", "h", "-F", label64}),
            "-F has a label longer than 63 octets (RFC 1035 2.3.4)");
  EXPECT_EQ(error_of({"-H", "h", "-F", ok253 + "b"}),
            "-F is longer than 253 octets (RFC 1035 2.3.4)");
  EXPECT_EQ(error_of({"-H", "h", "-F", "[" + repeat('1', 254) + "]"}),
            "-F is longer than 255 octets (RFC 5321 4.5.3.1.2)");
  EXPECT_EQ(parse({"-H", "h", "-F", ok253}).config.helo_name, ok253);
  EXPECT_EQ(parse({"-H", "h", "-F", "[IPv6:2001:db8::1]"}).config.helo_name, "[IPv6:2001:db8::1]");

  // -C: 510 octets and CRLF make the 512 of RFC 5321 4.5.3.1.4.
  EXPECT_EQ(parse({"-H", "h", "-C", repeat('N', 510)}).action, ParsedOptions::Action::Run);
  EXPECT_EQ(error_of({"-H", "h", "-C", repeat('N', 511)}),
            "-C command is longer than 510 octets, 512 with CRLF (RFC 5321 4.5.3.1.4)");

  // A local part of at most 64 octets, a path ("<" address ">") of at most 256.
  const std::string local64 = repeat('l', 64) + "@example.org";
  EXPECT_EQ(parse({"-H", "h", "-f", local64, "--rcpt", "<" + local64 + ">"}).config.rcpts,
            (std::vector<std::string>{local64}));
  EXPECT_EQ(error_of({"-H", "h", "-f", "l" + local64}),
            "--from has a local part longer than 64 octets (RFC 5321 4.5.3.1.1)");
  EXPECT_EQ(error_of({"-H", "h", "-f", "m@x", "--rcpt", "<l" + local64 + ">"}),
            "--rcpt has a local part longer than 64 octets (RFC 5321 4.5.3.1.1)");
  EXPECT_EQ(error_of({"-H", "h", "-f", "m@x", "--reject-rcpt", repeat('p', 65)}),
            "--reject-rcpt has a local part longer than 64 octets (RFC 5321 4.5.3.1.1)");
  const std::string address254 = repeat('l', 64) + "@" + dns_name(3, 62) + "d";
  ASSERT_EQ(address254.size(), 254u);
  EXPECT_EQ(parse({"-H", "h", "-f", address254}).config.mail_from, address254);
  EXPECT_EQ(error_of({"-H", "h", "-f", "<" + address254 + "d>"}),
            "--from is longer than 256 octets with <> (RFC 5321 4.5.3.1.3)");
  EXPECT_EQ(error_of({"-H", "h", "-f", "m@x", "--rcpt", address254 + "d"}),
            "--rcpt is longer than 256 octets with <> (RFC 5321 4.5.3.1.3)");
}

}  // namespace
}  // namespace smtpverify::check
