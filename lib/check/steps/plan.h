// What the dialogue will do, decided from the Config before connecting.
#pragma once

#include <string>

#include "check/config.h"
#include "smtp/session.h"

namespace smtpverify::check {

/// The Session's plan for this check, with `helo_name` as decided.
smtp::Plan make_plan(const Config& config, const std::string& helo_name);

}  // namespace smtpverify::check
