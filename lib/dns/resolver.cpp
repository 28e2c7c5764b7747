#include "dns/resolver.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace smtpverify::dns {

namespace {

struct AddrinfoDeleter {
  void operator()(ares_addrinfo* ai) const { ares_freeaddrinfo(ai); }
};

// The outcome of one ares_getaddrinfo(), shared with its callback.
struct AddrinfoState {
  bool done = false;
  int status = ARES_ETIMEOUT;
  std::unique_ptr<ares_addrinfo, AddrinfoDeleter> result;
};

// Every c-ares callback argument is a heap-held function that c-ares hands back exactly once
// (answered, failed, or the channel destroyed); this takes it back and calls it.
template <typename Fn, typename... Args>
void call_once(void* arg, int status, int /*timeouts*/, Args... args) {
  const std::unique_ptr<Fn> fn(static_cast<Fn*>(arg));
  (*fn)(status, args...);
}

using AddrinfoCallback = std::function<void(int status, ares_addrinfo* result)>;

// ares_getaddrinfo() of `name`, run until answered or the deadline passed (then status
// ARES_ETIMEOUT and no result).
std::shared_ptr<AddrinfoState> addrinfo_lookup(ares_channel channel, Resolver& resolver,
                                               const std::string& name,
                                               const ares_addrinfo_hints& hints,
                                               const net::Deadline& deadline) {
  auto state = std::make_shared<AddrinfoState>();
  ares_getaddrinfo(channel, name.c_str(), nullptr, &hints,
                   &call_once<AddrinfoCallback, ares_addrinfo*>,
                   new AddrinfoCallback([state](int status, ares_addrinfo* result) {
                     state->done = true;
                     state->status = status;
                     state->result.reset(result);
                   }));
  resolver.run(deadline, state->done);
  return state;
}

}  // namespace

Status status_of(int ares_status) {
  switch (ares_status) {
    case ARES_SUCCESS:
      return Status::Ok;
    case ARES_ENOTFOUND:
      return Status::NxDomain;
    case ARES_ENODATA:
      return Status::NoData;
    case ARES_ESERVFAIL:
    case ARES_EREFUSED:
      return Status::ServFail;
    case ARES_ETIMEOUT:
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION:
      return Status::Timeout;
    default:  // ARES_ECONNREFUSED among them: refused at once, not a timeout
      return Status::Error;
  }
}

std::string status_words(int ares_status) {
  switch (ares_status) {
    case ARES_ENOTFOUND:
      return "NXDOMAIN";
    case ARES_ENODATA:
      return "no address records";
    case ARES_ESERVFAIL:
      return "SERVFAIL";
    case ARES_ETIMEOUT:
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION:
      return "DNS timeout";
    case ARES_EREFUSED:
      return "query REFUSED";
    case ARES_ECONNREFUSED:
      return "DNS server unreachable";
    case ARES_EBADRESP:
      return "malformed DNS answer";
    default:
      return ares_strerror(ares_status);
  }
}

std::vector<std::string> address_records(int type, const unsigned char* answer, int length) {
  // Through a hostent, which holds every address: the addrttl arrays hold as many as the
  // caller sized them for (issue 14 #9: 32 once hid our address as the 40th).
  hostent* host = nullptr;
  const int family = type == kTypeA ? AF_INET : AF_INET6;
  const int rc = type == kTypeA ? ares_parse_a_reply(answer, length, &host, nullptr, nullptr)
                                : ares_parse_aaaa_reply(answer, length, &host, nullptr, nullptr);
  std::vector<std::string> out;
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (rc == ARES_SUCCESS && host != nullptr && host->h_addrtype == family) {
    for (char** a = host->h_addr_list; a != nullptr && *a != nullptr; ++a) {
      if (inet_ntop(family, *a, text.data(), text.size()) != nullptr) out.emplace_back(text.data());
    }
  }
  if (host != nullptr) ares_free_hostent(host);
  return out;
}

bool is_host_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return false;
  std::size_t label = 0;
  for (const char c : name) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    const bool ldh =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ldh || ++label > 63) return false;
  }
  return label > 0;
}

std::string check_server_syntax(std::string_view server) {
  std::string_view host = server;
  std::string_view port;
  if (!server.empty() && server.front() == '[') {
    const auto close = server.find(']');
    if (close == std::string_view::npos) return "missing ']'";
    host = server.substr(1, close - 1);
    const auto rest = server.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return "expected ':PORT' after ']'";
      port = rest.substr(1);
    }
    if (!net::parse_ip_literal(host, 53) || host.find(':') == std::string_view::npos) {
      return "not an IPv6 address";
    }
  } else {
    const auto colon = server.find(':');
    if (colon != std::string_view::npos && server.find(':', colon + 1) != std::string_view::npos) {
      // A bare IPv6 address without a port.
      if (!net::parse_ip_literal(server, 53)) return "not an IP address";
      return {};
    }
    if (colon != std::string_view::npos) {
      host = server.substr(0, colon);
      port = server.substr(colon + 1);
    }
    if (!net::parse_ip_literal(host, 53) || host.find(':') != std::string_view::npos) {
      return "not an IP address";
    }
  }
  if (!port.empty() || (server.size() && server.back() == ':')) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value < 1 || value > 65535) {
      return "port must be 1-65535";
    }
  }
  return {};
}

tl::expected<std::unique_ptr<Resolver>, std::string> Resolver::create(
    const std::vector<std::string>& servers) {
  std::unique_ptr<Resolver> r(new Resolver());
  if (const int rc = ares_library_init(ARES_LIB_INIT_ALL); rc != ARES_SUCCESS) {
    return tl::make_unexpected(std::string("c-ares: ") + ares_strerror(rc));
  }
  r->library_initialised_ = true;
  ares_options options{};
  // NOCHECKRESP: without it c-ares 1.18 hides SERVFAIL/REFUSED behind a retry.
  options.flags = ARES_FLAG_NOCHECKRESP;
  // c-ares defaults could wait 75 s; our deadline bounds the whole lookup anyway.
  options.timeout = 1000;
  options.tries = 3;
  options.sock_state_cb = &Resolver::on_socket_state;
  options.sock_state_cb_data = r.get();
  const int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB;
  if (const int rc = ares_init_options(&r->channel_, &options, mask); rc != ARES_SUCCESS) {
    return tl::make_unexpected(std::string("c-ares: ") + ares_strerror(rc));
  }
  if (!servers.empty()) {
    std::string csv;
    for (const auto& s : servers) {
      if (!csv.empty()) csv += ',';
      csv += s;
    }
    if (const int rc = ares_set_servers_ports_csv(r->channel_, csv.c_str()); rc != ARES_SUCCESS) {
      return tl::make_unexpected(std::string("--dns-server: ") + ares_strerror(rc));
    }
  }
  return r;
}

Resolver::~Resolver() {
  // Calls every pending query's callback (ARES_EDESTRUCTION), which frees what it was handed.
  if (channel_ != nullptr) ares_destroy(channel_);
  if (library_initialised_) ares_library_cleanup();
}

void Resolver::on_socket_state(void* self, ares_socket_t fd, int readable, int writable) {
  auto& sockets = static_cast<Resolver*>(self)->sockets_;
  const auto it =
      std::find_if(sockets.begin(), sockets.end(), [fd](const Socket& s) { return s.fd == fd; });
  if (readable == 0 && writable == 0) {
    if (it != sockets.end()) sockets.erase(it);
    return;
  }
  if (it != sockets.end()) {
    it->read = readable != 0;
    it->write = writable != 0;
  } else {
    sockets.push_back({fd, readable != 0, writable != 0});
  }
}

bool Resolver::process(int wait_ms) {
  std::vector<pollfd> fds;
  for (const auto& s : sockets_) {
    fds.push_back({s.fd, static_cast<short>((s.read ? POLLIN : 0) | (s.write ? POLLOUT : 0)), 0});
  }
  const int ready = ::poll(fds.data(), fds.size(), wait_ms);
  if (ready < 0 && errno != EINTR) return false;
  if (ready > 0) {
    for (const auto& p : fds) {
      if (p.revents == 0) continue;
      const bool readable = (p.revents & (POLLIN | POLLERR | POLLHUP)) != 0;
      const bool writable = (p.revents & POLLOUT) != 0;
      ares_process_fd(channel_, readable ? p.fd : ARES_SOCKET_BAD,
                      writable ? p.fd : ARES_SOCKET_BAD);
    }
  }
  ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // due retries and timeouts
  return true;
}

bool Resolver::run(const net::Deadline& deadline, const bool& done) {
  while (!done) {
    if (deadline.expired()) return false;
    // Sleep until a socket is ready, c-ares' next retry timer, or our deadline: the earliest.
    const int left_ms = deadline.poll_timeout_ms();
    timeval max{left_ms / 1000, (left_ms % 1000) * 1000};
    timeval tv{};
    int wait_ms = left_ms;
    if (const timeval* t = ares_timeout(channel_, &max, &tv); t != nullptr) {
      wait_ms = static_cast<int>(t->tv_sec * 1000 + (t->tv_usec + 999) / 1000);
    }
    if (!process(wait_ms)) return false;
  }
  return true;
}

void Resolver::pump() { static_cast<void>(process(0)); }

void Resolver::query(const std::string& name, int type, QueryCallback done) {
  ares_query(channel_, name.c_str(), 1 /* C_IN */, type,
             &call_once<QueryCallback, unsigned char*, int>, new QueryCallback(std::move(done)));
}

void Resolver::send(std::string_view message, QueryCallback done) {
  ares_send(channel_, reinterpret_cast<const unsigned char*>(message.data()),
            static_cast<int>(message.size()), &call_once<QueryCallback, unsigned char*, int>,
            new QueryCallback(std::move(done)));
}

AddressResult Resolver::resolve(std::string_view host, int family, std::uint16_t port,
                                const net::Deadline& deadline) {
  AddressResult out;
  ares_addrinfo_hints hints{};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  const auto state = addrinfo_lookup(channel_, *this, std::string(host), hints, deadline);
  out.status = status_of(state->status);
  if (state->status != ARES_SUCCESS) {
    out.error = status_words(state->status);
    return out;
  }
  for (const ares_addrinfo_node* n = state->result ? state->result->nodes : nullptr; n != nullptr;
       n = n->ai_next) {
    net::Endpoint ep;
    if (n->ai_family == AF_INET && n->ai_addrlen >= sizeof(sockaddr_in)) {
      std::memcpy(&ep.storage, n->ai_addr, sizeof(sockaddr_in));
      reinterpret_cast<sockaddr_in*>(&ep.storage)->sin_port = htons(port);
      ep.length = sizeof(sockaddr_in);
    } else if (n->ai_family == AF_INET6 && n->ai_addrlen >= sizeof(sockaddr_in6)) {
      std::memcpy(&ep.storage, n->ai_addr, sizeof(sockaddr_in6));
      reinterpret_cast<sockaddr_in6*>(&ep.storage)->sin6_port = htons(port);
      ep.length = sizeof(sockaddr_in6);
    } else {
      continue;
    }
    out.addresses.push_back(ep);
  }
  if (out.addresses.empty()) {
    out.status = Status::NoData;
    out.error = status_words(ARES_ENODATA);
  }
  return out;
}

std::string Resolver::canonical_name(std::string_view host, const net::Deadline& deadline) {
  ares_addrinfo_hints hints{};
  hints.ai_flags = ARES_AI_CANONNAME;
  hints.ai_family = AF_UNSPEC;
  const auto state = addrinfo_lookup(channel_, *this, std::string(host), hints, deadline);
  if (state->status != ARES_SUCCESS || !state->result || state->result->name == nullptr) return {};
  return state->result->name;
}

}  // namespace smtpverify::dns
