// check_smtp_verify: parse, run, print, exit 0-3. Everything else lives in lib/.
#include <cstdio>
#include <exception>

#include "check/options.h"
#include "check/render.h"
#include "check/run_check.h"

namespace {

int emit(const smtpverify::check::Output& out) {
  std::fwrite(out.text.data(), 1, out.text.size(), stdout);
  std::fflush(stdout);
  return static_cast<int>(out.state);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace smtpverify::check;
  try {
    const ParsedOptions parsed = parse_options(argc, argv);
    switch (parsed.action) {
      case ParsedOptions::Action::Help:
      case ParsedOptions::Action::Version:
        std::fputs(parsed.text.c_str(), stdout);
        if (parsed.text.empty() || parsed.text.back() != '\n') std::fputs("\n", stdout);
        return static_cast<int>(State::Unknown);  // plugin guidelines: -h and -V exit 3
      case ParsedOptions::Action::Error:
        return emit(render_unknown(parsed.text));
      case ParsedOptions::Action::Run:
        break;
    }
    const CheckResult result = run_check(parsed.config);
    return emit(parsed.config.json ? render_json(result, parsed.config)
                                   : render(result, parsed.config));
  } catch (const std::exception& e) {
    return emit(render_unknown(std::string("internal error: ") + e.what()));
  } catch (...) {
    return emit(render_unknown("internal error"));
  }
}
