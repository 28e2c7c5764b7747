#include "dns/helo.h"

#include <arpa/inet.h>
#include <netdb.h>

#include <array>

namespace smtpverify::dns {

namespace {

constexpr int kTypeA = 1;
constexpr int kTypeAaaa = 28;

std::vector<std::string> parse_addresses(int type, const unsigned char* answer, int length) {
  std::vector<std::string> out;
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (type == kTypeA) {
    std::array<ares_addrttl, 32> ttls{};
    int n = static_cast<int>(ttls.size());
    if (ares_parse_a_reply(answer, length, nullptr, ttls.data(), &n) != ARES_SUCCESS) return out;
    for (int i = 0; i < n; ++i) {
      if (inet_ntop(AF_INET, &ttls[i].ipaddr, text.data(), text.size()))
        out.emplace_back(text.data());
    }
  } else {
    std::array<ares_addr6ttl, 32> ttls{};
    int n = static_cast<int>(ttls.size());
    if (ares_parse_aaaa_reply(answer, length, nullptr, ttls.data(), &n) != ARES_SUCCESS) return out;
    for (int i = 0; i < n; ++i) {
      if (inet_ntop(AF_INET6, &ttls[i].ip6addr, text.data(), text.size()))
        out.emplace_back(text.data());
    }
  }
  return out;
}

}  // namespace

HeloLookup::HeloLookup(Resolver& resolver, const std::string& name)
    : resolver_(resolver), state_(std::make_shared<State>()) {
  for (const int type : {kTypeA, kTypeAaaa}) {
    std::weak_ptr<State> weak = state_;
    resolver_.query(name, type, [weak, type](int status, const unsigned char* answer, int length) {
      const auto state = weak.lock();
      if (!state) return;
      (type == kTypeA ? state->status4 : state->status6) = status;
      if (status == ARES_SUCCESS) {
        (type == kTypeA ? state->v4 : state->v6) = parse_addresses(type, answer, length);
      }
      if (--state->pending == 0) {
        state->finished = std::chrono::steady_clock::now();
        state->finished_flag = true;
      }
    });
  }
}

bool HeloLookup::finish(const net::Deadline& deadline) {
  if (done()) return true;
  return resolver_.run(deadline, state_->finished_flag);
}

HeloAnswer HeloLookup::answer() const {
  HeloAnswer a;
  a.finished = state_->finished;
  a.addresses = state_->v4;
  a.addresses.insert(a.addresses.end(), state_->v6.begin(), state_->v6.end());
  if (!a.addresses.empty()) {
    a.status = Status::Ok;
    return a;
  }
  const int s4 = state_->status4;
  const int s6 = state_->status6;
  // The worst of the two tells: a failure beats "no such name" beats "no address".
  auto either = [&](int code) { return s4 == code || s6 == code; };
  if (either(ARES_ETIMEOUT) || either(ARES_ECONNREFUSED) || either(ARES_ECANCELLED)) {
    a.status = Status::Timeout;
    a.error = "DNS timeout";
  } else if (either(ARES_ESERVFAIL) || either(ARES_EREFUSED)) {
    a.status = Status::ServFail;
    a.error = either(ARES_EREFUSED) ? "DNS REFUSED" : "DNS SERVFAIL";
  } else if (either(ARES_ENOTFOUND)) {
    a.status = Status::NxDomain;
    a.error = "NXDOMAIN";
  } else if ((s4 == ARES_SUCCESS || s4 == ARES_ENODATA) &&
             (s6 == ARES_SUCCESS || s6 == ARES_ENODATA)) {
    a.status = Status::NoData;
    a.error = "no address records";
  } else {
    a.status = Status::Error;
    a.error = std::string("DNS error: ") + ares_strerror(s4 != ARES_SUCCESS ? s4 : s6);
  }
  return a;
}

std::optional<std::string> address_literal(const std::string& helo_name) {
  if (helo_name.size() < 3 || helo_name.front() != '[' || helo_name.back() != ']') {
    return std::nullopt;
  }
  std::string inner = helo_name.substr(1, helo_name.size() - 2);
  // RFC 5321 §4.1.3: IPv6 literals carry the "IPv6:" tag.
  if (inner.rfind("IPv6:", 0) == 0) inner = inner.substr(5);
  if (!net::parse_ip_literal(inner, 0)) return std::nullopt;
  return net::parse_ip_literal(inner, 0)->address();  // canonical text form
}

}  // namespace smtpverify::dns
