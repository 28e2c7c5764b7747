#include "check/steps/plan.h"

#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <random>

#include "net/tls.h"
#include "smtp/message.h"
#include "util/wipe.h"

namespace smtpverify::check {

namespace {

std::string random_token() {
  std::random_device rd;
  const std::uint64_t value = (static_cast<std::uint64_t>(rd()) << 32) | rd();
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(value));
  return buf;
}

// --data: the --data-file text, or a generated RFC 5322 test message.
std::string payload(const Config& config, const std::string& helo_name) {
  if (config.data_file_text) return smtp::to_data_payload(*config.data_file_text);
  smtp::TestMessage m;
  m.from = config.mail_from->empty() ? "check_smtp_verify@" + helo_name : *config.mail_from;
  m.to = config.rcpts;
  m.date = smtp::format_rfc5322_date(std::time(nullptr));
  m.message_id = std::to_string(std::time(nullptr)) + "." + std::to_string(::getpid()) + "." +
                 random_token() + "@" +
                 (helo_name.front() == '[' ? "check-smtp-verify.invalid" : helo_name);
  m.helo_name = helo_name;
  return smtp::to_data_payload(smtp::build_test_message(m));
}

smtp::AuthPlan auth_plan(const Config& config) {
  smtp::AuthPlan auth;
  if (*config.auth_mechanism == AuthMechanism::Login) {
    auth.mechanism = smtp::AuthPlan::Mechanism::Login;
    auth.login_user = net::base64_encode(config.auth_user);
    auth.login_password = net::base64_encode(config.auth_password);
  } else {
    // RFC 4616: authzid (empty), NUL, authcid, NUL, password.
    std::string response = std::string(1, '\0') + config.auth_user + '\0' + config.auth_password;
    auth.plain_response = net::base64_encode(response);
    util::wipe(response);
  }
  auth.password = config.auth_password;  // for scrubbing echoes only
  return auth;
}

}  // namespace

smtp::Plan make_plan(const Config& config, const std::string& helo_name) {
  smtp::Plan plan;
  plan.helo_name = helo_name;
  plan.lmtp = config.lmtp;
  plan.pipelining = !config.no_pipelining;
  plan.expect_banner = config.expect;
  plan.mail_from = config.mail_from;
  for (const auto& r : config.rcpts) plan.recipients.push_back({r, false});
  for (const auto& r : config.reject_rcpts) plan.recipients.push_back({r, true});
  if (config.data) plan.payload = payload(config, helo_name);
  plan.commands = config.commands;
  plan.starttls = config.starttls;
  // The probe's sender: -f's, else the null sender (a server that wants TLS refuses either).
  if (config.plaintext_refused) plan.plaintext_probe = config.mail_from.value_or("");
  if (config.auth_mechanism) plan.auth = auth_plan(config);
  return plan;
}

}  // namespace smtpverify::check
