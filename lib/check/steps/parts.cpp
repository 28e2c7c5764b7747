// A check of several targets (--mx-all's hosts, --each-address's addresses): each target is a
// whole check of its own, added to the whole as one Part.
#include "check/steps/check_host.h"

namespace smtpverify::check {

State add_part(CheckResult& whole, CheckResult sub, Part::Kind kind, std::string name,
               const Config& config) {
  const Evaluation eval = evaluate(sub, config, name + "_");
  Part part{kind, std::move(name), eval.state, {}, {}};
  for (const auto& rated : eval.problems) {
    Problem p = rated.problem;
    if (!p.names_endpoint) p.text = sub.endpoint + " " + p.text;
    p.names_endpoint = true;
    whole.problems.push_back(p);
    part.problems.push_back({std::move(p), rated.state});
  }
  whole.helo_wait_seconds += sub.helo_wait_seconds;
  if (sub.cert_days && (!whole.cert_days || *sub.cert_days < *whole.cert_days)) {
    whole.cert_days = sub.cert_days;
  }
  if (config.verbosity > 0) {
    whole.transcript.push_back("* " + std::string(kind == Part::Kind::MxHost ? "MX host " : "") +
                               sub.endpoint + ": " + std::string(state_name(eval.state)));
    for (auto& line : sub.transcript) whole.transcript.push_back(std::move(line));
    sub.transcript.clear();
  }
  part.result = std::move(sub);
  whole.parts.push_back(std::move(part));
  return eval.state;
}

std::string tally(const CheckResult& whole, const std::string& what) {
  std::size_t ok = 0;
  for (const auto& part : whole.parts) ok += part.state == State::Ok ? 1 : 0;
  return std::to_string(ok) + "/" + std::to_string(whole.parts.size()) + " " + what + " OK";
}

}  // namespace smtpverify::check
