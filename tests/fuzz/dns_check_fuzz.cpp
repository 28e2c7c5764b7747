// Fuzz target: the whole check (options → run_check → make_report → the Nagios line and the
// JSON), run in-process the way plugin/main.cpp runs it, against DNS answers made from the input.
// A loopback DNS server (UDP and TCP, one port) answers every query at once with the query's ID
// and question and an answer built from the input for its type (MX, A, AAAA, PTR, TLSA, anything
// else): any RCODE and flags, lying answer counts, owner names and MX/PTR/CNAME targets of
// arbitrary bytes (spaces, '|', '=', '\n', 8-bit, overlong labels, compression pointers anywhere),
// raw or cut RDATA, a raw tail. A loopback SMTP listener (220, 250, 221) lets the dialogue and
// the HELO-name and PTR lookups after it run.
//
// Whatever DNS says, the output must stay one line (plus the -v transcript) with one '|', a
// known state prefix, only contract perfdata labels, and one line of valid, printable JSON whose
// state is the exit code.
//
// Nothing leaves the machine: every A/AAAA RDATA the server sends is rewritten to 127.0.0.0/8,
// ::1 or ::ffff:127.0.0.0/104 after the message is built (walking every RR of it the way any
// parser must), and connect() is wrapped: a connection to an address that is neither loopback nor
// in /etc/hosts is an invariant failure (DNS gave no such address), one to a non-loopback address
// of /etc/hosts is refused without a packet.
//
// Input: variant:u8 then replies, each `head flags count [rep:u16] [delta:i8] record*count
// [tail]` (see decode_reply); queries of one type take that type's replies in turn.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "check/options.h"
#include "check/render.h"
#include "check/run_check.h"
#include "check/sanitize.h"
#include "fuzz/fuzz_check.h"
#include "smtp/phase.h"

namespace {

// ---------------------------------------------------------------------------------------------
// Nothing leaves the machine.

struct HostsAddresses {
  std::vector<in_addr_t> v4;
  std::vector<std::array<unsigned char, 16>> v6;
};

// The non-loopback addresses of /etc/hosts: c-ares reads that file before DNS, so a name the
// input finds there (e.g. ip6-allnodes) is a legitimate way to such an address.
const HostsAddresses& hosts_file_addresses() {
  static const HostsAddresses set = [] {
    HostsAddresses s;
    std::ifstream in("/etc/hosts");
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream words(line);
      std::string address;
      if (!(words >> address) || address.front() == '#') continue;
      in_addr a4{};
      in6_addr a6{};
      if (inet_pton(AF_INET, address.c_str(), &a4) == 1) s.v4.push_back(a4.s_addr);
      if (inet_pton(AF_INET6, address.c_str(), &a6) == 1) {
        std::array<unsigned char, 16> bytes{};
        std::memcpy(bytes.data(), &a6, 16);
        s.v6.push_back(bytes);
      }
    }
    return s;
  }();
  return set;
}

enum class Where { Loopback, HostsFile, Elsewhere };

Where where(const sockaddr* addr, socklen_t len) {
  if (addr == nullptr) return Where::Loopback;
  if (addr->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    if ((ntohl(in->sin_addr.s_addr) >> 24) == 127) return Where::Loopback;
    const auto& v4 = hosts_file_addresses().v4;
    return std::find(v4.begin(), v4.end(), in->sin_addr.s_addr) != v4.end() ? Where::HostsFile
                                                                            : Where::Elsewhere;
  }
  if (addr->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    const auto* b = reinterpret_cast<const unsigned char*>(&in6->sin6_addr);
    static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return Where::Loopback;
    if (std::memcmp(b, kMapped, 12) == 0 && b[12] == 127) return Where::Loopback;
    for (const auto& h : hosts_file_addresses().v6) {
      if (std::memcmp(h.data(), b, 16) == 0) return Where::HostsFile;
    }
    return Where::Elsewhere;
  }
  return Where::Loopback;  // AF_UNSPEC (dissolves a UDP association), AF_UNIX: local
}

}  // namespace

// Every connect() of the process comes here (the executable's definition comes first), c-ares'
// own sockets too.
extern "C" int connect(int fd, const sockaddr* addr, socklen_t len) {
  switch (where(addr, len)) {
    case Where::Loopback:
      return static_cast<int>(::syscall(SYS_connect, fd, addr, len));
    case Where::HostsFile:
      errno = ENETUNREACH;
      return -1;
    case Where::Elsewhere:
      break;
  }
  char text[INET6_ADDRSTRLEN] = "?";
  const void* a =
      addr->sa_family == AF_INET
          ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(addr)->sin_addr)
          : static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr);
  inet_ntop(addr->sa_family, a, text, sizeof text);
  std::fprintf(stderr, "connect to %s: an address no DNS answer, hosts file or option gave\n",
               text);
  FUZZ_CHECK(!"connect stays on the machine");
  return -1;
}

namespace {

// ---------------------------------------------------------------------------------------------
// The input, read like FuzzedDataProvider: past the end, every read gives zeros.

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  std::uint8_t u8() { return pos_ < data_.size() ? static_cast<std::uint8_t>(data_[pos_++]) : 0; }
  std::uint16_t u16() { return static_cast<std::uint16_t>((u8() << 8) | u8()); }
  std::string_view bytes(std::size_t n) {
    n = std::min(n, data_.size() - pos_);
    const auto out = data_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  [[nodiscard]] bool done() const { return pos_ >= data_.size(); }
  [[nodiscard]] std::size_t pos() const { return pos_; }
  void seek(std::size_t pos) { pos_ = std::min(pos, data_.size()); }

 private:
  std::string_view data_;
  std::size_t pos_ = 0;
};

constexpr std::uint16_t kTypeA = 1;
constexpr std::uint16_t kTypeCname = 5;
constexpr std::uint16_t kTypePtr = 12;
constexpr std::uint16_t kTypeMx = 15;
constexpr std::uint16_t kTypeAaaa = 28;
constexpr std::uint16_t kTypeTlsa = 52;
constexpr std::size_t kHeader = 12;
constexpr std::size_t kMaxBody = 65000;  // header, question and body fit a TCP message
constexpr std::size_t kUdpLimit = 512;   // RFC 1035 4.2.1; larger answers go TC, then TCP

// Reply slots by query type; a type without replies of its own takes the default.
enum Slot { kSlotMx, kSlotA, kSlotAaaa, kSlotPtr, kSlotTlsa, kSlotOther, kSlots };
// The type a slot's records have unless they say otherwise.
constexpr std::array<std::uint16_t, kSlots> kSlotType = {kTypeMx,  kTypeA,    kTypeAaaa,
                                                         kTypePtr, kTypeTlsa, kTypeCname};

Slot slot_of(std::uint16_t qtype) {
  switch (qtype) {
    case kTypeMx:
      return kSlotMx;
    case kTypeA:
      return kSlotA;
    case kTypeAaaa:
      return kSlotAaaa;
    case kTypePtr:
      return kSlotPtr;
    case kTypeTlsa:
      return kSlotTlsa;
    default:
      return kSlotOther;
  }
}

void put16(std::string& out, std::uint16_t v) {
  out += static_cast<char>(v >> 8);
  out += static_cast<char>(v & 0xff);
}

// One prepared reply: the header flags and counts, and everything after the question.
struct Reply {
  std::uint8_t flags = 0;  ///< rcode (low 4 bits), 0x10 TC, 0x20 AD, 0x40 AA, 0x80 CD
  std::uint16_t ancount = 0;
  std::string body;
};

// name := mode:u8 ...; mode & 3: 0 a compression pointer (to the question name, or with
// mode & 4 to any offset:u16), 1 the root, 2 dotted text len:u8 bytes (split at '.', empty
// pieces skipped, each label as long as its piece, so overlong labels happen; ends with the
// root, or with mode & 4 a pointer to the question name), 3 raw wire bytes len:u8 bytes as they
// are. `copy` >= 0 (a repeated record) puts a label with the copy's number first.
void put_name(Reader& in, std::string& out, int copy) {
  const std::uint8_t mode = in.u8();
  const std::string number = copy >= 0 ? std::to_string(copy) : "";
  const auto label = [&out](std::string_view piece) {
    piece = piece.substr(0, 255);
    out += static_cast<char>(piece.size());
    out += piece;
  };
  switch (mode & 3) {
    case 0: {
      const std::uint16_t offset = (mode & 4) ? (in.u16() & 0x3fff) : kHeader;
      if (!number.empty()) label(number);
      put16(out, static_cast<std::uint16_t>(0xc000 | offset));
      return;
    }
    case 1:
      if (!number.empty()) label(number);
      out += '\0';
      return;
    case 2: {
      const std::string_view text = in.bytes(in.u8());
      if (!number.empty()) label(number);
      for (std::size_t start = 0; start <= text.size();) {
        const std::size_t dot = std::min(text.find('.', start), text.size());
        if (dot > start) label(text.substr(start, dot - start));
        start = dot + 1;
      }
      if (mode & 4) {
        put16(out, 0xc000 | kHeader);
      } else {
        out += '\0';
      }
      return;
    }
    default:
      out += in.bytes(in.u8());
      return;
  }
}

// record := kind:u8 ...; kind & 7 the type: 0 the slot's own, 1 CNAME, 2 A, 3 AAAA, 4 MX, 5 PTR,
// 6 TLSA, 7 any (u16); kind & 0x08 an owner name (else a pointer to the question name);
// kind & 0x80 a class (u16, else IN); kind & 0x10 raw RDATA len:u8 bytes instead of the type's
// own; kind & 0x20 RDLENGTH off by a signed delta (i8), so RDATA is cut or overruns; kind & 0x40
// a TTL (u16, else 300).
void put_record(Reader& in, std::string& out, int copy, std::uint16_t own_type) {
  const std::uint8_t kind = in.u8();
  static constexpr std::array<std::uint16_t, 7> kTypes = {0,       kTypeCname, kTypeA,   kTypeAaaa,
                                                          kTypeMx, kTypePtr,   kTypeTlsa};
  const std::uint16_t type = (kind & 7) == 0   ? own_type
                             : (kind & 7) == 7 ? in.u16()
                                               : kTypes[kind & 7];
  if (kind & 0x08) {
    put_name(in, out, -1);
  } else {
    put16(out, 0xc000 | kHeader);
  }
  put16(out, type);
  put16(out, (kind & 0x80) ? in.u16() : 1);
  put16(out, 0);
  put16(out, (kind & 0x40) ? in.u16() : 300);
  const int delta = (kind & 0x20) ? static_cast<std::int8_t>(in.u8()) : 0;
  const std::size_t length_at = out.size();
  put16(out, 0);
  const std::size_t start = out.size();
  if (kind & 0x10) {
    out += in.bytes(in.u8());
  } else if (type == kTypeA) {
    const auto b = in.bytes(4);
    out += b;
    out.append(4 - b.size(), '\0');
  } else if (type == kTypeAaaa) {
    out.append(16, '\0');
    out[start + 15] = static_cast<char>(in.u8());  // rewritten below, loopback either way
  } else if (type == kTypeMx) {
    put16(out, in.u16());
    put_name(in, out, copy);
  } else if (type == kTypePtr || type == kTypeCname || type == 2 /* NS */) {
    put_name(in, out, copy);
  } else if (type == kTypeTlsa) {
    out += in.bytes(3);
    out += in.bytes(in.u8());
  } else {
    out += in.bytes(in.u8());
  }
  const long length = static_cast<long>(out.size() - start) + delta;
  const auto rdlength = static_cast<std::uint16_t>(std::clamp(length, 0L, 65535L));
  out[length_at] = static_cast<char>(rdlength >> 8);
  out[length_at + 1] = static_cast<char>(rdlength & 0xff);
}

// Skips a name in place (labels up to a zero byte or a pointer); false past the end. As lenient
// as any parser: a parser that accepts the name ends it at the same place.
bool skip_name(std::string_view m, std::size_t& pos) {
  while (pos < m.size()) {
    const auto len = static_cast<std::uint8_t>(m[pos]);
    if (len == 0) {
      ++pos;
      return true;
    }
    if ((len & 0xc0) == 0xc0) {
      pos += 2;
      return pos <= m.size();
    }
    pos += 1 + len;
  }
  return false;
}

// Every A RDATA starts with 127, every AAAA RDATA is ::1 or ::ffff:127.x.y.z, whatever count
// of RRs a parser reads (the header's, or more): RR boundaries follow from the bytes alone.
void keep_addresses_on_loopback(std::string& body) {
  std::size_t pos = 0;
  while (pos < body.size()) {
    if (!skip_name(body, pos) || pos + 10 > body.size()) return;
    const auto type = static_cast<std::uint16_t>((static_cast<std::uint8_t>(body[pos]) << 8) |
                                                 static_cast<std::uint8_t>(body[pos + 1]));
    const std::size_t rdlength =
        (static_cast<std::uint8_t>(body[pos + 8]) << 8) | static_cast<std::uint8_t>(body[pos + 9]);
    pos += 10;
    const std::size_t n = std::min(rdlength, body.size() - pos);
    if (type == kTypeA && n > 0) body[pos] = 127;
    if (type == kTypeAaaa) {
      const bool one = n > 15 && (static_cast<std::uint8_t>(body[pos + 15]) & 1) != 0;
      static constexpr unsigned char kLoop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
      static constexpr unsigned char kMapped[13] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127};
      for (std::size_t i = 0; i < n && i < 16; ++i) {
        if (one) {
          body[pos + i] = static_cast<char>(kLoop[i]);
        } else if (i < 13) {
          body[pos + i] = static_cast<char>(kMapped[i]);
        }
      }
    }
    pos += rdlength;
  }
}

// reply := head:u8 flags:u8 count:u8 [rep:u16] [delta:i8] record*count [tail]
// head & 7: the slot (6, 7: the last); head & 0x20: the records are repeated rep % 1001 times,
// each copy's dotted names led by its number; head & 0x10: ANCOUNT off by delta; head & 0x08: a
// raw tail len:u8 bytes after the records.
Reply decode_reply(Reader& in, Slot& slot) {
  const std::uint8_t head = in.u8();
  slot = static_cast<Slot>(std::min<int>(head & 7, kSlotOther));
  Reply r;
  r.flags = in.u8();
  const std::size_t count = in.u8();
  const std::size_t rep = (head & 0x20) ? in.u16() % 1001 : 1;
  const int delta = (head & 0x10) ? static_cast<std::int8_t>(in.u8()) : 0;
  const std::size_t records_at = in.pos();
  std::size_t records_end = records_at;
  for (std::size_t c = 0; c < rep; ++c) {
    in.seek(records_at);
    for (std::size_t i = 0; i < count && r.body.size() < kMaxBody; ++i) {
      put_record(in, r.body, (head & 0x20) ? static_cast<int>(c) : -1, kSlotType[slot]);
    }
    records_end = std::max(records_end, in.pos());
  }
  in.seek(records_end);
  if (head & 0x08) r.body += in.bytes(in.u8());
  if (r.body.size() > kMaxBody) r.body.resize(kMaxBody);
  keep_addresses_on_loopback(r.body);
  const long ancount = static_cast<long>(count * rep) + delta;
  r.ancount = static_cast<std::uint16_t>(std::clamp(ancount, 0L, 65535L));
  return r;
}

// The answers of one input: up to 8 replies per slot, each slot's defaults otherwise (a name
// has 127.0.0.1 and no AAAA, no MX (the domain is its own host), no PTR, no TLSA).
struct Script {
  std::array<std::vector<Reply>, kSlots> replies;
};

Script decode_script(std::string_view input) {
  Script s;
  Reader in(input);
  while (!in.done()) {
    Slot slot = kSlotOther;
    Reply r = decode_reply(in, slot);
    if (s.replies[slot].size() < 8) s.replies[slot].push_back(std::move(r));
  }
  static constexpr std::array<std::string_view, kSlots> kDefaults = {
      std::string_view("\x00\x00\x00", 3),                      // MX: NODATA
      std::string_view("\x01\x00\x01\x00\x7f\x00\x00\x01", 8),  // A: 127.0.0.1
      std::string_view("\x02\x00\x00", 3),                      // AAAA: NODATA
      std::string_view("\x03\x03\x00", 3),                      // PTR: NXDOMAIN
      std::string_view("\x04\x03\x00", 3),                      // TLSA: NXDOMAIN
      std::string_view("\x05\x03\x00", 3),                      // others: NXDOMAIN
  };
  for (int i = 0; i < kSlots; ++i) {
    if (!s.replies[i].empty()) continue;
    Reader d(kDefaults[i]);
    Slot slot = kSlotOther;
    s.replies[i].push_back(decode_reply(d, slot));
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// The loopback servers: DNS on UDP and TCP, SMTP on TCP, one thread, one poll loop.

int nonblocking(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

int bound(int family, int type, std::uint16_t port, bool listening) {
  const int fd = ::socket(family, type | SOCK_CLOEXEC, 0);
  FUZZ_CHECK(fd >= 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    a->sin6_addr = in6addr_loopback;
    const int v6only = 1;
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    len = sizeof *a;
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
      (listening && ::listen(fd, 64) != 0)) {
    ::close(fd);
    return -1;
  }
  return nonblocking(fd);
}

std::uint16_t port_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

class Servers {
 public:
  Servers() {
    static_cast<void>(hosts_file_addresses());  // read now, not inside the first connect()
    // UDP and TCP on one port: the kernel picks the UDP one, whose TCP twin may be taken.
    for (int tries = 0; tries < 100 && dns_tcp_ < 0; ++tries) {
      if (udp_ >= 0) ::close(udp_);
      udp_ = bound(AF_INET, SOCK_DGRAM, 0, false);
      FUZZ_CHECK(udp_ >= 0);
      dns_port_ = port_of(udp_);
      dns_tcp_ = bound(AF_INET, SOCK_STREAM, dns_port_, true);
    }
    FUZZ_CHECK(dns_tcp_ >= 0);
    smtp4_ = bound(AF_INET, SOCK_STREAM, 0, true);
    FUZZ_CHECK(smtp4_ >= 0);
    smtp_port_ = port_of(smtp4_);
    smtp6_ = bound(AF_INET6, SOCK_STREAM, smtp_port_, true);  // -1 without IPv6: refused then
    closed_ = bound(AF_INET, SOCK_STREAM, 0, false);  // bound, never listening: refused at once
    FUZZ_CHECK(closed_ >= 0);
    closed_port_ = port_of(closed_);
    std::thread([this] { serve(); }).detach();
  }

  [[nodiscard]] std::uint16_t dns_port() const { return dns_port_; }
  [[nodiscard]] std::uint16_t smtp_port() const { return smtp_port_; }
  [[nodiscard]] std::uint16_t closed_port() const { return closed_port_; }

  void set_script(std::shared_ptr<const Script> script) {
    const std::lock_guard<std::mutex> lock(mutex_);
    script_ = std::move(script);
    served_.fill(0);
  }

 private:
  struct Conn {
    int fd;
    bool dns;  // else SMTP
    std::string in, out;
    bool close_after_write = false;
  };

  // The answer to one query, or "" for a message no resolver sends (then nothing is sent).
  std::string answer(std::string_view q, bool tcp) {
    if (q.size() < kHeader || (static_cast<std::uint8_t>(q[2]) & 0x80) != 0) return {};
    if (q[4] != 0 || q[5] != 1) return {};  // c-ares asks one question
    std::size_t end = kHeader;
    if (!skip_name(q, end) || end + 4 > q.size()) return {};
    const auto qtype = static_cast<std::uint16_t>((static_cast<std::uint8_t>(q[end]) << 8) |
                                                  static_cast<std::uint8_t>(q[end + 1]));
    end += 4;
    Reply reply;
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      if (!script_) return {};
      const Slot slot = slot_of(qtype);
      const auto& list = script_->replies[slot];
      reply = list[served_[slot]++ % list.size()];
    }
    std::string m(q.substr(0, 2));  // the ID
    const auto byte2 = static_cast<std::uint8_t>(q[2]);
    bool tc = (reply.flags & 0x10) != 0 && !tcp;
    const std::size_t size = end + reply.body.size();
    const bool too_big = !tcp && size > kUdpLimit;
    tc = tc || too_big;
    m += static_cast<char>(0x80 | (byte2 & 0x79) | ((reply.flags & 0x40) ? 0x04 : 0) |
                           (tc ? 0x02 : 0));
    m += static_cast<char>(0x80 | (reply.flags & 0x20) | ((reply.flags & 0x80) ? 0x10 : 0) |
                           (reply.flags & 0x0f));
    put16(m, 1);
    put16(m, too_big ? 0 : reply.ancount);
    put16(m, 0);
    put16(m, 0);
    m += q.substr(kHeader, end - kHeader);
    if (!too_big) m += reply.body;
    return m;
  }

  void smtp_lines(Conn& c) {
    for (std::size_t lf; (lf = c.in.find('\n')) != std::string::npos;) {
      std::string line = c.in.substr(0, lf);
      c.in.erase(0, lf + 1);
      for (auto& ch : line) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      if (line.rfind("QUIT", 0) == 0) {
        c.out += "221 2.0.0 bye\r\n";
        c.close_after_write = true;
        return;
      }
      c.out += line.rfind("EHLO", 0) == 0   ? "250-fuzz.test\r\n250 8BITMIME\r\n"
               : line.rfind("HELO", 0) == 0 ? "250 fuzz.test\r\n"
                                            : "250 2.0.0 ok\r\n";
    }
  }

  void dns_messages(Conn& c) {
    while (c.in.size() >= 2) {
      const std::size_t len =
          (static_cast<std::uint8_t>(c.in[0]) << 8) | static_cast<std::uint8_t>(c.in[1]);
      if (c.in.size() < 2 + len) return;
      const std::string a = answer(std::string_view(c.in).substr(2, len), true);
      c.in.erase(0, 2 + len);
      if (a.empty()) continue;
      put16(c.out, static_cast<std::uint16_t>(a.size()));
      c.out += a;
    }
  }

  void accept_from(int listener, bool dns) {
    for (;;) {
      const int fd = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      conns_.push_back({fd, dns, {}, dns ? "" : "220 fuzz.test ESMTP\r\n"});
    }
  }

  void serve() {
    std::vector<pollfd> fds;
    std::array<char, 65536> buf{};
    for (;;) {
      fds.clear();
      for (const int fd : {udp_, dns_tcp_, smtp4_, smtp6_}) fds.push_back({fd, POLLIN, 0});
      for (const auto& c : conns_) {
        fds.push_back({c.fd, static_cast<short>(POLLIN | (c.out.empty() ? 0 : POLLOUT)), 0});
      }
      if (::poll(fds.data(), fds.size(), -1) < 0) continue;
      if (fds[0].revents & POLLIN) {
        for (;;) {
          sockaddr_storage from{};
          socklen_t from_len = sizeof from;
          const ssize_t n = ::recvfrom(udp_, buf.data(), buf.size(), 0,
                                       reinterpret_cast<sockaddr*>(&from), &from_len);
          if (n < 0) break;
          const std::string a =
              answer(std::string_view(buf.data(), static_cast<std::size_t>(n)), false);
          if (!a.empty()) {
            ::sendto(udp_, a.data(), a.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
          }
        }
      }
      if (fds[1].revents & POLLIN) accept_from(dns_tcp_, true);
      if (fds[2].revents & POLLIN) accept_from(smtp4_, false);
      if (smtp6_ >= 0 && (fds[3].revents & POLLIN)) accept_from(smtp6_, false);
      const std::size_t polled = fds.size() - 4;  // conns_ may have grown since
      for (std::size_t i = 0; i < polled; ++i) {
        Conn& c = conns_[i];
        const short ev = fds[4 + i].revents;
        bool gone = false;
        if (ev & (POLLIN | POLLHUP | POLLERR)) {
          const ssize_t n = ::recv(c.fd, buf.data(), buf.size(), 0);
          if (n > 0) {
            c.in.append(buf.data(), static_cast<std::size_t>(n));
            if (c.dns) {
              dns_messages(c);
            } else {
              smtp_lines(c);
            }
          } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
            gone = true;
          }
        }
        if (!gone && !c.out.empty()) {
          const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
          if (n > 0) c.out.erase(0, static_cast<std::size_t>(n));
          if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) gone = true;
        }
        if (gone || (c.close_after_write && c.out.empty())) {
          ::close(c.fd);
          c.fd = -1;
        }
      }
      conns_.erase(
          std::remove_if(conns_.begin(), conns_.end(), [](const Conn& c) { return c.fd < 0; }),
          conns_.end());
    }
  }

  int udp_ = -1, dns_tcp_ = -1, smtp4_ = -1, smtp6_ = -1, closed_ = -1;
  std::uint16_t dns_port_ = 0, smtp_port_ = 0, closed_port_ = 0;
  std::vector<Conn> conns_;  // the server thread's own
  std::mutex mutex_;
  std::shared_ptr<const Script> script_;
  std::array<std::size_t, kSlots> served_{};
};

// ---------------------------------------------------------------------------------------------
// The check and what its output must be.

// The options of a variant. bits 0-1: -H fuzz.test, --mx fuzz.test, --mx-all too, -H with
// --each-address;
// 0x04: -S --dane; 0x08: -v; 0x10: --output json (which also asks the PTR of our address);
// 0x20: the SMTP port is closed; 0x40: the HELO name is looked up (else --helo-dns ignore);
// 0x80: --dane-insecure with --dane, else -w/-c thresholds.
std::vector<std::string> arguments(std::uint8_t variant, const Servers& servers) {
  std::vector<std::string> a = {"check_smtp_verify", "--dns-server",
                                "127.0.0.1:" + std::to_string(servers.dns_port()), "-t", "2"};
  const auto port = (variant & 0x20) ? servers.closed_port() : servers.smtp_port();
  a.insert(a.end(), {"-p", std::to_string(port)});
  switch (variant & 3) {
    case 0:
      a.insert(a.end(), {"-H", "fuzz.test"});
      break;
    case 1:
      a.insert(a.end(), {"--mx", "fuzz.test"});
      break;
    case 2:
      a.insert(a.end(), {"--mx", "fuzz.test", "--mx-all"});
      break;
    default:
      a.insert(a.end(), {"-H", "fuzz.test", "--each-address"});
      break;
  }
  if (variant & 0x04) a.insert(a.end(), {"-S", "--dane"});
  if (variant & 0x08) a.emplace_back("-v");
  if (variant & 0x10) a.insert(a.end(), {"--output", "json"});
  if (variant & 0x40) {
    a.insert(a.end(), {"-F", "helo.fuzz.test"});
  } else {
    a.insert(a.end(), {"-F", "probe.fuzz.test", "--helo-dns", "ignore"});
  }
  if ((variant & 0x84) == 0x84) {
    a.emplace_back("--dane-insecure");
  } else if (variant & 0x80) {
    a.insert(a.end(), {"-w", "1", "-c", "banner=2", "-w", "helo_dns=0.5"});
  }
  return a;
}

bool printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c >= 0x20 && c < 0x7f;
  });
}

bool is_phase(std::string_view label) {
  return std::any_of(smtpverify::smtp::kPhases.begin(), smtpverify::smtp::kPhases.end(),
                     [label](const auto& p) { return p.name == label; });
}

// The labels render.cpp (add_perf_items) makes: "time", each timing's label (a phase), then
// "cert_days"; with --mx-all each host's follow, perfdata_label(host + "_" + phase or
// "cert_days"), the host given "-2", "-3", ... when its labels would repeat another's; with
// --each-address each address's the same way (its colons made '_' by perfdata_label).
bool contract_label(std::string_view label, bool parts) {
  if (label == "time" || label == "cert_days" || is_phase(label)) return true;
  if (!parts || label.empty() || label.size() > smtpverify::check::kMaxLabelChars) return false;
  const bool safe = std::all_of(label.begin(), label.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
  if (!safe) return false;
  const auto prefixed = [label](std::string_view name) {
    const std::string suffix = "_" + std::string(name);
    return label.size() > suffix.size() && label.ends_with(suffix);
  };
  return prefixed("cert_days") ||
         std::any_of(smtpverify::smtp::kPhases.begin(), smtpverify::smtp::kPhases.end(),
                     [&prefixed](const auto& p) {
                       return p.phase != smtpverify::smtp::Phase::Mx && prefixed(p.name);
                     });
}

// label=VALUE[s];WARN;CRIT[;MIN]: a number, then only the ranges' own characters.
bool perf_value(std::string_view v) {
  std::size_t i = 0;
  if (i < v.size() && v[i] == '-') ++i;
  const std::size_t digits = i;
  while (i < v.size() && ((v[i] >= '0' && v[i] <= '9') || v[i] == '.')) ++i;
  if (i == digits) return false;
  if (i < v.size() && v[i] == 's') ++i;
  if (i == v.size() || v[i] != ';') return false;
  return std::count(v.begin(), v.end(), ';') >= 2 && std::count(v.begin(), v.end(), ';') <= 3 &&
         v.find_first_of("= '\"|") == std::string_view::npos;
}

void check_output(const smtpverify::check::Config& config, const smtpverify::check::Report& report,
                  const std::string& nagios, const std::string& json_text) {
  using namespace smtpverify::check;
  const int state = static_cast<int>(report.state);
  FUZZ_CHECK(state >= 0 && state <= 3);
  // The status line, and the transcript lines after it only with -v.
  FUZZ_CHECK(!nagios.empty() && nagios.back() == '\n');
  const std::string first = nagios.substr(0, nagios.find('\n'));
  if (config.verbosity == 0) FUZZ_CHECK(first.size() + 1 == nagios.size());
  FUZZ_CHECK(printable(first));
  for (std::size_t at = first.size() + 1; at < nagios.size();) {
    const std::size_t lf = nagios.find('\n', at);
    const std::string_view line(nagios.data() + at, lf - at);
    FUZZ_CHECK(printable(line) && line.find('|') == std::string_view::npos);
    at = lf + 1;
  }
  const std::string prefix = "SMTP " + std::string(state_name(report.state)) + " - ";
  FUZZ_CHECK(first.rfind(prefix, 0) == 0);
  FUZZ_CHECK(std::count(first.begin(), first.end(), '|') == 1);
  const std::size_t bar = first.find(" | ");
  FUZZ_CHECK(bar != std::string::npos && bar >= prefix.size());
  const std::string summary = first.substr(prefix.size(), bar - prefix.size());
  FUZZ_CHECK(summary == report.summary);
  const std::string perf = first.substr(bar + 3);
  std::vector<std::string> labels;
  for (std::size_t at = 0; at <= perf.size();) {
    const std::size_t sp = std::min(perf.find(' ', at), perf.size());
    const std::string item = perf.substr(at, sp - at);
    const std::size_t eq = item.find('=');
    FUZZ_CHECK(eq != std::string::npos && eq > 0);
    labels.push_back(item.substr(0, eq));
    FUZZ_CHECK(contract_label(labels.back(), config.mx_all || config.each_address));
    FUZZ_CHECK(perf_value(std::string_view(item).substr(eq + 1)));
    at = sp + 1;
  }
  FUZZ_CHECK(!labels.empty() && labels.front() == "time");
  // No two items share a label: a grapher would merge them (two --mx-all hosts "a b" and "a|b").
  std::vector<std::string> sorted = labels;
  std::sort(sorted.begin(), sorted.end());
  FUZZ_CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
  // The JSON: one printable line, the same state, summary and perfdata.
  FUZZ_CHECK(!json_text.empty() && json_text.back() == '\n');
  FUZZ_CHECK(printable(std::string_view(json_text).substr(0, json_text.size() - 1)));
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "JSON does not parse: %s\n", e.what());
    FUZZ_CHECK(!"the JSON parses");
  }
  FUZZ_CHECK(j.is_object() && j["state"].is_number_integer() && j["state"].get<int>() == state);
  FUZZ_CHECK(j["state_name"] == state_name(report.state));
  FUZZ_CHECK(j["summary"] == summary && j["perfdata"] == perf);
  // phases[] are the timings, the perfdata between time and cert_days, label for label.
  FUZZ_CHECK(j["phases"].is_array() && j["phases"].size() < labels.size());
  for (std::size_t i = 0; i < j["phases"].size(); ++i) {
    FUZZ_CHECK(j["phases"][i]["name"] == labels[i + 1]);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace smtpverify::check;
  static Servers servers;  // the harness's, once per process; lib/ keeps no state
  if (size < 1) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  servers.set_script(std::make_shared<const Script>(decode_script(input.substr(1))));
  const std::vector<std::string> args = arguments(data[0], servers);
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  ParsedOptions parsed = parse_options(static_cast<int>(args.size()), argv.data());
  FUZZ_CHECK(parsed.action == ParsedOptions::Action::Run);
  const auto t0 = std::chrono::steady_clock::now();
  const CheckResult result = run_check(parsed.config);
  // Every answer ends the check within -t (2 s), with slack for a loaded machine.
  FUZZ_CHECK(std::chrono::steady_clock::now() - t0 <
             parsed.config.timeout + std::chrono::seconds(1));
  const Report report = make_report(result, parsed.config);
  const std::string nagios = format_nagios(report);
  const std::string json = format_json(report, result);
  // SMTPVERIFY_FUZZ_SHOW=1: print what each input made (to write and check seeds).
  static const bool show = std::getenv("SMTPVERIFY_FUZZ_SHOW") != nullptr;
  if (show) std::fprintf(stderr, "%s%s", nagios.c_str(), json.c_str());
  check_output(parsed.config, report, nagios, json);
  return 0;
}
