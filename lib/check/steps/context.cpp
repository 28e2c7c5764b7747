#include "check/steps/context.h"

#include <algorithm>

#include "check/render.h"

namespace smtpverify::check {

double seconds_between(net::Clock::time_point a, net::Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

void Recorder::time(smtp::Phase phase, double seconds) {
  const std::string_view label = smtp::phase_name(phase);
  for (auto& t : timings_) {
    if (t.label == label) {
      t.seconds += seconds;
      return;
    }
  }
  timings_.push_back({std::string(label), seconds});
}

void Recorder::start(smtp::Phase phase, net::Clock::time_point at) {
  stop(at);
  running_ = phase;
  since_ = at;
}

void Recorder::start_pipelined(smtp::Phase phase, net::Clock::time_point at) {
  stop(at);
  pipelined_.at(static_cast<std::size_t>(phase)) = at;
}

void Recorder::end_pipelined(smtp::Phase phase, net::Clock::time_point at) {
  auto& since = pipelined_.at(static_cast<std::size_t>(phase));
  if (since) time(phase, seconds_between(*since, at));
  since.reset();
}

void Recorder::stop(net::Clock::time_point at) {
  if (running_) time(*running_, seconds_between(since_, at));
  running_.reset();
}

void Recorder::log(const std::string& line) {
  if (verbosity_ == 0) return;
  if (verbosity_ > 1) {
    transcript_.push_back("[" + perf_seconds(seconds_between(start_, net::Clock::now())) + "] " +
                          line);
  } else {
    transcript_.push_back(line);
  }
}

void Recorder::problem(ProblemKind kind, std::string text, bool names_endpoint) {
  problems_.push_back({kind, {}, std::move(text), names_endpoint});
}

bool Recorder::has_problem(ProblemKind kind) const {
  return std::any_of(problems_.begin(), problems_.end(),
                     [kind](const Problem& p) { return p.kind == kind; });
}

void Recorder::finish(CheckResult& result) {
  result.timings = std::move(timings_);
  result.transcript = std::move(transcript_);
  result.exchanges = std::move(exchanges_);
  result.problems = std::move(problems_);
}

Context::Context(const Config& c, std::string target, net::Clock::time_point started,
                 net::Deadline until)
    : config(c),
      host(std::move(target)),
      start(started),
      deadline(until),
      rec(c.verbosity, started) {
  result.endpoint = host + ":" + std::to_string(config.port);
  result.host = host;
  result.port = config.port;
  // In the order the Plan sends them; summarize_dialogue fills in the replies.
  for (const auto& r : config.rcpts) result.recipients.push_back({r, false, 0});
  for (const auto& r : config.reject_rcpts) result.recipients.push_back({r, true, 0});
}

dns::Resolver* Context::resolver() {
  if (!resolver_) {
    auto made = dns::Resolver::create(config.dns_servers);
    if (!made) {
      rec.problem(ProblemKind::Internal, made.error());
      return nullptr;
    }
    resolver_ = std::move(*made);
  }
  return resolver_.get();
}

void Context::timeout(const std::string& waiting_for, const std::string& hint) {
  rec.problem(ProblemKind::Timeout,
              "timeout after " +
                  short_seconds(std::chrono::duration<double>(config.timeout).count()) +
                  " s waiting for " + waiting_for + " from " + result.endpoint + hint,
              true);
}

void Context::set_endpoint(const net::Endpoint& address) {
  result.endpoint = (host_is_literal() ? "" : host) + "[" + address.address() +
                    "]:" + std::to_string(address.port());
}

std::string Context::local_literal() const {
  return local.family() == AF_INET6 ? "[IPv6:" + local.address() + "]"
                                    : "[" + local.address() + "]";
}

bool Context::host_is_literal() const { return net::parse_ip_literal(host, 0).has_value(); }

}  // namespace smtpverify::check
