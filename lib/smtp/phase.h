// The one registry of phases: every perfdata label a check can print, in perfdata order, and
// whether -w/-c may name it. Options, --help, the Session, the pipeline and the renderers all
// read this table; the man page lists the same names (a docs test compares them).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace smtpverify::smtp {

/// A timed phase of a check (contract §1). The SMTP dialogue uses Banner…Quit; the check adds
/// the lookups and the connection around it. Done is the dialogue's end, never printed.
enum class Phase {
  Mx,
  MtaSts,
  Resolve,
  Connect,
  Tls,
  Banner,
  Ehlo,
  Plaintext,
  Starttls,
  Auth,
  Mail,
  Rcpt,
  Data,
  Commands,
  Quit,
  HeloDns,
  Done
};

/// One row of the registry.
struct PhaseInfo {
  Phase phase;
  std::string_view name;  ///< the perfdata label, the -w/-c name, the transcript name
  bool thresholds;        ///< -w/-c PHASE=RANGE accepted
  bool in_dialogue;       ///< part of the SMTP dialogue: counts into `time`
};

/// Every printable phase, in the order perfdata prints them.
inline constexpr std::array<PhaseInfo, 16> kPhases = {{
    {Phase::Mx, "mx", true, false},
    {Phase::MtaSts, "mta_sts", true, false},  // --mta-sts: the TXT lookup and the policy fetch
    {Phase::Resolve, "resolve", true, true},
    {Phase::Connect, "connect", true, true},
    {Phase::Tls, "tls", true, true},
    {Phase::Banner, "banner", true, true},
    {Phase::Ehlo, "ehlo", true, true},
    {Phase::Plaintext, "plaintext", true, true},  // --plaintext-refused: MAIL (+ RSET) before TLS
    {Phase::Starttls, "starttls", true, true},
    {Phase::Auth, "auth", true, true},
    {Phase::Mail, "mail", true, true},
    {Phase::Rcpt, "rcpt", true, true},
    {Phase::Data, "data", true, true},
    {Phase::Commands, "commands", true, true},
    {Phase::Quit, "quit", true, true},
    {Phase::HeloDns, "helo_dns", true, false},
}};

/// The label of a phase ("banner", …); "done" for Done.
std::string_view phase_name(Phase phase);

/// The phase a label names, if any.
std::optional<Phase> phase_from_name(std::string_view name);

/// Whether -w/-c PHASE=RANGE may name the phase.
bool takes_thresholds(Phase phase);

/// The names of the phases that take thresholds, separated by `separator` in registry order.
std::string threshold_phase_names(std::string_view separator);

}  // namespace smtpverify::smtp
