#include "check/run_check.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <functional>
#include <memory>
#include <random>

#include "check/regex.h"
#include "check/render.h"
#include "dns/helo.h"
#include "dns/mx.h"
#include "dns/resolver.h"
#include "dns/tlsa.h"
#include "net/stream.h"
#include "net/tls.h"
#include "smtp/message.h"
#include "smtp/session.h"

namespace smtpverify::check {

namespace {

using net::Clock;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Per-phase totals, kept in the order phases first completed; a phase that never completes
// (the deadline hit it) prints no perfdata.
class PhaseTimes {
 public:
  void add(const std::string& label, double seconds) {
    for (auto& t : timings_) {
      if (t.label == label) {
        t.seconds += seconds;
        return;
      }
    }
    timings_.push_back({label, seconds});
  }
  void start(std::string label, Clock::time_point at) {
    stop(at);
    current_ = std::move(label);
    since_ = at;
  }
  void stop(Clock::time_point at) {
    if (!current_.empty()) add(current_, seconds_between(since_, at));
    current_.clear();
  }
  void abandon() { current_.clear(); }
  [[nodiscard]] std::vector<Timing> take() { return std::move(timings_); }

 private:
  std::vector<Timing> timings_;
  std::string current_;
  Clock::time_point since_;
};

// RFC 5321 §4.1.4: the HELO name is the client's FQDN, or an address literal when it has none.
// The machine's FQDN, or "" when it has none (then the address literal is used, once the local
// address is known).
std::string machine_fqdn(const std::function<dns::Resolver*()>& resolver,
                         const net::Deadline& deadline) {
  std::array<char, 256> host{};
  if (::gethostname(host.data(), host.size() - 1) == 0) {
    std::string name = host.data();
    if (name.find('.') != std::string::npos || name.empty()) return name;
    // /etc/hosts answers first, as for `hostname -f`; read directly, it needs no c-ares
    // channel (~0.1 M instructions to set up and tear down) when the name is there.
    std::array<char, 16384> hosts;  // not zeroed: only what read() filled is used
    if (const net::Fd fd(::open("/etc/hosts", O_RDONLY | O_CLOEXEC)); fd.valid()) {
      const ssize_t n = ::read(fd.get(), hosts.data(), hosts.size());
      if (n >= 0 && static_cast<std::size_t>(n) < hosts.size()) {  // read whole: final answer
        const auto canonical = dns::hosts_canonical_name(
            std::string_view(hosts.data(), static_cast<std::size_t>(n)), name);
        if (canonical) return canonical->find('.') != std::string::npos ? *canonical : "";
      }
    }
    if (dns::Resolver* r = resolver(); r != nullptr) {
      // Like `hostname -f`: the canonical name of our own name (/etc/hosts first). Bounded
      // to a second so a slow resolver cannot eat the whole check.
      const net::Deadline short_deadline(
          std::min(deadline.at(), Clock::now() + std::chrono::seconds(1)));
      std::string canonical = r->canonical_name(name, short_deadline);
      if (canonical.find('.') != std::string::npos) return canonical;
    }
  }
  return {};
}

// RFC 5321 §4.1.3 address literal of our end of the connection.
std::string address_literal_of(const net::Endpoint& local) {
  return local.family() == AF_INET6 ? "[IPv6:" + local.address() + "]"
                                    : "[" + local.address() + "]";
}

std::string random_token() {
  std::random_device rd;
  const std::uint64_t value = (static_cast<std::uint64_t>(rd()) << 32) | rd();
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(value));
  return buf;
}

smtp::Plan make_plan(const Config& config, const std::string& helo_name) {
  smtp::Plan plan;
  plan.helo_name = helo_name;
  plan.lmtp = config.lmtp;
  plan.expect_banner = config.expect;
  plan.mail_from = config.mail_from;
  for (const auto& r : config.rcpts) plan.recipients.push_back({r, false});
  for (const auto& r : config.reject_rcpts) plan.recipients.push_back({r, true});
  if (config.data) {
    if (config.data_file_text) {
      plan.payload = smtp::to_data_payload(*config.data_file_text);
    } else {
      smtp::TestMessage m;
      m.from = config.mail_from->empty() ? "check_smtp_verify@" + helo_name : *config.mail_from;
      m.to = config.rcpts;
      m.date = smtp::format_rfc5322_date(std::time(nullptr));
      m.message_id = std::to_string(std::time(nullptr)) + "." + std::to_string(::getpid()) + "." +
                     random_token() + "@" +
                     (helo_name.front() == '[' ? "check-smtp-verify.invalid" : helo_name);
      m.helo_name = helo_name;
      plan.payload = smtp::to_data_payload(smtp::build_test_message(m));
    }
  }
  plan.commands = config.commands;
  plan.starttls = config.starttls;
  if (config.auth_mechanism) {
    smtp::AuthPlan auth;
    if (*config.auth_mechanism == AuthMechanism::Login) {
      auth.mechanism = smtp::AuthPlan::Mechanism::Login;
      auth.login_user = net::base64_encode(config.auth_user);
      auth.login_password = net::base64_encode(config.auth_password);
    } else {
      // RFC 4616: authzid (empty), NUL, authcid, NUL, password.
      auth.plain_response =
          net::base64_encode(std::string(1, '\0') + config.auth_user + '\0' + config.auth_password);
    }
    plan.auth = std::move(auth);
  }
  return plan;
}

class Runner {
 public:
  /// One check of config.host; with --mx, one of several under the same start and deadline.
  Runner(const Config& config, Clock::time_point start, net::Deadline deadline)
      : config_(config), start_(start), deadline_(deadline) {}

  CheckResult run() {
    result_.endpoint = config_.host + ":" + std::to_string(config_.port);
    result_.host = config_.host;
    result_.port = config_.port;
    if (load_tls_module()) {
      start_helo_lookup();
      if (auto addresses = resolve()) {
        if (find_tlsa() && connect(*addresses)) dialogue();
        certificate_days();
        if (!tls_.version.empty()) result_.tls = tls_;
        check_helo_name();
      }
    }
    result_.total_seconds = seconds_between(start_, Clock::now());
    result_.timings = times_.take();
    return std::move(result_);
  }

 private:
  void log(const std::string& line) {
    if (config_.verbosity == 0) return;
    if (config_.verbosity > 1) {
      result_.transcript.push_back("[" + perf_seconds(seconds_between(start_, Clock::now())) +
                                   "] " + line);
    } else {
      result_.transcript.push_back(line);
    }
  }

  void problem(ProblemKind kind, std::string text, bool names_endpoint = false) {
    result_.problems.push_back({kind, {}, std::move(text), names_endpoint});
  }

  void timeout(const std::string& waiting_for) {
    problem(ProblemKind::Timeout,
            "timeout after " +
                short_seconds(std::chrono::duration<double>(config_.timeout).count()) +
                " s waiting for " + waiting_for + " from " + result_.endpoint,
            true);
  }

  // TLS and AUTH need the OpenSSL module (lib/net/tls_loader.cpp); a plain check never loads
  // it. Loaded before anything is sent, so that a broken installation is UNKNOWN and costs the
  // server nothing.
  bool load_tls_module() {
    if (!config_.starttls && !config_.implicit_tls && !config_.auth_mechanism) return true;
    std::string error;
    if (net::load_tls(error)) return true;
    problem(ProblemKind::Internal, error, true);
    return false;
  }

  dns::Resolver* resolver() {
    if (!resolver_) {
      std::string error;
      resolver_ = dns::Resolver::create(config_.dns_servers, error);
      if (!resolver_) problem(ProblemKind::Internal, error);
    }
    return resolver_.get();
  }

  std::optional<std::vector<net::Endpoint>> resolve() {
    if (auto literal = net::parse_ip_literal(config_.host, config_.port)) {
      result_.endpoint = literal->family() == AF_INET6
                             ? literal->to_string()
                             : "[" + literal->address() + "]:" + std::to_string(config_.port);
      return std::vector<net::Endpoint>{*literal};
    }
    auto* r = resolver();
    if (r == nullptr) return std::nullopt;
    const auto t0 = Clock::now();
    const auto answer = r->resolve(config_.host, config_.family, config_.port, deadline_);
    if (answer.status == dns::Status::Timeout && deadline_.expired()) {
      timeout("address of " + config_.host);
      return std::nullopt;
    }
    times_.add("resolve", seconds_between(t0, Clock::now()));
    if (answer.status != dns::Status::Ok) {
      log("* resolve " + config_.host + ": " + answer.error);
      problem(ProblemKind::Resolve, "cannot resolve " + config_.host + ": " + answer.error, true);
      return std::nullopt;
    }
    std::string list;
    for (const auto& a : answer.addresses) {
      list += (list.empty() ? "" : " ") + a.address();
      result_.resolved.push_back(a.address());
    }
    log("* " + config_.host + " resolves to " + list);
    return answer.addresses;
  }

  bool connect(const std::vector<net::Endpoint>& addresses) {
    const auto t0 = Clock::now();
    std::optional<net::Endpoint> from;
    if (config_.bind) from = net::parse_ip_literal(*config_.bind, 0);
    std::string failures;
    std::string last_error;
    for (const auto& address : addresses) {
      net::ConnectError error;
      net::Fd fd = net::connect_tcp(address, from, deadline_, error);
      if (fd.valid()) {
        set_endpoint(address);
        const auto local = net::local_endpoint(fd.get());
        if (!local) {  // the PROXY header and the HELO check would be built on nothing
          problem(ProblemKind::Internal,
                  std::string("cannot read our local address: ") + std::strerror(errno));
          return false;
        }
        local_ = *local;
        result_.address = address.address();
        result_.local_address = local_.address();
        // The PTR of our address is reported (-v, JSON), never rated: asked only when shown.
        if (config_.helo_dns != HeloDnsMode::Ignore && resolver_ &&
            (config_.verbosity > 0 || config_.json)) {
          reverse_lookup_.emplace(*resolver_, local_.address());  // overlaps the dialogue
        }
        log("* connected to " + address.to_string() + " from " + local_.to_string());
        auto tcp = std::make_unique<net::TcpStream>(std::move(fd));
        tcp_ = tcp.get();
        stream_ = std::move(tcp);
        // The PROXY header goes first, before the greeting and before any TLS handshake.
        if (config_.proxy && !send_proxy_header(*tcp_, address)) return false;
        times_.add("connect", seconds_between(t0, Clock::now()));
        return true;
      }
      const std::string reason = std::strerror(error.error);
      if (error.at_bind) {
        problem(ProblemKind::Bind, "cannot use -b " + *config_.bind + ": " + reason, true);
        return false;
      }
      log("* connect to " + address.to_string() + " failed: " + reason);
      if (error.error == ETIMEDOUT && deadline_.expired()) {
        set_endpoint(address);
        timeout("connect");
        return false;
      }
      last_error = reason;
      failures += (failures.empty() ? "" : ", ") + address.to_string() + ": " + reason;
    }
    times_.add("connect", seconds_between(t0, Clock::now()));
    if (addresses.size() == 1) {
      set_endpoint(addresses.front());
      problem(ProblemKind::Connect, "cannot connect to " + result_.endpoint + ": " + last_error,
              true);
    } else {
      problem(ProblemKind::Connect,
              "cannot connect to " + config_.host + " port " + std::to_string(config_.port) + " (" +
                  failures + ")",
              true);
    }
    return false;
  }

  bool send_proxy_header(net::TcpStream& stream, const net::Endpoint& peer) {
    const std::string header = net::proxy_header(*config_.proxy, local_, peer);
    log("C: " + net::describe_proxy_header(*config_.proxy, local_, peer));
    const auto r = stream.write_all(header, deadline_);
    if (r.status == net::IoResult::Status::Timeout) {
      timeout("the server to accept the PROXY header");
      return false;
    }
    if (r.status != net::IoResult::Status::Ok) {
      problem(
          ProblemKind::Network,
          std::string("connection lost while sending the PROXY header: ") + std::strerror(r.error));
      return false;
    }
    return true;
  }

  void set_endpoint(const net::Endpoint& address) {
    const bool literal = net::parse_ip_literal(config_.host, 0).has_value();
    result_.endpoint = (literal ? "" : config_.host) + "[" + address.address() +
                       "]:" + std::to_string(address.port());
  }

  void drain(smtp::Session& session) {
    const auto now = Clock::now();
    for (auto& e : session.take_events()) {
      switch (e.kind) {
        case smtp::Event::Kind::PhaseStart:
          if (e.phase == smtp::Phase::Starttls) prepare_tls_ = true;
          if (e.phase == smtp::Phase::Done) {
            times_.stop(now);
          } else {
            times_.start(std::string(smtp::phase_name(e.phase)), now);
          }
          break;
        case smtp::Event::Kind::Sent:
          log("C: " + e.text);
          // A new exchange per command; the message body of DATA is not a command.
          if (e.text.rfind("[message:", 0) != 0 && e.text != ".") {
            result_.exchanges.push_back({std::string(smtp::phase_name(e.phase)), e.text, 0, {}});
          }
          break;
        case smtp::Event::Kind::Received:
          log("S: " + e.text);
          record_reply_line(e);
          break;
        case smtp::Event::Kind::Note:
          log("* " + e.text);
          break;
      }
    }
  }

  // The TLS options of this check: names per contract §3 ("Names").
  net::TlsOptions tls_options() const {
    net::TlsOptions o;
    o.verify = !config_.no_verify;
    o.ca_file = config_.ca_file;
    o.ca_path = config_.ca_path;
    o.min_version = config_.tls_min;
    o.dane = dane_;
    o.dane_base_domain = config_.host;
    const bool literal = net::parse_ip_literal(config_.host, 0).has_value();
    if (config_.verify_name) {
      o.verify_name = *config_.verify_name;
    } else if (!literal) {
      o.verify_name = config_.host;
    } else {
      o.verify_ip = config_.host;
    }
    if (config_.sni) {
      o.sni = *config_.sni;
    } else if (config_.verify_name) {
      o.sni = *config_.verify_name;
    } else if (!literal) {
      o.sni = config_.host;
    }
    return o;
  }

  // Hands the TCP socket to TLS. Returns false when the connection is unusable afterwards.
  bool start_tls(const std::string& how) {
    const auto t0 = Clock::now();
    net::TlsFailure failure;
    auto tls = net::TlsStream::handshake(tcp_->release(), tls_options(), deadline_, tls_, failure);
    tcp_ = nullptr;
    // A handshake that ended (even in failure) took measurable time; a timed-out one did not end.
    if (config_.implicit_tls && failure.kind != net::TlsFailure::Kind::Timeout) {
      times_.add("tls", seconds_between(t0, Clock::now()));
    }
    if (!tls_.version.empty()) {
      log("* " + how + " " + tls_.version + " " + tls_.cipher);
      for (std::size_t i = 0; i < tls_.chain.size(); ++i) {
        const auto& c = tls_.chain[i];
        log("* cert " + std::to_string(i) + ": subject " + c.subject + ", issuer " + c.issuer +
            ", not after " + c.not_after + " (" + std::to_string(c.days_left) + " d)");
      }
    }
    switch (failure.kind) {
      case net::TlsFailure::Kind::None:
        if (tls_.verified) log("* certificate verified");
        stream_ = std::move(tls);
        return true;
      case net::TlsFailure::Kind::Timeout:
        timeout("TLS handshake");
        return false;
      case net::TlsFailure::Kind::Setup:
        problem(ProblemKind::Internal, failure.reason);
        return false;
      case net::TlsFailure::Kind::Handshake:
        problem(ProblemKind::Tls, "TLS handshake failed: " + failure.reason);
        return false;
      case net::TlsFailure::Kind::Verify:
        // Never go on over a connection we could not authenticate (AUTH, MAIL would follow).
        problem(ProblemKind::Tls, "certificate verification failed: " + failure.reason);
        expiry_reported_ = failure.expired;
        untrusted_ = failure.reason;
        stream_ = std::move(tls);
        return false;
    }
    return false;
  }

  // --dane: the TLSA records of _PORT._tcp.HOST, before anything is sent (RFC 7672 §2.2).
  // Without usable, authenticated records there is nothing to authenticate the server with.
  bool find_tlsa() {
    if (!config_.dane) return true;
    auto* r = resolver();
    if (r == nullptr) return false;
    const auto t0 = Clock::now();
    const dns::TlsaResult tlsa = r->tlsa(config_.host, config_.port, deadline_);
    times_.add("resolve", seconds_between(t0, Clock::now()));
    const std::string owner = dns::tlsa_name(config_.host, config_.port);
    for (const auto& rec : tlsa.records) log("* TLSA " + owner + " " + dns::tlsa_text(rec));
    switch (tlsa.status) {
      case dns::TlsaResult::Status::Ok:
        break;
      case dns::TlsaResult::Status::Insecure:
        if (!config_.dane_insecure) {
          problem(ProblemKind::Tls, "DANE: the TLSA answer for " + owner +
                                        " is not DNSSEC-authenticated (no AD bit)");
          return false;
        }
        log("* TLSA answer not authenticated, accepted (--dane-insecure)");
        break;
      case dns::TlsaResult::Status::NoRecords:
        problem(ProblemKind::Tls, "DANE: no TLSA records for " + owner);
        return false;
      case dns::TlsaResult::Status::Timeout:
        timeout("TLSA of " + owner);
        return false;
      default:
        problem(ProblemKind::Tls, "DANE: TLSA lookup for " + owner + " failed: " + tlsa.error);
        return false;
    }
    for (const auto& rec : tlsa.records) {
      dane_.push_back({rec.usage, rec.selector, rec.mtype, rec.data});
    }
    return true;
  }

  // The HELO name is decided first, so its DNS lookup can run alongside connect and banner.
  void start_helo_lookup() {
    helo_name_ = config_.helo_name;
    if (helo_name_.empty()) {
      helo_name_ = machine_fqdn([this] { return resolver(); }, deadline_);
    }
    if (config_.helo_dns == HeloDnsMode::Ignore || helo_name_.empty() ||
        dns::address_literal(helo_name_)) {
      return;
    }
    if (auto* r = resolver()) helo_lookup_.emplace(*r, helo_name_);
  }

  // contract §1 helo_dns: the HELO name's A/AAAA must include our local socket address.
  void check_helo_name() {
    if (config_.helo_dns == HeloDnsMode::Ignore || result_.local_address.empty()) return;
    const std::string local = local_.address();
    const std::string name = helo_name_.empty() ? address_literal_of(local_) : helo_name_;
    if (const auto literal = dns::address_literal(name)) {
      if (*literal != local) {
        problem(ProblemKind::HeloDns, "HELO " + name + " is not our address " + local);
      }
      return;
    }
    if (!helo_lookup_) return;
    if (!helo_lookup_->finish(deadline_)) {
      // Only worth saying if the check itself did not already time out.
      for (const auto& p : result_.problems) {
        if (p.kind == ProblemKind::Timeout) return;
      }
      problem(ProblemKind::HeloDns, "HELO name " + name + ": DNS timeout");
      return;
    }
    report_reverse_dns();
    const dns::HeloAnswer a = helo_lookup_->answer();
    if (a.finished) times_.add("helo_dns", seconds_between(start_, *a.finished));
    std::string list;
    for (const auto& address : a.addresses) list += (list.empty() ? "" : ", ") + address;
    log("* HELO name " + name + ": " + (a.status == dns::Status::Ok ? list : a.error));
    switch (a.status) {
      case dns::Status::Ok:
        if (std::find(a.addresses.begin(), a.addresses.end(), local) == a.addresses.end()) {
          problem(ProblemKind::HeloDns,
                  "HELO name " + name + " resolves to " + list + " - not to our address " + local);
        }
        return;
      case dns::Status::NxDomain:
        problem(ProblemKind::HeloDns, "HELO name " + name + " does not resolve (NXDOMAIN)");
        return;
      case dns::Status::NoData:
        problem(ProblemKind::HeloDns, "HELO name " + name + " has no address records");
        return;
      default:
        problem(ProblemKind::HeloDns, "HELO name " + name + ": " + a.error);
        return;
    }
  }

  // The PTR of our address and whether it resolves back: reported (-v, JSON), not rated.
  void report_reverse_dns() {
    if (!reverse_lookup_ || !reverse_lookup_->finish(deadline_)) return;
    const dns::ReverseAnswer a = reverse_lookup_->answer();
    result_.ptr = a.ptr;
    result_.forward_confirmed = a.forward_confirmed;
    log("* PTR of " + a.address + ": " +
        (a.ptr.empty() ? "none (" + a.error + ")"
                       : a.ptr + (a.forward_confirmed ? " (forward-confirmed)"
                                                      : " (does not resolve back)")));
  }

  // Reply lines arrive as "NNN-text" / "NNN text" / "NNN" (the session parsed them). A reply
  // with no command before it (the greeting, a second LMTP reply) opens its own exchange.
  void record_reply_line(const smtp::Event& e) {
    if (result_.exchanges.empty() || result_.exchanges.back().complete) {
      result_.exchanges.push_back({std::string(smtp::phase_name(e.phase)), "", 0, {}});
    }
    auto& x = result_.exchanges.back();
    x.code = (e.text[0] - '0') * 100 + (e.text[1] - '0') * 10 + (e.text[2] - '0');
    x.lines.push_back(e.text.size() > 4 ? e.text.substr(4) : std::string());
    x.complete = e.text.size() == 3 || e.text[3] == ' ';
  }

  void dialogue() {
    if (helo_name_.empty()) helo_name_ = address_literal_of(local_);
    const std::string helo = helo_name_;
    smtp::Plan plan = make_plan(config_, helo);
    if (config_.implicit_tls) {
      if (!start_tls("TLS")) return;
      plan.tls_active = true;
    }
    smtp::Session session(std::move(plan));
    std::array<char, 16384> buffer;  // not zeroed: only what read() filled is used
    drain(session);
    for (;;) {
      const smtp::Want want = session.want();
      if (want == smtp::Want::Done) break;
      if (want == smtp::Want::StartTls) {
        // Anything already waiting in the socket now was sent before our ClientHello: hand it
        // to the session, which refuses the handshake (response injection).
        const auto early = stream_->read(buffer.data(), buffer.size(), net::Deadline(Clock::now()));
        if (early.status == net::IoResult::Status::Ok) {
          session.receive(std::string_view(buffer.data(), early.bytes));
        } else if (start_tls("STARTTLS")) {
          session.tls_established();
        } else if (stream_ && tcp_ == nullptr && !untrusted_.empty()) {
          session.tls_untrusted();  // verification failed on a working channel: QUIT only
        } else {
          times_.abandon();
          session.tls_failed();
        }
      } else if (want == smtp::Want::Write) {
        const std::string out = session.take_output();
        const auto r = stream_->write_all(out, deadline_);
        if (r.status == net::IoResult::Status::Timeout) {
          times_.abandon();
          timeout("the server to accept our data");
          break;
        }
        if (r.status != net::IoResult::Status::Ok) {
          problem(ProblemKind::Network,
                  std::string("connection lost while sending: ") + std::strerror(r.error));
          break;
        }
      } else {
        if (prepare_tls_) {
          // STARTTLS is on its way: the TLS context (most of the cost of TLS) is built while
          // the server answers it. Not earlier: the banner and EHLO times stay the server's.
          prepare_tls_ = false;
          net::TlsStream::prepare(tls_options());
        }
        const auto r = stream_->read(buffer.data(), buffer.size(), deadline_);
        if (r.status == net::IoResult::Status::Ok) {
          session.receive(std::string_view(buffer.data(), r.bytes));
        } else if (r.status == net::IoResult::Status::Eof) {
          session.receive_eof();
        } else if (r.status == net::IoResult::Status::Timeout) {
          times_.abandon();
          timeout(session.waiting_for());
          break;
        } else {
          problem(ProblemKind::Network, "connection lost while waiting for " +
                                            session.waiting_for() + ": " + std::strerror(r.error));
          break;
        }
      }
      drain(session);
      if (helo_lookup_) helo_lookup_->pump();  // pick up DNS answers that arrived meanwhile
    }
    drain(session);
    times_.stop(Clock::now());
    collect(session);
  }

  // -D: days left of the soonest-expiring certificate presented (also with --no-verify).
  void certificate_days() {
    if (!tls_.min_days_left) return;
    const long long days = *tls_.min_days_left;
    result_.cert_days = days;
    if (days < 0) {
      if (expiry_reported_) return;  // verification already said "certificate has expired"
      problem(ProblemKind::CertExpired, "certificate expired " + std::to_string(-days) + " d ago");
    } else if (config_.cert_critical_days && days < *config_.cert_critical_days) {
      problem(ProblemKind::CertCritical, "certificate expires in " + std::to_string(days) +
                                             " d (critical " +
                                             std::to_string(*config_.cert_critical_days) + ")");
    } else if (config_.cert_warning_days && days < *config_.cert_warning_days) {
      problem(ProblemKind::CertWarning, "certificate expires in " + std::to_string(days) +
                                            " d (warning " +
                                            std::to_string(*config_.cert_warning_days) + ")");
    }
  }

  void collect(const smtp::Session& session) {
    for (const auto& f : session.findings()) {
      result_.problems.push_back({ProblemKind::Smtp, f.kind, describe(f), false});
    }
    // -R: each pattern checks the reply to the -C at the same position; every pair counts.
    int matched = 0;
    const auto& commands = session.commands();
    for (std::size_t i = 0; i < config_.responses.size() && i < commands.size(); ++i) {
      if (!commands[i].reply) continue;  // never sent: an earlier problem explains why
      const auto re = Regex::compile(config_.responses[i]);
      const std::string text = commands[i].reply->full_text();
      if (re && re->matches(text)) {
        ++matched;
      } else {
        problem(ProblemKind::ResponseMismatch, "reply to " + commands[i].command +
                                                   " does not match -R '" + config_.responses[i] +
                                                   "': " + commands[i].reply->first_line());
      }
    }
    // The facts an OK line lists.
    if (const auto& banner = session.banner(); banner && !banner->lines.empty()) {
      const std::string& first = banner->lines.front();
      const auto space = first.find(' ');
      if (space != std::string::npos && space + 1 < first.size()) {
        result_.facts.push_back(first.substr(space + 1));
      }
    }
    if (config_.proxy) {
      result_.facts.push_back(config_.proxy == net::ProxyVersion::V1 ? "PROXY v1" : "PROXY v2");
    }
    if (config_.bind) result_.facts.push_back("from " + local_.address());
    if (!tls_.version.empty()) {
      result_.facts.push_back((config_.starttls ? "STARTTLS " : "") + tls_.version + " " +
                              tls_.cipher);
      if (!tls_.dane_match.empty()) result_.facts.push_back("DANE " + tls_.dane_match + " matched");
      if (tls_.min_days_left)
        result_.facts.push_back("cert " + std::to_string(*tls_.min_days_left) + " d");
    }
    if (config_.auth_mechanism && session.phase() != smtp::Phase::Auth) {
      bool authenticated = true;
      for (const auto& f : session.findings()) {
        authenticated = authenticated && f.kind != smtp::FindingKind::AuthRejected &&
                        f.kind != smtp::FindingKind::AuthNotOffered;
      }
      if (authenticated && session.mail_reply())
        result_.facts.push_back("AUTH " +
                                std::string(auth_mechanism_name(*config_.auth_mechanism)));
    }
    if (session.used_helo()) result_.facts.push_back("EHLO not supported, HELO used");
    int accepted = 0;
    int refused = 0;
    for (const auto& r : session.recipients()) {
      if (!r.reply) continue;
      if (!r.recipient.expect_reject && r.reply->klass() == 2) ++accepted;
      if (r.recipient.expect_reject && r.reply->klass() == 5) ++refused;
    }
    if (!config_.rcpts.empty())
      result_.facts.push_back(std::to_string(accepted) + " rcpt accepted");
    if (!config_.reject_rcpts.empty()) {
      result_.facts.push_back(std::to_string(refused) + " rcpt rejected as expected");
    }
    if (session.message_accepted()) result_.facts.push_back("message accepted");
    if (!config_.responses.empty()) {
      result_.facts.push_back(std::to_string(matched) + "/" +
                              std::to_string(config_.responses.size()) + " -R matched");
    }
  }

  const Config& config_;
  const Clock::time_point start_;
  const net::Deadline deadline_;
  CheckResult result_;
  PhaseTimes times_;
  std::unique_ptr<dns::Resolver> resolver_;
  net::Endpoint local_;
  std::unique_ptr<net::Stream> stream_;  // TCP, then TLS
  net::TcpStream* tcp_ = nullptr;        // the TCP stream while it has the socket
  net::TlsFacts tls_;
  bool expiry_reported_ = false;
  std::vector<net::DaneRecord> dane_;           // --dane: the TLSA records found
  std::string helo_name_;                       // decided before connecting
  std::optional<dns::HeloLookup> helo_lookup_;  // after resolver_: it uses the channel
  std::optional<dns::ReverseLookup> reverse_lookup_;
  std::string untrusted_;     // why the TLS channel is up but not trusted, or ""
  bool prepare_tls_ = false;  // STARTTLS sent: build the TLS context before reading the reply
};

}  // namespace

namespace {

// --mx: the domain's MX hosts (RFC 5321 §5.1), each checked by a Runner of its own.
class MxRunner {
 public:
  explicit MxRunner(const Config& config)
      : config_(config), start_(Clock::now()), deadline_(start_ + config.timeout) {}

  CheckResult run() {
    const std::string& domain = *config_.mx;
    CheckResult out;
    out.host = domain;
    out.port = config_.port;
    out.endpoint = domain + " MX";
    std::string error;
    auto resolver = dns::Resolver::create(config_.dns_servers, error);
    if (!resolver) {
      out.problems.push_back({ProblemKind::Internal, {}, error});
      return finish(std::move(out));
    }
    const auto t0 = Clock::now();
    const dns::MxResult mx = dns::lookup_mx(*resolver, domain, deadline_);
    const double mx_seconds = seconds_between(t0, Clock::now());
    std::vector<std::string> hosts;
    std::size_t preferred = 0;  // how many hosts share the lowest preference
    switch (mx.status) {
      case dns::Status::Ok:
        if (mx.null_mx) {
          out.problems.push_back(
              {ProblemKind::Resolve, {}, domain + " accepts no mail (null MX, RFC 7505)", true});
          return finish(std::move(out));
        }
        for (const auto& h : mx.hosts) {
          if (std::find(hosts.begin(), hosts.end(), h.host) == hosts.end()) hosts.push_back(h.host);
          if (h.preference == mx.hosts.front().preference) ++preferred;
        }
        break;
      case dns::Status::NoData:
        hosts = {domain};  // RFC 5321 §5.1: no MX, the domain is its own mail host
        preferred = 1;
        break;
      case dns::Status::Timeout:
        if (!deadline_.expired()) {  // c-ares gave up before -t did: a DNS failure
          out.problems.push_back(
              {ProblemKind::Resolve, {}, "cannot resolve MX of " + domain + ": " + mx.error, true});
          return finish(std::move(out));
        }
        out.problems.push_back(
            {ProblemKind::Timeout,
             {},
             "timeout after " +
                 short_seconds(std::chrono::duration<double>(config_.timeout).count()) +
                 " s waiting for MX of " + domain,
             true});
        return finish(std::move(out));
      default:
        out.problems.push_back(
            {ProblemKind::Resolve, {}, "cannot resolve MX of " + domain + ": " + mx.error, true});
        return finish(std::move(out));
    }
    std::string list;
    for (const auto& h : mx.hosts) list += " " + std::to_string(h.preference) + " " + h.host;
    note(out, "* MX of " + domain + ":" + (list.empty() ? " none, the domain itself" : list));
    return config_.mx_all ? check_all(std::move(out), hosts, mx_seconds)
                          : check_preferred(std::move(out), hosts, preferred, mx_seconds);
  }

 private:
  void note(CheckResult& r, std::string line) const {
    if (config_.verbosity > 0) r.transcript.push_back(std::move(line));
  }

  CheckResult check_host(const std::string& host) const {
    Config c = config_;
    c.host = host;
    c.mx.reset();
    return Runner(c, start_, deadline_).run();
  }

  static bool unreachable(const CheckResult& r) {
    return std::any_of(r.problems.begin(), r.problems.end(), [](const Problem& p) {
      return p.kind == ProblemKind::Resolve || p.kind == ProblemKind::Connect;
    });
  }

  // The most preferred host; among equal preferences the next one when one cannot be reached.
  CheckResult check_preferred(CheckResult head, const std::vector<std::string>& hosts,
                              std::size_t preferred, double mx_seconds) const {
    CheckResult r;
    for (std::size_t i = 0; i < preferred; ++i) {
      r = check_host(hosts[i]);
      if (!unreachable(r) || i + 1 == preferred || deadline_.expired()) break;
      note(head, "* " + hosts[i] + " cannot be reached; trying the next MX of equal preference");
      for (auto& line : r.transcript) head.transcript.push_back(std::move(line));
    }
    r.transcript.insert(r.transcript.begin(), head.transcript.begin(), head.transcript.end());
    r.timings.insert(r.timings.begin(), Timing{"mx", mx_seconds});
    r.total_seconds = seconds_between(start_, Clock::now());
    return r;
  }

  // --mx-all: every host, each a sub-result; the worst state wins.
  CheckResult check_all(CheckResult out, const std::vector<std::string>& hosts,
                        double mx_seconds) const {
    out.timings.push_back({"mx", mx_seconds});
    int ok = 0;
    for (const auto& host : hosts) {
      const CheckResult sub = check_host(host);
      const Evaluation eval = evaluate(sub, config_);
      if (eval.state == State::Ok) ++ok;
      for (const auto& rated : eval.problems) {
        Problem p = rated.problem;
        if (!p.names_endpoint) p.text = sub.endpoint + " " + p.text;
        p.names_endpoint = true;
        out.problems.push_back(std::move(p));
      }
      // Perfdata labels per host: "mx1.example.org_banner".
      for (const auto& t : sub.timings) out.timings.push_back({host + "_" + t.label, t.seconds});
      if (sub.cert_days && (!out.cert_days || *sub.cert_days < *out.cert_days)) {
        out.cert_days = sub.cert_days;
      }
      note(out, "* MX host " + sub.endpoint + ": " + std::string(state_name(eval.state)));
      for (const auto& line : sub.transcript) out.transcript.push_back(line);
    }
    out.facts.push_back(std::to_string(ok) + "/" + std::to_string(hosts.size()) + " MX hosts OK");
    return finish(std::move(out));
  }

  CheckResult finish(CheckResult r) const {
    r.total_seconds = seconds_between(start_, Clock::now());
    return r;
  }

  const Config& config_;
  const Clock::time_point start_;
  const net::Deadline deadline_;
};

}  // namespace

CheckResult run_check(const Config& config) {
  if (config.mx) return MxRunner(config).run();
  const auto start = Clock::now();
  return Runner(config, start, net::Deadline(start + config.timeout)).run();
}

}  // namespace smtpverify::check
