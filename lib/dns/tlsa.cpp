#include "dns/tlsa.h"

#include <sys/random.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <random>

#include "dns/resolver.h"
#include "util/ascii.h"

namespace smtpverify::dns {

namespace {

using util::ascii_lower;

// RFC 1035 §4.1.1 header bits, RFC 4035 §3.2.3 AD, RFC 3225 §3 DO.
constexpr std::uint16_t kFlagQr = 0x8000;
constexpr std::uint16_t kFlagTc = 0x0200;
constexpr std::uint16_t kFlagAd = 0x0020;
constexpr std::uint16_t kRcodeFormErr = 1;
constexpr std::uint16_t kRcodeServFail = 2;
constexpr std::uint16_t kRcodeNxDomain = 3;
constexpr std::uint16_t kRcodeNotImp = 4;
constexpr std::uint16_t kRcodeRefused = 5;
constexpr std::uint16_t kTypeCname = 5;
constexpr std::uint16_t kTypeOpt = 41;  // RFC 6891 §6.1.2
constexpr std::uint16_t kClassIn = 1;
constexpr std::size_t kHeaderSize = 12;
constexpr std::size_t kMaxName = 255;  // RFC 1035 §3.1, wire form
constexpr std::size_t kMaxLabel = 63;  // RFC 1035 §2.3.4
// A name has at most 127 labels, so more pointers than that in one name is never needed.
constexpr int kMaxPointerHops = 127;
// Far longer than any sane chain; resolvers stop following after a handful of hops too.
constexpr int kMaxCnameHops = 16;
// DNS flag day 2020: a UDP size that avoids IP fragmentation.
constexpr std::uint16_t kEdnsUdpSize = 1232;
constexpr std::size_t kSha256Size = 32;
constexpr std::size_t kSha512Size = 64;

std::uint8_t byte_at(std::string_view msg, std::size_t pos) {
  return static_cast<std::uint8_t>(msg[pos]);
}

std::uint16_t get16(std::string_view msg, std::size_t pos) {
  return static_cast<std::uint16_t>(byte_at(msg, pos) << 8 | byte_at(msg, pos + 1));
}

void put16(std::string& out, std::uint16_t value) {
  out += static_cast<char>(value >> 8);
  out += static_cast<char>(value & 0xff);
}

// Names are compared in wire form, lower-cased (util/ascii.h): length-prefixed labels ending in
// a zero byte.

// A dotted name (one trailing dot allowed) in wire form; nullopt if it is not a valid name.
std::optional<std::string> wire_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string out;
  while (!name.empty()) {
    const std::size_t dot = name.find('.');
    const std::string_view label = name.substr(0, dot);
    if (label.empty() || label.size() > kMaxLabel) return std::nullopt;
    out += static_cast<char>(label.size());
    for (const char c : label) out += ascii_lower(c);
    if (dot == std::string_view::npos) break;
    name.remove_prefix(dot + 1);
    if (name.empty()) return std::nullopt;  // "a..": an empty last label
  }
  out += '\0';
  if (out.size() > kMaxName) return std::nullopt;
  return out;
}

// Reads a possibly compressed name at `pos` (RFC 1035 §4.1.4) into `wire` and moves `pos` past
// it. Every pointer must point below the start of the labels read since the last jump (and past
// the header), so each jump goes strictly backwards: no loop, and at most kMaxPointerHops.
bool read_name(std::string_view msg, std::size_t& pos, std::string& wire) {
  wire.clear();
  std::size_t p = pos;
  std::size_t floor = pos;
  bool jumped = false;
  int hops = 0;
  for (;;) {
    if (p >= msg.size()) return false;
    const std::uint8_t length = byte_at(msg, p);
    if ((length & 0xc0) == 0xc0) {
      if (p + 1 >= msg.size() || ++hops > kMaxPointerHops) return false;
      const std::size_t target = static_cast<std::size_t>(length & 0x3f) << 8 | byte_at(msg, p + 1);
      if (target >= floor || target < kHeaderSize) return false;
      if (!jumped) pos = p + 2;
      jumped = true;
      floor = target;
      p = target;
      continue;
    }
    if ((length & 0xc0) != 0) return false;  // 0x40/0x80 label types (RFC 6891 §5): unused
    if (length == 0) {
      wire += '\0';
      if (!jumped) pos = p + 1;
      return true;
    }
    if (p + 1 + length > msg.size() || wire.size() + 1 + length + 1 > kMaxName) return false;
    wire += static_cast<char>(length);
    for (std::size_t i = 0; i < length; ++i) wire += ascii_lower(msg[p + 1 + i]);
    p += 1 + length;
  }
}

// A wire name as text, for messages ("_25._tcp.mx.example.org"; the root is ".").
std::string text_of(std::string_view wire) {
  std::string out;
  std::size_t p = 0;
  while (p < wire.size() && wire[p] != '\0') {
    const auto length = static_cast<std::size_t>(byte_at(wire, p));
    if (!out.empty()) out += '.';
    out += wire.substr(p + 1, length);
    p += 1 + length;
  }
  return out.empty() ? "." : out;
}

TlsaResult failed(TlsaResult::Status status, std::string error, bool authenticated = false) {
  TlsaResult r;
  r.status = status;
  r.error = std::move(error);
  r.authenticated = authenticated;
  return r;
}

TlsaResult malformed(const std::string& what) {
  return failed(TlsaResult::Status::Malformed, "malformed TLSA answer: " + what);
}

// One resource record of the answer section, its RDATA left in place for names inside it.
struct AnswerRecord {
  std::string owner;  // wire form, lower case
  std::uint16_t type = 0;
  std::uint16_t klass = 0;
  std::size_t rdata_pos = 0;
  std::uint16_t rdata_length = 0;
};

// Follows CNAMEs from `owner` (RFC 1034 §3.6.2) and leaves it at the end of the chain, where
// the TLSA RRset sits; records of other owners and other types (RRSIG with DO) are skipped.
// "" or what is wrong.
std::string follow_cnames(std::string_view msg, const std::vector<AnswerRecord>& answers,
                          std::string& owner) {
  for (int hops = 0;; ++hops) {
    const AnswerRecord* alias = nullptr;
    for (const AnswerRecord& rr : answers) {
      if (rr.type == kTypeCname && rr.klass == kClassIn && rr.owner == owner) alias = &rr;
    }
    if (alias == nullptr) return {};
    if (hops == kMaxCnameHops) return "CNAME loop or chain too long";
    std::size_t target_pos = alias->rdata_pos;
    std::string target;
    if (!read_name(msg, target_pos, target) ||
        target_pos != alias->rdata_pos + alias->rdata_length) {
      return "bad CNAME target";
    }
    owner = std::move(target);
  }
}

// The checks of RFC 6698 §2.1 on one TLSA RDATA; "" when it is fine.
std::string check_tlsa_rdata(std::string_view rdata) {
  if (rdata.size() < 3) return "TLSA record of " + std::to_string(rdata.size()) + " bytes";
  const std::string params = std::to_string(byte_at(rdata, 0)) + " " +
                             std::to_string(byte_at(rdata, 1)) + " " +
                             std::to_string(byte_at(rdata, 2));
  const std::size_t data = rdata.size() - 3;
  if (data == 0) return "TLSA record " + params + " without association data";
  const std::uint8_t mtype = byte_at(rdata, 2);
  const std::size_t want = mtype == 1 ? kSha256Size : mtype == 2 ? kSha512Size : data;
  if (data != want) {
    return "TLSA record " + params + " with " + std::to_string(data) + " bytes of SHA-" +
           (mtype == 1 ? "256" : "512") + " data (expected " + std::to_string(want) + ")";
  }
  return {};
}

std::string rcode_words(std::uint16_t rcode) {
  switch (rcode) {
    case kRcodeFormErr:
      return "FORMERR";
    case kRcodeNotImp:
      return "NOTIMP";
    case kRcodeRefused:
      return "query REFUSED";
    default:
      return "DNS error RCODE " + std::to_string(rcode);
  }
}

struct AresStringFree {
  void operator()(unsigned char* p) const { ares_free_string(p); }
};

// One query on the channel and its outcome, shared with its callback.
struct Exchange {
  bool done = false;
  int status = ARES_ETIMEOUT;
  std::string answer;
};

// Sends `query` and runs the channel until it is answered or the deadline passes (then: status
// ARES_ETIMEOUT). The query itself stays with the channel (see dns/resolver.h).
Exchange send_query(Resolver& resolver, const std::string& query, const net::Deadline& deadline) {
  const auto exchange = std::make_shared<Exchange>();
  resolver.send(query, [exchange](int status, const unsigned char* answer, int length) {
    exchange->done = true;
    exchange->status = status;
    if (answer != nullptr && length > 0) {
      exchange->answer.assign(reinterpret_cast<const char*>(answer),
                              static_cast<std::size_t>(length));
    }
  });
  resolver.run(deadline, exchange->done);
  return exchange->done ? *exchange : Exchange{};
}

// A random query ID (RFC 5452): c-ares 1.18's ares_send() sends the ID it is given.
std::uint16_t random_id() {
  std::uint16_t id = 0;
  if (::getrandom(&id, sizeof(id), 0) == static_cast<ssize_t>(sizeof(id))) return id;
  std::random_device device;
  return static_cast<std::uint16_t>(device());
}

bool valid_host_text(std::string_view host) {
  for (const char c : host) {
    // A host name, not an address literal or anything c-ares would have to escape.
    if (c <= ' ' || c > '~' || c == '\\' || c == ':' || c == '"' || c == '(' || c == ')' ||
        c == ';' || c == '@' || c == '$') {
      return false;
    }
  }
  return !host.empty();
}

}  // namespace

std::string tlsa_name(std::string_view host, std::uint16_t port) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  return "_" + std::to_string(port) + "._tcp." + std::string(host);
}

std::string tlsa_text(const TlsaRecord& record) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = std::to_string(record.usage) + " " + std::to_string(record.selector) + " " +
                    std::to_string(record.mtype) + " ";
  for (const char c : record.data) {
    const auto b = static_cast<std::uint8_t>(c);
    out += kHex[b >> 4];
    out += kHex[b & 0x0f];
  }
  return out;
}

TlsaResult parse_tlsa_answer(std::string_view msg, std::string_view qname) {
  const std::optional<std::string> want = wire_name(qname);
  if (!want) return failed(TlsaResult::Status::Error, "not a DNS name: " + std::string(qname));
  if (msg.size() < kHeaderSize) return malformed("shorter than a DNS header");
  const std::uint16_t flags = get16(msg, 2);
  if ((flags & kFlagQr) == 0) return malformed("not a DNS response");
  if (((flags >> 11) & 0xf) != 0) return malformed("not a standard query response");
  const bool ad = (flags & kFlagAd) != 0;
  // RFC 1035 §4.1.1 RCODE; RFC 2308 §2.1 NXDOMAIN, §2.2 NODATA.
  const std::uint16_t rcode = flags & 0xf;
  if (rcode == kRcodeNxDomain) return failed(TlsaResult::Status::NoRecords, "NXDOMAIN", ad);
  if (rcode == kRcodeServFail) return failed(TlsaResult::Status::ServFail, "SERVFAIL", ad);
  if (rcode != 0) return failed(TlsaResult::Status::Error, rcode_words(rcode), ad);
  if ((flags & kFlagTc) != 0) {
    return failed(TlsaResult::Status::Error, "truncated DNS answer (TC bit)", ad);
  }

  if (get16(msg, 4) != 1) return malformed(std::to_string(get16(msg, 4)) + " questions");
  std::size_t pos = kHeaderSize;
  std::string name;
  if (!read_name(msg, pos, name) || pos + 4 > msg.size()) return malformed("bad question");
  if (name != *want || get16(msg, pos) != kTypeTlsa || get16(msg, pos + 2) != kClassIn) {
    return malformed("answers another question (" + text_of(name) + ")");
  }
  pos += 4;

  // Every RR of the answer section is read (and bounds-checked) before any is used. Each takes
  // at least 11 bytes, so the count cannot make us reserve more than the message's size.
  const std::uint16_t count = get16(msg, 6);
  std::vector<AnswerRecord> answers;
  answers.reserve(std::min<std::size_t>(count, (msg.size() - pos) / 11));
  for (std::uint16_t i = 0; i < count; ++i) {
    AnswerRecord rr;
    if (!read_name(msg, pos, rr.owner) || pos + 10 > msg.size()) {
      return malformed("answer record " + std::to_string(i + 1) + " is cut short");
    }
    rr.type = get16(msg, pos);
    rr.klass = get16(msg, pos + 2);
    rr.rdata_length = get16(msg, pos + 8);
    rr.rdata_pos = pos + 10;
    if (rr.rdata_pos + rr.rdata_length > msg.size()) {
      return malformed("answer record " + std::to_string(i + 1) + " runs past the end");
    }
    pos = rr.rdata_pos + rr.rdata_length;
    answers.push_back(std::move(rr));
  }

  std::string owner = *want;
  if (std::string problem = follow_cnames(msg, answers, owner); !problem.empty()) {
    return malformed(problem);
  }

  TlsaResult result;
  result.authenticated = ad;
  for (const AnswerRecord& rr : answers) {
    if (rr.type != kTypeTlsa || rr.klass != kClassIn || rr.owner != owner) continue;
    const std::string_view rdata = msg.substr(rr.rdata_pos, rr.rdata_length);
    if (std::string problem = check_tlsa_rdata(rdata); !problem.empty()) {
      TlsaResult bad = malformed(problem);
      bad.authenticated = ad;
      return bad;
    }
    result.records.push_back(
        {byte_at(rdata, 0), byte_at(rdata, 1), byte_at(rdata, 2), std::string(rdata.substr(3))});
  }
  if (result.records.empty()) {
    result.status = TlsaResult::Status::NoRecords;
    result.error = "no TLSA records (NODATA)";
  } else if (!ad) {
    result.status = TlsaResult::Status::Insecure;
    result.error = "TLSA answer not DNSSEC-authenticated (no AD bit)";
  } else {
    result.status = TlsaResult::Status::Ok;
  }
  return result;
}

std::string tlsa_query(std::string_view qname, std::uint16_t id, bool edns) {
  const std::string name(qname);
  unsigned char* buffer = nullptr;
  int length = 0;
  // The OPT RR is ours, not c-ares': 1.18 writes it with every flag zero, no way to set DO.
  const int rc = ares_create_query(name.c_str(), kClassIn, kTypeTlsa, id, 1, &buffer, &length, 0);
  const std::unique_ptr<unsigned char, AresStringFree> owned(buffer);
  if (rc != ARES_SUCCESS || buffer == nullptr || length < static_cast<int>(kHeaderSize)) return {};
  std::string query(reinterpret_cast<const char*>(buffer), static_cast<std::size_t>(length));
  // RFC 6840 §5.7: AD in a query asks for the AD bit in the answer, even without DO.
  query[3] = static_cast<char>(byte_at(query, 3) | kFlagAd);
  if (edns) {
    // RFC 6891 §6.1.2: root owner, type OPT, class = UDP payload size, TTL = extended RCODE 0,
    // version 0, flags with DO (RFC 3225 §3: DNSSEC OK), no options.
    query[10] = 0;  // ARCOUNT = 1 (ares_create_query wrote 0)
    query[11] = 1;
    query += '\0';
    put16(query, kTypeOpt);
    put16(query, kEdnsUdpSize);
    query += std::string("\0\0\x80\0", 4);
    put16(query, 0);
  }
  return query;
}

TlsaResult Resolver::tlsa(const std::string& host, std::uint16_t port,
                          const net::Deadline& deadline) {
  const std::string qname = tlsa_name(host, port);
  const std::string query =
      valid_host_text(host) && wire_name(qname) ? tlsa_query(qname, random_id()) : "";
  if (query.empty()) {
    return failed(TlsaResult::Status::Error, "not a host name for TLSA: '" + host + "'");
  }
  Exchange exchange = send_query(*this, query, deadline);
  // RFC 6891: a server that answers FORMERR without an OPT RR does not know EDNS; ask again
  // without it (the AD bit alone still asks for authentication, RFC 6840 §5.7).
  if (exchange.status == ARES_SUCCESS && exchange.answer.size() >= kHeaderSize &&
      (get16(exchange.answer, 2) & 0xf) == kRcodeFormErr && get16(exchange.answer, 10) == 0) {
    exchange = send_query(*this, tlsa_query(qname, random_id(), false), deadline);
  }
  switch (status_of(exchange.status)) {
    case Status::Ok:
      return parse_tlsa_answer(exchange.answer, qname);
    case Status::Timeout:  // c-ares' tries ran out, or our deadline passed
      return failed(TlsaResult::Status::Timeout, status_words(exchange.status));
    default:
      return failed(exchange.status == ARES_EBADRESP ? TlsaResult::Status::Malformed
                                                     : TlsaResult::Status::Error,
                    status_words(exchange.status));
  }
}

}  // namespace smtpverify::dns
