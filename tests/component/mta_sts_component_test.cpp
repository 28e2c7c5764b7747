// Issue 16, the network halves of --mta-sts and --tls-rpt: TXT lookups against the fake DNS
// server, and the policy fetch (net::https_get, libcurl linked in) against a fake HTTPS server
// on loopback. The whole check (port 443, the real Postfix and unbound) is
// tests/integration/mta_sts_test.sh.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <string>
#include <thread>

#include "dns/resolver.h"
#include "dns/txt.h"
#include "net/https.h"
#include "support/fake_dns_server.h"
#include "support/openssl_util.h"
#include "support/socket_util.h"
#include "support/test_pki.h"

namespace smtpverify {
namespace {

using namespace std::chrono_literals;
using test::DnsAnswer;
using test::DnsRecord;

constexpr const char* kPolicyHost = "mta-sts.example.test";

// TXT RDATA (RFC 1035 §3.3.14): each string with its length byte first.
DnsRecord txt_record(const std::string& name, const std::vector<std::string>& strings) {
  std::string rdata;
  for (const auto& s : strings) rdata += static_cast<char>(s.size()) + s;
  return {name, test::kDnsTypeTxt, 300, rdata};
}

dns::TxtResult lookup(test::FakeDnsServer& server, const std::string& name,
                      std::chrono::milliseconds limit = 3000ms) {
  auto resolver = dns::Resolver::create({server.address_port()});
  EXPECT_TRUE(resolver) << (resolver ? "" : resolver.error());
  dns::TxtLookup txt(**resolver, name);
  txt.finish(net::Deadline::after(limit));
  return txt.answer();
}

TEST(TxtLookup, JoinsEachRecordsStringsAndKeepsRecordsApart) {
  test::FakeDnsServer dns;
  dns.set("_mta-sts.example.test", test::kDnsTypeTxt,
          test::records({txt_record("_mta-sts.example.test", {"v=STSv1; ", "id=2026"}),
                         txt_record("_mta-sts.example.test", {"v=spf1 -all"})}));
  const auto r = lookup(dns, "_mta-sts.example.test");
  EXPECT_EQ(r.status, dns::Status::Ok);
  EXPECT_EQ(r.records, (std::vector<std::string>{"v=STSv1; id=2026", "v=spf1 -all"}));
}

TEST(TxtLookup, NoNameNoRecordsAndSilenceAreToldApart) {
  test::FakeDnsServer dns;  // names it does not know: NXDOMAIN
  const auto nx = lookup(dns, "_mta-sts.nowhere.test");
  EXPECT_EQ(nx.status, dns::Status::NxDomain);
  EXPECT_EQ(nx.error, "NXDOMAIN");
  dns.set("_smtp._tls.example.test", test::kDnsTypeTxt, test::of_kind(DnsAnswer::Kind::NoData));
  const auto nodata = lookup(dns, "_smtp._tls.example.test");
  EXPECT_EQ(nodata.status, dns::Status::NoData);
  EXPECT_EQ(nodata.error, "no TXT record");
  dns.set("_mta-sts.silent.test", test::kDnsTypeTxt, test::of_kind(DnsAnswer::Kind::Drop));
  const auto start = std::chrono::steady_clock::now();
  const auto silent = lookup(dns, "_mta-sts.silent.test", 300ms);
  EXPECT_EQ(silent.status, dns::Status::Timeout);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);  // bounded by the deadline
}

TEST(TxtLookup, HostileRecordsAreBounded) {
  test::FakeDnsServer dns;
  std::vector<DnsRecord> many;
  for (int i = 0; i < 40; ++i)
    many.push_back(
        txt_record("big.test", {std::string(255, 'x'), std::string(255, 'y'), std::string(255, 'z'),
                                std::string(255, 'w'), std::string(255, 'v')}));
  dns.set("big.test", test::kDnsTypeTxt, test::records(many));
  const auto r = lookup(dns, "big.test");
  EXPECT_EQ(r.status, dns::Status::Ok);
  ASSERT_EQ(r.records.size(), dns::kMaxTxtRecords);
  for (const auto& rec : r.records) EXPECT_EQ(rec.size(), dns::kMaxTxtLength);
}

// An HTTPS server on 127.0.0.1 that answers every connection with `response` (after reading
// the request's head), or reads and never answers when `response` is empty.
class FakeHttpsServer {
 public:
  FakeHttpsServer(const test::TestCert& cert, std::string response)
      : response_(std::move(response)),
        fd_(test::detail::bind_loopback(AF_INET, SOCK_STREAM, 0)),
        port_(test::detail::local_port(fd_.get())) {
    // A client that gave up (verification failed) must not end the test process with SIGPIPE
    // when the server answers it anyway.
    std::signal(SIGPIPE, SIG_IGN);
    ctx_ = SSL_CTX_new(TLS_server_method());
    const auto& pki = test::shared_test_pki();
    auto key = test::detail::read_key(cert.key_pem);
    auto leaf = test::detail::read_cert(cert.cert_pem);
    auto inter = test::detail::read_cert(pki.intermediate_pem());
    SSL_CTX_use_certificate(ctx_, leaf.get());
    SSL_CTX_use_PrivateKey(ctx_, key.get());
    SSL_CTX_add1_chain_cert(ctx_, inter.get());
    // serve() waits in accept(): the listener blocks, unlike the fakes' (they poll).
    if (::fcntl(fd_.get(), F_SETFL, ::fcntl(fd_.get(), F_GETFL) & ~O_NONBLOCK) != 0) {
      test::detail::throw_errno("fcntl");
    }
    if (::listen(fd_.get(), 4) != 0) test::detail::throw_errno("listen");
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeHttpsServer() {
    stop_ = true;
    ::shutdown(fd_.get(), SHUT_RDWR);
    thread_.join();
    SSL_CTX_free(ctx_);
  }
  FakeHttpsServer(const FakeHttpsServer&) = delete;
  FakeHttpsServer& operator=(const FakeHttpsServer&) = delete;
  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] std::string request() const { return request_; }

 private:
  void serve() {
    while (!stop_) {
      const int c = ::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      timeval tv{2, 0};
      ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      SSL* ssl = SSL_new(ctx_);
      SSL_set_fd(ssl, c);
      if (SSL_accept(ssl) == 1) {
        std::string head;
        char buf[1024];
        while (head.find("\r\n\r\n") == std::string::npos) {
          const int n = SSL_read(ssl, buf, sizeof buf);
          if (n <= 0) break;
          head.append(buf, static_cast<std::size_t>(n));
        }
        request_ = head;
        if (!response_.empty()) {
          SSL_write(ssl, response_.data(), static_cast<int>(response_.size()));
          SSL_shutdown(ssl);
        } else {
          while (!stop_ && SSL_read(ssl, buf, sizeof buf) > 0) {
          }
        }
      }
      SSL_free(ssl);
      ::close(c);
    }
  }

  std::string response_;
  SSL_CTX* ctx_ = nullptr;
  test::detail::UniqueFd fd_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::string request_;
};

std::string http(const std::string& status, const std::string& type, const std::string& body,
                 const std::string& extra = "") {
  return "HTTP/1.1 " + status + "\r\nContent-Type: " + type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra +
         "Connection: close\r\n\r\n" + body;
}

net::HttpsRequest request_for(const FakeHttpsServer& server, bool trusted = true) {
  net::HttpsRequest r;
  r.host = kPolicyHost;  // resolvable by nobody: only `addresses` may be used
  r.port = server.port();
  r.path = "/.well-known/mta-sts.txt";
  r.addresses = {"127.0.0.1"};
  if (trusted) r.ca_file = test::shared_test_pki().root_file();
  r.max_body = 65536;
  return r;
}

const std::string kPolicy =
    "version: STSv1\r\nmode: enforce\r\nmx: mail.example.test\r\n"
    "max_age: 86400\r\n";

TEST(HttpsGet, FetchesFromTheGivenAddressWithSniAndVerification) {
  FakeHttpsServer server(test::shared_test_pki().leaf({kPolicyHost}),
                         http("200 OK", "text/plain", kPolicy));
  const auto r = net::https_get(request_for(server), net::Deadline::after(5s));
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->content_type, "text/plain");
  EXPECT_EQ(r->body, kPolicy);
  EXPECT_EQ(server.request().rfind("GET /.well-known/mta-sts.txt HTTP/1.1\r\n", 0), 0u)
      << server.request();
  EXPECT_NE(
      server.request().find("\r\nHost: mta-sts.example.test:" + std::to_string(server.port())),
      std::string::npos)
      << server.request();
}

TEST(HttpsGet, StatusAndTypeComeBackAsTheyAreAndRedirectsAreNotFollowed) {
  FakeHttpsServer missing(test::shared_test_pki().leaf({kPolicyHost}),
                          http("404 Not Found", "text/html", "<h1>no</h1>"));
  const auto r404 = net::https_get(request_for(missing), net::Deadline::after(5s));
  ASSERT_TRUE(r404) << r404.error();
  EXPECT_EQ(r404->status, 404);
  EXPECT_EQ(r404->content_type, "text/html");
  FakeHttpsServer moved(test::shared_test_pki().leaf({kPolicyHost}),
                        http("301 Moved Permanently", "text/plain", "",
                             "Location: https://elsewhere.example.test/policy\r\n"));
  const auto r301 = net::https_get(request_for(moved), net::Deadline::after(5s));
  ASSERT_TRUE(r301) << r301.error();
  EXPECT_EQ(r301->status, 301);
}

TEST(HttpsGet, ABodyOverTheLimitIsAFailure) {
  FakeHttpsServer big(test::shared_test_pki().leaf({kPolicyHost}),
                      http("200 OK", "text/plain", std::string(65537, 'x')));
  const auto r = net::https_get(request_for(big), net::Deadline::after(5s));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), "body over 65536 bytes");
  // Without Content-Length: the write callback stops it as well.
  FakeHttpsServer chunked(
      test::shared_test_pki().leaf({kPolicyHost}),
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n" +
          std::string(70000, 'y'));
  const auto c = net::https_get(request_for(chunked), net::Deadline::after(5s));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), "body over 65536 bytes");
}

TEST(HttpsGet, ACertificateNotForTheNameOrNotTrustedFailsVerification) {
  FakeHttpsServer other(test::shared_test_pki().leaf({"mta-sts.other.test"}),
                        http("200 OK", "text/plain", kPolicy));
  const auto r = net::https_get(request_for(other), net::Deadline::after(5s));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(),
            "certificate verify failed: SSL: no alternative certificate subject name matches "
            "target host name 'mta-sts.example.test'");
  FakeHttpsServer untrusted(test::shared_test_pki().leaf({kPolicyHost}),
                            http("200 OK", "text/plain", kPolicy));
  const auto u = net::https_get(request_for(untrusted, false), net::Deadline::after(5s));
  ASSERT_FALSE(u);
  EXPECT_EQ(u.error(),
            "certificate verify failed: SSL certificate problem: unable to get local issuer "
            "certificate");
}

TEST(HttpsGet, ASilentServerEndsAtTheDeadline) {
  FakeHttpsServer silent(test::shared_test_pki().leaf({kPolicyHost}), "");
  const auto start = std::chrono::steady_clock::now();
  const auto r = net::https_get(request_for(silent), net::Deadline::after(500ms));
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), "timeout");
  EXPECT_LT(took, 2s);
  EXPECT_GE(took, 400ms);
}

TEST(HttpsGet, NothingListeningIsAConnectFailure) {
  std::uint16_t port = 0;
  {
    const auto fd = test::detail::bind_loopback(AF_INET, SOCK_STREAM, 0);
    port = test::detail::local_port(fd.get());
  }  // closed: the port is free now, connect is refused
  net::HttpsRequest r;
  r.host = kPolicyHost;
  r.port = port;
  r.path = "/.well-known/mta-sts.txt";
  r.addresses = {"127.0.0.1"};
  r.max_body = 65536;
  const auto out = net::https_get(r, net::Deadline::after(3s));
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().find("Failed to connect to mta-sts.example.test port"), std::string::npos)
      << out.error();
}

}  // namespace
}  // namespace smtpverify
