// A scriptable DNS server (UDP and TCP on one loopback port) for component and end-to-end tests.
//
// It answers from a table the test fills with set(); it never recurses and knows no zones, so a
// test sees exactly the answers it wrote, including broken ones (drop, garbage, truncation).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace smtpverify::test {

/// RR type numbers (RFC 1035 3.2.2, RFC 3596, RFC 6698) used by the helpers and tests.
inline constexpr uint16_t kDnsTypeA = 1;
/// NS.
inline constexpr uint16_t kDnsTypeNs = 2;
/// CNAME.
inline constexpr uint16_t kDnsTypeCname = 5;
/// SOA.
inline constexpr uint16_t kDnsTypeSoa = 6;
/// PTR.
inline constexpr uint16_t kDnsTypePtr = 12;
/// MX.
inline constexpr uint16_t kDnsTypeMx = 15;
/// TXT.
inline constexpr uint16_t kDnsTypeTxt = 16;
/// AAAA.
inline constexpr uint16_t kDnsTypeAaaa = 28;
/// TLSA.
inline constexpr uint16_t kDnsTypeTlsa = 52;

/// Resource record to answer with (class IN).
struct DnsRecord {
  /// Owner name, e.g. "mail.example.test" (a trailing dot is allowed).
  std::string name;
  /// RR type, e.g. kDnsTypeA.
  uint16_t type = 0;
  /// Time to live in seconds.
  uint32_t ttl = 300;
  /// Raw wire RDATA.
  std::string rdata;
};

/// Encodes a dotted name as uncompressed wire labels; throws std::invalid_argument if a label is
/// empty or longer than 63 bytes or the name longer than 255 bytes. "" and "." are the root.
std::string encode_dns_name(std::string_view name);
/// An A record; ipv4 in dotted-quad form (throws std::invalid_argument otherwise).
DnsRecord a_record(std::string name, std::string ipv4);
/// An AAAA record; ipv6 in text form (throws std::invalid_argument otherwise).
DnsRecord aaaa_record(std::string name, std::string ipv6);
/// An MX record (RFC 1035 3.3.9).
DnsRecord mx_record(std::string name, uint16_t pref, std::string exchange);
/// A PTR record.
DnsRecord ptr_record(std::string name, std::string target);
/// A CNAME record.
DnsRecord cname_record(std::string name, std::string target);
/// A TLSA record (RFC 6698 2.1); data_bytes is the raw association data, not hex.
DnsRecord tlsa_record(std::string name, uint8_t usage, uint8_t selector, uint8_t mtype,
                      std::string data_bytes);

/// What to do for one (name, type) question.
struct DnsAnswer {
  /// The kind of reply.
  enum class Kind {
    Records,    ///< NOERROR with `records` in the answer section
    NxDomain,   ///< RCODE 3
    NoData,     ///< NOERROR, no answers
    ServFail,   ///< RCODE 2
    Refused,    ///< RCODE 5
    Drop,       ///< never answer (the query is still counted)
    Garbage,    ///< a reply with the right ID and question whose answer runs past the end
    Truncated,  ///< over UDP: TC bit and no answers; over TCP: `records` in full
  };
  /// The kind of reply.
  Kind kind = Kind::Records;
  /// Answer records for Records and Truncated.
  std::vector<DnsRecord> records;
  /// Sets the AD bit (RFC 4035 3.2.3) in the reply.
  bool authenticated_data = false;
};

/// A NOERROR answer with records r (AD bit: ad).
inline DnsAnswer records(std::vector<DnsRecord> r, bool ad = false) {
  return {DnsAnswer::Kind::Records, std::move(r), ad};
}

/// An answer of kind without records (AD bit: ad).
inline DnsAnswer of_kind(DnsAnswer::Kind kind, bool ad = false) { return {kind, {}, ad}; }

/// A DNS server on 127.0.0.1 or ::1 answering UDP and TCP on one port from a table.
///
/// Replies echo the ID, opcode, RD bit and question (in the case it was asked), set QR and RA,
/// and carry an OPT record when the query had one. A UDP reply larger than the client's limit
/// (512, or its EDNS size) goes out with TC set and no records. Questions not in the table get
/// NXDOMAIN. A malformed query gets FORMERR (another opcode than QUERY gets NOTIMP); a message
/// with a short header, or one that is itself a response, gets nothing.
class FakeDnsServer {
 public:
  /// Binds UDP and TCP on 127.0.0.1 (or ::1 when family == AF_INET6), one kernel-chosen port,
  /// and serves on a background thread. Throws std::system_error if it cannot.
  explicit FakeDnsServer(int family = AF_INET);
  /// Stops the thread promptly and closes every socket.
  ~FakeDnsServer();
  FakeDnsServer(const FakeDnsServer&) = delete;
  FakeDnsServer& operator=(const FakeDnsServer&) = delete;

  /// The port (the same for UDP and TCP).
  uint16_t port() const;
  /// The address listened on: "127.0.0.1" or "::1".
  std::string host() const;
  /// "127.0.0.1:PORT" or "[::1]:PORT", the form `--dns-server` and ares_set_servers_ports_csv
  /// take.
  std::string address_port() const;
  /// Sets the answer for questions matching name (case-insensitive, with or without trailing
  /// dot) and qtype, replacing any earlier one; safe while the server runs.
  void set(std::string name, uint16_t qtype, DnsAnswer answer);
  /// Number of queries received for name/qtype (both transports).
  int query_count(std::string name, uint16_t qtype) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace smtpverify::test
