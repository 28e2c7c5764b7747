// One host through the whole pipeline; run_check() and MX mode both use it.
#pragma once

#include <optional>
#include <string>

#include "check/config.h"
#include "check/mta_sts.h"
#include "check/result.h"
#include "net/deadline.h"

namespace smtpverify::check {

/// Checks `host` with `config` (its -H is not used), timed from `start` under `deadline`.
/// `tls_policy` (--mx with --mta-sts): the MTA-STS mode that rates the TLS findings of each
/// target (the host, or each of its addresses) before the target is rated.
CheckResult check_host(const Config& config, const std::string& host, net::Clock::time_point start,
                       net::Deadline deadline, std::optional<mta_sts::Mode> tls_policy);

/// --mx: the domain's MX hosts, each through check_host (mx.cpp).
CheckResult check_mx(const Config& config);

/// Adds `sub`, the whole check of one target, to `whole` as a Part named `name`: its problems,
/// rated by its own evaluation, name its endpoint; its soonest certificate expiry counts
/// toward the whole's; its transcript follows a line with its state. Returns its state.
State add_part(CheckResult& whole, CheckResult sub, Part::Kind kind, std::string name,
               const Config& config);
/// "2/3 MX hosts OK": how many of the whole's parts are OK (`what`: "MX hosts", "addresses").
std::string tally(const CheckResult& whole, const std::string& what);

}  // namespace smtpverify::check
