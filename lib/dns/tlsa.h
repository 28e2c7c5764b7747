// TLSA records for DANE (RFC 6698, RFC 7671, RFC 7672): a raw type-52 query through c-ares
// (1.18 has no TLSA parser) and a bounded parser of the whole DNS answer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace smtpverify::dns {

/// The TLSA RR type (RFC 6698 §7.1).
inline constexpr std::uint16_t kTypeTlsa = 52;

/// One TLSA record (RFC 6698 §2.1).
struct TlsaRecord {
  std::uint8_t usage = 0;     ///< 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE (RFC 7218)
  std::uint8_t selector = 0;  ///< 0 whole certificate, 1 SubjectPublicKeyInfo
  std::uint8_t mtype = 0;     ///< matching type: 0 exact, 1 SHA-256, 2 SHA-512
  std::string data;           ///< certificate association data, raw bytes (never empty)
};

/// The TLSA records of one name, or why there are none.
struct TlsaResult {
  /// How the lookup ended.
  enum class Status {
    Ok,         ///< records, DNSSEC-authenticated (AD bit)
    NoRecords,  ///< NXDOMAIN or NODATA (`authenticated`: a secure denial)
    Insecure,   ///< records, but the answer had no AD bit (`records` still filled)
    ServFail,   ///< RCODE 2: often a DNSSEC validation failure (RFC 4035 §5.5)
    Timeout,    ///< no answer before the deadline or c-ares' retries ran out
    Malformed,  ///< the answer or a TLSA record in it is broken
    Error,      ///< anything else: REFUSED, FORMERR, server unreachable, ...
  };
  Status status = Status::Error;    ///< how the lookup ended
  std::vector<TlsaRecord> records;  ///< Ok and Insecure: the RRset in answer order
  bool authenticated = false;       ///< the AD bit of the answer (RFC 4035 §3.2.3)
  std::string error;                ///< in words, empty when Ok
};

/// "_25._tcp.mx.example.org": the TLSA owner name of a TCP service (RFC 6698 §3).
std::string tlsa_name(std::string_view host, std::uint16_t port);

/// The presentation form of a record (RFC 6698 §2.2): "3 1 1 " + lower-case hex data.
std::string tlsa_text(const TlsaRecord& record);

/// Parses a whole DNS response to a TLSA query for `qname`: header (AD bit, RCODE), question,
/// answer RRs (CNAMEs followed from `qname`, other types skipped), TLSA RDATA checked
/// (RFC 6698 §2.1). Pure and bounded: any input, no allocation beyond the message's size.
TlsaResult parse_tlsa_answer(std::string_view dns_message, std::string_view qname);

/// The TLSA query message for `qname` with ID `id` (class IN, RD): EDNS0 with the DO bit
/// (RFC 3225) and the AD bit (RFC 6840 §5.7), so a validating resolver reports authentication;
/// `edns` false: a plain RFC 1035 query (still AD). Empty when c-ares cannot encode the name.
std::string tlsa_query(std::string_view qname, std::uint16_t id, bool edns = true);

// The lookup itself is Resolver::tlsa() (dns/resolver.h).

}  // namespace smtpverify::dns
