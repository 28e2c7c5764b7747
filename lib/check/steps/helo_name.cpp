#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>

#include "check/steps/steps.h"
#include "dns/hosts.h"
#include "smtp/address_literal.h"

namespace smtpverify::check {

namespace {

// /etc/hosts answers first, as for `hostname -f`; read directly, it needs no c-ares channel
// when the name is there. nullopt: not decided by the file.
std::optional<std::string> fqdn_from_hosts(const std::string& name) {
  std::array<char, 16384> hosts;  // not zeroed: only what read() filled is used
  const net::Fd fd(::open("/etc/hosts", O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return std::nullopt;
  const ssize_t n = ::read(fd.get(), hosts.data(), hosts.size());
  if (n < 0 || static_cast<std::size_t>(n) >= hosts.size()) return std::nullopt;  // not whole
  const auto canonical =
      dns::hosts_canonical_name(std::string_view(hosts.data(), static_cast<std::size_t>(n)), name);
  if (!canonical) return std::nullopt;
  return canonical->find('.') != std::string::npos ? *canonical : "";
}

// RFC 5321 §4.1.4: the HELO name is the client's FQDN, or an address literal when it has none.
// The machine's FQDN, or "" when it has none (then the address literal is used, once the local
// address is known).
std::string machine_fqdn(Context& ctx) {
  std::array<char, 256> host{};
  if (::gethostname(host.data(), host.size() - 1) != 0) return {};
  std::string name = host.data();
  if (name.find('.') != std::string::npos || name.empty()) return name;
  if (auto from_file = fqdn_from_hosts(name)) return *from_file;
  if (dns::Resolver* r = ctx.resolver(); r != nullptr) {
    // Like `hostname -f`: the canonical name of our own name. Bounded to a second so a slow
    // resolver cannot eat the whole check.
    const net::Deadline short_deadline(
        std::min(ctx.deadline.at(), net::Clock::now() + std::chrono::seconds(1)));
    std::string canonical = r->canonical_name(name, short_deadline);
    if (canonical.find('.') != std::string::npos) return canonical;
  }
  return {};
}

// The PTR of our address and whether it resolves back: reported (-v, JSON), not rated.
void report_reverse_dns(Context& ctx) {
  if (!ctx.reverse_lookup || !ctx.reverse_lookup->finish(ctx.deadline)) return;
  const dns::ReverseAnswer a = ctx.reverse_lookup->answer();
  ctx.result.ptr = a.ptr;
  ctx.result.forward_confirmed = a.forward_confirmed;
  ctx.rec.log("* PTR of " + a.address + ": " +
              (a.ptr.empty() ? "none (" + a.error + ")"
                             : a.ptr + (a.forward_confirmed ? " (forward-confirmed)"
                                                            : " (does not resolve back)")));
}

// A finding about the HELO name: a problem (rated by --helo-dns; only reported by default when
// the name is the machine's own) and the JSON's dns.helo_finding.
void helo_problem(Context& ctx, std::string text) {
  ctx.result.helo_finding = text;
  if (ctx.config.helo_dns == HeloDnsMode::Report) {
    ctx.rec.log("* " + text +
                " (not rated: the machine's own name; rate it with -F or --helo-dns)");
  }
  ctx.rec.problem(ProblemKind::HeloDns, std::move(text));
}

// The finding for a finished lookup of `name`, compared with our address `local`: only the
// addresses of the family the connection used can be ours.
void rate_helo_answer(Context& ctx, const std::string& name, const std::string& local,
                      const dns::HeloAnswer& a) {
  const bool v6 = local.find(':') != std::string::npos;
  std::string list;
  std::string same_family;
  for (const auto& address : a.addresses) {
    list += (list.empty() ? "" : ", ") + address;
    if ((address.find(':') != std::string::npos) == v6) {
      same_family += (same_family.empty() ? "" : ", ") + address;
    }
  }
  ctx.rec.log("* HELO name " + name + ": " + (a.status == dns::Status::Ok ? list : a.error));
  switch (a.status) {
    case dns::Status::Ok:
      if (std::find(a.addresses.begin(), a.addresses.end(), local) != a.addresses.end()) return;
      if (same_family.empty()) {
        helo_problem(ctx, "HELO name " + name + " has no " + (v6 ? "AAAA" : "A") +
                              " record - our address is " + local + " (it has " + list + ")");
      } else {
        helo_problem(ctx, "HELO name " + name + " resolves to " + same_family +
                              " - not to our address " + local);
      }
      return;
    case dns::Status::NxDomain:
      helo_problem(ctx, "HELO name " + name + " does not resolve (NXDOMAIN)");
      return;
    case dns::Status::NoData:
      helo_problem(ctx, "HELO name " + name + " has no address records");
      return;
    default:
      helo_problem(ctx, "HELO name " + name + ": " + a.error);
      return;
  }
}

}  // namespace

// The HELO name is decided first, so its DNS lookup can run alongside connect and banner.
Next start_helo_lookup(Context& ctx) {
  ctx.helo_name = ctx.config.helo_name;
  if (ctx.helo_name.empty()) {
    const auto t0 = net::Clock::now();
    ctx.helo_name = machine_fqdn(ctx);
    ctx.helo_wait = net::Clock::now() - t0;
  }
  if (ctx.config.helo_dns == HeloDnsMode::Ignore || ctx.helo_name.empty() ||
      smtp::address_literal(ctx.helo_name)) {
    return Next::Continue;
  }
  if (auto* r = ctx.resolver()) ctx.helo_lookup.emplace(*r, ctx.helo_name);
  return Next::Continue;
}

// contract §1 helo_dns: the HELO name's A/AAAA must include our local socket address.
void check_helo_name(Context& ctx) {
  if (ctx.config.helo_dns == HeloDnsMode::Ignore || ctx.result.local_address.empty()) return;
  const std::string local = ctx.local.address();
  const std::string name = ctx.helo_name.empty() ? ctx.local_literal() : ctx.helo_name;
  ctx.result.helo_name = name;
  if (const auto literal = smtp::address_literal(name)) {
    if (*literal != local) helo_problem(ctx, "HELO " + name + " is not our address " + local);
    return;
  }
  if (!ctx.helo_lookup) return;
  if (!ctx.helo_lookup->finish(ctx.deadline)) {
    // Only worth saying if the check itself did not already time out.
    if (!ctx.rec.has_problem(ProblemKind::Timeout))
      helo_problem(ctx, "HELO name " + name + ": DNS timeout");
    return;
  }
  report_reverse_dns(ctx);
  const dns::HeloAnswer a = ctx.helo_lookup->answer();
  if (a.finished) ctx.rec.time(smtp::Phase::HeloDns, seconds_between(ctx.start, *a.finished));
  rate_helo_answer(ctx, name, local, a);
}

}  // namespace smtpverify::check
