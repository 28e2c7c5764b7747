// DNS through c-ares, driven by poll() under the check's one deadline.
#pragma once

#include <ares.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dns/tlsa.h"
#include "net/deadline.h"
#include "net/stream.h"

namespace smtpverify::dns {

/// How a lookup ended; NXDOMAIN, NODATA, SERVFAIL and timeout are told apart.
enum class Status { Ok, NxDomain, NoData, ServFail, Timeout, Error };

/// The addresses of a name, or why there are none.
struct AddressResult {
  Status status = Status::Error;
  std::vector<net::Endpoint> addresses;  ///< in the order c-ares sorted them (RFC 6724)
  std::string error;                     ///< in words, empty when Ok
};

/// One c-ares channel. Not copyable; one per check.
class Resolver {
 public:
  /// `servers`: --dns-server values ("IP", "IP:PORT", "[IPv6]:PORT"); empty = resolv.conf.
  /// On failure returns nullptr and sets `error`.
  static std::unique_ptr<Resolver> create(const std::vector<std::string>& servers,
                                          std::string& error);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  /// A and/or AAAA of `host` (family AF_INET, AF_INET6 or AF_UNSPEC), with `port` filled in.
  AddressResult resolve(std::string_view host, int family, std::uint16_t port,
                        const net::Deadline& deadline);
  /// The canonical name of `host` (hosts file first, then DNS); "" when there is none.
  std::string canonical_name(std::string_view host, const net::Deadline& deadline);

  /// A finished raw query: c-ares status (ARES_SUCCESS, ARES_ENOTFOUND, …) and the answer.
  using QueryCallback = std::function<void(int status, const unsigned char* answer, int length)>;
  /// Sends a DNS query (class IN) for `name`/`type` now, never the hosts file; `done` runs
  /// when it is answered, fails, or the resolver is destroyed.
  void query(const std::string& name, int type, QueryCallback done);
  /// Processes whatever answers are ready, without waiting (to overlap lookups with I/O).
  void pump();
  /// The TLSA records of `_PORT._tcp.HOST` (RFC 7672): a raw type-52 query on this channel.
  TlsaResult tlsa(const std::string& host, std::uint16_t port, const net::Deadline& deadline);
  /// Runs the channel until `done` turns true; false when the deadline passed first.
  bool run(const net::Deadline& deadline, const bool& done);

 private:
  Resolver() = default;
  static void on_socket_state(void* self, ares_socket_t fd, int readable, int writable);

  struct Socket {
    ares_socket_t fd;
    bool read;
    bool write;
  };
  ares_channel channel_ = nullptr;
  bool library_initialised_ = false;
  std::vector<Socket> sockets_;  // maintained by the socket-state callback
};

/// Validates one --dns-server value; returns "" or what is wrong.
std::string check_server_syntax(std::string_view server);

}  // namespace smtpverify::dns
