// The TLSA answer parser (RFC 1035 §4.1, RFC 6698 §2.1) on hand-built DNS messages, and the
// query it sends. No sockets: every message is written out byte by byte here.
#include "dns/tlsa.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace smtpverify::dns {
namespace {

using Status = TlsaResult::Status;

constexpr std::string_view kQname = "_25._tcp.mx.example.org";
// Header flags: QR, RD, RA; AD (RFC 4035 §3.2.3); TC.
constexpr std::uint16_t kResponse = 0x8180;
constexpr std::uint16_t kAd = 0x0020;
constexpr std::uint16_t kTc = 0x0200;
constexpr std::uint16_t kTypeA = 1;
constexpr std::uint16_t kTypeCname = 5;
constexpr std::uint16_t kTypeSoa = 6;
constexpr std::uint16_t kTypeRrsig = 46;
// Offsets inside the question name, which starts right after the header at 12:
// \3_25 \4_tcp \2mx \7example \3org \0
constexpr std::uint16_t kAtQname = 12;
constexpr std::uint16_t kAtExampleOrg = 24;

std::string be16(std::uint16_t v) {
  return {static_cast<char>(v >> 8), static_cast<char>(v & 0xff)};
}

std::string be32(std::uint32_t v) {
  return be16(static_cast<std::uint16_t>(v >> 16)) + be16(static_cast<std::uint16_t>(v));
}

std::string pointer(std::uint16_t offset) {
  return be16(static_cast<std::uint16_t>(0xc000 | offset));
}

// Uncompressed wire form of a dotted name.
std::string wire(std::string_view dotted) {
  std::string out;
  while (!dotted.empty()) {
    const auto dot = dotted.find('.');
    const auto label = dotted.substr(0, dot);
    out += static_cast<char>(label.size());
    out += label;
    dotted.remove_prefix(dot == std::string_view::npos ? dotted.size() : dot + 1);
  }
  return out + '\0';
}

std::string header(std::uint16_t flags, std::uint16_t qd, std::uint16_t an, std::uint16_t ns = 0,
                   std::uint16_t ar = 0) {
  return be16(0x4242) + be16(flags) + be16(qd) + be16(an) + be16(ns) + be16(ar);
}

std::string question(std::string_view name = kQname, std::uint16_t type = kTypeTlsa) {
  return wire(name) + be16(type) + be16(1);
}

// One RR; `owner` is already in wire form (possibly a pointer).
std::string rr(const std::string& owner, std::uint16_t type, const std::string& rdata,
               std::uint16_t klass = 1) {
  return owner + be16(type) + be16(klass) + be32(300) +
         be16(static_cast<std::uint16_t>(rdata.size())) + rdata;
}

std::string tlsa(std::uint8_t usage, std::uint8_t selector, std::uint8_t mtype,
                 const std::string& data) {
  return std::string{static_cast<char>(usage), static_cast<char>(selector),
                     static_cast<char>(mtype)} +
         data;
}

const std::string kSha256(32, '\xab');
const std::string kSha512(64, '\xcd');

// A NOERROR answer to kQname with the given answer RRs.
std::string answer(std::uint16_t flags, std::uint16_t count, const std::string& records) {
  return header(flags, 1, count) + question() + records;
}

TEST(TlsaParse, OneRecordAuthenticated) {
  const auto r = parse_tlsa_answer(
      answer(kResponse | kAd, 1, rr(pointer(kAtQname), kTypeTlsa, tlsa(3, 1, 1, kSha256))), kQname);
  EXPECT_EQ(r.status, Status::Ok);
  EXPECT_TRUE(r.authenticated);
  EXPECT_EQ(r.error, "");
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].usage, 3);
  EXPECT_EQ(r.records[0].selector, 1);
  EXPECT_EQ(r.records[0].mtype, 1);
  EXPECT_EQ(r.records[0].data, kSha256);
}

TEST(TlsaParse, SeveralRecordsInAnswerOrder) {
  const std::string records = rr(wire(kQname), kTypeTlsa, tlsa(3, 1, 1, kSha256)) +
                              rr(pointer(kAtQname), kTypeTlsa, tlsa(2, 0, 2, kSha512)) +
                              rr(pointer(kAtQname), kTypeTlsa, tlsa(3, 0, 0, "DER bytes")) +
                              rr(pointer(kAtQname), kTypeTlsa, tlsa(3, 1, 255, "x"));
  const auto r = parse_tlsa_answer(answer(kResponse | kAd, 4, records), kQname);
  EXPECT_EQ(r.status, Status::Ok);
  ASSERT_EQ(r.records.size(), 4u);
  std::string hex;
  for (int i = 0; i < 32; ++i) hex += "ab";
  EXPECT_EQ(tlsa_text(r.records[0]), "3 1 1 " + hex);
  EXPECT_EQ(r.records[1].usage, 2);
  EXPECT_EQ(r.records[1].mtype, 2);
  EXPECT_EQ(r.records[1].data, kSha512);
  EXPECT_EQ(r.records[2].data, "DER bytes");  // mtype 0: any length
  EXPECT_EQ(r.records[3].mtype, 255);         // unknown mtype: kept, OpenSSL decides usability
}

TEST(TlsaParse, PresentationForm) {
  EXPECT_EQ(tlsa_text({3, 1, 1, std::string("\x00\x0f\xa0\xff", 4)}), "3 1 1 000fa0ff");
  EXPECT_EQ(tlsa_name("mx.example.org", 25), "_25._tcp.mx.example.org");
  EXPECT_EQ(tlsa_name("mx.example.org.", 465), "_465._tcp.mx.example.org");
}

TEST(TlsaParse, WithoutAdBitIsInsecureButKeepsTheRecords) {
  const auto r = parse_tlsa_answer(
      answer(kResponse, 1, rr(pointer(kAtQname), kTypeTlsa, tlsa(3, 1, 1, kSha256))), kQname);
  EXPECT_EQ(r.status, Status::Insecure);
  EXPECT_FALSE(r.authenticated);
  EXPECT_EQ(r.error, "TLSA answer not DNSSEC-authenticated (no AD bit)");
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].data, kSha256);
}

TEST(TlsaParse, CnameBeforeTlsaWithCompression) {
  // _25._tcp.mx.example.org CNAME tlsa.example.org (the target compressed against the
  // question), then the TLSA RRset owned by the target, its owner a pointer into the CNAME.
  std::string msg = header(kResponse | kAd, 1, 2) + question();
  const std::string cname_rdata = "\x04tlsa" + pointer(kAtExampleOrg);
  msg += rr(pointer(kAtQname), kTypeCname, cname_rdata);
  const auto target_at = static_cast<std::uint16_t>(msg.size() - cname_rdata.size());
  msg += rr(pointer(target_at), kTypeTlsa, tlsa(3, 1, 1, kSha256));
  const auto r = parse_tlsa_answer(msg, kQname);
  EXPECT_EQ(r.status, Status::Ok) << r.error;
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].data, kSha256);
}

TEST(TlsaParse, CnameChainOfTwoAndTlsaAtTheOldNameIgnored) {
  const std::string records =
      rr(wire(kQname), kTypeCname, wire("a.example.org")) +
      rr(wire("a.example.org"), kTypeCname, wire("b.example.org")) +
      rr(wire(kQname), kTypeTlsa, tlsa(3, 1, 1, std::string(32, '\x01'))) +  // beside a CNAME
      rr(wire("b.example.org"), kTypeTlsa, tlsa(3, 1, 1, kSha256));
  const auto r = parse_tlsa_answer(answer(kResponse | kAd, 4, records), kQname);
  EXPECT_EQ(r.status, Status::Ok) << r.error;
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].data, kSha256);
}

TEST(TlsaParse, CnameLoopIsMalformed) {
  const std::string records = rr(wire(kQname), kTypeCname, wire("a.example.org")) +
                              rr(wire("a.example.org"), kTypeCname, wire(kQname));
  const auto r = parse_tlsa_answer(answer(kResponse | kAd, 2, records), kQname);
  EXPECT_EQ(r.status, Status::Malformed);
  EXPECT_EQ(r.error, "malformed TLSA answer: CNAME loop or chain too long");
}

TEST(TlsaParse, CnameOnlyIsNoData) {
  const auto r = parse_tlsa_answer(
      answer(kResponse | kAd, 1, rr(wire(kQname), kTypeCname, wire("a.example.org"))), kQname);
  EXPECT_EQ(r.status, Status::NoRecords);
  EXPECT_EQ(r.error, "no TLSA records (NODATA)");
}

TEST(TlsaParse, NamesCompareCaseInsensitively) {
  const auto r = parse_tlsa_answer(
      answer(kResponse | kAd, 1,
             rr(wire("_25._TCP.Mx.EXAMPLE.org"), kTypeTlsa, tlsa(3, 1, 1, kSha256))),
      "_25._tcp.MX.example.ORG.");
  EXPECT_EQ(r.status, Status::Ok) << r.error;
  EXPECT_EQ(r.records.size(), 1u);
}

TEST(TlsaParse, OtherTypesClassesAndOwnersAreSkipped) {
  const std::string records =
      rr(pointer(kAtQname), kTypeRrsig, std::string(40, '\x07')) +              // with DO set
      rr(pointer(kAtQname), kTypeA, "\x7f\0\0\x01") +                           // stray
      rr(pointer(kAtQname), kTypeTlsa, tlsa(3, 1, 1, kSha256), 3) +             // class CH
      rr(wire("_26._tcp.mx.example.org"), kTypeTlsa, tlsa(3, 1, 1, kSha256)) +  // other port
      rr(pointer(kAtQname), kTypeTlsa, tlsa(2, 1, 1, kSha256));
  const auto r = parse_tlsa_answer(answer(kResponse | kAd, 5, records), kQname);
  EXPECT_EQ(r.status, Status::Ok) << r.error;
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].usage, 2);
}

TEST(TlsaParse, TlsaOfAnotherOwnerOnlyIsNoData) {
  const auto r = parse_tlsa_answer(
      answer(kResponse | kAd, 1,
             rr(wire("_25._tcp.other.example.org"), kTypeTlsa, tlsa(3, 1, 1, kSha256))),
      kQname);
  EXPECT_EQ(r.status, Status::NoRecords);
}

TEST(TlsaParse, RcodesNxDomainServFailAndOthers) {
  const auto nx = parse_tlsa_answer(header(kResponse | kAd | 3, 1, 0) + question(), kQname);
  EXPECT_EQ(nx.status, Status::NoRecords);
  EXPECT_EQ(nx.error, "NXDOMAIN");
  EXPECT_TRUE(nx.authenticated);  // a secure denial of existence
  const auto nx_bare = parse_tlsa_answer(header(kResponse | 3, 0, 0), kQname);
  EXPECT_EQ(nx_bare.status, Status::NoRecords);
  EXPECT_FALSE(nx_bare.authenticated);
  const auto servfail = parse_tlsa_answer(header(kResponse | 2, 1, 0) + question(), kQname);
  EXPECT_EQ(servfail.status, Status::ServFail);
  EXPECT_EQ(servfail.error, "SERVFAIL");
  EXPECT_EQ(parse_tlsa_answer(header(kResponse | 5, 1, 0) + question(), kQname).error,
            "query REFUSED");
  EXPECT_EQ(parse_tlsa_answer(header(kResponse | 1, 0, 0), kQname).error, "FORMERR");
  EXPECT_EQ(parse_tlsa_answer(header(kResponse | 4, 0, 0), kQname).error, "NOTIMP");
  const auto other = parse_tlsa_answer(header(kResponse | 9, 1, 0) + question(), kQname);
  EXPECT_EQ(other.status, Status::Error);
  EXPECT_EQ(other.error, "DNS error RCODE 9");
}

TEST(TlsaParse, NoDataWithSoaInAuthority) {
  const std::string soa = rr(wire("example.org"), kTypeSoa, std::string(30, '\x01'));
  const auto r = parse_tlsa_answer(header(kResponse | kAd, 1, 0, 1) + question() + soa, kQname);
  EXPECT_EQ(r.status, Status::NoRecords);
  EXPECT_EQ(r.error, "no TLSA records (NODATA)");
  EXPECT_TRUE(r.authenticated);
}

TEST(TlsaParse, TruncatedBitIsAnError) {
  const auto r = parse_tlsa_answer(header(kResponse | kTc, 1, 0) + question(), kQname);
  EXPECT_EQ(r.status, Status::Error);
  EXPECT_EQ(r.error, "truncated DNS answer (TC bit)");
}

TEST(TlsaParse, RdataPastTheEnd) {
  std::string msg =
      answer(kResponse | kAd, 1, rr(pointer(kAtQname), kTypeTlsa, tlsa(3, 1, 1, kSha256)));
  msg.resize(msg.size() - 1);
  const auto r = parse_tlsa_answer(msg, kQname);
  EXPECT_EQ(r.status, Status::Malformed);
  EXPECT_EQ(r.error, "malformed TLSA answer: answer record 1 runs past the end");
}

TEST(TlsaParse, ShortTlsaRdata) {
  for (const std::string& rdata :
       {std::string(), std::string("\x03"), std::string("\x03\x01"), std::string("\x03\x01\x01")}) {
    const auto r = parse_tlsa_answer(
        answer(kResponse | kAd, 1, rr(pointer(kAtQname), kTypeTlsa, rdata)), kQname);
    EXPECT_EQ(r.status, Status::Malformed) << rdata.size();
    EXPECT_TRUE(r.records.empty());
  }
  const auto empty_data = parse_tlsa_answer(
      answer(kResponse | kAd, 1, rr(pointer(kAtQname), kTypeTlsa, tlsa(3, 1, 1, ""))), kQname);
  EXPECT_EQ(empty_data.error, "malformed TLSA answer: TLSA record 3 1 1 without association data");
}

TEST(TlsaParse, DigestLengthMustFitTheMatchingType) {
  struct Case {
    std::uint8_t mtype;
    std::size_t size;
    const char* error;
  };
  for (const Case& c : {
           Case{1, 31, "TLSA record 3 1 1 with 31 bytes of SHA-256 data (expected 32)"},
           Case{1, 33, "TLSA record 3 1 1 with 33 bytes of SHA-256 data (expected 32)"},
           Case{1, 64, "TLSA record 3 1 1 with 64 bytes of SHA-256 data (expected 32)"},
           Case{2, 32, "TLSA record 3 1 2 with 32 bytes of SHA-512 data (expected 64)"},
           Case{2, 65, "TLSA record 3 1 2 with 65 bytes of SHA-512 data (expected 64)"},
       }) {
    // A good record first: one bad record spoils the answer.
    const std::string records =
        rr(pointer(kAtQname), kTypeTlsa, tlsa(3, 1, 1, kSha256)) +
        rr(pointer(kAtQname), kTypeTlsa, tlsa(3, 1, c.mtype, std::string(c.size, '\x11')));
    const auto r = parse_tlsa_answer(answer(kResponse | kAd, 2, records), kQname);
    EXPECT_EQ(r.status, Status::Malformed) << c.error;
    EXPECT_EQ(r.error, std::string("malformed TLSA answer: ") + c.error);
    EXPECT_TRUE(r.records.empty());
  }
}

TEST(TlsaParse, PointerLoopsAndBadPointersAreRejected) {
  const std::string base = header(kResponse | kAd, 1, 1) + question();
  const auto at = static_cast<std::uint16_t>(base.size());
  const std::string rest =
      be16(kTypeTlsa) + be16(1) + be32(300) + be16(35) + tlsa(3, 1, 1, kSha256);
  const std::vector<std::pair<const char*, std::string>> owners = {
      {"to itself", pointer(at)},
      {"forwards", pointer(static_cast<std::uint16_t>(at + 2))},
      {"into the header", pointer(2)},
      {"past the end", pointer(0x3fff)},
      {"label then back to the label", "\x01x" + pointer(at)},
      {"cut in half", std::string("\xc0")},
  };
  for (const auto& [what, owner] : owners) {
    const auto r = parse_tlsa_answer(base + owner + rest, kQname);
    EXPECT_EQ(r.status, Status::Malformed) << what;
  }
  // Two names pointing at each other: the second pointer goes backwards, the first forwards.
  std::string two = header(kResponse | kAd, 1, 2) + question();
  const auto first = static_cast<std::uint16_t>(two.size());
  two +=
      "\x01"
      "a" +
      pointer(static_cast<std::uint16_t>(first + 4 + 10 + 4)) + be16(kTypeA) + be16(1) + be32(1) +
      be16(4) + "\x7f\0\0\x01";
  two +=
      "\x01"
      "b" +
      pointer(first) + rest;
  EXPECT_EQ(parse_tlsa_answer(two, kQname).status, Status::Malformed);
}

TEST(TlsaParse, PointerChainsGoingBackwardsAreFine) {
  // First owner: "_25" + a pointer to "_tcp.mx.example.org" in the question; the second owner
  // is a pointer to the first: two jumps, each further back.
  std::string msg = header(kResponse | kAd, 1, 2) + question();
  const auto first_at = static_cast<std::uint16_t>(msg.size());
  msg += rr("\x03_25" + pointer(kAtQname + 4), kTypeTlsa, tlsa(3, 1, 1, kSha256));
  msg += rr(pointer(first_at), kTypeTlsa, tlsa(2, 1, 1, kSha256));
  const auto r = parse_tlsa_answer(msg, kQname);
  EXPECT_EQ(r.status, Status::Ok) << r.error;
  EXPECT_EQ(r.records.size(), 2u);
}

TEST(TlsaParse, OverlongNamesAndLabelTypes) {
  // 5 labels of 63 bytes: 320 bytes of name, over the 255 limit (RFC 1035 §3.1).
  std::string longname;
  for (int i = 0; i < 5; ++i) longname += '\x3f' + std::string(63, 'a');
  longname += '\0';
  EXPECT_EQ(parse_tlsa_answer(
                answer(kResponse | kAd, 1, rr(longname, kTypeTlsa, tlsa(3, 1, 1, kSha256))), kQname)
                .status,
            Status::Malformed);
  // Exactly 255 bytes is allowed (and simply not our owner).
  std::string max;
  for (int i = 0; i < 3; ++i) max += '\x3f' + std::string(63, 'a');
  max += '\x3d' + std::string(61, 'b') + '\0';
  ASSERT_EQ(max.size(), 255u);
  EXPECT_EQ(parse_tlsa_answer(
                answer(kResponse | kAd, 1, rr(max, kTypeTlsa, tlsa(3, 1, 1, kSha256))), kQname)
                .status,
            Status::NoRecords);
  // 0x40 and 0x80 label types (RFC 6891 §5) are not in use.
  for (const char type : {'\x40', '\x80'}) {
    EXPECT_EQ(parse_tlsa_answer(
                  answer(kResponse | kAd, 1,
                         rr(std::string(1, type) + "a" + '\0', kTypeTlsa, tlsa(3, 1, 1, kSha256))),
                  kQname)
                  .status,
              Status::Malformed);
  }
  // A compressed name can exceed 255 bytes too: a long suffix reached by pointer.
  std::string msg = header(kResponse | kAd, 1, 2) + question();
  const auto suffix_at = static_cast<std::uint16_t>(msg.size());
  std::string suffix;
  for (int i = 0; i < 3; ++i) suffix += '\x3f' + std::string(63, 'c');
  suffix += '\0';
  msg += rr(suffix, kTypeA, "\x7f\0\0\x01");
  msg += rr('\x3f' + std::string(63, 'd') + pointer(suffix_at), kTypeTlsa, tlsa(3, 1, 1, kSha256));
  EXPECT_EQ(parse_tlsa_answer(msg, kQname).status, Status::Malformed);
}

TEST(TlsaParse, BrokenHeadersAndQuestions) {
  EXPECT_EQ(parse_tlsa_answer("", kQname).status, Status::Malformed);
  EXPECT_EQ(parse_tlsa_answer(std::string(11, '\0'), kQname).error,
            "malformed TLSA answer: shorter than a DNS header");
  EXPECT_EQ(parse_tlsa_answer(header(0x0100, 1, 0) + question(), kQname).error,
            "malformed TLSA answer: not a DNS response");
  EXPECT_EQ(parse_tlsa_answer(header(0x8000 | (2 << 11), 1, 0) + question(), kQname).status,
            Status::Malformed);  // opcode STATUS
  EXPECT_EQ(parse_tlsa_answer(header(kResponse, 0, 0), kQname).error,
            "malformed TLSA answer: 0 questions");
  EXPECT_EQ(parse_tlsa_answer(header(kResponse, 2, 0) + question() + question(), kQname).status,
            Status::Malformed);
  EXPECT_EQ(
      parse_tlsa_answer(header(kResponse, 1, 0) + question("_25._tcp.other.example"), kQname).error,
      "malformed TLSA answer: answers another question (_25._tcp.other.example)");
  EXPECT_EQ(parse_tlsa_answer(header(kResponse, 1, 0) + question(kQname, kTypeA), kQname).status,
            Status::Malformed);
  std::string cut = header(kResponse, 1, 0) + question();
  cut.resize(cut.size() - 2);  // no QCLASS
  EXPECT_EQ(parse_tlsa_answer(cut, kQname).error, "malformed TLSA answer: bad question");
}

TEST(TlsaParse, AnswerCountBeyondTheMessage) {
  const auto r = parse_tlsa_answer(header(kResponse | kAd, 1, 0xffff) + question() +
                                       rr(pointer(kAtQname), kTypeTlsa, tlsa(3, 1, 1, kSha256)),
                                   kQname);
  EXPECT_EQ(r.status, Status::Malformed);
  EXPECT_EQ(r.error, "malformed TLSA answer: answer record 2 is cut short");
}

TEST(TlsaParse, BadQnameArgument) {
  const std::string msg =
      answer(kResponse | kAd, 1, rr(pointer(kAtQname), kTypeTlsa, tlsa(3, 1, 1, kSha256)));
  for (const std::string& bad : {std::string("a..b"), std::string(".a"), std::string(64, 'x'),
                                 std::string("a.") + std::string(300, 'b')}) {
    EXPECT_EQ(parse_tlsa_answer(msg, bad).status, Status::Error) << bad;
  }
}

// Every prefix and every single-byte change of good messages: bounded, never a crash (ASan
// and UBSan watch), and never Ok for a cut message.
TEST(TlsaParse, EveryPrefixAndEveryByteFlip) {
  std::string cname = header(kResponse | kAd, 1, 3) + question();
  const std::string cname_rdata = "\x04tlsa" + pointer(kAtExampleOrg);
  cname += rr(pointer(kAtQname), kTypeCname, cname_rdata);
  const auto target_at = static_cast<std::uint16_t>(cname.size() - cname_rdata.size());
  cname += rr(pointer(target_at), kTypeTlsa, tlsa(3, 1, 1, kSha256));
  cname += rr(pointer(target_at), kTypeTlsa, tlsa(2, 0, 2, kSha512));
  const std::string plain =
      answer(kResponse | kAd, 1, rr(pointer(kAtQname), kTypeTlsa, tlsa(3, 1, 1, kSha256)));
  for (const std::string& good : {plain, cname}) {
    ASSERT_EQ(parse_tlsa_answer(good, kQname).status, Status::Ok);
    for (std::size_t n = 0; n < good.size(); ++n) {
      EXPECT_NE(parse_tlsa_answer(good.substr(0, n), kQname).status, Status::Ok) << n;
    }
    for (std::size_t i = 0; i < good.size(); ++i) {
      for (const unsigned flip : {0x01u, 0x40u, 0x80u, 0xc0u, 0xffu}) {
        std::string bad = good;
        bad[i] = static_cast<char>(static_cast<unsigned char>(bad[i]) ^ flip);
        const auto r = parse_tlsa_answer(bad, kQname);
        EXPECT_LE(r.records.size(), 2u);
      }
    }
  }
}

TEST(TlsaQuery, AsksWithRdAdAndDo) {
  const std::string q = tlsa_query(kQname, 0xbeef);
  const std::string name = wire(kQname);
  ASSERT_EQ(q.size(), 12 + name.size() + 4 + 11);
  EXPECT_EQ(q.substr(0, 2), be16(0xbeef));
  EXPECT_EQ(q.substr(2, 2), be16(0x0120));  // RD (RFC 1035) and AD (RFC 6840 §5.7)
  EXPECT_EQ(q.substr(4, 8), be16(1) + be16(0) + be16(0) + be16(1));
  EXPECT_EQ(q.substr(12, name.size()), name);
  EXPECT_EQ(q.substr(12 + name.size(), 4), be16(kTypeTlsa) + be16(1));
  // OPT (RFC 6891 §6.1.2): root, type 41, UDP size 1232, TTL with DO (RFC 3225 §3), no RDATA.
  EXPECT_EQ(q.substr(q.size() - 11),
            std::string(1, '\0') + be16(41) + be16(1232) + be32(0x00008000) + be16(0));
}

TEST(TlsaQuery, WithoutEdns) {
  const std::string q = tlsa_query(kQname, 7, false);
  EXPECT_EQ(q.size(), 12 + wire(kQname).size() + 4);
  EXPECT_EQ(q.substr(2, 2), be16(0x0120));
  EXPECT_EQ(q.substr(10, 2), be16(0));
}

}  // namespace
}  // namespace smtpverify::dns
