// Component tier: DANE (RFC 7672). TLSA lookups through c-ares against the scripted
// FakeDnsServer, and TlsStream's DANE verification against the fake SMTP server's implicit TLS
// with certificates from the in-process test PKI.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "dns/resolver.h"
#include "dns/tlsa.h"
#include "net/stream.h"
#include "net/tls.h"
#include "support/fake_dns_server.h"
#include "support/fake_smtp_server.h"
#include "support/test_pki.h"

namespace smtpverify::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using dns::TlsaResult;
using Status = TlsaResult::Status;

const std::string kMx = "mx.smtpverify.test";
const std::string kTlsaName = "_25._tcp.mx.smtpverify.test";

const TestPki& pki() { return shared_test_pki(); }

// ---- TLSA lookups -------------------------------------------------------------------------

// One lookup through a Resolver aimed at the fake (never at resolv.conf's server).
TlsaResult lookup(const FakeDnsServer& dns, std::chrono::milliseconds budget = 2000ms,
                  const std::string& host = kMx, std::uint16_t port = 25) {
  const auto resolver = dns::Resolver::create({dns.address_port()});
  if (!resolver) {
    ADD_FAILURE() << resolver.error();
    return {};
  }
  return (*resolver)->tlsa(host, port, net::Deadline::after(budget));
}

// The TLSA records of kTlsaName become answer; then one lookup.
TlsaResult lookup_with(FakeDnsServer& dns, DnsAnswer answer) {
  dns.set(kTlsaName, kDnsTypeTlsa, std::move(answer));
  return lookup(dns);
}

const std::string kDigest(32, '\x5a');
const std::string kOtherDigest(32, '\x17');

TEST(TlsaLookup, AuthenticatedRecords) {
  FakeDnsServer dns;
  dns.set(kTlsaName, kDnsTypeTlsa,
          records({tlsa_record(kTlsaName, 3, 1, 1, kDigest),
                   tlsa_record(kTlsaName, 2, 0, 2, std::string(64, '\x01'))},
                  true));
  const TlsaResult r = lookup(dns);
  EXPECT_EQ(r.status, Status::Ok) << r.error;
  EXPECT_TRUE(r.authenticated);
  ASSERT_EQ(r.records.size(), 2u);
  EXPECT_EQ(dns::tlsa_text(r.records[0]), "3 1 1 " + to_hex(kDigest));
  EXPECT_EQ(r.records[1].usage, 2);
  EXPECT_EQ(r.records[1].selector, 0);
  EXPECT_EQ(r.records[1].mtype, 2);
  EXPECT_EQ(dns.query_count(kTlsaName, kDnsTypeTlsa), 1);
}

TEST(TlsaLookup, PortIsPartOfTheName) {
  FakeDnsServer dns;
  dns.set("_465._tcp." + kMx, kDnsTypeTlsa,
          records({tlsa_record("_465._tcp." + kMx, 3, 1, 1, kDigest)}, true));
  const TlsaResult r = lookup(dns, 2000ms, kMx + ".", 465);
  EXPECT_EQ(r.status, Status::Ok) << r.error;
  EXPECT_EQ(r.records.size(), 1u);
}

TEST(TlsaLookup, WithoutAdBitIsInsecure) {
  FakeDnsServer dns;
  const TlsaResult r = lookup_with(dns, records({tlsa_record(kTlsaName, 3, 1, 1, kDigest)}, false));
  EXPECT_EQ(r.status, Status::Insecure);
  EXPECT_FALSE(r.authenticated);
  EXPECT_EQ(r.error, "TLSA answer not DNSSEC-authenticated (no AD bit)");
  ASSERT_EQ(r.records.size(), 1u);  // for --dane-insecure
  EXPECT_EQ(r.records[0].data, kDigest);
}

TEST(TlsaLookup, CnameToTheRecords) {
  FakeDnsServer dns;
  const std::string target = "tlsa.smtpverify.test";
  dns.set(kTlsaName, kDnsTypeTlsa,
          records({cname_record(kTlsaName, target), tlsa_record(target, 3, 1, 1, kDigest)}, true));
  const TlsaResult r = lookup(dns);
  EXPECT_EQ(r.status, Status::Ok) << r.error;
  ASSERT_EQ(r.records.size(), 1u);
}

TEST(TlsaLookup, NxDomainAndNoData) {
  FakeDnsServer dns;  // names not in its table get NXDOMAIN
  const TlsaResult nx = lookup(dns);
  EXPECT_EQ(nx.status, Status::NoRecords);
  EXPECT_EQ(nx.error, "NXDOMAIN");
  dns.set(kTlsaName, kDnsTypeTlsa, of_kind(DnsAnswer::Kind::NoData, true));
  const TlsaResult nodata = lookup(dns);
  EXPECT_EQ(nodata.status, Status::NoRecords);
  EXPECT_EQ(nodata.error, "no TLSA records (NODATA)");
  EXPECT_TRUE(nodata.authenticated);  // a secure denial: DANE does not apply (RFC 7672)
}

TEST(TlsaLookup, ServFailIsReportedAtOnce) {
  FakeDnsServer dns;
  const TlsaResult r = lookup_with(dns, of_kind(DnsAnswer::Kind::ServFail));
  EXPECT_EQ(r.status, Status::ServFail);
  EXPECT_EQ(r.error, "SERVFAIL");
  // ARES_FLAG_NOCHECKRESP: the first SERVFAIL is the answer, c-ares does not retry it away.
  EXPECT_EQ(dns.query_count(kTlsaName, kDnsTypeTlsa), 1);
}

TEST(TlsaLookup, Refused) {
  FakeDnsServer dns;
  const TlsaResult r = lookup_with(dns, of_kind(DnsAnswer::Kind::Refused));
  EXPECT_EQ(r.status, Status::Error);
  EXPECT_EQ(r.error, "query REFUSED");
}

TEST(TlsaLookup, SilenceTimesOutAtTheDeadline) {
  FakeDnsServer dns;
  dns.set(kTlsaName, kDnsTypeTlsa, of_kind(DnsAnswer::Kind::Drop));
  const auto start = Clock::now();
  const TlsaResult r = lookup(dns, 300ms);
  const auto took = Clock::now() - start;
  EXPECT_EQ(r.status, Status::Timeout);
  EXPECT_EQ(r.error, "DNS timeout");
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 1000ms);  // c-ares alone would retry for seconds
  EXPECT_GE(dns.query_count(kTlsaName, kDnsTypeTlsa), 1);
}

TEST(TlsaLookup, GarbageIsMalformed) {
  FakeDnsServer dns;
  const TlsaResult r = lookup_with(dns, of_kind(DnsAnswer::Kind::Garbage, true));
  EXPECT_EQ(r.status, Status::Malformed);
  EXPECT_EQ(r.error, "malformed TLSA answer: answer record 1 runs past the end");
}

TEST(TlsaLookup, BadTlsaRecordIsMalformed) {
  FakeDnsServer dns;
  dns.set(kTlsaName, kDnsTypeTlsa,
          records({tlsa_record(kTlsaName, 3, 1, 1, std::string(20, '\x01'))}, true));
  const TlsaResult r = lookup(dns);
  EXPECT_EQ(r.status, Status::Malformed);
  EXPECT_EQ(r.error,
            "malformed TLSA answer: TLSA record 3 1 1 with 20 bytes of SHA-256 data (expected 32)");
}

TEST(TlsaLookup, TruncatedUdpFallsBackToTcp) {
  FakeDnsServer dns;
  DnsAnswer answer = records({tlsa_record(kTlsaName, 3, 1, 1, kDigest)}, true);
  answer.kind = DnsAnswer::Kind::Truncated;
  const TlsaResult r = lookup_with(dns, answer);
  EXPECT_EQ(r.status, Status::Ok) << r.error;
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].data, kDigest);
  EXPECT_EQ(dns.query_count(kTlsaName, kDnsTypeTlsa), 2);  // UDP with TC, then TCP
}

TEST(TlsaLookup, AnswerOver512BytesIsFetchedOverTcp) {
  // Our OPT RR offers 1232 bytes, so the fake answers over UDP; a channel made without
  // ARES_FLAG_EDNS takes any UDP answer over 512 bytes for truncated and asks again over TCP.
  FakeDnsServer dns;
  std::vector<DnsRecord> many;
  for (int i = 0; i < 10; ++i) {
    many.push_back(tlsa_record(kTlsaName, 3, 1, 2, std::string(64, static_cast<char>(i))));
  }
  const TlsaResult r = lookup_with(dns, records(many, true));
  EXPECT_EQ(r.status, Status::Ok) << r.error;
  EXPECT_EQ(r.records.size(), 10u);
  EXPECT_EQ(dns.query_count(kTlsaName, kDnsTypeTlsa), 2);
}

TEST(TlsaLookup, NotAHostName) {
  FakeDnsServer dns;
  for (const std::string& host :
       std::vector<std::string>{"", "::1", "a..b", "mx example", std::string(300, 'a')}) {
    const TlsaResult r = lookup(dns, 2000ms, host);
    EXPECT_EQ(r.status, Status::Error) << host;
    EXPECT_EQ(r.error, "not a host name for TLSA: '" + host + "'");
  }
}

TEST(TlsaLookup, OverIpv6) {
  std::unique_ptr<FakeDnsServer> dns;
  try {
    dns = std::make_unique<FakeDnsServer>(AF_INET6);
  } catch (const std::system_error&) {
    GTEST_SKIP() << "no IPv6 loopback";
  }
  dns->set(kTlsaName, kDnsTypeTlsa, records({tlsa_record(kTlsaName, 3, 1, 1, kDigest)}, true));
  EXPECT_EQ(lookup(*dns).status, Status::Ok);
}

TEST(TlsaLookup, AfterATimeoutTheChannelStillWorks) {
  // The unanswered query stays with c-ares (no ares_cancel() of the whole channel); the next
  // lookup on the same channel works, and destroying the channel frees the first one.
  FakeDnsServer dns;
  dns.set(kTlsaName, kDnsTypeTlsa, of_kind(DnsAnswer::Kind::Drop));
  const std::string other = "_25._tcp.mx2.smtpverify.test";
  dns.set(other, kDnsTypeTlsa, records({tlsa_record(other, 3, 1, 1, kDigest)}, true));
  auto created = dns::Resolver::create({dns.address_port()});
  ASSERT_TRUE(created) << created.error();
  const auto& resolver = *created;
  EXPECT_EQ(resolver->tlsa(kMx, 25, net::Deadline::after(200ms)).status, Status::Timeout);
  const TlsaResult r = resolver->tlsa("mx2.smtpverify.test", 25, net::Deadline::after(2s));
  EXPECT_EQ(r.status, Status::Ok) << r.error;
}

// A UDP DNS peer for what FakeDnsServer cannot do: it keeps every raw query and answers each
// with what `reply` makes of it (nothing for "").
class RawUdpPeer {
 public:
  using Reply = std::function<std::string(const std::string& query)>;

  explicit RawUdpPeer(Reply reply) : fd_(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (!fd_.valid() ||
        ::bind(fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::system_error(errno, std::generic_category(), "RawUdpPeer");
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this, reply = std::move(reply)] { serve(reply); });
  }
  ~RawUdpPeer() {
    stop_ = true;
    thread_.join();
  }
  RawUdpPeer(const RawUdpPeer&) = delete;
  RawUdpPeer& operator=(const RawUdpPeer&) = delete;

  std::string address_port() const { return "127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> queries() const {
    const std::lock_guard lock(mutex_);
    return queries_;
  }

 private:
  void serve(const Reply& reply) {
    while (!stop_) {
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      char buffer[4096];
      sockaddr_storage peer{};
      socklen_t peer_length = sizeof(peer);
      const ssize_t n = ::recvfrom(fd_.get(), buffer, sizeof(buffer), 0,
                                   reinterpret_cast<sockaddr*>(&peer), &peer_length);
      if (n <= 0) continue;
      const std::string query(buffer, static_cast<std::size_t>(n));
      {
        const std::lock_guard lock(mutex_);
        queries_.push_back(query);
      }
      const std::string answer = reply(query);
      if (!answer.empty()) {
        ::sendto(fd_.get(), answer.data(), answer.size(), 0, reinterpret_cast<sockaddr*>(&peer),
                 peer_length);
      }
    }
  }

  net::Fd fd_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::vector<std::string> queries_;
  std::thread thread_;
};

TEST(TlsaLookup, QueryCarriesAdAndDoAndFallsBackWithoutEdnsOnFormErr) {
  // A pre-EDNS server: FORMERR without OPT to a query with OPT (RFC 6891), the records to a
  // plain one.
  RawUdpPeer peer([](const std::string& query) {
    std::string answer = query;
    answer[2] = static_cast<char>(answer[2] | 0x80);  // QR
    if (answer[11] != 0) {
      answer.resize(answer.size() - 11);  // drop the OPT RR
      answer[3] = static_cast<char>((answer[3] & 0xf0) | 1);
      answer[11] = 0;
      return answer;
    }
    answer[3] = static_cast<char>(0xa0);  // RA, AD
    answer[7] = 1;
    answer += std::string("\xc0\x0c\x00\x34\x00\x01\x00\x00\x01\x2c\x00\x23\x03\x01\x01", 15);
    answer += kDigest;
    return answer;
  });
  auto created = dns::Resolver::create({peer.address_port()});
  ASSERT_TRUE(created) << created.error();
  const auto& resolver = *created;
  const TlsaResult r = resolver->tlsa(kMx, 25, net::Deadline::after(2s));
  EXPECT_EQ(r.status, Status::Ok) << r.error;
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].data, kDigest);
  const auto queries = peer.queries();
  ASSERT_EQ(queries.size(), 2u);
  // First: RD+AD, one OPT RR with UDP size 1232 and DO, exactly as built (c-ares 1.18 sends our
  // bytes, ID included).
  EXPECT_EQ(queries[0].substr(2, 2), std::string("\x01\x20", 2));
  EXPECT_EQ(queries[0].substr(10, 2), std::string("\x00\x01", 2));
  EXPECT_EQ(queries[0].substr(queries[0].size() - 11),
            std::string("\x00\x00\x29\x04\xd0\x00\x00\x80\x00\x00\x00", 11));
  // Then: RD+AD, no OPT.
  EXPECT_EQ(queries[1].substr(2, 2), std::string("\x01\x20", 2));
  EXPECT_EQ(queries[1].substr(10, 2), std::string("\x00\x00", 2));
}

// ---- DANE in the TLS handshake --------------------------------------------------------------

struct Handshake {
  net::TlsFacts facts;
  std::optional<net::TlsFailure> failure;
  bool stream = false;  // a stream came back (also after a verification failure)
  std::string sni;      // what the server saw
};

std::string digest_of(const std::string& bytes, const EVP_MD* md) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EXPECT_EQ(EVP_Digest(bytes.data(), bytes.size(), out, &size, md, nullptr), 1);
  return std::string(reinterpret_cast<const char*>(out), size);
}

// The DER SubjectPublicKeyInfo of the first certificate in a PEM string.
std::string spki_der(const std::string& pem) {
  const std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  const std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free);
  if (!cert) {
    ADD_FAILURE() << "bad PEM";
    return {};
  }
  unsigned char* der = nullptr;
  const int size = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert.get()), &der);
  std::string out(reinterpret_cast<const char*>(der),
                  size > 0 ? static_cast<std::size_t>(size) : 0);
  OPENSSL_free(der);
  return out;
}

net::DaneRecord tlsa(std::uint8_t usage, std::uint8_t selector, std::uint8_t mtype,
                     std::string data) {
  return {usage, selector, mtype, std::move(data)};
}

TlsSetup setup_for(const TestCert& cert, std::vector<std::string> chain = {}) {
  return {cert.cert_pem, cert.key_pem, std::move(chain)};
}

TlsSetup chained(const TestCert& cert) { return setup_for(cert, {pki().intermediate_pem()}); }

net::TlsOptions dane_options(std::vector<net::DaneRecord> records) {
  net::TlsOptions o;
  o.dane = std::move(records);
  o.dane_base_domain = kMx;
  return o;
}

// Implicit TLS (the handshake first, RFC 8314), then the banner and QUIT through the stream:
// after a failed verification, too, the channel works and QUIT is all that crosses it.
Handshake run_handshake(const TlsSetup& setup, const net::TlsOptions& options) {
  FakeSmtpServer server({start_tls(setup), send_raw("220 mx ESMTP\r\n"), expect("QUIT"),
                         send_raw("221 bye\r\n"), expect_close()});
  const auto deadline = net::Deadline::after(3s);
  const auto to = net::parse_ip_literal(server.host(), server.port());
  auto fd = net::connect_tcp(*to, std::nullopt, deadline);
  EXPECT_TRUE(fd) << (fd ? 0 : fd.error().error);
  Handshake h;
  auto tls = net::TlsStream::handshake(fd ? std::move(*fd) : net::Fd(), options, deadline);
  net::Handshaken* done = tls ? &*tls : tls.error().untrusted ? &*tls.error().untrusted : nullptr;
  if (!tls) h.failure = tls.error().failure;
  if (done) h.facts = done->facts;
  h.stream = done != nullptr && done->stream != nullptr;
  if (h.stream) {
    auto& stream = done->stream;
    std::string got;
    char buffer[256];
    while (got.find("\r\n") == std::string::npos) {
      const auto r = stream->read(buffer, sizeof(buffer), deadline);
      if (!r) break;
      got.append(buffer, *r);
    }
    EXPECT_EQ(got, "220 mx ESMTP\r\n");
    EXPECT_TRUE(stream->write_all("QUIT\r\n", deadline));
    got.clear();
    while (got.find("\r\n") == std::string::npos) {
      const auto r = stream->read(buffer, sizeof(buffer), deadline);
      if (!r) break;
      got.append(buffer, *r);
    }
    EXPECT_EQ(got, "221 bye\r\n");
    stream.reset();
    EXPECT_TRUE(server.wait_done(3s));
    EXPECT_EQ(server.error(), "");
  }
  h.sni = server.tls_server_name();
  return h;
}

void expect_ok(const Handshake& h, const std::string& match) {
  EXPECT_TRUE(h.stream);
  EXPECT_FALSE(h.failure) << h.failure->reason;
  EXPECT_TRUE(h.facts.verified);
  EXPECT_EQ(h.facts.dane_match, match);
}

void expect_verify_failure(const Handshake& h, const std::string& reason) {
  EXPECT_TRUE(h.stream);  // the channel stays usable for QUIT
  ASSERT_TRUE(h.failure);
  EXPECT_EQ(h.failure->kind, net::TlsFailure::Kind::Verify);
  EXPECT_EQ(h.failure->reason, reason);
  EXPECT_FALSE(h.facts.verified);
  EXPECT_EQ(h.facts.dane_match, "");
  EXPECT_FALSE(h.facts.chain.empty());  // the certificate facts are still reported
}

TEST(Dane, EeSpkiMatchesSelfSignedCertificateOfAnotherName) {
  const TestCert cert = pki().self_signed("other.example");
  const Handshake h =
      run_handshake(setup_for(cert), dane_options({tlsa(3, 1, 1, spki_sha256(cert.cert_pem))}));
  expect_ok(h, "3 1 1");
  EXPECT_EQ(h.sni, kMx);  // the TLSA base domain is the SNI by default (RFC 7672)
}

TEST(Dane, EeIgnoresIssuerNameAndExpiry) {
  // RFC 7671 §5.1: with DANE-EE the key is all that counts.
  const TestCert expired = pki().leaf({"other.example"}, -100, 10);
  const Handshake h = run_handshake(setup_for(expired),
                                    dane_options({tlsa(3, 1, 1, spki_sha256(expired.cert_pem))}));
  expect_ok(h, "3 1 1");
  EXPECT_EQ(h.facts.min_days_left.value_or(0) < 0, true);  // still reported as expired
}

TEST(Dane, EeCertificateDigest) {
  const TestCert cert = pki().leaf({kMx});
  expect_ok(run_handshake(chained(cert), dane_options({tlsa(3, 0, 1, cert_sha256(cert.cert_pem))})),
            "3 0 1");
}

TEST(Dane, EeSha512AndFullKey) {
  const TestCert cert = pki().self_signed(kMx);
  const std::string spki = spki_der(cert.cert_pem);
  expect_ok(
      run_handshake(setup_for(cert), dane_options({tlsa(3, 1, 2, digest_of(spki, EVP_sha512()))})),
      "3 1 2");
  expect_ok(run_handshake(setup_for(cert), dane_options({tlsa(3, 1, 0, spki)})), "3 1 0");
}

TEST(Dane, TaIntermediateWithTheRightName) {
  const Handshake h =
      run_handshake(chained(pki().leaf({kMx})),
                    dane_options({tlsa(2, 1, 1, spki_sha256(pki().intermediate_pem()))}));
  expect_ok(h, "2 1 1");
}

TEST(Dane, TaWildcardName) {
  const Handshake h =
      run_handshake(chained(pki().leaf({"*.smtpverify.test"})),
                    dane_options({tlsa(2, 1, 1, spki_sha256(pki().intermediate_pem()))}));
  expect_ok(h, "2 1 1");
}

TEST(Dane, TaChecksTheName) {
  // RFC 7672 §3.2.3: with DANE-TA the certificate must carry the TLSA base domain.
  const Handshake h =
      run_handshake(chained(pki().leaf({"other.smtpverify.test"})),
                    dane_options({tlsa(2, 1, 1, spki_sha256(pki().intermediate_pem()))}));
  expect_verify_failure(h, "DANE: hostname mismatch");
  EXPECT_EQ(h.failure->cause, net::TlsFailure::Cause::NameMismatch);
  EXPECT_EQ(h.facts.chain.front().names, std::vector<std::string>{"DNS:other.smtpverify.test"});
}

TEST(Dane, TaAcceptsVerifyNameAsASecondName) {
  auto options = dane_options({tlsa(2, 1, 1, spki_sha256(pki().intermediate_pem()))});
  options.verify_name = "alt.smtpverify.test";
  expect_ok(run_handshake(chained(pki().leaf({"alt.smtpverify.test"})), options), "2 1 1");
}

TEST(Dane, TaChecksTheLeafDates) {
  const Handshake h =
      run_handshake(chained(pki().leaf({kMx}, -100, 10)),
                    dane_options({tlsa(2, 1, 1, spki_sha256(pki().intermediate_pem()))}));
  expect_verify_failure(h, "DANE: certificate has expired");
  ASSERT_TRUE(h.failure);
  EXPECT_EQ(h.failure->cause, net::TlsFailure::Cause::Expired);
}

TEST(Dane, TaMustBeInTheChainTheServerSends) {
  // RFC 7671 §5.2: a digest record names a certificate the server has to send; the root is
  // not sent, and no CA store fills the gap.
  const Handshake h = run_handshake(chained(pki().leaf({kMx})),
                                    dane_options({tlsa(2, 1, 1, spki_sha256(pki().root_pem()))}));
  expect_verify_failure(h, "DANE: no TLSA record matched");
  EXPECT_EQ(h.failure->cause, net::TlsFailure::Cause::DaneNoMatch);
}

TEST(Dane, NoMatchFailsEvenWhenTheCaStoreWouldVerify) {
  // DANE replaces the CA store (RFC 7672 §3.1): --ca-file and a good chain do not help.
  auto options = dane_options({tlsa(3, 1, 1, kOtherDigest)});
  options.ca_file = pki().root_file();
  options.verify_name = kMx;
  const TestCert leaf = pki().leaf({kMx});
  const Handshake h = run_handshake(chained(leaf), options);
  expect_verify_failure(h, "DANE: no TLSA record matched");
  EXPECT_EQ(h.failure->cause, net::TlsFailure::Cause::DaneNoMatch);
  ASSERT_EQ(h.facts.chain.size(), 2u);
  // What TLSA records for this chain would say (issue 15): the digests an admin publishes.
  EXPECT_EQ(h.facts.chain[0].spki_sha256, to_hex(spki_sha256(leaf.cert_pem)));
  EXPECT_EQ(h.facts.chain[1].spki_sha256, to_hex(spki_sha256(pki().intermediate_pem())));
}

TEST(Dane, OneOfSeveralRecordsMatches) {
  const TestCert cert = pki().leaf({kMx});
  const Handshake h = run_handshake(
      chained(cert), dane_options({tlsa(3, 1, 1, kOtherDigest), tlsa(3, 0, 1, kOtherDigest),
                                   tlsa(2, 1, 1, spki_sha256(pki().intermediate_pem()))}));
  expect_ok(h, "2 1 1");
}

TEST(Dane, PkixUsagesAreUnusableForSmtp) {
  // RFC 7672 §3.1.3: PKIX-TA(0) and PKIX-EE(1) are skipped, even when they would match.
  const TestCert cert = pki().leaf({kMx});
  const Handshake h = run_handshake(
      chained(cert), dane_options({tlsa(0, 1, 1, spki_sha256(pki().intermediate_pem())),
                                   tlsa(1, 1, 1, spki_sha256(cert.cert_pem))}));
  expect_verify_failure(h, "DANE: no usable TLSA records");
}

TEST(Dane, RecordsOpenSslCannotUseAreSkipped) {
  const TestCert cert = pki().self_signed(kMx);
  const std::vector<net::DaneRecord> unusable = {
      tlsa(3, 1, 1, std::string(20, '\x01')),  // digest of the wrong length
      tlsa(3, 2, 1, kOtherDigest),             // unknown selector
      tlsa(3, 1, 7, kOtherDigest),             // unknown matching type
      tlsa(4, 1, 1, kOtherDigest),             // unknown usage
  };
  expect_verify_failure(run_handshake(setup_for(cert), dane_options(unusable)),
                        "DANE: no usable TLSA records");
  auto with_good = unusable;
  with_good.push_back(tlsa(3, 1, 1, spki_sha256(cert.cert_pem)));
  expect_ok(run_handshake(setup_for(cert), dane_options(with_good)), "3 1 1");
}

TEST(Dane, OurSniWins) {
  const TestCert cert = pki().self_signed(kMx);
  auto options = dane_options({tlsa(3, 1, 1, spki_sha256(cert.cert_pem))});
  options.sni = "sni.smtpverify.test";
  const Handshake h = run_handshake(setup_for(cert), options);
  expect_ok(h, "3 1 1");
  EXPECT_EQ(h.sni, "sni.smtpverify.test");
}

TEST(Dane, BaseDomainFallsBackToVerifyName) {
  const TestCert cert = pki().self_signed(kMx);
  auto options = dane_options({tlsa(3, 1, 1, spki_sha256(cert.cert_pem))});
  options.dane_base_domain.clear();
  options.verify_name = kMx + ".";
  const Handshake h = run_handshake(setup_for(cert), options);
  expect_ok(h, "3 1 1");
  EXPECT_EQ(h.sni, kMx);
}

TEST(Dane, NoBaseDomainIsASetupError) {
  net::TlsOptions options;
  options.dane = {tlsa(3, 1, 1, kDigest)};
  // Nothing is sent: the error comes before the handshake, so an unconnected socket will do.
  auto tls = net::TlsStream::handshake(net::Fd(::socket(AF_INET, SOCK_STREAM, 0)), options,
                                       net::Deadline::after(1s));
  ASSERT_FALSE(tls);
  EXPECT_FALSE(tls.error().untrusted);
  EXPECT_EQ(tls.error().failure.kind, net::TlsFailure::Kind::Setup);
  EXPECT_EQ(tls.error().failure.reason, "DANE needs the TLSA base domain (a host name)");
}

TEST(Dane, WithoutDaneNothingChanges) {
  // The PKIX path is untouched: no DANE facts, the CA store decides.
  net::TlsOptions options;
  options.ca_file = pki().root_file();
  options.verify_name = kMx;
  const Handshake h = run_handshake(chained(pki().leaf({kMx})), options);
  EXPECT_FALSE(h.failure) << h.failure->reason;
  EXPECT_TRUE(h.facts.verified);
  EXPECT_EQ(h.facts.dane_match, "");
  EXPECT_EQ(h.sni, "");
}

// The whole path: TLSA from the fake DNS, records handed to the handshake.
TEST(Dane, LookupThenHandshake) {
  const TestCert cert = pki().leaf({kMx});
  FakeDnsServer dns;
  dns.set(kTlsaName, kDnsTypeTlsa,
          records({tlsa_record(kTlsaName, 3, 1, 1, spki_sha256(cert.cert_pem)),
                   tlsa_record(kTlsaName, 2, 1, 1, spki_sha256(pki().intermediate_pem()))},
                  true));
  const TlsaResult found = lookup(dns);
  ASSERT_EQ(found.status, Status::Ok) << found.error;
  std::vector<net::DaneRecord> records;
  for (const auto& r : found.records) records.push_back({r.usage, r.selector, r.mtype, r.data});
  expect_ok(run_handshake(chained(cert), dane_options(records)), "3 1 1");
}

}  // namespace
}  // namespace smtpverify::test
