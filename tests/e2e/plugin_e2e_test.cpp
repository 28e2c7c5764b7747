// e2e tier: the built binary as a process against the fakes: exit code, first line, perfdata.
#include <elf.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "support/fake_smtp_server.h"
#include "support/test_pki.h"

extern char** environ;

namespace smtpverify::test {
namespace {

using namespace std::chrono_literals;

struct PluginRun {
  int exit_code = -1;
  std::string out;
  std::string first_line;
  std::chrono::milliseconds elapsed{0};
};

// Runs `binary` with `args`, capturing stdout (stderr goes to the test's stderr).
PluginRun run_binary(const std::string& binary, const std::vector<std::string>& args) {
  std::vector<std::string> all = {binary};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  int pipefd[2];
  if (pipe(pipefd) != 0) return {};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipefd[0]);
  const auto t0 = std::chrono::steady_clock::now();
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipefd[1]);
  PluginRun r;
  if (rc != 0) {
    close(pipefd[0]);
    return r;
  }
  char buf[4096];
  for (;;) {
    const ssize_t n = read(pipefd[0], buf, sizeof buf);
    if (n <= 0) break;
    r.out.append(buf, static_cast<std::size_t>(n));
  }
  close(pipefd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  r.elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.first_line = r.out.substr(0, r.out.find('\n'));
  return r;
}

// Runs the plugin with `args`.
PluginRun run_plugin(const std::vector<std::string>& args) {
  return run_binary(SMTPVERIFY_PLUGIN_PATH, args);
}

std::vector<std::string> perf_labels(const std::string& line) {
  std::vector<std::string> labels;
  const auto bar = line.find(" | ");
  if (bar == std::string::npos) return labels;
  const std::string perf = line.substr(bar + 3);
  static const std::regex label(R"(([a-z_]+)=[0-9.]+s?;[^ ]*)");
  for (std::sregex_iterator it(perf.begin(), perf.end(), label), end; it != end; ++it) {
    labels.push_back((*it)[1]);
  }
  return labels;
}

std::string summary(const std::string& line) { return line.substr(0, line.find(" | ")); }

// "0.1.0" from `PLUGIN -V`.
std::string version_of(const std::string& plugin) {
  const std::string line = run_binary(plugin, {"-V"}).first_line;
  return line.substr(line.rfind(' ') + 1);
}

using Labels = std::vector<std::string>;

std::vector<std::string> base(std::uint16_t port) {
  // --helo-dns ignore: the test names must never reach the machine's resolver.
  return {"-H",         "127.0.0.1", "-p", std::to_string(port), "-F", "probe.smtpverify.test",
          "--helo-dns", "ignore"};
}

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(Plugin, OkWithTransaction) {
  FakeSmtpServer server({send("220 mx.smtpverify.test ESMTP Fake"),
                         expect("EHLO probe.smtpverify.test"), send("250 mx"),
                         expect("MAIL FROM:<>"), send("250 2.1.0 Ok"),
                         expect("RCPT TO:<probe@smtpverify.test>"), send("250 2.1.5 Ok"),
                         expect("QUIT"), send("221 2.0.0 Bye"), expect_close()});
  const PluginRun r = run_plugin(
      base(server.port()) + std::vector<std::string>{"-f", "", "--rcpt", "probe@smtpverify.test"});
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(std::regex_match(
      r.first_line,
      std::regex(
          "SMTP OK - \\[127\\.0\\.0\\.1\\]:[0-9]+ ESMTP Fake, 1 rcpt accepted, [0-9.]+ s \\| "
          "time=[0-9]+\\.[0-9]{6}s;;;0 connect=[0-9.]+s;;;0 banner=[0-9.]+s;;;0 "
          "ehlo=[0-9.]+s;;;0 mail=[0-9.]+s;;;0 rcpt=[0-9.]+s;;;0 quit=[0-9.]+s;;;0")))
      << r.first_line;
  EXPECT_EQ(r.out, r.first_line + "\n");  // exactly one line without -v
}

TEST(Plugin, CriticalNamesTheRejectedRecipient) {
  FakeSmtpServer server({send("220 mx ESMTP"), expect("EHLO probe.smtpverify.test"), send("250 mx"),
                         expect("MAIL FROM:<m@smtpverify.test>"), send("250 ok"),
                         expect("RCPT TO:<nosuchuser@smtpverify.test>"),
                         send("550 5.1.1 <nosuchuser@smtpverify.test>: Recipient address rejected"),
                         expect("QUIT"), send("221 bye"), expect_close()});
  const PluginRun r =
      run_plugin(base(server.port()) + std::vector<std::string>{"-f", "m@smtpverify.test", "--rcpt",
                                                                "nosuchuser@smtpverify.test"});
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(summary(r.first_line), "SMTP CRITICAL - [127.0.0.1]:" + std::to_string(server.port()) +
                                       " RCPT TO:<nosuchuser@smtpverify.test> rejected: 550 5.1.1 "
                                       "<nosuchuser@smtpverify.test>: Recipient address rejected");
  EXPECT_EQ(perf_labels(r.first_line),
            (Labels{"time", "connect", "banner", "ehlo", "mail", "rcpt", "quit"}));
}

TEST(Plugin, WarningOnGreylisting) {
  FakeSmtpServer server({send("220 mx ESMTP"), expect("EHLO probe.smtpverify.test"), send("250 mx"),
                         expect("MAIL FROM:<m@smtpverify.test>"), send("250 ok"),
                         expect("RCPT TO:<a@smtpverify.test>"), send("450 4.2.0 greylisted"),
                         expect("QUIT"), send("221 bye"), expect_close()});
  const PluginRun r =
      run_plugin(base(server.port()) + std::vector<std::string>{"-f", "m@smtpverify.test", "--rcpt",
                                                                "a@smtpverify.test"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(summary(r.first_line), "SMTP WARNING - [127.0.0.1]:" + std::to_string(server.port()) +
                                       " RCPT TO:<a@smtpverify.test> deferred: 450 4.2.0 "
                                       "greylisted");
}

TEST(Plugin, TimeoutHonouredAndNamed) {
  FakeSmtpServer server({hang()});
  const PluginRun r = run_plugin(base(server.port()) + std::vector<std::string>{"-t", "1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(summary(r.first_line),
            "SMTP CRITICAL - timeout after 1 s waiting for banner from "
            "[127.0.0.1]:" +
                std::to_string(server.port()) +
                " (implicit TLS port? try -s; PROXY listener? try -r)");
  EXPECT_EQ(perf_labels(r.first_line), (Labels{"time", "connect"}));
  EXPECT_LT(r.elapsed, 1500ms);  // -t + 0.5 s: a functional bound, not a benchmark
  EXPECT_GE(r.elapsed, 1000ms);
}

TEST(Plugin, TimeoutStateUnknown) {
  FakeSmtpServer server({hang()});
  const PluginRun r =
      run_plugin(base(server.port()) + std::vector<std::string>{"-t", "0.3:UNKNOWN"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.first_line.rfind("SMTP UNKNOWN - timeout after 0.3 s waiting for banner", 0), 0u);
}

TEST(Plugin, VerboseTranscriptIsLongOutput) {
  FakeSmtpServer server({send("220 mx ESMTP"), expect("EHLO probe.smtpverify.test"), send("250 mx"),
                         expect("QUIT"), send("221 bye"), expect_close()});
  const PluginRun r = run_plugin(base(server.port()) + std::vector<std::string>{"-v"});
  EXPECT_EQ(r.exit_code, 0);
  const std::string rest = r.out.substr(r.out.find('\n') + 1);
  EXPECT_TRUE(std::regex_match(rest, std::regex("\\* connected to 127\\.0\\.0\\.1:[0-9]+ from "
                                                "127\\.0\\.0\\.1:[0-9]+\n"
                                                "S: 220 mx ESMTP\n"
                                                "C: EHLO probe\\.smtpverify\\.test\n"
                                                "S: 250 mx\n"
                                                "C: QUIT\n"
                                                "S: 221 bye\n")))
      << rest;
}

TEST(Plugin, BadOptionsTouchNoServer) {
  FakeSmtpServer server({send("220 mx ESMTP"), expect_close()});
  const std::string port = std::to_string(server.port());
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"-H", "127.0.0.1", "-p", port, "--nonsense"}, "SMTP UNKNOWN - unknown option '--nonsense'"},
      {{"-H", "127.0.0.1", "-p", port, "extra"},
       "SMTP UNKNOWN - unexpected argument (a word that belongs to no option; not shown)"},
      {{"-p", port}, "SMTP UNKNOWN - missing -H/--hostname (or --mx DOMAIN)"},
      {{"-H", "127.0.0.1", "-p", "70000"},
       "SMTP UNKNOWN - port '70000' is not a number from 1 to 65535"},
      {{"-H", "127.0.0.1", "-p", port, "-w", "5:1"},
       "SMTP UNKNOWN - -w: range '5:1' has start > end"},
      {{"-H", "127.0.0.1", "-p", port, "-f", "a@b\r\nRSET"},
       "SMTP UNKNOWN - --from contains a space or control character"},
      {{"-H", "127.0.0.1", "-p", port, "--reject-rcpt", "x@example.com"},
       "SMTP UNKNOWN - --reject-rcpt needs --from"},
      {{"-H", "127.0.0.1", "-p", port, "-f", "m@x", "--rcpt", "a@b", "--data-file", "/nope"},
       "SMTP UNKNOWN - cannot read --data-file '/nope'"},
      {{"-H", "127.0.0.1", "-p", port, "-C", "NOOP\nQUIT"},
       "SMTP UNKNOWN - -C command is empty or contains a control character"},
      // Whatever the output format, bad options are the one status line.
      {{"-H", "127.0.0.1", "-p", port, "--output", "openmetrics", "-w", "5:1"},
       "SMTP UNKNOWN - -w: range '5:1' has start > end"},
      {{"-H", "127.0.0.1", "-p", port, "--output", "openmetrics", "-v"},
       "SMTP UNKNOWN - -v cannot be combined with --output openmetrics"},
      {{"-H", "127.0.0.1", "-p", port, "--output", "prometheus"},
       "SMTP UNKNOWN - --output 'prometheus' is not nagios, json or openmetrics"},
  };
  for (const auto& [args, line] : cases) {
    const PluginRun r = run_plugin(args);
    EXPECT_EQ(r.exit_code, 3) << line;
    EXPECT_EQ(r.out, line + "\n");
  }
  EXPECT_FALSE(server.client_connected());
}

TEST(Plugin, JsonOutputCarriesTheSameFacts) {
  const std::vector<Step> script = {send("220 mx.smtpverify.test ESMTP Fake"),
                                    expect("EHLO probe.smtpverify.test"),
                                    send("250-mx\r\n250 PIPELINING"),
                                    expect("MAIL FROM:<m@smtpverify.test>"),
                                    send("250 2.1.0 Ok"),
                                    expect("RCPT TO:<nosuchuser@smtpverify.test>"),
                                    send("550 5.1.1 no such user | x=1"),
                                    expect("QUIT"),
                                    send("221 2.0.0 Bye"),
                                    expect_close()};
  const std::vector<std::string> args = {"-f", "m@smtpverify.test", "--rcpt",
                                         "nosuchuser@smtpverify.test"};
  FakeSmtpServer nagios_server(script);
  const PluginRun nagios = run_plugin(base(nagios_server.port()) + args);
  FakeSmtpServer json_server(script);
  const PluginRun j =
      run_plugin(base(json_server.port()) + args + std::vector<std::string>{"--output", "json"});
  EXPECT_TRUE(json_server.wait_done(3s));
  EXPECT_EQ(json_server.error(), "");
  EXPECT_EQ(j.exit_code, 2);
  EXPECT_EQ(j.out.back(), '\n');
  EXPECT_EQ(std::count(j.out.begin(), j.out.end(), '\n'), 1);  // one JSON object, one line
  const auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc["state"], 2);
  EXPECT_EQ(doc["state_name"], "CRITICAL");
  const std::string expected_summary = "[127.0.0.1]:" + std::to_string(json_server.port()) +
                                       " RCPT TO:<nosuchuser@smtpverify.test> rejected: 550 "
                                       "5.1.1 no such user \\x7c x=1";
  EXPECT_EQ(doc["summary"], expected_summary);
  EXPECT_EQ(summary(nagios.first_line).substr(std::string("SMTP CRITICAL - ").size()),
            "[127.0.0.1]:" + std::to_string(nagios_server.port()) +
                " RCPT TO:<nosuchuser@smtpverify.test> rejected: 550 5.1.1 no such user \\x7c x=1");
  EXPECT_EQ(doc["host"], "127.0.0.1");
  EXPECT_EQ(doc["port"], json_server.port());
  EXPECT_EQ(doc["address"], "127.0.0.1");
  EXPECT_TRUE(doc["tls"].is_null());
  ASSERT_EQ(doc["problems"].size(), 1u);
  EXPECT_EQ(doc["problems"][0]["state"], "CRITICAL");
  std::vector<std::string> names;
  for (const auto& p : doc["phases"]) names.push_back(p["name"]);
  EXPECT_EQ(names, (Labels{"connect", "banner", "ehlo", "mail", "rcpt", "quit"}));
  const auto& rcpt = doc["phases"][4];
  EXPECT_GE(rcpt["seconds"].get<double>(), 0.0);
  EXPECT_EQ(rcpt["exchanges"][0]["command"], "RCPT TO:<nosuchuser@smtpverify.test>");
  EXPECT_EQ(rcpt["exchanges"][0]["code"], 550);
  EXPECT_EQ(rcpt["exchanges"][0]["lines"][0], "5.1.1 no such user \\x7c x=1");
  EXPECT_EQ(doc["phases"][2]["exchanges"][0]["lines"], nlohmann::json::array({"mx", "PIPELINING"}));
  EXPECT_EQ(perf_labels("x | " + doc["perfdata"].get<std::string>()),
            (Labels{"time", "connect", "banner", "ehlo", "mail", "rcpt", "quit"}));
}

// The exposition, times masked, with the status line's exit code: 550 to the one RCPT.
TEST(Plugin, OpenMetricsOutputHasTheExitCodeAsItsState) {
  FakeSmtpServer server(
      {send("220 mx.smtpverify.test ESMTP Fake"), expect("EHLO probe.smtpverify.test"),
       send("250 mx"), expect("MAIL FROM:<m@smtpverify.test>"), send("250 2.1.0 Ok"),
       expect("RCPT TO:<nosuchuser@smtpverify.test>"), send("550 5.1.1 no such user"),
       expect("QUIT"), send("221 2.0.0 Bye"), expect_close()});
  const PluginRun r =
      run_plugin(base(server.port()) + std::vector<std::string>{"-f", "m@smtpverify.test", "--rcpt",
                                                                "nosuchuser@smtpverify.test",
                                                                "--output", "openmetrics"});
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(r.exit_code, 2);
  const std::string l = "{host=\"127.0.0.1\",port=\"" + std::to_string(server.port()) + "\"";
  const std::string masked =
      std::regex_replace(r.out, std::regex("\\} [0-9]+\\.[0-9]{6}\n"), "} T\n");
  const std::string version = version_of(SMTPVERIFY_PLUGIN_PATH);
  EXPECT_EQ(
      masked,
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
          "} 1\n"
          "# TYPE smtp_verify_duration_seconds gauge\n"
          "# UNIT smtp_verify_duration_seconds seconds\n"
          "# HELP smtp_verify_duration_seconds The whole check, from start to end.\n"
          "smtp_verify_duration_seconds" +
          l +
          "} T\n"
          "# TYPE smtp_verify_phase_seconds gauge\n"
          "# UNIT smtp_verify_phase_seconds seconds\n"
          "# HELP smtp_verify_phase_seconds The time each phase took; phases that did not "
          "complete are left out.\n" +
          [&] {
            std::string phases;
            for (const char* p : {"connect", "banner", "ehlo", "mail", "rcpt", "quit"}) {
              phases += "smtp_verify_phase_seconds" + l + ",phase=\"" + p + "\"} T\n";
            }
            return phases;
          }() +
          "# TYPE smtp_verify_rcpt_as_expected gauge\n"
          "# HELP smtp_verify_rcpt_as_expected 1 when the recipient was answered as "
          "expected (expect=accept: 2xx, expect=reject: 5xx), else 0.\n"
          "smtp_verify_rcpt_as_expected" +
          l +
          ",rcpt=\"nosuchuser@smtpverify.test\",expect=\"accept\"} 0\n"
          "# TYPE smtp_verify_rcpt_reply_code gauge\n"
          "# HELP smtp_verify_rcpt_reply_code The code of the reply to RCPT TO, for "
          "recipients that were answered.\n"
          "smtp_verify_rcpt_reply_code" +
          l +
          ",rcpt=\"nosuchuser@smtpverify.test\",expect=\"accept\"} 550\n"
          "# TYPE smtp_verify_version gauge\n"
          "# HELP smtp_verify_version 1; the version label is the plugin's version.\n"
          "smtp_verify_version" +
          l + ",version=\"" + version +
          "\"} 1\n"
          "# EOF\n")
      << r.out;
}

TEST(Plugin, HelpAndVersionExitUnknown) {
  const PluginRun help = run_plugin({"-h"});
  EXPECT_EQ(help.exit_code, 3);
  EXPECT_EQ(help.first_line.rfind("check_smtp_verify ", 0), 0u);
  EXPECT_NE(help.out.find("\nUsage:\n"), std::string::npos);
  EXPECT_NE(help.out.find("\nExamples:\n"), std::string::npos);
  const PluginRun version = run_plugin({"-V"});
  EXPECT_EQ(version.exit_code, 3);
  EXPECT_TRUE(
      std::regex_match(version.out, std::regex("check_smtp_verify [0-9]+\\.[0-9]+\\.[0-9]+\n")));
}

TEST(Plugin, NumbersStayCLocaleUnderAnotherLocale) {
  FakeSmtpServer server({send("220 mx ESMTP"), expect("EHLO probe.smtpverify.test"), send("250 mx"),
                         expect("QUIT"), send("221 bye"), expect_close()});
  setenv("LC_ALL", "de_DE.UTF-8", 1);
  const PluginRun r = run_plugin(base(server.port()));
  unsetenv("LC_ALL");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.first_line.find(','), r.first_line.find(", "));  // no decimal commas
  EXPECT_TRUE(std::regex_search(r.first_line, std::regex(" time=[0-9]+\\.[0-9]{6}s;;;0 ")));
}

// DT_NEEDED and DT_RUNPATH/DT_RPATH of a 64-bit ELF file of this machine's byte order (what
// `readelf -d` shows), without depending on binutils being installed.
struct DynamicSection {
  bool ok = false;
  std::vector<std::string> needed;
  std::string runpath;  ///< DT_RUNPATH, or DT_RPATH
};

DynamicSection read_dynamic_section(const std::string& path) {
  DynamicSection d;
  std::ifstream in(path, std::ios::binary);
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Elf64_Ehdr eh{};
  if (data.size() < sizeof eh) return d;
  std::memcpy(&eh, data.data(), sizeof eh);
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64) return d;
  std::vector<Elf64_Phdr> ph(eh.e_phnum);
  for (std::size_t i = 0; i < ph.size(); ++i) {
    const std::size_t at = eh.e_phoff + i * eh.e_phentsize;
    if (at + sizeof(Elf64_Phdr) > data.size()) return d;
    std::memcpy(&ph[i], data.data() + at, sizeof(Elf64_Phdr));
  }
  const auto file_offset = [&](Elf64_Addr vaddr) -> std::optional<std::size_t> {
    for (const auto& p : ph) {
      if (p.p_type == PT_LOAD && vaddr >= p.p_vaddr && vaddr < p.p_vaddr + p.p_filesz) {
        return p.p_offset + (vaddr - p.p_vaddr);
      }
    }
    return std::nullopt;
  };
  std::vector<Elf64_Dyn> entries;
  for (const auto& p : ph) {
    if (p.p_type != PT_DYNAMIC) continue;
    for (std::size_t at = p.p_offset; at + sizeof(Elf64_Dyn) <= p.p_offset + p.p_filesz;
         at += sizeof(Elf64_Dyn)) {
      Elf64_Dyn dyn{};
      std::memcpy(&dyn, data.data() + at, sizeof dyn);
      if (dyn.d_tag == DT_NULL) break;
      entries.push_back(dyn);
    }
  }
  std::optional<std::size_t> strtab;
  for (const auto& e : entries) {
    if (e.d_tag == DT_STRTAB) strtab = file_offset(e.d_un.d_ptr);
  }
  if (!strtab) return d;
  const auto string_at = [&](std::size_t offset) {
    return *strtab + offset < data.size() ? std::string(data.c_str() + *strtab + offset)
                                          : std::string();
  };
  for (const auto& e : entries) {
    if (e.d_tag == DT_NEEDED) d.needed.push_back(string_at(e.d_un.d_val));
    if (e.d_tag == DT_RUNPATH || e.d_tag == DT_RPATH) d.runpath = string_at(e.d_un.d_val);
  }
  d.ok = true;
  return d;
}

// A plain check must not pay for OpenSSL: the plugin links no libssl/libcrypto but loads its
// TLS module when TLS or AUTH is asked for, by a path relative to its own file (no RUNPATH,
// whose folder the dynamic loader would search for every library at every start).
TEST(Plugin, LinksNoOpenSslAndHasNoRunpath) {
  const DynamicSection d = read_dynamic_section(SMTPVERIFY_PLUGIN_PATH);
  ASSERT_TRUE(d.ok);
  EXPECT_FALSE(d.needed.empty());
  for (const auto& library : d.needed) {
    EXPECT_EQ(library.find("libssl"), std::string::npos) << library;
    EXPECT_EQ(library.find("libcrypto"), std::string::npos) << library;
    EXPECT_EQ(library.find("libcurl"), std::string::npos) << library;  // only --mta-sts loads it
  }
  EXPECT_EQ(d.runpath, "");
}

// A copy of the plugin in PARENT/smtpverify-plant-XXXXXX/plugin/ and, given a mode, a copy of
// the TLS module (or of module_source) planted in .../lib/ with that mode: where the build tree
// keeps the module relative to the plugin.
class PluginCopy {
 public:
  explicit PluginCopy(const std::string& parent = std::filesystem::temp_directory_path().string(),
                      std::optional<std::filesystem::perms> module_mode = std::nullopt,
                      const std::string& module_source = SMTPVERIFY_TLS_MODULE_PATH) {
    std::string tmpl = parent + "/smtpverify-plant-XXXXXX";
    if (mkdtemp(tmpl.data()) != nullptr) dir_ = tmpl;
    std::filesystem::create_directories(dir_ + "/plugin");
    plugin_ = dir_ + "/plugin/check_smtp_verify";
    std::filesystem::copy_file(SMTPVERIFY_PLUGIN_PATH, plugin_);
    module_ = dir_ + "/lib/check_smtp_verify_tls.so";
    if (module_mode) {
      std::filesystem::create_directories(dir_ + "/lib");
      std::filesystem::copy_file(module_source, module_);
      std::filesystem::permissions(module_, *module_mode);  // exactly, whatever the umask
    }
  }
  ~PluginCopy() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  PluginCopy(const PluginCopy&) = delete;
  PluginCopy& operator=(const PluginCopy&) = delete;
  [[nodiscard]] const std::string& plugin() const { return plugin_; }
  [[nodiscard]] const std::string& module() const { return module_; }

 private:
  std::string dir_;
  std::string plugin_;
  std::string module_;
};

// The one place a plugin outside the build tree looks for its module.
const std::string kInstalledModule =
    std::string(SMTPVERIFY_TLS_MODULE_INSTALL_DIR) + "/check_smtp_verify_tls.so";

// Where the TLS module cannot be found (here: a copy of the plugin in a folder of its own),
// TLS and AUTH are UNKNOWN, naming the module and where it was looked for (the install folder
// only), before any server is contacted; a plain check does not need it.
TEST(Plugin, WithoutItsTlsModuleTlsIsUnknownAndAPlainCheckStillWorks) {
  const PluginCopy copy;
  for (const auto& args : {std::vector<std::string>{"-S"}, std::vector<std::string>{"-s"},
                           std::vector<std::string>{"-A", "PLAIN", "-U", "probe", "-P", "s3cret",
                                                    "--auth-plaintext"}}) {
    // Port 9 (discard): nothing is contacted, so nothing has to listen.
    const PluginRun r = run_binary(copy.plugin(), base(9) + args);
    EXPECT_EQ(r.exit_code, 3) << r.out;
    EXPECT_EQ(summary(r.first_line),
              "SMTP UNKNOWN - cannot find the TLS module check_smtp_verify_tls.so (looked for " +
                  kInstalledModule + ")");
  }
  FakeSmtpServer server({send("220 mx ESMTP Fake"), expect("EHLO probe.smtpverify.test"),
                         send("250 mx"), expect("QUIT"), send("221 bye"), expect_close()});
  const PluginRun r = run_binary(copy.plugin(), base(server.port()));
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

// --mta-sts needs the HTTPS module (libcurl); without it the check is UNKNOWN naming the module
// and where it was looked for, before anything is asked of DNS or any server.
TEST(Plugin, WithoutItsHttpsModuleMtaStsIsUnknown) {
  const PluginCopy copy;
  // Port 9 (discard) as DNS server: nothing is contacted before the module is found.
  const PluginRun r = run_binary(copy.plugin(), {"--mx", "example.test", "--mta-sts",
                                                 "--dns-server", "127.0.0.1:9", "-t", "2"});
  EXPECT_EQ(r.exit_code, 3) << r.out;
  EXPECT_EQ(r.first_line,
            "SMTP UNKNOWN - cannot find the HTTPS module check_smtp_verify_https.so (looked for " +
                std::string(SMTPVERIFY_TLS_MODULE_INSTALL_DIR) +
                "/check_smtp_verify_https.so) | time=0.000000s;;;0");
}

using std::filesystem::perms;
const perms kModuleMode = perms::owner_all | perms::group_read | perms::group_exec |
                          perms::others_read | perms::others_exec;  // 0755

// An installed plugin (or a copy anywhere outside the build tree) never looks beside its own
// folder: a module planted there is not loaded, whatever its mode (issue 14 #5). Before, it was
// found in PLUGIN/../lib, loaded, and its constructors ran.
TEST(Plugin, ModulePlantedBesideACopyIsNeverLoaded) {
  const PluginCopy planted(std::filesystem::temp_directory_path().string(), kModuleMode);
  const PluginRun r = run_binary(planted.plugin(), base(9) + std::vector<std::string>{"-S"});
  EXPECT_EQ(r.exit_code, 3) << r.out;
  EXPECT_EQ(summary(r.first_line),
            "SMTP UNKNOWN - cannot find the TLS module check_smtp_verify_tls.so (looked for " +
                kInstalledModule + ")");
}

// A module of another build (its backend fingerprinted with another version) is refused
// before anything of it is called: UNKNOWN, one line naming the file and the version expected,
// no server contacted. (This build's module planted the same way loads: the test below.)
TEST(Plugin, ModuleOfAnotherBuildIsRefused) {
  const PluginCopy planted(SMTPVERIFY_TEST_BINARY_DIR, kModuleMode,
                           SMTPVERIFY_ANOTHER_BUILD_TLS_MODULE_PATH);
  const PluginRun r = run_binary(planted.plugin(), base(9) + std::vector<std::string>{"-S"});
  EXPECT_EQ(r.exit_code, 3) << r.out;
  EXPECT_EQ(summary(r.first_line), "SMTP UNKNOWN - the TLS module " + planted.module() +
                                       " belongs to another build of check_smtp_verify (" +
                                       SMTPVERIFY_VERSION + " expected)");
}

// In the build tree, the module is refused before it is loaded when others could have
// written it: UNKNOWN, one line naming the file and the reason, no server contacted.
TEST(Plugin, ModuleWritableByOthersIsRefused) {
  for (const perms mode : {kModuleMode | perms::others_write, kModuleMode | perms::group_write}) {
    const PluginCopy planted(SMTPVERIFY_TEST_BINARY_DIR, mode);
    const PluginRun r = run_binary(planted.plugin(), base(9) + std::vector<std::string>{"-S"});
    EXPECT_EQ(r.exit_code, 3) << r.out;
    EXPECT_EQ(summary(r.first_line), "SMTP UNKNOWN - refusing the TLS module " + planted.module() +
                                         ": writable by group or others");
  }
}

// The same layout with the module's proper mode loads it: AUTH PLAIN needs its base64.
TEST(Plugin, ModuleInTheBuildTreeWithItsProperModeLoads) {
  const PluginCopy planted(SMTPVERIFY_TEST_BINARY_DIR, kModuleMode);
  FakeSmtpServer server({send("220 mx ESMTP Fake"), expect("EHLO probe.smtpverify.test"),
                         send_raw("250-mx\r\n250 AUTH PLAIN\r\n"),
                         expect("AUTH PLAIN AHByb2JlAHMzY3JldA=="), send("235 2.7.0 ok"),
                         expect("QUIT"), send("221 bye"), expect_close()});
  const PluginRun r =
      run_binary(planted.plugin(),
                 base(server.port()) + std::vector<std::string>{"-A", "PLAIN", "-U", "probe", "-P",
                                                                "s3cret", "--auth-plaintext"});
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

TlsSetup tls_setup() {
  const TestPki& pki = shared_test_pki();
  const TestCert cert = pki.leaf({"mx.smtpverify.test"});
  return {cert.cert_pem, cert.key_pem, {pki.intermediate_pem()}};
}

// STARTTLS with verification and AUTH (base64 from the module) through the loaded module.
TEST(Plugin, StarttlsAndAuthThroughTheTlsModule) {
  FakeSmtpServer server(
      {send("220 mx ESMTP Fake"), expect("EHLO probe.smtpverify.test"),
       send_raw("250-mx\r\n250 STARTTLS\r\n"), expect("STARTTLS"), send("220 2.0.0 go ahead"),
       start_tls(tls_setup()), expect("EHLO probe.smtpverify.test"),
       send_raw("250-mx\r\n250 AUTH PLAIN\r\n"), expect("AUTH PLAIN AHByb2JlAHMzY3JldA=="),
       send("235 2.7.0 ok"), expect("QUIT"), send("221 bye"), expect_close()});
  const PluginRun r = run_plugin(
      base(server.port()) +
      std::vector<std::string>{"-S", "--ca-file", shared_test_pki().root_file(), "--verify-name",
                               "mx.smtpverify.test", "-A", "PLAIN", "-U", "probe", "-P", "s3cret"});
  EXPECT_TRUE(server.wait_done(3s));
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.first_line.find("STARTTLS TLSv1.3"), std::string::npos) << r.first_line;
}

// Implicit TLS through the module; and a certificate the CA file does not vouch for is
// CRITICAL with OpenSSL's words.
TEST(Plugin, ImplicitTlsThroughTheTlsModule) {
  {
    FakeSmtpServer server({start_tls(tls_setup()), send("220 mx ESMTP Fake"),
                           expect("EHLO probe.smtpverify.test"), send("250 mx"), expect("QUIT"),
                           send("221 bye"), expect_close()});
    const PluginRun r =
        run_plugin(base(server.port()) +
                   std::vector<std::string>{"-s", "--ca-file", shared_test_pki().root_file(),
                                            "--verify-name", "mx.smtpverify.test"});
    EXPECT_TRUE(server.wait_done(3s));
    EXPECT_EQ(server.error(), "");
    EXPECT_EQ(r.exit_code, 0) << r.out;
    EXPECT_NE(r.first_line.find(" tls="), std::string::npos) << r.first_line;
  }
  {
    const TestPki other;
    const TestCert cert = other.leaf({"mx.smtpverify.test"});
    FakeSmtpServer server({start_tls({cert.cert_pem, cert.key_pem, {}}), send("220 mx ESMTP Fake"),
                           expect("QUIT"), send("221 bye"), expect_close()});
    const PluginRun r =
        run_plugin(base(server.port()) +
                   std::vector<std::string>{"-s", "--ca-file", shared_test_pki().root_file(),
                                            "--verify-name", "mx.smtpverify.test"});
    EXPECT_TRUE(server.wait_done(3s));
    EXPECT_EQ(r.exit_code, 2) << r.out;
    EXPECT_NE(r.first_line.find("certificate verification failed: unable to get local issuer"),
              std::string::npos)
        << r.first_line;
  }
}

}  // namespace
}  // namespace smtpverify::test
