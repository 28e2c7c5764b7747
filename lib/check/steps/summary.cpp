#include <algorithm>

#include "check/regex.h"
#include "check/steps/steps.h"
#include "check/tls_words.h"

namespace smtpverify::check {

namespace {

// -R: each pattern checks the reply to the -C at the same position; every pair counts.
// Returns how many matched.
int match_responses(Context& ctx, const smtp::Session& session) {
  const auto& responses = ctx.config.responses;
  const auto& commands = session.commands();
  int matched = 0;
  for (std::size_t i = 0; i < responses.size() && i < commands.size(); ++i) {
    if (!commands[i].reply) continue;  // never sent: an earlier problem explains why
    const auto re = Regex::compile(responses[i]);
    const std::string text = commands[i].reply->full_text();
    if (re && re->matches(text)) {
      ++matched;
    } else {
      ctx.rec.problem(ProblemKind::ResponseMismatch, "reply to " + commands[i].command +
                                                         " does not match -R '" + responses[i] +
                                                         "': " + commands[i].reply->first_line());
    }
  }
  return matched;
}

// The banner's text after the domain, PROXY, the bound address, TLS and AUTH.
void connection_facts(Context& ctx, const smtp::Session& session) {
  const auto& config = ctx.config;
  auto& facts = ctx.result.facts;
  if (const auto& banner = session.banner(); banner && !banner->lines.empty()) {
    const std::string& first = banner->lines.front();
    const auto space = first.find(' ');
    if (space != std::string::npos && space + 1 < first.size()) {
      facts.push_back(first.substr(space + 1));
    }
  }
  if (config.proxy)
    facts.push_back(config.proxy == net::ProxyVersion::V1 ? "PROXY v1" : "PROXY v2");
  if (config.bind) facts.push_back("from " + ctx.local.address());
  // --plaintext-refused kept its promise (any other outcome is a finding, and no OK line).
  if (const auto& probe = session.plaintext_reply(); probe && probe->klass() == 5) {
    facts.push_back("plaintext refused");
  }
  const auto& tls = ctx.tls;
  if (!tls.version.empty()) {
    // --no-verify: the channel is encrypted, but nobody said to whom.
    facts.push_back((config.starttls ? "STARTTLS " : "") + tls.version + " " + tls.cipher +
                    (tls.verified ? "" : " (unverified)"));
    if (!tls.dane_match.empty()) facts.push_back("DANE " + tls.dane_match + " matched");
    if (tls.min_days_left) facts.push_back("cert " + std::to_string(*tls.min_days_left) + " d");
  }
  if (config.auth_mechanism && session.phase() != smtp::Phase::Auth) {
    const auto& f = session.findings();
    const bool authenticated = std::none_of(f.begin(), f.end(), [](const smtp::Finding& x) {
      return x.kind == smtp::FindingKind::AuthRejected ||
             x.kind == smtp::FindingKind::AuthNotOffered;
    });
    if (authenticated && session.mail_reply())
      facts.push_back("AUTH " + std::string(auth_mechanism_name(*config.auth_mechanism)));
  }
  if (session.used_helo()) facts.push_back("EHLO not supported, HELO used");
}

// How the mail log knows the test message: Postfix's "queued as 53F96A727F9" (Exim's "id=…",
// Sendmail's "… Message accepted for delivery": the reply text) from the reply to the end of
// the message, the last reply of the data phase.
std::string queue_id(Context& ctx) {
  const auto& exchanges = ctx.rec.exchanges();
  const auto it = std::find_if(exchanges.rbegin(), exchanges.rend(), [](const Exchange& x) {
    return x.phase == smtp::phase_name(smtp::Phase::Data) && x.code / 100 == 2;
  });
  if (it == exchanges.rend() || it->lines.empty()) return "";
  const std::string& text = it->lines.front();
  static constexpr std::string_view kQueued = "queued as ";
  if (const auto at = text.find(kQueued); at != std::string::npos) {
    const auto begin = at + kQueued.size();
    auto end = begin;
    const auto id_char = [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    };
    while (end < text.size() && id_char(text[end])) ++end;
    if (end > begin) return "queued as " + text.substr(begin, end - begin);
  }
  return text;
}

// Recipients as expected, the message, the -R pairs.
void transaction_facts(Context& ctx, const smtp::Session& session, int matched) {
  const auto& config = ctx.config;
  auto& facts = ctx.result.facts;
  int accepted = 0;
  int refused = 0;
  for (const auto& r : session.recipients()) {
    if (!r.reply) continue;
    if (!r.recipient.expect_reject && r.reply->klass() == 2) ++accepted;
    if (r.recipient.expect_reject && r.reply->klass() == 5) ++refused;
  }
  if (!config.rcpts.empty()) facts.push_back(std::to_string(accepted) + " rcpt accepted");
  if (!config.reject_rcpts.empty()) {
    facts.push_back(std::to_string(refused) + " rcpt rejected as expected");
  }
  if (session.message_accepted()) {
    ctx.result.queue_id = queue_id(ctx);
    facts.push_back("message accepted" +
                    (ctx.result.queue_id.empty() ? "" : ", " + ctx.result.queue_id));
  }
  if (!config.responses.empty()) {
    facts.push_back(std::to_string(matched) + "/" + std::to_string(config.responses.size()) +
                    " -R matched");
  }
}

}  // namespace

// -r against a server that does not expect a PROXY header: it answers the header as a command
// (Postfix: "500 5.5.2 Error: command not recognized") right after its greeting — before our
// EHLO (unsolicited), or just after it went out, when the 500 is taken for EHLO's reply and the
// real reply arrives unsolicited later. Either way: that 5xx, or "" when it is not the case.
std::string proxy_rejection(Context& ctx, const smtp::Finding& f) {
  if (!ctx.config.proxy || f.kind != smtp::FindingKind::UnsolicitedData) return "";
  if (f.command.empty()) return f.reply.klass() == 5 ? f.reply.first_line() : "";
  const auto& exchanges = ctx.rec.exchanges();
  const auto first = std::find_if(exchanges.begin(), exchanges.end(),
                                  [](const Exchange& x) { return !x.command.empty(); });
  if (first == exchanges.end() || first->code / 100 != 5 || first->lines.empty()) return "";
  return std::to_string(first->code) + " " + first->lines.front();
}

void summarize_dialogue(Context& ctx, const smtp::Session& session) {
  for (const auto& f : session.findings()) {
    const std::string rejection = proxy_rejection(ctx, f);
    const std::string text =
        rejection.empty() ? describe(f) : "PROXY header rejected: " + rejection;
    ctx.rec.problem({ProblemKind::Smtp, f.kind, text, false});
  }
  auto& outcomes = ctx.result.recipients;
  outcomes.clear();
  for (const auto& r : session.recipients()) {
    outcomes.push_back(
        {r.recipient.address, r.recipient.expect_reject, r.reply ? r.reply->code : 0});
  }
  const int matched = match_responses(ctx, session);
  connection_facts(ctx, session);
  transaction_facts(ctx, session, matched);
}

void certificate_days(Context& ctx) {
  if (!ctx.tls.min_days_left) return;
  const auto& config = ctx.config;
  const long long days = *ctx.tls.min_days_left;
  ctx.result.cert_days = days;
  // Which certificate, and when: not necessarily the leaf (issue 15).
  const net::CertFacts* soonest = soonest_expiring(ctx.tls);
  const std::string on = soonest ? " on " + expiry_date(*soonest) : "";
  const std::string which = soonest ? ": " + subject_words(*soonest) : "";
  if (days < 0) {
    if (ctx.expiry_reported) return;  // verification already said "certificate has expired"
    // How long ago, in whole days rounded down (days_left rounds the other way: a certificate
    // that expired 90 days and a second ago has -91 days left, but expired 90 d ago).
    const long long ago = soonest ? -soonest->seconds_left / net::kSecondsPerDay : -days;
    ctx.rec.problem(ProblemKind::CertExpired,
                    "certificate expired " + std::to_string(ago) + " d ago" + on + which);
    return;
  }
  // The words keep -D's plain number ("critical 14"), else the range.
  const auto rate = [&](bool critical) {
    const auto range = cert_days_range(config, critical);
    if (!range || !range->alerts(static_cast<double>(days))) return false;
    const auto& d = critical ? config.cert_critical_days : config.cert_warning_days;
    ctx.rec.problem(critical ? ProblemKind::CertCritical : ProblemKind::CertWarning,
                    "certificate expires in " + std::to_string(days) + " d" + on + " (" +
                        (critical ? "critical " : "warning ") +
                        (d ? std::to_string(*d) : range->text) + ")" + which);
    return true;
  };
  if (!rate(true)) rate(false);
}

}  // namespace smtpverify::check
