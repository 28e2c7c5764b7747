// The command line → Config. Boost.Program_options stays inside options.cpp.
#pragma once

#include <string>

#include "check/config.h"

namespace smtpverify::check {

/// What the command line asks for.
struct ParsedOptions {
  enum class Action { Run, Help, Version, Error };
  Action action = Action::Error;
  Config config;     ///< valid when action == Run
  std::string text;  ///< help or version text, or what is wrong (one line, not yet sanitised)
};

/// Parses and validates argv. Never throws; never touches the network.
ParsedOptions parse_options(int argc, const char* const* argv);

/// The --help text (plugin-guideline form).
std::string help_text();

/// "check_smtp_verify VERSION".
std::string version_text();

}  // namespace smtpverify::check
