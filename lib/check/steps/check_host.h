// One host through the whole pipeline; run_check() and MX mode both use it.
#pragma once

#include <string>

#include "check/config.h"
#include "check/result.h"
#include "net/deadline.h"

namespace smtpverify::check {

/// Checks `host` with `config` (its -H is not used), timed from `start` under `deadline`.
CheckResult check_host(const Config& config, const std::string& host, net::Clock::time_point start,
                       net::Deadline deadline);

/// --mx: the domain's MX hosts, each through check_host (mx.cpp).
CheckResult check_mx(const Config& config);

}  // namespace smtpverify::check
