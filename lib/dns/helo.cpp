#include "dns/helo.h"

#include <arpa/inet.h>
#include <netdb.h>

#include <algorithm>
#include <array>

#include "dns/ascii.h"

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
  if (either(ARES_ECONNREFUSED)) {
    a.status = Status::Error;  // refused at once: not a timeout (it took no time)
    a.error = "DNS server unreachable";
  } else if (either(ARES_ETIMEOUT) || either(ARES_ECANCELLED)) {
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

namespace smtpverify::dns {

struct ReverseLookup::State {
  ReverseAnswer answer;
  int pending = 1;
  bool done = false;
  std::vector<std::string> forward;
  void finish_one() {
    if (--pending == 0) {
      done = true;
      answer.forward_confirmed =
          std::find(forward.begin(), forward.end(), answer.address) != forward.end();
    }
  }
};

namespace {

// RFC 1035 §3.5 / RFC 3596 §2.5: 1.0.0.127.in-addr.arpa, or the nibbles of an IPv6 address.
std::string reverse_name(const std::string& address) {
  const auto ep = net::parse_ip_literal(address, 0);
  if (!ep) return {};
  std::string out;
  if (ep->family() == AF_INET) {
    const auto* a = reinterpret_cast<const unsigned char*>(
        &reinterpret_cast<const sockaddr_in*>(&ep->storage)->sin_addr);
    for (int i = 3; i >= 0; --i) out += std::to_string(a[i]) + ".";
    return out + "in-addr.arpa";
  }
  static constexpr char kHex[] = "0123456789abcdef";
  const auto* a = reinterpret_cast<const unsigned char*>(
      &reinterpret_cast<const sockaddr_in6*>(&ep->storage)->sin6_addr);
  for (int i = 15; i >= 0; --i) {
    out += kHex[a[i] & 0xf];
    out += '.';
    out += kHex[a[i] >> 4];
    out += '.';
  }
  return out + "ip6.arpa";
}

}  // namespace

ReverseLookup::ReverseLookup(Resolver& resolver, const std::string& address)
    : resolver_(resolver), state_(std::make_shared<State>()) {
  state_->answer.address = address;
  const std::string name = reverse_name(address);
  if (name.empty()) {
    state_->answer.error = "not an address";
    state_->pending = 0;
    state_->done = true;
    return;
  }
  std::weak_ptr<State> weak = state_;
  Resolver* r = &resolver_;
  resolver_.query(name, 12 /* PTR */, [weak, r](int status, const unsigned char* ans, int len) {
    const auto state = weak.lock();
    if (!state) return;
    hostent* host = nullptr;
    if (status == ARES_SUCCESS &&
        ares_parse_ptr_reply(ans, len, nullptr, 0, AF_INET, &host) == ARES_SUCCESS && host &&
        host->h_name) {
      state->answer.ptr = host->h_name;
    } else {
      state->answer.error = status == ARES_ENOTFOUND ? "NXDOMAIN"
                            : status == ARES_SUCCESS ? "no PTR record"
                                                     : ares_strerror(status);
    }
    if (host) ares_free_hostent(host);
    if (!state->answer.ptr.empty()) {
      // Forward-confirm: the PTR name's own A and AAAA must lead back to the address.
      for (const int type : {kTypeA, kTypeAaaa}) {
        ++state->pending;
        r->query(state->answer.ptr, type, [weak, type](int s, const unsigned char* a, int l) {
          const auto st = weak.lock();
          if (!st) return;
          if (s == ARES_SUCCESS) {
            for (auto& addr : parse_addresses(type, a, l)) st->forward.push_back(addr);
          }
          st->finish_one();
        });
      }
    }
    state->finish_one();
  });
}

bool ReverseLookup::finish(const net::Deadline& deadline) {
  if (state_->done) return true;
  return resolver_.run(deadline, state_->done);
}

ReverseAnswer ReverseLookup::answer() const { return state_->answer; }

std::optional<std::string> hosts_canonical_name(std::string_view hosts_text,
                                                std::string_view name) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!hosts_text.empty()) {
    const auto nl = hosts_text.find('\n');
    std::string_view line = hosts_text.substr(0, nl);
    hosts_text = nl == std::string_view::npos ? std::string_view{} : hosts_text.substr(nl + 1);
    line = line.substr(0, line.find('#'));
    std::vector<std::string_view> fields;
    while (!line.empty()) {
      const auto start = std::find_if_not(line.begin(), line.end(), is_space);
      const auto end = std::find_if(start, line.end(), is_space);
      if (start != end) fields.emplace_back(&*start, static_cast<std::size_t>(end - start));
      line.remove_prefix(static_cast<std::size_t>(end - line.begin()));
    }
    // fields[0] is the address, fields[1] the canonical name, the rest aliases.
    for (std::size_t i = 1; i < fields.size(); ++i) {
      if (equal_ignoring_ascii_case(fields[i], name)) return std::string(fields[1]);
    }
  }
  return std::nullopt;
}

}  // namespace smtpverify::dns
