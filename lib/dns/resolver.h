// DNS through c-ares, driven by poll() under the check's one deadline.
//
// One way through: every query hands c-ares a heap-held callback that c-ares calls exactly once
// (answered, failed, or the channel destroyed); callers keep their state in a shared_ptr the
// callback holds, and wait with run(). A query still pending at a deadline is left to the
// channel's destruction, never ares_cancel(), which would end every other query on the channel.
#pragma once

#include <ares.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "dns/tlsa.h"
#include "net/deadline.h"
#include "net/stream.h"

namespace smtpverify::dns {

/// RR types (RFC 1035 §3.2.2, RFC 3596 §2.1).
inline constexpr int kTypeA = 1;
inline constexpr int kTypePtr = 12;
inline constexpr int kTypeMx = 15;
inline constexpr int kTypeAaaa = 28;

/// How a lookup ended; NXDOMAIN, NODATA, SERVFAIL and timeout are told apart.
enum class Status { Ok, NxDomain, NoData, ServFail, Timeout, Error };

/// The Status of a c-ares status code (ARES_ECANCELLED and ARES_EDESTRUCTION: Timeout).
Status status_of(int ares_status);
/// A c-ares status code in words: "NXDOMAIN", "SERVFAIL", "DNS timeout", … The one mapping.
std::string status_words(int ares_status);

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
  static tl::expected<std::unique_ptr<Resolver>, std::string> create(
      const std::vector<std::string>& servers);
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
  /// exactly once: when it is answered, fails, or the resolver is destroyed.
  void query(const std::string& name, int type, QueryCallback done);
  /// Sends a whole query message as it is (c-ares matches the answer by its ID and question);
  /// `done` runs exactly once, as for query().
  void send(std::string_view message, QueryCallback done);
  /// Processes whatever answers are ready, without waiting (to overlap lookups with I/O).
  void pump();
  /// The TLSA records of `_PORT._tcp.HOST` (RFC 7672): a raw type-52 query on this channel.
  TlsaResult tlsa(const std::string& host, std::uint16_t port, const net::Deadline& deadline);
  /// Runs the channel until `done` turns true; false when the deadline passed first.
  bool run(const net::Deadline& deadline, const bool& done);

 private:
  Resolver() = default;
  static void on_socket_state(void* self, ares_socket_t fd, int readable, int writable);
  /// One round: poll the sockets for up to `wait_ms`, then let c-ares read, write and retry;
  /// false when poll() itself failed.
  bool process(int wait_ms);

  struct Socket {
    ares_socket_t fd;
    bool read;
    bool write;
  };
  ares_channel channel_ = nullptr;
  bool library_initialised_ = false;
  std::vector<Socket> sockets_;  // maintained by the socket-state callback
};

/// The addresses of an A (`type` 1) or AAAA (28) answer in text form, every one the answer
/// holds; empty when it holds none or cannot be parsed.
std::vector<std::string> address_records(int type, const unsigned char* answer, int length);

/// Validates one --dns-server value; returns "" or what is wrong.
std::string check_server_syntax(std::string_view server);

/// Whether a name from DNS (an MX exchange, a PTR target, a canonical name) is a plausible host
/// name: letter-digit-hyphen labels of 1..63 octets, at most 253 octets in all (not counting
/// one trailing dot, which is allowed). c-ares hands on any byte (spaces, '|', '=', control and
/// 8-bit bytes), so a caller must not print other names as they are.
bool is_host_name(std::string_view name);

}  // namespace smtpverify::dns
