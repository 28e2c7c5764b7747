#include "smtp/phase.h"

namespace smtpverify::smtp {

std::string_view phase_name(Phase phase) {
  for (const auto& p : kPhases) {
    if (p.phase == phase) return p.name;
  }
  return "done";
}

std::optional<Phase> phase_from_name(std::string_view name) {
  for (const auto& p : kPhases) {
    if (p.name == name) return p.phase;
  }
  return std::nullopt;
}

bool takes_thresholds(Phase phase) {
  for (const auto& p : kPhases) {
    if (p.phase == phase) return p.thresholds;
  }
  return false;
}

std::string threshold_phase_names(std::string_view separator) {
  std::string out;
  for (const auto& p : kPhases) {
    if (!p.thresholds) continue;
    if (!out.empty()) out += separator;
    out += p.name;
  }
  return out;
}

}  // namespace smtpverify::smtp
