#include "fake_dns_server.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>

#include "socket_util.h"

namespace smtpverify::test {

namespace {

using detail::UniqueFd;

// RFC 1035 4.1.1 header flag bits and response codes.
constexpr uint16_t kFlagQr = 0x8000;
constexpr uint16_t kFlagTc = 0x0200;
constexpr uint16_t kFlagRd = 0x0100;
constexpr uint16_t kFlagRa = 0x0080;
constexpr uint16_t kFlagAd = 0x0020;  // RFC 4035 3.2.3
constexpr uint16_t kFlagCd = 0x0010;  // RFC 4035 3.2.2
constexpr uint16_t kRcodeNoError = 0;
constexpr uint16_t kRcodeFormErr = 1;
constexpr uint16_t kRcodeServFail = 2;
constexpr uint16_t kRcodeNxDomain = 3;
constexpr uint16_t kRcodeNotImp = 4;
constexpr uint16_t kRcodeRefused = 5;
constexpr uint16_t kTypeOpt = 41;  // RFC 6891
constexpr uint16_t kClassIn = 1;
constexpr size_t kHeaderSize = 12;
constexpr size_t kMaxName = 255;        // RFC 1035 3.1
constexpr size_t kMaxLabel = 63;        // RFC 1035 2.3.4
constexpr size_t kPlainUdpLimit = 512;  // RFC 1035 4.2.1
constexpr uint16_t kOurEdnsSize = 1232;
constexpr int kMaxPointerHops = 16;
constexpr size_t kMaxTcpClients = 64;

std::string lower_ascii(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Table key text: lower case, no trailing dot, root as "".
std::string normalize_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return lower_ascii(name);
}

void put16(std::string& out, uint16_t value) {
  out += static_cast<char>(value >> 8);
  out += static_cast<char>(value & 0xff);
}

void put32(std::string& out, uint32_t value) {
  put16(out, static_cast<uint16_t>(value >> 16));
  put16(out, static_cast<uint16_t>(value & 0xffff));
}

uint16_t get16(std::string_view bytes, size_t pos) {
  return static_cast<uint16_t>((static_cast<uint8_t>(bytes[pos]) << 8) |
                               static_cast<uint8_t>(bytes[pos + 1]));
}

// Reads a possibly compressed name at pos (RFC 1035 4.1.4) into labels and moves pos past it.
// Pointers must point strictly backwards and are limited in number, so a hostile message can
// neither loop nor read out of bounds.
bool read_name(std::string_view msg, size_t& pos, std::vector<std::string>& labels) {
  size_t p = pos;
  bool jumped = false;
  int hops = 0;
  size_t wire_length = 1;
  for (;;) {
    if (p >= msg.size()) return false;
    const auto length = static_cast<uint8_t>(msg[p]);
    if ((length & 0xc0) == 0xc0) {
      if (p + 1 >= msg.size() || ++hops > kMaxPointerHops) return false;
      const size_t target =
          static_cast<size_t>(length & 0x3f) << 8 | static_cast<uint8_t>(msg[p + 1]);
      if (target >= p) return false;
      if (!jumped) pos = p + 2;
      jumped = true;
      p = target;
      continue;
    }
    if ((length & 0xc0) != 0) return false;  // 0x40 and 0x80 label types are not in use.
    if (length == 0) {
      if (!jumped) pos = p + 1;
      return true;
    }
    wire_length += 1 + length;
    if (p + 1 + length > msg.size() || wire_length > kMaxName) return false;
    labels.emplace_back(msg.substr(p + 1, length));
    p += 1 + length;
  }
}

std::string encode_labels(const std::vector<std::string>& labels) {
  std::string out;
  for (const std::string& label : labels) {
    out += static_cast<char>(label.size());
    out += label;
  }
  out += '\0';
  return out;
}

// Skips one resource record; reports its type, class and TTL.
bool read_record_header(std::string_view msg, size_t& pos, uint16_t& type, uint16_t& klass,
                        uint32_t& ttl) {
  std::vector<std::string> ignored;
  if (!read_name(msg, pos, ignored) || pos + 10 > msg.size()) return false;
  type = get16(msg, pos);
  klass = get16(msg, pos + 2);
  ttl = static_cast<uint32_t>(get16(msg, pos + 4)) << 16 | get16(msg, pos + 6);
  const uint16_t rdlength = get16(msg, pos + 8);
  pos += 10;
  if (pos + rdlength > msg.size()) return false;
  pos += rdlength;
  return true;
}

// What the server understood of a query.
struct Query {
  uint16_t id = 0;
  uint16_t flags = 0;
  std::vector<std::string> labels;  // as asked, case preserved
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  bool edns = false;
  uint16_t udp_limit = kPlainUdpLimit;
  bool dnssec_ok = false;
};

enum class Parse { Ok, FormErr, NotImp, Ignore };

Parse parse_query(std::string_view msg, Query& query) {
  if (msg.size() < kHeaderSize) return Parse::Ignore;  // not even an ID to echo
  query.id = get16(msg, 0);
  query.flags = get16(msg, 2);
  if ((query.flags & kFlagQr) != 0) return Parse::Ignore;  // a response: never answer those
  if (((query.flags >> 11) & 0xf) != 0) return Parse::NotImp;
  if (get16(msg, 4) != 1) return Parse::FormErr;
  size_t pos = kHeaderSize;
  if (!read_name(msg, pos, query.labels) || pos + 4 > msg.size()) return Parse::FormErr;
  query.qtype = get16(msg, pos);
  query.qclass = get16(msg, pos + 2);
  pos += 4;
  // EDNS (RFC 6891 6.1): an OPT record in the additional section raises the UDP limit. A broken
  // trailer only costs the EDNS information, the question itself was fine.
  const int records = get16(msg, 6) + get16(msg, 8) + get16(msg, 10);
  for (int i = 0; i < records; ++i) {
    uint16_t type = 0;
    uint16_t klass = 0;
    uint32_t ttl = 0;
    if (!read_record_header(msg, pos, type, klass, ttl)) break;
    if (type == kTypeOpt) {
      query.edns = true;
      query.udp_limit = std::max<uint16_t>(klass, kPlainUdpLimit);
      query.dnssec_ok = (ttl & 0x8000) != 0;
    }
  }
  return Parse::Ok;
}

std::string header(const Query& query, uint16_t rcode, bool ad, bool tc, uint16_t qdcount,
                   uint16_t ancount, bool opt) {
  uint16_t flags = kFlagQr | (query.flags & 0x7800) | (query.flags & kFlagRd) | kFlagRa;
  flags |= query.flags & kFlagCd;
  if (ad) flags |= kFlagAd;
  if (tc) flags |= kFlagTc;
  flags |= rcode;
  std::string out;
  put16(out, query.id);
  put16(out, flags);
  put16(out, qdcount);
  put16(out, ancount);
  put16(out, 0);
  put16(out, opt ? 1 : 0);
  return out;
}

std::string question(const Query& query) {
  std::string out = encode_labels(query.labels);
  put16(out, query.qtype);
  put16(out, query.qclass);
  return out;
}

std::string opt_record(const Query& query) {
  std::string out(1, '\0');
  put16(out, kTypeOpt);
  put16(out, kOurEdnsSize);
  put32(out, query.dnssec_ok ? 0x8000 : 0);
  put16(out, 0);
  return out;
}

std::string encode_record(const DnsRecord& record) {
  std::string out = encode_dns_name(record.name);
  put16(out, record.type);
  put16(out, kClassIn);
  put32(out, record.ttl);
  put16(out, static_cast<uint16_t>(record.rdata.size()));
  out += record.rdata;
  return out;
}

// Builds a reply with the question echoed; records go to the answer section.
std::string reply(const Query& query, uint16_t rcode, bool ad, bool tc,
                  const std::vector<DnsRecord>& records) {
  std::string out =
      header(query, rcode, ad, tc, 1, static_cast<uint16_t>(records.size()), query.edns);
  out += question(query);
  for (const DnsRecord& record : records) out += encode_record(record);
  if (query.edns) out += opt_record(query);
  return out;
}

// Right ID and question, then one answer whose RDLENGTH claims far more bytes than follow: a
// client must reject it while parsing, after it has matched the reply to its query.
std::string garbage(const Query& query, bool ad) {
  std::string out = header(query, kRcodeNoError, ad, false, 1, 1, false);
  out += question(query);
  out += '\0';
  put16(out, query.qtype);
  put16(out, kClassIn);
  put32(out, 300);
  put16(out, 0xffff);
  out += "\x01\x02";
  return out;
}

std::string pack_address(int family, const std::string& text) {
  unsigned char bytes[16];
  if (::inet_pton(family, text.c_str(), bytes) != 1) {
    throw std::invalid_argument("not an IPv" + std::string(family == AF_INET ? "4" : "6") +
                                " address: " + text);
  }
  return std::string(reinterpret_cast<const char*>(bytes), family == AF_INET ? 4 : 16);
}

}  // namespace

std::string encode_dns_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string out;
  while (!name.empty()) {
    const size_t dot = name.find('.');
    const std::string_view label = name.substr(0, dot);
    if (label.empty() || label.size() > kMaxLabel) {
      throw std::invalid_argument("bad DNS label in '" + std::string(name) + "'");
    }
    out += static_cast<char>(label.size());
    out += label;
    name.remove_prefix(dot == std::string_view::npos ? name.size() : dot + 1);
    if (dot != std::string_view::npos && name.empty()) {
      throw std::invalid_argument("bad DNS name: empty last label");
    }
  }
  out += '\0';
  if (out.size() > kMaxName) throw std::invalid_argument("DNS name longer than 255 bytes");
  return out;
}

DnsRecord a_record(std::string name, std::string ipv4) {
  return {std::move(name), kDnsTypeA, 300, pack_address(AF_INET, ipv4)};
}

DnsRecord aaaa_record(std::string name, std::string ipv6) {
  return {std::move(name), kDnsTypeAaaa, 300, pack_address(AF_INET6, ipv6)};
}

DnsRecord mx_record(std::string name, uint16_t pref, std::string exchange) {
  std::string rdata;
  put16(rdata, pref);
  rdata += encode_dns_name(exchange);
  return {std::move(name), kDnsTypeMx, 300, std::move(rdata)};
}

DnsRecord ptr_record(std::string name, std::string target) {
  return {std::move(name), kDnsTypePtr, 300, encode_dns_name(target)};
}

DnsRecord cname_record(std::string name, std::string target) {
  return {std::move(name), kDnsTypeCname, 300, encode_dns_name(target)};
}

DnsRecord tlsa_record(std::string name, uint8_t usage, uint8_t selector, uint8_t mtype,
                      std::string data_bytes) {
  std::string rdata;
  rdata += static_cast<char>(usage);
  rdata += static_cast<char>(selector);
  rdata += static_cast<char>(mtype);
  rdata += data_bytes;
  return {std::move(name), kDnsTypeTlsa, 300, std::move(rdata)};
}

struct FakeDnsServer::Impl {
  explicit Impl(int family) : family_(family) {
    // UDP takes any free port; TCP must then get the same one, which another process may hold.
    for (int attempt = 0;; ++attempt) {
      udp_ = detail::bind_loopback(family, SOCK_DGRAM, 0);
      port_ = detail::local_port(udp_.get());
      try {
        tcp_ = detail::bind_loopback(family, SOCK_STREAM, port_);
        break;
      } catch (const std::system_error& e) {
        if (e.code() != std::errc::address_in_use || attempt >= 50) throw;
      }
    }
    if (::listen(tcp_.get(), 16) != 0) detail::throw_errno("listen");
    worker_.start([this] { run(); });
  }

  ~Impl() { worker_.stop(); }

  // One accepted TCP connection (RFC 1035 4.2.2: each message has a 2-byte length prefix).
  struct TcpClient {
    UniqueFd fd;
    std::string in;
    std::string out;
  };

  void run() {
    for (;;) {
      std::vector<pollfd> fds = {{worker_.wake().read_fd(), POLLIN, 0}, {udp_.get(), POLLIN, 0}};
      const bool can_accept = clients_.size() < kMaxTcpClients;
      fds.push_back({can_accept ? tcp_.get() : -1, POLLIN, 0});
      for (const TcpClient& client : clients_) {
        const short events = client.out.empty() ? POLLIN : POLLIN | POLLOUT;
        fds.push_back({client.fd.get(), events, 0});
      }
      if (::poll(fds.data(), fds.size(), -1) < 0) {
        if (errno == EINTR) continue;
        return;  // Nothing sensible left to do; the destructor still joins.
      }
      if (fds[0].revents != 0) return;
      if (fds[1].revents != 0) serve_udp();
      if (fds[2].revents != 0) accept_clients();
      // Only the clients that were polled; accept_clients() appends after them.
      for (size_t i = 0; i + 3 < fds.size(); ++i) {
        if (fds[i + 3].revents != 0) serve_tcp(clients_[i], fds[i + 3].revents);
      }
      std::erase_if(clients_, [](const TcpClient& client) { return !client.fd; });
    }
  }

  void serve_udp() {
    char buffer[65536];
    // A bounded batch keeps TCP clients served while UDP floods.
    for (int i = 0; i < 64; ++i) {
      sockaddr_storage peer{};
      socklen_t peer_length = sizeof(peer);
      const ssize_t n = ::recvfrom(udp_.get(), buffer, sizeof(buffer), 0,
                                   reinterpret_cast<sockaddr*>(&peer), &peer_length);
      if (n < 0) return;  // EAGAIN: drained (other errors: nothing to do for a datagram)
      const std::optional<std::string> response =
          respond(std::string_view(buffer, static_cast<size_t>(n)), false);
      if (!response) continue;
      ::sendto(udp_.get(), response->data(), response->size(), MSG_NOSIGNAL,
               reinterpret_cast<const sockaddr*>(&peer), peer_length);
    }
  }

  void accept_clients() {
    while (clients_.size() < kMaxTcpClients) {
      const int fd = ::accept4(tcp_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) return;
      clients_.push_back({UniqueFd(fd), {}, {}});
    }
  }

  void serve_tcp(TcpClient& client, short revents) {
    if ((revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      char buffer[65536];
      const ssize_t n = ::recv(client.fd.get(), buffer, sizeof(buffer), 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        client.fd.reset();
        return;
      }
      if (n > 0) client.in.append(buffer, static_cast<size_t>(n));
      // Several queries may arrive in one read, or one query over several reads.
      while (client.in.size() >= 2) {
        const size_t length = get16(client.in, 0);
        if (client.in.size() < 2 + length) break;
        const std::optional<std::string> response =
            respond(std::string_view(client.in).substr(2, length), true);
        client.in.erase(0, 2 + length);
        if (!response) continue;
        put16(client.out, static_cast<uint16_t>(response->size()));
        client.out += *response;
      }
    }
    if (!client.out.empty()) {
      const ssize_t n = ::send(client.fd.get(), client.out.data(), client.out.size(), MSG_NOSIGNAL);
      if (n > 0) {
        client.out.erase(0, static_cast<size_t>(n));
      } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        client.fd.reset();
      }
    }
  }

  std::optional<std::string> respond(std::string_view msg, bool tcp) {
    Query query;
    switch (parse_query(msg, query)) {
      case Parse::Ignore:
        return std::nullopt;
      case Parse::FormErr:
        return header(query, kRcodeFormErr, false, false, 0, 0, false);
      case Parse::NotImp:
        return header(query, kRcodeNotImp, false, false, 0, 0, false);
      case Parse::Ok:
        break;
    }
    const std::string name = normalize_name(join(query.labels));
    DnsAnswer answer;
    {
      const std::lock_guard lock(mutex_);
      ++counts_[{name, query.qtype}];
      const auto found = answers_.find({name, query.qtype});
      if (found == answers_.end()) {
        answer.kind = DnsAnswer::Kind::NxDomain;
      } else {
        answer = found->second;
      }
    }
    const bool ad = answer.authenticated_data;
    std::string out;
    switch (answer.kind) {
      case DnsAnswer::Kind::Drop:
        return std::nullopt;
      case DnsAnswer::Kind::Garbage:
        return garbage(query, ad);
      case DnsAnswer::Kind::NxDomain:
        return reply(query, kRcodeNxDomain, ad, false, {});
      case DnsAnswer::Kind::NoData:
        return reply(query, kRcodeNoError, ad, false, {});
      case DnsAnswer::Kind::ServFail:
        return reply(query, kRcodeServFail, ad, false, {});
      case DnsAnswer::Kind::Refused:
        return reply(query, kRcodeRefused, ad, false, {});
      case DnsAnswer::Kind::Truncated:
        if (!tcp) return reply(query, kRcodeNoError, ad, true, {});
        out = reply(query, kRcodeNoError, ad, false, answer.records);
        break;
      case DnsAnswer::Kind::Records:
        out = reply(query, kRcodeNoError, ad, false, answer.records);
        break;
    }
    // RFC 1035 4.2.1 / RFC 6891 6.2.5: too big for the client's UDP limit means TC and retry
    // over TCP; over TCP the 2-byte length prefix is the only limit.
    const size_t limit = tcp ? 65535 : query.udp_limit;
    if (out.size() > limit) return reply(query, kRcodeNoError, ad, true, {});
    return out;
  }

  static std::string join(const std::vector<std::string>& labels) {
    std::string out;
    for (const std::string& label : labels) {
      if (!out.empty()) out += '.';
      out += label;
    }
    return out;
  }

  using Key = std::pair<std::string, uint16_t>;

  const int family_;
  uint16_t port_ = 0;  // written before the thread starts, read-only afterwards
  UniqueFd udp_;
  UniqueFd tcp_;
  std::vector<TcpClient> clients_;  // background thread only
  detail::ServerThread worker_;     // ~Impl stops it before any member it reads goes

  mutable std::mutex mutex_;
  std::map<Key, DnsAnswer> answers_;  // guarded by mutex_
  std::map<Key, int> counts_;         // guarded by mutex_
};

FakeDnsServer::FakeDnsServer(int family) : impl_(std::make_unique<Impl>(family)) {}

FakeDnsServer::~FakeDnsServer() = default;

uint16_t FakeDnsServer::port() const { return impl_->port_; }

std::string FakeDnsServer::host() const { return detail::loopback_host(impl_->family_); }

std::string FakeDnsServer::address_port() const {
  const std::string port = std::to_string(impl_->port_);
  return impl_->family_ == AF_INET6 ? "[::1]:" + port : "127.0.0.1:" + port;
}

void FakeDnsServer::set(std::string name, uint16_t qtype, DnsAnswer answer) {
  const std::lock_guard lock(impl_->mutex_);
  impl_->answers_[{normalize_name(name), qtype}] = std::move(answer);
}

int FakeDnsServer::query_count(std::string name, uint16_t qtype) const {
  const std::lock_guard lock(impl_->mutex_);
  const auto found = impl_->counts_.find({normalize_name(name), qtype});
  return found == impl_->counts_.end() ? 0 : found->second;
}

}  // namespace smtpverify::test
