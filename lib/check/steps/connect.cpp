#include <cerrno>
#include <cstring>

#include "check/steps/steps.h"
#include "net/proxy_header.h"

namespace smtpverify::check {

namespace {

// The PROXY header goes first, before the greeting and before any TLS handshake.
Next send_proxy_header(Context& ctx, const net::Endpoint& peer) {
  const auto version = *ctx.config.proxy;
  const std::string header = net::proxy_header(version, ctx.local, peer);
  ctx.rec.log("C: " + net::describe_proxy_header(version, ctx.local, peer));
  const auto r = ctx.tcp->write_all(header, ctx.deadline);
  if (r) return Next::Continue;
  if (r.error().kind == net::IoError::Kind::Timeout) {
    ctx.timeout("the server to accept the PROXY header");
  } else {
    ctx.rec.problem(ProblemKind::Network,
                    std::string("connection lost while sending the PROXY header: ") +
                        std::strerror(r.error().error));
  }
  return Next::Stop;
}

// Connected: remember both ends, start the PTR lookup, and hand the socket to a stream.
Next connected(Context& ctx, net::Fd fd, const net::Endpoint& address) {
  ctx.set_endpoint(address);
  const auto local = net::local_endpoint(fd.get());
  if (!local) {  // the PROXY header and the HELO check would be built on nothing
    ctx.rec.problem(ProblemKind::Internal,
                    std::string("cannot read our local address: ") + std::strerror(errno));
    return Next::Stop;
  }
  ctx.local = *local;
  ctx.result.address = address.address();
  ctx.result.local_address = ctx.local.address();
  // The PTR of our address is reported (-v, JSON), never rated: asked only when shown.
  const auto& config = ctx.config;
  if (config.helo_dns != HeloDnsMode::Ignore &&
      (config.verbosity > 0 || config.output == OutputFormat::Json)) {
    if (auto* r = ctx.resolver_if_made()) ctx.reverse_lookup.emplace(*r, ctx.local.address());
  }
  ctx.rec.log("* connected to " + address.to_string() + " from " + ctx.local.to_string());
  auto tcp = std::make_unique<net::TcpStream>(std::move(fd));
  ctx.tcp = tcp.get();
  ctx.stream = std::move(tcp);
  return config.proxy ? send_proxy_header(ctx, address) : Next::Continue;
}

void no_connection(Context& ctx, const std::string& failures, const std::string& last_error) {
  if (ctx.addresses.size() == 1) {
    ctx.set_endpoint(ctx.addresses.front());
    ctx.rec.problem(ProblemKind::Connect,
                    "cannot connect to " + ctx.result.endpoint + ": " + last_error, true);
  } else {
    // When the cap cut the list, the line says so.
    const std::string tried = ctx.addresses_found > ctx.addresses.size()
                                  ? std::to_string(ctx.addresses.size()) + " of " +
                                        std::to_string(ctx.addresses_found) + " addresses tried: "
                                  : "";
    ctx.rec.problem(ProblemKind::Connect,
                    "cannot connect to " + ctx.host + " port " + std::to_string(ctx.config.port) +
                        " (" + tried + failures + ")",
                    true);
  }
}

}  // namespace

// Every address in order until one connects (contract §1 resolve/connect).
Next connect(Context& ctx) {
  const auto t0 = net::Clock::now();
  std::optional<net::Endpoint> from;
  if (ctx.config.bind) from = net::parse_ip_literal(*ctx.config.bind, 0);
  std::string failures;
  std::string last_error;
  for (const auto& address : ctx.addresses) {
    auto made = net::connect_tcp(address, from, ctx.deadline);
    if (made) {
      const Next next = connected(ctx, std::move(*made), address);
      if (next == Next::Continue)
        ctx.rec.time(smtp::Phase::Connect, seconds_between(t0, net::Clock::now()));
      return next;
    }
    const net::ConnectError& error = made.error();
    const std::string reason = std::strerror(error.error);
    if (error.at_bind) {
      ctx.rec.problem(ProblemKind::Bind, "cannot use -b " + *ctx.config.bind + ": " + reason, true);
      return Next::Stop;
    }
    ctx.rec.log("* connect to " + address.to_string() + " failed: " + reason);
    if (error.error == ETIMEDOUT && ctx.deadline.expired()) {
      ctx.set_endpoint(address);
      ctx.timeout("connect");
      return Next::Stop;
    }
    last_error = reason;
    failures += (failures.empty() ? "" : ", ") + address.to_string() + ": " + reason;
  }
  ctx.rec.time(smtp::Phase::Connect, seconds_between(t0, net::Clock::now()));
  no_connection(ctx, failures, last_error);
  return Next::Stop;
}

}  // namespace smtpverify::check
