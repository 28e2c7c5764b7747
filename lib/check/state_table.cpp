#include <algorithm>
#include <cstdio>
#include <functional>

#include "check/render.h"
#include "check/result.h"
#include "check/sanitize.h"

namespace smtpverify::check {

using smtp::FindingKind;

namespace {

State state_of_finding(FindingKind kind, const Config& config) {
  switch (kind) {
    // Temporary failures (greylisting, rate limits) are worth a look, not a page.
    case FindingKind::MailTempFailed:
    case FindingKind::RcptTempFailed:
    case FindingKind::DataTempFailed:
    case FindingKind::ProbeTempFailed:
    case FindingKind::PlaintextMailDeferred:  // a 4xx keeps no promise, breaks none either
      return State::Warning;
    case FindingKind::QuitFailed:
      return config.ignore_quit_failure ? State::Ok : State::Warning;
    case FindingKind::BannerRejected:
    case FindingKind::BannerMismatch:
    case FindingKind::ServiceClosing:
    case FindingKind::HeloRejected:
    case FindingKind::MailRejected:
    case FindingKind::RcptRejected:
    case FindingKind::ProbeAccepted:
    case FindingKind::DataRejected:
    case FindingKind::MalformedReply:
    case FindingKind::OverLongReply:
    case FindingKind::UnsolicitedData:
    case FindingKind::ConnectionClosed:
    case FindingKind::StarttlsNotOffered:
    case FindingKind::StarttlsRefused:
    case FindingKind::StarttlsInjection:
    case FindingKind::AuthNotOffered:
    case FindingKind::AuthRejected:
    case FindingKind::PlaintextAuthOffered:
    case FindingKind::PlaintextMailAccepted:
    case FindingKind::PlaintextRsetFailed:
      return State::Critical;
  }
  return State::Critical;
}

std::string reply_text(const smtp::Reply& reply) { return sanitize(reply.first_line()); }

// "; message not sent: …" when the Session closed after a pipelined DATA's 354.
std::string withheld(const smtp::Finding& f) {
  return f.detail.empty() ? "" : "; " + sanitize(f.detail);
}

}  // namespace

std::optional<Range> cert_days_range(const Config& config, bool critical) {
  const auto& ranges = critical ? config.critical : config.warning;
  if (const auto it = ranges.find("cert_days"); it != ranges.end()) return it->second;
  const auto& days = critical ? config.cert_critical_days : config.cert_warning_days;
  if (!days) return std::nullopt;
  auto range = parse_range(std::to_string(*days) + ":");
  return range ? std::optional<Range>(*range) : std::nullopt;
}

State state_of(const Problem& problem, const Config& config) {
  if (problem.state) return *problem.state;
  switch (problem.kind) {
    case ProblemKind::Smtp:
      return state_of_finding(problem.smtp, config);
    case ProblemKind::Timeout:
      return config.timeout_state;
    case ProblemKind::ThresholdWarning:
    case ProblemKind::CertWarning:
    case ProblemKind::TlsRpt:  // no reports come back; mail still flows
      return State::Warning;
    case ProblemKind::HeloDns:
      if (config.helo_dns == HeloDnsMode::Critical) return State::Critical;
      return config.helo_dns == HeloDnsMode::Warning ? State::Warning : State::Ok;
    case ProblemKind::Internal:
    case ProblemKind::Bind:  // our own setup is wrong, the server is not to blame
      return State::Unknown;
    case ProblemKind::Resolve:
    case ProblemKind::Connect:
    case ProblemKind::Network:
    case ProblemKind::ResponseMismatch:
    case ProblemKind::ThresholdCritical:
    case ProblemKind::Tls:
    case ProblemKind::CertExpired:
    case ProblemKind::CertCritical:
    case ProblemKind::MtaSts:    // it was asked for: the domain promised nothing we can hold it to
    case ProblemKind::MtaStsMx:  // (its state comes with it; enforce when it does not)
      return State::Critical;
  }
  return State::Unknown;
}

std::string describe(const smtp::Finding& f) {
  // Every command of --plaintext-refused's probe is named as such: "MAIL FROM:<> before
  // STARTTLS" is not the MAIL of the transaction.
  const bool probe = f.phase == smtp::Phase::Plaintext && !f.command.empty();
  const std::string cmd = sanitize(f.command) + (probe ? " before STARTTLS" : "");
  switch (f.kind) {
    case FindingKind::BannerRejected:
      return "greeting not 220: " + reply_text(f.reply);
    case FindingKind::BannerMismatch:
      return "greeting does not contain '" + cmd + "': " + reply_text(f.reply);
    case FindingKind::ServiceClosing:
      return (cmd.empty() ? std::string("greeting") : cmd) +
             " answered 421, server closing the connection: " + reply_text(f.reply);
    case FindingKind::HeloRejected:
      return (f.command.rfind("HELO", 0) == 0 ? "EHLO and " + cmd : cmd) +
             " rejected: " + reply_text(f.reply);
    // The detail of a transaction finding: the pipelined message was withheld (session.cpp).
    case FindingKind::MailTempFailed:
    case FindingKind::RcptTempFailed:
      return cmd + " deferred: " + reply_text(f.reply) + withheld(f);
    case FindingKind::MailRejected:
    case FindingKind::RcptRejected:
      return cmd + " rejected: " + reply_text(f.reply) + withheld(f);
    case FindingKind::ProbeAccepted:
      return cmd + " accepted, expected a rejection (open relay or unknown user accepted): " +
             reply_text(f.reply) + withheld(f);
    case FindingKind::ProbeTempFailed:
      return cmd + " deferred, expected a rejection: " + reply_text(f.reply) + withheld(f);
    case FindingKind::DataTempFailed:
      return cmd + " deferred: " + reply_text(f.reply);
    case FindingKind::DataRejected:
      return cmd + " rejected: " + reply_text(f.reply);
    case FindingKind::QuitFailed:
      return f.reply.code == 0 ? "QUIT not answered (" + f.detail + ")"
                               : "QUIT answered " + reply_text(f.reply);
    case FindingKind::MalformedReply:
      return "malformed reply to " + (cmd.empty() ? std::string("greeting") : cmd) + " (" +
             f.detail + ")";
    case FindingKind::OverLongReply:
      return "over-long reply to " + (cmd.empty() ? std::string("greeting") : cmd) + " (" +
             f.detail + ")";
    case FindingKind::UnsolicitedData:
      return "unsolicited data from the server after " +
             (cmd.empty() ? std::string("the greeting") : cmd);
    case FindingKind::ConnectionClosed:
      return f.detail + (cmd.empty() ? std::string(" before the greeting") : " after " + cmd);
    case FindingKind::StarttlsNotOffered:
      return "STARTTLS required (-S) but not offered";
    case FindingKind::StarttlsRefused:
      return "STARTTLS refused: " + reply_text(f.reply);
    case FindingKind::StarttlsInjection:
      return "data after STARTTLS reply (response injection?)";
    case FindingKind::AuthNotOffered:
      return cmd + " not offered" +
             (f.detail.empty() ? std::string(" (no AUTH in EHLO)")
                               : " (offered: " + sanitize(f.detail) + ")");
    case FindingKind::AuthRejected:
      return cmd + " rejected: " + reply_text(f.reply);
    case FindingKind::PlaintextAuthOffered:
      return "offers AUTH without TLS: AUTH" + (f.detail.empty() ? "" : " " + sanitize(f.detail));
    case FindingKind::PlaintextMailAccepted:
      return "accepts mail without TLS: " + cmd + " answered " + reply_text(f.reply);
    case FindingKind::PlaintextMailDeferred:
      return cmd + " deferred, expected a refusal: " + reply_text(f.reply);
    case FindingKind::PlaintextRsetFailed:
      return cmd + " rejected: " + reply_text(f.reply);
  }
  return "unexpected finding";
}

Evaluation evaluate(const CheckResult& result, const Config& config, const std::string& prefix) {
  std::vector<Problem> problems = result.problems;
  // Critical is evaluated first: a time in both ranges is one critical problem, not two.
  // A label with a part's prefix names the part itself: no endpoint before it.
  auto threshold = [&](const std::string& label, double value, const std::string& unit,
                       bool names_part = false) {
    const auto crit = config.critical.find(label);
    if (crit != config.critical.end() && crit->second.alerts(value)) {
      problems.push_back(
          {ProblemKind::ThresholdCritical,
           {},
           label + " " + short_seconds(value) + unit + " (critical " + crit->second.text + ")",
           names_part});
      return;
    }
    const auto warn = config.warning.find(label);
    if (warn != config.warning.end() && warn->second.alerts(value)) {
      problems.push_back(
          {ProblemKind::ThresholdWarning,
           {},
           label + " " + short_seconds(value) + unit + " (warning " + warn->second.text + ")",
           names_part});
    }
  };
  threshold("time", result.total_seconds, " s");
  for (const auto& t : result.timings) threshold(t.label, t.seconds, " s");
  // As a part of a check of several (--mx-all, --each-address), the labels as printed
  // ("mx1.example.org_banner") take their own -w/-c too; so do those of its own parts, which
  // were rated without this prefix.
  const std::function<void(const CheckResult&, const std::string&)> printed =
      [&](const CheckResult& r, const std::string& p) {
        for (const auto& t : r.timings) {
          threshold(perfdata_label(p + t.label), t.seconds, " s", true);
        }
        if (r.cert_days) {
          threshold(perfdata_label(p + "cert_days"), static_cast<double>(*r.cert_days), " d", true);
        }
        for (const auto& part : r.parts) printed(part.result, p + part.name + "_");
      };
  if (!prefix.empty()) printed(result, prefix);

  Evaluation out;
  for (auto& p : problems) {
    const State s = state_of(p, config);
    if (s == State::Ok) continue;
    out.problems.push_back({std::move(p), s});
    if (severity(s) > severity(out.state)) out.state = s;
  }
  std::stable_sort(out.problems.begin(), out.problems.end(),
                   [](const RatedProblem& a, const RatedProblem& b) {
                     return severity(a.state) > severity(b.state);
                   });
  return out;
}

}  // namespace smtpverify::check
