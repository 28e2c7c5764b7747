#include "dns/reverse.h"

#include <netdb.h>

#include <algorithm>
#include <memory>
#include <vector>

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

// The PTR name of an answer, or why there is none. c-ares 1.18 refuses a PTR name that is no
// host name (ARES_EBADRESP: "malformed DNS answer").
tl::expected<std::string, std::string> ptr_of(int status, const unsigned char* answer, int length) {
  if (status == ARES_ENODATA) return tl::make_unexpected(std::string("no PTR record"));
  if (status != ARES_SUCCESS) return tl::make_unexpected(status_words(status));
  hostent* host = nullptr;
  const int rc = ares_parse_ptr_reply(answer, length, nullptr, 0, AF_INET, &host);
  const std::unique_ptr<hostent, void (*)(hostent*)> owned(host, &ares_free_hostent);
  if (rc == ARES_SUCCESS && host != nullptr && host->h_name != nullptr) return host->h_name;
  if (rc == ARES_SUCCESS || rc == ARES_ENODATA) {
    return tl::make_unexpected(std::string("no PTR record"));
  }
  return tl::make_unexpected(status_words(rc));
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
  Resolver* r = &resolver_;
  resolver_.query(
      name, kTypePtr, [state = state_, r](int status, const unsigned char* ans, int len) {
        ReverseAnswer& answer = state->answer;
        const auto ptr = ptr_of(status, ans, len);
        answer.ptr = ptr.value_or("");
        if (!ptr) answer.error = ptr.error();
        answer.ptr_is_host_name = is_host_name(answer.ptr);
        if (!answer.ptr.empty()) {
          // Forward-confirm: the PTR name's own A and AAAA must lead back to the address.
          for (const int type : {kTypeA, kTypeAaaa}) {
            ++state->pending;
            r->query(answer.ptr, type, [state, type](int s, const unsigned char* a, int l) {
              if (s == ARES_SUCCESS) {
                for (auto& addr : address_records(type, a, l)) state->forward.push_back(addr);
              }
              state->finish_one();
            });
          }
        }
        state->finish_one();
      });
}

bool ReverseLookup::finish(const net::Deadline& deadline) {
  return resolver_.run(deadline, state_->done);
}

ReverseAnswer ReverseLookup::answer() const { return state_->answer; }

}  // namespace smtpverify::dns
