// The check itself: resolve, connect, drive the dialogue under one deadline.
#pragma once

#include "check/config.h"
#include "check/result.h"

namespace smtpverify::check {

/// Runs the whole check described by `config`. Never throws for anything the server does;
/// every outcome is data in the result.
CheckResult run_check(const Config& config);

}  // namespace smtpverify::check
