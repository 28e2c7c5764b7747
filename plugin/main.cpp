// check_smtp_verify: parse, run, report once, format, print, exit 0-3. The rest lives in lib/.
#include <cstdio>
#include <exception>
#include <string>

#include "check/options.h"
#include "check/render.h"
#include "check/run_check.h"
#include "util/wipe.h"

namespace {

int emit(smtpverify::check::State state, const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  return static_cast<int>(state);
}

int emit(const smtpverify::check::Output& out) { return emit(out.state, out.text); }

}  // namespace

int main(int argc, char** argv) {
  using namespace smtpverify::check;
  try {
    ParsedOptions parsed = parse_options(argc, argv);
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
    smtpverify::util::wipe(parsed.config.auth_password);  // one copy, held only while needed
    const Report report = make_report(result, parsed.config);
    switch (parsed.config.output) {
      case OutputFormat::Json:
        return emit(report.state, format_json(report, result));
      case OutputFormat::OpenMetrics:
        return emit(report.state, format_openmetrics(report, result));
      case OutputFormat::Nagios:
        break;
    }
    return emit(report.state, format_nagios(report));
  } catch (const std::exception& e) {
    return emit(render_unknown(std::string("internal error: ") + e.what()));
  } catch (...) {
    return emit(render_unknown("internal error"));
  }
}
