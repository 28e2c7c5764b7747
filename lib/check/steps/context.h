// The run context every step of the pipeline works on: what was asked (Config and the target
// host), the one deadline, the recorder that owns what is reported, and what earlier steps
// left for later ones (the resolver, the addresses, the stream, the TLS facts).
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "check/config.h"
#include "check/result.h"
#include "dns/helo.h"
#include "dns/resolver.h"
#include "dns/reverse.h"
#include "net/deadline.h"
#include "net/stream.h"
#include "net/tls.h"
#include "smtp/phase.h"

namespace smtpverify::check {

/// A host's DNS decides how many addresses we would try: at most this many are.
inline constexpr std::size_t kMaxAddresses = 16;

/// What a step tells the pipeline: go on with the next step, or stop the list here.
enum class Next { Continue, Stop };

/// The only way steps report: per-phase timings, the -v transcript, the exchanges and the
/// problems. Timings are kept in the order phases first completed; a phase that never
/// completes (the deadline hit it) prints no perfdata.
class Recorder {
 public:
  Recorder(int verbosity, net::Clock::time_point start) : verbosity_(verbosity), start_(start) {}

  /// Adds `seconds` to a phase's total.
  void time(smtp::Phase phase, double seconds);
  /// Times a phase from `at` until the next start() or stop().
  void start(smtp::Phase phase, net::Clock::time_point at);
  void stop(net::Clock::time_point at);
  /// A pipelined group (RFC 2920) went out at `at` with a command of `phase`: the phase is timed
  /// from then until end_pipelined() (its last reply of the group). Stops the running phase.
  void start_pipelined(smtp::Phase phase, net::Clock::time_point at);
  void end_pipelined(smtp::Phase phase, net::Clock::time_point at);
  /// The running phase (and any pipelined one) did not complete: it is not timed.
  void abandon() {
    running_.reset();
    pipelined_.fill(std::nullopt);
  }

  /// A transcript line ("C: …", "S: …", "* …"); -vv stamps it with the elapsed time.
  void log(const std::string& line);
  [[nodiscard]] bool logging() const { return verbosity_ > 0; }

  void problem(ProblemKind kind, std::string text, bool names_endpoint = false);
  void problem(Problem p) { problems_.push_back(std::move(p)); }
  [[nodiscard]] bool has_problem(ProblemKind kind) const;

  std::vector<Exchange>& exchanges() { return exchanges_; }

  /// Moves everything recorded into `result`.
  void finish(CheckResult& result);

 private:
  int verbosity_;
  net::Clock::time_point start_;
  std::vector<Timing> timings_;
  std::optional<smtp::Phase> running_;
  net::Clock::time_point since_;
  // When each phase of a pipelined group went out (indexed by smtp::Phase).
  std::array<std::optional<net::Clock::time_point>, static_cast<std::size_t>(smtp::Phase::Done) + 1>
      pipelined_;
  std::vector<std::string> transcript_;
  std::vector<Exchange> exchanges_;
  std::vector<Problem> problems_;
};

/// Seconds from a to b.
double seconds_between(net::Clock::time_point a, net::Clock::time_point b);

/// One check of one host (with --mx: one of several under the same start and deadline).
class Context {
  // First, so that it outlives the lookups below that use its channel.
  std::unique_ptr<dns::Resolver> resolver_;

 public:
  Context(const Config& c, std::string target, net::Clock::time_point started, net::Deadline until);

  const Config& config;
  const std::string host;  ///< the host checked: -H, or one MX host (Config is never copied)
  const net::Clock::time_point start;
  const net::Deadline deadline;
  Recorder rec;
  CheckResult result;

  /// The c-ares channel, made on first use; null (and a problem recorded) when it cannot be.
  dns::Resolver* resolver();
  /// The c-ares channel if an earlier step made one, else null (nothing is made).
  [[nodiscard]] dns::Resolver* resolver_if_made() const { return resolver_.get(); }
  /// "timeout after N s waiting for WHAT from ENDPOINT", then `hint` as it is.
  void timeout(const std::string& waiting_for, const std::string& hint = "");
  /// result.endpoint for the address connected to: "name[addr]:port" or "[addr]:port".
  void set_endpoint(const net::Endpoint& address);
  /// RFC 5321 §4.1.3: the address literal of our end of the connection ("[192.0.2.1]").
  [[nodiscard]] std::string local_literal() const;
  /// The host is an IP literal (no name to verify or to send as SNI).
  [[nodiscard]] bool host_is_literal() const;

  // Left by one step for the next ones.
  std::vector<net::Endpoint> addresses;        ///< resolve → connect (at most kMaxAddresses)
  std::size_t addresses_found = 0;             ///< how many DNS gave, before the cap
  net::Endpoint local;                         ///< our end of the connection
  std::unique_ptr<net::Stream> stream;         ///< TCP, then TLS
  net::TcpStream* tcp = nullptr;               ///< the TCP stream while it has the socket
  bool heard_from_server = false;              ///< a byte of the dialogue arrived
  net::TlsFacts tls;                           ///< what the handshake saw
  bool expiry_reported = false;                ///< verification already said "expired"
  std::vector<net::DaneRecord> dane;           ///< --dane: the TLSA records found
  std::string helo_name;                       ///< decided before connecting
  net::Clock::duration helo_wait{};            ///< spent deciding it (our canonical name)
  std::optional<dns::HeloLookup> helo_lookup;  ///< uses the resolver's channel
  std::optional<dns::ReverseLookup> reverse_lookup;
};

}  // namespace smtpverify::check
