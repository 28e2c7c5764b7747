// --output openmetrics: the report as an OpenMetrics 1.0 text exposition, for Prometheus and for
// node_exporter's textfile collector (cron). Only gauges: the textfile collector parses the
// Prometheus text format, which knows no info or stateset type, and reads "# UNIT" and "# EOF"
// as comments. Every sample carries the labels that tell one check's file from another's (host
// and port, or the MX domain and port), so several files can sit in one textfile directory.
#include <algorithm>
#include <cstdio>

#include "check/options.h"
#include "check/render.h"
#include "check/sanitize.h"

namespace smtpverify::check {

namespace {

// Length of the valid UTF-8 sequence at the start of `s` (RFC 3629 §4: no overlong forms, no
// surrogates, nothing above U+10FFFF), or 0 when it does not start with one.
std::size_t utf8_sequence(std::string_view s) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  auto tail = [&](std::size_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return i < s.size() && byte(i) >= lo && byte(i) <= hi;
  };
  const unsigned char c = byte(0);
  if (c >= 0xC2 && c <= 0xDF) return tail(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    const unsigned char lo = c == 0xE0 ? 0xA0 : 0x80;
    const unsigned char hi = c == 0xED ? 0x9F : 0xBF;
    return tail(1, lo, hi) && tail(2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    const unsigned char lo = c == 0xF0 ? 0x90 : 0x80;
    const unsigned char hi = c == 0xF4 ? 0x8F : 0xBF;
    return tail(1, lo, hi) && tail(2) && tail(3) ? 4 : 0;
  }
  return 0;
}

// One label: name="escaped value".
using Label = std::pair<std::string_view, std::string>;
using Labels = std::vector<Label>;

Labels with(Labels labels, std::string_view name, std::string value) {
  labels.emplace_back(name, std::move(value));
  return labels;
}

// A metric family: its metadata, then its samples. A family without samples is not printed.
class Family {
 public:
  Family(std::string_view name, std::string_view help, bool seconds = false)
      : name_(name), help_(help), seconds_(seconds) {}

  void add(const Labels& labels, std::string value) {
    samples_ += name_;
    samples_ += '{';
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (i != 0) samples_ += ',';
      samples_ += labels[i].first;
      samples_ += "=\"";
      samples_ += openmetrics_label_value(labels[i].second);
      samples_ += '"';
    }
    samples_ += "} ";
    samples_ += value;
    samples_ += '\n';
  }
  void add(const Labels& labels, long long value) { add(labels, std::to_string(value)); }

  void print(std::string& out) const {
    if (samples_.empty()) return;
    out += "# TYPE " + std::string(name_) + " gauge\n";
    if (seconds_) out += "# UNIT " + std::string(name_) + " seconds\n";
    out += "# HELP " + std::string(name_) + " " + std::string(help_) + "\n";
    out += samples_;
  }

 private:
  std::string_view name_;
  std::string_view help_;
  bool seconds_;
  std::string samples_;
};

// The metrics, in the order printed. HELP texts need no escaping (no '\' and no newline).
struct Families {
  Family state{"smtp_verify_state",
               "The check's state, the same as its exit code: 0 OK, 1 WARNING, 2 CRITICAL, "
               "3 UNKNOWN."};
  Family target_state{"smtp_verify_target_state",
                      "The state of one target of a check of several on its own: an MX host "
                      "(--mx-all) or an address (--each-address)."};
  Family up{"smtp_verify_up",
            "1 when a connection was made and the server greeted with 220, else 0."};
  Family duration{"smtp_verify_duration_seconds", "The whole check, from start to end.", true};
  Family phase{"smtp_verify_phase_seconds",
               "The time each phase took; phases that did not complete are left out.", true};
  Family cert_days{"smtp_verify_cert_days",
                   "Whole days left on the soonest-expiring certificate of the presented chain "
                   "(negative: expired)."};
  Family rcpt_as_expected{"smtp_verify_rcpt_as_expected",
                          "1 when the recipient was answered as expected (expect=accept: 2xx, "
                          "expect=reject: 5xx), else 0."};
  Family rcpt_code{"smtp_verify_rcpt_reply_code",
                   "The code of the reply to RCPT TO, for recipients that were answered."};
  Family version{"smtp_verify_version", "1; the version label is the plugin's version."};

  void print(std::string& out) const {
    for (const Family* f : {&state, &target_state, &up, &duration, &phase, &cert_days,
                            &rcpt_as_expected, &rcpt_code, &version}) {
      f->print(out);
    }
  }
};

// The greeting came and was 220: the server accepted a session. With -s a certificate that
// fails verification ends the check before the greeting is read, so that is 0 as well.
bool greeted(const CheckResult& result) {
  return std::any_of(result.exchanges.begin(), result.exchanges.end(), [](const Exchange& x) {
    return x.phase == "banner" && x.command.empty() && x.code == 220;
  });
}

// What one dialogue found: up, its certificate, its recipients.
void dialogue_metrics(Families& m, const CheckResult& r, const Labels& labels) {
  m.up.add(labels, greeted(r) ? 1 : 0);
  if (r.cert_days) m.cert_days.add(labels, *r.cert_days);
  // The same address given twice would be the same series twice: the first one speaks for it.
  std::vector<const RecipientOutcome*> seen;
  for (const auto& rcpt : r.recipients) {
    const bool twice = std::any_of(seen.begin(), seen.end(), [&](const RecipientOutcome* s) {
      return s->address == rcpt.address && s->expect_reject == rcpt.expect_reject;
    });
    if (twice) continue;
    seen.push_back(&rcpt);
    const Labels l = with(with(labels, "rcpt", rcpt.address), "expect",
                          rcpt.expect_reject ? "reject" : "accept");
    const int klass = rcpt.code / 100;
    m.rcpt_as_expected.add(l, (rcpt.expect_reject ? klass == 5 : klass == 2) ? 1 : 0);
    if (rcpt.code != 0) m.rcpt_code.add(l, rcpt.code);
  }
}

// One target under `labels`: its phases (but `skip`, the caller's), then, for a check of several
// (--mx-all, --each-address), each part's state and metrics under the part's own label, else,
// when a dialogue was held with it, the dialogue's metrics.
void target_metrics(Families& m, const CheckResult& r, const Labels& labels, bool dialogue,
                    std::string_view skip = {}) {
  for (const auto& t : r.timings) {
    if (t.label == skip) continue;
    m.phase.add(with(labels, "phase", perfdata_label(t.label)), perf_seconds(t.seconds));
  }
  for (const auto& part : r.parts) {
    const Labels l =
        with(labels, part.kind == Part::Kind::MxHost ? "mx_host" : "address", part.name);
    m.target_state.add(l, static_cast<int>(part.state));
    target_metrics(m, part.result, l, true);
  }
  if (r.parts.empty() && dialogue) dialogue_metrics(m, r, labels);
}

std::string version_number() {
  const std::string text = version_text();  // "check_smtp_verify 0.1.0"
  return text.substr(text.rfind(' ') + 1);
}

}  // namespace

std::string openmetrics_label_value(std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(value.size());
  // The text \xNN, its backslash escaped as OpenMetrics wants it.
  auto hex = [&](unsigned char c) {
    out += "\\\\x";
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
  };
  for (std::size_t i = 0; i < value.size();) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c == '\\' || c == '"' || c == '\n') {
      out += c == '\\' ? "\\\\" : c == '"' ? "\\\"" : "\\n";
      ++i;
    } else if (c < 0x20 || c == 0x7f) {
      hex(c);
      ++i;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
    } else if (const std::size_t n = utf8_sequence(value.substr(i)); n == 0) {
      hex(c);
      ++i;
    } else if (c == 0xC2 && static_cast<unsigned char>(value[i + 1]) < 0xA0) {
      hex(c);  // U+0080..U+009F: C1 control characters (0x9b is a terminal's CSI)
      hex(static_cast<unsigned char>(value[i + 1]));
      i += 2;
    } else {
      out.append(value.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string format_openmetrics(const Report& report, const CheckResult& result) {
  Families m;
  const std::string port = std::to_string(result.port);
  const bool mx = !result.mx_domain.empty();
  const Labels check = mx ? Labels{{"domain", result.mx_domain}, {"port", port}}
                          : Labels{{"host", result.host}, {"port", port}};
  m.state.add(check, static_cast<int>(report.state));
  m.duration.add(check, perf_seconds(result.total_seconds));
  if (!mx) {
    target_metrics(m, result, check, true);
  } else {
    // The MX lookup is the domain's; --mx alone: the rest is the host checked; --mx-all: parts.
    for (const auto& t : result.timings) {
      if (t.label == "mx") m.phase.add(with(check, "phase", "mx"), perf_seconds(t.seconds));
    }
    const bool one = result.mx_host_checked;
    target_metrics(m, result, one ? with(check, "mx_host", result.host) : check, one, "mx");
  }
  m.version.add(with(check, "version", version_number()), 1);
  std::string out;
  m.print(out);
  return out + "# EOF\n";
}

}  // namespace smtpverify::check
