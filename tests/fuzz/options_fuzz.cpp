// Fuzz target: check::parse_options with an argv made of the NUL-separated input. It must never
// throw or crash, and a Run result must be a Config the rest of the plugin can rely on.
// Harmless by construction: an input with a '/' in any argument is skipped, and the process
// works in a folder it removed right after entering it, so --data-file, --ca-file, --ca-path and
// --authpass-file find nothing there but "." and "..". (libFuzzer: give corpora and
// -artifact_prefix as absolute paths; run.sh does.)
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "check/options.h"
#include "fuzz/fuzz_check.h"

namespace {

char g_dir[] = "/tmp/smtpverify_options_fuzz.XXXXXX";

bool enter_empty_dir() {
  // Removed at once: nothing can be created in it, and nothing is left behind after a crash.
  if (::mkdtemp(g_dir) == nullptr || ::chdir(g_dir) != 0 || ::rmdir(g_dir) != 0) std::abort();
  ::unsetenv("SMTP_AUTHPASS");  // the same input gives the same result on every machine
  return true;
}

bool has_control(std::string_view s) {
  for (const char ch : s) {
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using smtpverify::check::ParsedOptions;
  static const bool ready = enter_empty_dir();
  (void)ready;
  std::vector<std::string> args = {"check_smtp_verify"};
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  for (std::size_t start = 0; start <= input.size() && args.size() <= 256;) {
    const auto end = std::min(input.find('\0', start), input.size());
    args.emplace_back(input.substr(start, end - start));
    if (args.back().find('/') != std::string::npos) return 0;
    start = end + 1;
  }
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  ParsedOptions parsed;
  try {
    parsed = smtpverify::check::parse_options(static_cast<int>(args.size()), argv.data());
  } catch (...) {
    std::fprintf(stderr, "parse_options threw\n");
    std::abort();
  }
  if (parsed.action != ParsedOptions::Action::Run) {
    FUZZ_CHECK(!parsed.text.empty());
    // An unknown long option is named without its value (it may be a password).
    if (parsed.text.rfind("unknown option '--", 0) == 0) {
      FUZZ_CHECK(parsed.text.find('=') == std::string::npos);
    }
    return 0;
  }
  const auto& c = parsed.config;
  FUZZ_CHECK(!c.host.empty() && !has_control(c.host) && c.port >= 1 && c.timeout.count() > 0);
  FUZZ_CHECK(!(c.starttls && c.implicit_tls) && c.responses.size() <= c.commands.size());
  FUZZ_CHECK(c.mail_from || (c.rcpts.empty() && c.reject_rcpts.empty() && !c.data));
  FUZZ_CHECK(!c.data || !c.rcpts.empty());
  FUZZ_CHECK(!c.auth_mechanism || !c.auth_password.empty());
  // RFC 5321 4.5.3.1: a command line of 512 octets with CRLF, a path of 256 with "<>", a
  // domain of 255.
  for (const auto& cmd : c.commands) {
    FUZZ_CHECK(!cmd.empty() && !has_control(cmd) && cmd.size() <= 510);
  }
  for (const auto& rcpt : c.rcpts) {
    FUZZ_CHECK(!rcpt.empty() && !has_control(rcpt) && rcpt.size() <= 254);
  }
  if (c.mail_from) FUZZ_CHECK(!has_control(*c.mail_from) && c.mail_from->size() <= 254);
  FUZZ_CHECK(c.helo_name.size() <= 255 && c.host.size() <= 254);
  // An OpenMetrics exposition has no room for a transcript.
  FUZZ_CHECK(c.output != smtpverify::check::OutputFormat::OpenMetrics || c.verbosity == 0);
  return 0;
}
