// What a check found, as data. States are assigned by the one table in state_table.cpp.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "check/config.h"
#include "check/mta_sts.h"
#include "net/tls.h"
#include "smtp/session.h"

namespace smtpverify::check {

/// Where a problem comes from.
enum class ProblemKind {
  Smtp,               ///< a dialogue finding; see Problem::smtp
  Resolve,            ///< -H does not resolve
  Connect,            ///< no address connects
  Timeout,            ///< the deadline passed
  Network,            ///< a read or write failed mid-dialogue (reset, broken pipe)
  ResponseMismatch,   ///< a -C reply does not match its -R
  ThresholdWarning,   ///< a time in the -w range
  ThresholdCritical,  ///< a time in the -c range
  Internal,           ///< our own failure (c-ares could not start, …)
  Bind,               ///< -b: the local address cannot be used on this host
  Tls,                ///< TLS handshake or certificate verification failed
  CertExpired,        ///< a presented certificate has expired (also with --no-verify)
  CertCritical,       ///< cert days left below -D C
  CertWarning,        ///< cert days left below -D W
  HeloDns,            ///< the HELO name does not resolve to our address (--helo-dns)
  MtaSts,             ///< --mta-sts: no policy, or it cannot be fetched or read
  MtaStsMx,           ///< --mta-sts: an MX host matches no mx of the policy (state: its mode)
  TlsRpt,             ///< --tls-rpt: no TLS-RPT record, or a malformed one
};

/// One problem and its words (not yet sanitised).
struct Problem {
  // Not an aggregate: most problems are written {kind, smtp, text[, names_endpoint]}.
  Problem(ProblemKind k = ProblemKind::Internal,
          smtp::FindingKind f = smtp::FindingKind::ConnectionClosed, std::string t = {},
          bool names = false, std::optional<State> s = std::nullopt)
      : kind(k), smtp(f), text(std::move(t)), names_endpoint(names), state(s) {}
  ProblemKind kind;
  smtp::FindingKind smtp;  ///< when kind == Smtp
  std::string text;
  bool names_endpoint;  ///< the text names the server, so no "host[addr]:port " prefix
  /// The state decided where the problem was found rather than by the table: an MTA-STS
  /// policy's mode rates what it promises (enforce CRITICAL, testing WARNING, none OK).
  std::optional<State> state;
};

/// The time one phase took.
struct Timing {
  std::string label;  ///< perfdata label: "resolve", "connect", "banner", …
  double seconds = 0;
};

/// One command and its reply, as the transcript shows them (secrets already masked).
struct Exchange {
  std::string phase;               ///< perfdata label of the phase it belongs to
  std::string command;             ///< "" for the greeting
  int code = 0;                    ///< 0 when no reply came
  std::vector<std::string> lines;  ///< reply text of each line (after "NNN-"), raw
  bool complete = false;           ///< the last line of the reply has been seen
};

struct Part;

/// --mta-sts: what the domain publishes (RFC 8461) and what is wrong with it.
struct MtaStsFacts {
  std::string id;                         ///< the TXT record's id ("" = no valid record)
  std::optional<mta_sts::Policy> policy;  ///< the policy fetched and read, if it was
  std::vector<std::string> problems;      ///< in words, as the problems list has them
};

/// --tls-rpt: the domain's TLS-RPT record (RFC 8460).
struct TlsRptFacts {
  std::vector<std::string> rua;       ///< where reports go
  std::vector<std::string> problems;  ///< in words
};

/// One --rcpt or --reject-rcpt and the reply it got.
struct RecipientOutcome {
  std::string address;         ///< as given, without angle brackets
  bool expect_reject = false;  ///< --reject-rcpt
  int code = 0;                ///< the reply code; 0 when it was never answered
};

/// Everything run_check observed; rendering and evaluation are pure functions of it.
struct CheckResult {
  std::string endpoint;          ///< "name[addr]:port", "[addr]:port", or "name:port"
  std::vector<Timing> timings;   ///< phases that completed, in dialogue order
  double total_seconds = 0;      ///< `time`: without what waiting for the HELO-name lookups took
  double helo_wait_seconds = 0;  ///< that wait: not part of `time` (contract §4)
  std::optional<long long> cert_days;   ///< soonest expiry of the presented chain, if TLS ran
  std::vector<Problem> problems;        ///< in the order found
  std::vector<std::string> facts;       ///< what the OK summary lists (server text not sanitised)
  std::vector<std::string> transcript;  ///< -v lines ("C: …", "S: …", "* …"), not sanitised
  // Facts for --output json.
  std::string host;  ///< -H as given
  std::uint16_t port = 0;
  std::vector<std::string> resolved;  ///< addresses -H resolved to, in order
  std::string address;                ///< the address connected to, or ""
  std::string local_address;          ///< our end of the connection, or ""
  std::vector<Exchange> exchanges;    ///< the dialogue, in order
  std::optional<net::TlsFacts> tls;   ///< when a TLS handshake completed
  std::string queue_id;      ///< "queued as ID", or the reply to the message ("" = none sent)
  std::string helo_name;     ///< the HELO name compared with our address ("" = not compared)
  std::string helo_finding;  ///< what is wrong with it ("" = nothing), whatever --helo-dns rates
  std::string ptr;           ///< PTR name of our address ("" = none or not asked)
  bool forward_confirmed = false;  ///< the PTR name resolves back to our address
  /// --mx-all, --each-address: one part per MX host or address, each a whole check whose
  /// rated problems are already among `problems`; "2/3 MX hosts OK" heads the summary.
  std::vector<Part> parts;
  std::string tally;
  /// Every --rcpt, then every --reject-rcpt, with its reply (code 0 until answered).
  std::vector<RecipientOutcome> recipients;
  // --mx, for the labels of --output openmetrics.
  std::string mx_domain;         ///< --mx DOMAIN, or "" without --mx
  bool mx_host_checked = false;  ///< --mx alone, the lookup answered: `host` is the host checked
  std::optional<MtaStsFacts> mta_sts;  ///< --mta-sts
  std::optional<TlsRptFacts> tls_rpt;  ///< --tls-rpt
};

/// A problem with the state the table gives it.
struct RatedProblem {
  Problem problem;
  State state;
};

/// One MX host (--mx-all) or one address (--each-address) of a check of several.
struct Part {
  enum class Kind { MxHost, Address };
  Kind kind = Kind::Address;
  std::string name;  ///< the MX host or the address; its perfdata labels start with it
  State state = State::Ok;
  std::vector<RatedProblem> problems;  ///< as its own evaluation rated them
  CheckResult result;                  ///< its transcript moved into the whole check's
};

/// The verdict: the worst state and the problems that count, worst first.
struct Evaluation {
  State state = State::Ok;
  std::vector<RatedProblem> problems;
};

/// cert_days's critical (or warning) range: -c (-w) cert_days=RANGE, or -D's C (W) as the
/// range "C:" (alert below), the sense Nagios ranges have. nullopt: none.
std::optional<Range> cert_days_range(const Config& config, bool critical);

/// The state table: the state one problem gives under `config` (contract §3).
State state_of(const Problem& problem, const Config& config);

/// Adds threshold problems for the timings, rates every problem, drops those rated OK (-q),
/// and orders the rest worst first (stable). `prefix`: the result is the part printed with it
/// ("mx1.example.org_"), whose labels then take their own -w/-c as well.
Evaluation evaluate(const CheckResult& result, const Config& config,
                    const std::string& prefix = "");

/// Words for a dialogue finding, e.g. "RCPT TO:<a@b> rejected: 550 5.1.1 unknown".
std::string describe(const smtp::Finding& finding);

}  // namespace smtpverify::check
