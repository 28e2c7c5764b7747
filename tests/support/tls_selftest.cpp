// Proves the test PKI and the TLS side of FakeSmtpServer do what the TLS component and e2e tests
// rely on, with a real OpenSSL client on a plain blocking socket.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "fake_smtp_server.h"
#include "loopback_client.h"
#include "openssl_util.h"
#include "socket_util.h"
#include "test_pki.h"

namespace smtpverify::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using detail::Owned;
using detail::SslCtxPtr;
using detail::SslPtr;
using detail::UniqueFd;
using detail::X509Ptr;

constexpr const char* kMx = "mx.smtpverify.test";

const TestPki& pki() { return shared_test_pki(); }

// A good server: the leaf for kMx and both loopback addresses, with the intermediate.
TlsSetup good_setup(int min_version = 0, int max_version = 0) {
  static const TestCert leaf = pki().leaf({kMx}, -1, 90, {"127.0.0.1", "::1"});
  TlsSetup setup;
  setup.cert_pem = leaf.cert_pem;
  setup.key_pem = leaf.key_pem;
  setup.chain_pem = {pki().intermediate_pem()};
  setup.min_version = min_version;
  setup.max_version = max_version;
  return setup;
}

TlsSetup setup_for(const TestCert& cert, bool with_intermediate = true) {
  TlsSetup setup;
  setup.cert_pem = cert.cert_pem;
  setup.key_pem = cert.key_pem;
  if (with_intermediate) setup.chain_pem = {pki().intermediate_pem()};
  return setup;
}

// What the test client checks and allows.
struct ClientOptions {
  std::string ca_pem = pki().root_pem();  // trust anchors; empty = verify nothing
  std::string host = kMx;                 // SSL_set1_host and SNI; empty = neither
  std::string ip;                         // SSL_set1_ip_asc instead of a host name
  int min_version = 0;
  int max_version = 0;
};

// A plain OpenSSL client, as the product's TLS stream will be: SSL_VERIFY_PEER against the test
// root, the host name checked by OpenSSL itself.
class TlsClient {
 public:
  TlsClient(int fd, const ClientOptions& options) {
    // OpenSSL writes with write(): a fake that already closed must fail the call, not raise
    // SIGPIPE in the test thread.
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, nullptr);

    ctx_.reset(SSL_CTX_new(TLS_client_method()));
    if (!ctx_) detail::throw_openssl("SSL_CTX_new");
    if ((options.min_version != 0 && options.min_version < TLS1_2_VERSION) ||
        (options.max_version != 0 && options.max_version < TLS1_2_VERSION)) {
      SSL_CTX_set_security_level(ctx_.get(), 0);
      SSL_CTX_set_cipher_list(ctx_.get(), "DEFAULT:@SECLEVEL=0");
    }
    if (options.min_version != 0) SSL_CTX_set_min_proto_version(ctx_.get(), options.min_version);
    if (options.max_version != 0) SSL_CTX_set_max_proto_version(ctx_.get(), options.max_version);
    if (!options.ca_pem.empty()) {
      X509_STORE* store = SSL_CTX_get_cert_store(ctx_.get());
      for (const X509Ptr& cert : detail::read_certs(options.ca_pem)) {
        X509_STORE_add_cert(store, cert.get());
      }
      SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
    }
    ssl_.reset(SSL_new(ctx_.get()));
    if (!ssl_) detail::throw_openssl("SSL_new");
    SSL_set_fd(ssl_.get(), fd);
    if (!options.host.empty()) {
      SSL_set_tlsext_host_name(ssl_.get(), options.host.c_str());
      if (!options.ca_pem.empty()) SSL_set1_host(ssl_.get(), options.host.c_str());
    }
    if (!options.ip.empty()) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_.get()), options.ip.c_str());
    }
  }

  // SSL_connect; false with error() set when it fails.
  bool handshake() {
    ERR_clear_error();
    if (SSL_connect(ssl_.get()) == 1) return true;
    error_ = detail::openssl_error_reason("SSL_connect failed");
    return false;
  }

  long verify_result() const { return SSL_get_verify_result(ssl_.get()); }
  const std::string& error() const { return error_; }
  SSL* get() const { return ssl_.get(); }

  void write(std::string_view bytes) {
    size_t written = 0;
    ASSERT_EQ(SSL_write_ex(ssl_.get(), bytes.data(), bytes.size(), &written), 1);
    ASSERT_EQ(written, bytes.size());
  }

  // One line including its LF; what came before EOF or an error otherwise.
  std::string read_line() {
    std::string line;
    char c = 0;
    size_t got = 0;
    while (SSL_read_ex(ssl_.get(), &c, 1, &got) == 1) {
      line += c;
      if (c == '\n') break;
    }
    ERR_clear_error();
    return line;
  }

  // True when the server ended the session: close_notify or EOF, no more data.
  bool sees_close() {
    char c = 0;
    size_t got = 0;
    if (SSL_read_ex(ssl_.get(), &c, 1, &got) == 1) return false;
    const int error = SSL_get_error(ssl_.get(), 0);
    ERR_clear_error();
    return error == SSL_ERROR_ZERO_RETURN || error == SSL_ERROR_SYSCALL || error == SSL_ERROR_SSL;
  }

  void close_notify() {
    SSL_shutdown(ssl_.get());
    ERR_clear_error();
  }

 private:
  SslCtxPtr ctx_;
  SslPtr ssl_;
  std::string error_;
};

// ---- TestPki ------------------------------------------------------------------------------

// The verification the product will do: chain to the root, with the untrusted certificates the
// server sent. Returns the X509_V_* result.
int verify(const std::string& leaf_pem, const std::vector<std::string>& untrusted_pem,
           const std::string& anchor_pem = pki().root_pem(), bool tls_server = true) {
  Owned<X509_STORE, X509_STORE_free> store(X509_STORE_new());
  for (const X509Ptr& anchor : detail::read_certs(anchor_pem)) {
    X509_STORE_add_cert(store.get(), anchor.get());
  }
  std::vector<X509Ptr> owned;
  Owned<STACK_OF(X509), detail::free_x509_list> chain(sk_X509_new_null());
  for (const std::string& pem : untrusted_pem) {
    owned.push_back(detail::read_cert(pem));
    sk_X509_push(chain.get(), owned.back().get());
  }
  const X509Ptr leaf = detail::read_cert(leaf_pem);
  Owned<X509_STORE_CTX, X509_STORE_CTX_free> ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), chain.get());
  if (tls_server) {
    X509_VERIFY_PARAM_set_purpose(X509_STORE_CTX_get0_param(ctx.get()), X509_PURPOSE_SSL_SERVER);
  }
  const int ok = X509_verify_cert(ctx.get());
  const int error = X509_STORE_CTX_get_error(ctx.get());
  ERR_clear_error();
  return ok == 1 ? X509_V_OK : error;
}

std::string common_name(const std::string& pem) {
  const X509Ptr cert = detail::read_cert(pem);
  char text[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, text, sizeof(text));
  return text;
}

// Whole days from now to the certificate's notAfter (negative when it lies in the past).
int days_left(const std::string& pem) {
  const X509Ptr cert = detail::read_cert(pem);
  int days = 0;
  int seconds = 0;
  ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notAfter(cert.get()));
  return days;
}

TEST(TestPki, CasHaveTheirNames) {
  EXPECT_EQ(common_name(pki().root_pem()), "smtpverify test root");
  EXPECT_EQ(common_name(pki().intermediate_pem()), "smtpverify test intermediate");
  EXPECT_EQ(verify(pki().intermediate_pem(), {}, pki().root_pem(), false), X509_V_OK);
  // A CA certificate is no TLS server certificate.
  EXPECT_EQ(verify(pki().intermediate_pem(), {}), X509_V_ERR_INVALID_PURPOSE);
  EXPECT_EQ(&pki(), &shared_test_pki());
}

TEST(TestPki, LeafVerifiesWithRootAndIntermediate) {
  const TestCert leaf = pki().leaf({kMx, "alt.smtpverify.test"}, -1, 90, {"127.0.0.1", "::1"});
  EXPECT_EQ(verify(leaf.cert_pem, {pki().intermediate_pem()}), X509_V_OK);
  EXPECT_EQ(common_name(leaf.cert_pem), kMx);
  const X509Ptr cert = detail::read_cert(leaf.cert_pem);
  EXPECT_EQ(X509_check_host(cert.get(), kMx, 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(cert.get(), "alt.smtpverify.test", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(cert.get(), "other.smtpverify.test", 0, 0, nullptr), 0);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "::1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "127.0.0.2", 0), 0);
  EXPECT_EQ(X509_check_private_key(cert.get(), detail::read_key(leaf.key_pem).get()), 1);
  EXPECT_TRUE(leaf.key_pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
  // not_before -1, 90 days: 89 days from now, less the time since the leaf was made.
  const int left = days_left(leaf.cert_pem);
  EXPECT_TRUE(left == 88 || left == 89) << left;
}

TEST(TestPki, EveryLeafHasItsOwnKeyAndSerial) {
  const TestCert a = pki().leaf({kMx});
  const TestCert b = pki().leaf({kMx});
  EXPECT_NE(a.key_pem, b.key_pem);
  EXPECT_NE(spki_sha256(a.cert_pem), spki_sha256(b.cert_pem));
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(detail::read_cert(a.cert_pem).get()),
                             X509_get0_serialNumber(detail::read_cert(b.cert_pem).get())),
            0);
}

TEST(TestPki, MissingIntermediateDoesNotVerify) {
  const TestCert leaf = pki().leaf({kMx});
  EXPECT_EQ(verify(leaf.cert_pem, {}), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

TEST(TestPki, ExpiredAndExpiringAndNotYetValid) {
  const TestCert expired = pki().leaf({kMx}, -100, 10);
  EXPECT_EQ(verify(expired.cert_pem, {pki().intermediate_pem()}), X509_V_ERR_CERT_HAS_EXPIRED);
  EXPECT_EQ(days_left(expired.cert_pem), -90);

  const TestCert expiring = pki().leaf({kMx}, -70, 90);
  EXPECT_EQ(verify(expiring.cert_pem, {pki().intermediate_pem()}), X509_V_OK);
  const int left = days_left(expiring.cert_pem);
  EXPECT_TRUE(left == 19 || left == 20) << left;

  const TestCert future = pki().leaf({kMx}, 2, 90);
  EXPECT_EQ(verify(future.cert_pem, {pki().intermediate_pem()}), X509_V_ERR_CERT_NOT_YET_VALID);
}

TEST(TestPki, SelfSignedVerifiesOnlyAgainstItself) {
  const TestCert self = pki().self_signed(kMx);
  EXPECT_EQ(verify(self.cert_pem, {}), X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
  EXPECT_EQ(verify(self.cert_pem, {}, self.cert_pem), X509_V_OK);
  EXPECT_EQ(common_name(self.cert_pem), kMx);
  const X509Ptr cert = detail::read_cert(self.cert_pem);
  EXPECT_EQ(X509_check_host(cert.get(), kMx, 0, 0, nullptr), 1);
}

TEST(TestPki, AnotherPkiIsAnUnknownCa) {
  const TestPki other;
  const TestCert stranger = other.leaf({kMx});
  EXPECT_EQ(verify(stranger.cert_pem, {other.intermediate_pem()}),
            X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
  EXPECT_EQ(verify(stranger.cert_pem, {other.intermediate_pem()}, other.root_pem()), X509_V_OK);
}

TEST(TestPki, BadIpSanThrows) {
  EXPECT_THROW(pki().leaf({kMx}, -1, 90, {"not-an-ip"}), std::invalid_argument);
  const TestCert ip_only = pki().leaf({}, -1, 90, {"127.0.0.1"});
  EXPECT_EQ(X509_check_ip_asc(detail::read_cert(ip_only.cert_pem).get(), "127.0.0.1", 0), 1);
}

TEST(TestPki, DigestsForDane) {
  const TestCert leaf = pki().leaf({kMx});
  const X509Ptr cert = detail::read_cert(leaf.cert_pem);
  // Computed another way: i2d_PUBKEY of the key (SPKI) and X509_digest (whole DER cert).
  unsigned char* spki = nullptr;
  const int spki_length = i2d_PUBKEY(X509_get0_pubkey(cert.get()), &spki);
  ASSERT_GT(spki_length, 0);
  unsigned char expected[EVP_MAX_MD_SIZE];
  unsigned int expected_length = 0;
  EVP_Digest(spki, static_cast<size_t>(spki_length), expected, &expected_length, EVP_sha256(),
             nullptr);
  OPENSSL_free(spki);
  EXPECT_EQ(spki_sha256(leaf.cert_pem),
            std::string(reinterpret_cast<char*>(expected), expected_length));
  EXPECT_EQ(spki_sha256(leaf.cert_pem).size(), 32u);
  X509_digest(cert.get(), EVP_sha256(), expected, &expected_length);
  EXPECT_EQ(cert_sha256(leaf.cert_pem),
            std::string(reinterpret_cast<char*>(expected), expected_length));
  EXPECT_NE(cert_sha256(leaf.cert_pem), spki_sha256(leaf.cert_pem));
  EXPECT_EQ(to_hex(std::string("\x00\x7f\xff", 3)), "007fff");
  EXPECT_EQ(to_hex(cert_sha256(leaf.cert_pem)).size(), 64u);
  EXPECT_THROW(spki_sha256("not pem"), std::invalid_argument);
}

TEST(TestPki, FilesLiveInATempDirRemovedWithThePki) {
  std::string root_path;
  std::string bundle_path;
  {
    const TestPki local;
    root_path = local.root_file();
    EXPECT_EQ(local.root_file(), root_path);
    std::ifstream in(root_path);
    std::stringstream contents;
    contents << in.rdbuf();
    EXPECT_EQ(contents.str(), local.root_pem());
    bundle_path = local.write_file("bundle.pem", local.root_pem() + local.intermediate_pem());
    EXPECT_EQ(std::filesystem::path(bundle_path).parent_path(),
              std::filesystem::path(root_path).parent_path());
    EXPECT_EQ(std::filesystem::file_size(bundle_path),
              local.root_pem().size() + local.intermediate_pem().size());
    EXPECT_THROW(local.write_file("../escape.pem", "x"), std::invalid_argument);
  }
  EXPECT_FALSE(std::filesystem::exists(root_path));
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(root_path).parent_path()));
}

TEST(TestPki, ConcurrentLeaves) {
  std::vector<std::thread> threads;
  std::vector<TestCert> leaves(4);
  for (size_t i = 0; i < leaves.size(); ++i) {
    threads.emplace_back([&, i] { leaves[i] = pki().leaf({"t" + std::to_string(i) + ".test"}); });
  }
  for (std::thread& thread : threads) thread.join();
  for (const TestCert& leaf : leaves) {
    EXPECT_EQ(verify(leaf.cert_pem, {pki().intermediate_pem()}), X509_V_OK);
  }
}

// ---- FakeSmtpServer with TLS --------------------------------------------------------------

TEST(FakeSmtpServerTls, StartTlsDialogue) {
  FakeSmtpServer server({send("220 fake ESMTP"), expect("EHLO client.test"), send("250-fake"),
                         send("250 STARTTLS"), expect("STARTTLS"), send("220 ready"),
                         start_tls(good_setup()), expect("EHLO client.test"), send("250 fake"),
                         expect("QUIT"), send("221 bye"), close_connection()});
  UniqueFd fd = connect_to(AF_INET, server.port());
  EXPECT_EQ(read_line(fd.get()), "220 fake ESMTP\r\n");
  write_all(fd.get(), "EHLO client.test\r\n");
  EXPECT_EQ(read_line(fd.get()), "250-fake\r\n");
  EXPECT_EQ(read_line(fd.get()), "250 STARTTLS\r\n");
  write_all(fd.get(), "STARTTLS\r\n");
  EXPECT_EQ(read_line(fd.get()), "220 ready\r\n");
  EXPECT_FALSE(server.tls_established());
  TlsClient client(fd.get(), {});
  ASSERT_TRUE(client.handshake()) << client.error();
  EXPECT_EQ(client.verify_result(), X509_V_OK);
  client.write("EHLO client.test\r\n");
  EXPECT_EQ(client.read_line(), "250 fake\r\n");
  client.write("QUIT\r\n");
  EXPECT_EQ(client.read_line(), "221 bye\r\n");
  EXPECT_TRUE(client.sees_close());
  ASSERT_TRUE(server.wait_done());
  EXPECT_EQ(server.error(), "");
  EXPECT_TRUE(server.tls_established());
  EXPECT_EQ(server.tls_version(), "TLSv1.3");
  EXPECT_EQ(server.tls_server_name(), kMx);
  EXPECT_EQ(server.received_lines(),
            (std::vector<std::string>{"EHLO client.test", "STARTTLS", "EHLO client.test", "QUIT"}));
}

TEST(FakeSmtpServerTls, ImplicitTlsWhenTheScriptStartsWithStartTls) {
  FakeSmtpServer server({start_tls(good_setup()), send("220 smtps"), expect("QUIT"),
                         send("221 bye"), expect_close()});
  UniqueFd fd = connect_to(AF_INET, server.port());
  TlsClient client(fd.get(), {});
  ASSERT_TRUE(client.handshake()) << client.error();
  EXPECT_EQ(client.read_line(), "220 smtps\r\n");
  client.write("QUIT\r\n");
  EXPECT_EQ(client.read_line(), "221 bye\r\n");
  client.close_notify();
  fd.reset();
  ASSERT_TRUE(server.wait_done());
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(server.received_lines(), std::vector<std::string>{"QUIT"});
}

TEST(FakeSmtpServerTls, Ipv6WithIpSan) {
  if (!ipv6_loopback_available()) GTEST_SKIP() << "no ::1 here";
  FakeSmtpServer server({start_tls(good_setup()), send("220 v6"), expect_close()}, AF_INET6);
  UniqueFd fd = connect_to(AF_INET6, server.port());
  ClientOptions options;
  options.host.clear();
  options.ip = "::1";
  TlsClient client(fd.get(), options);
  ASSERT_TRUE(client.handshake()) << client.error();
  EXPECT_EQ(client.read_line(), "220 v6\r\n");
  fd.reset();
  ASSERT_TRUE(server.wait_done());
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(server.tls_server_name(), "");
}

TEST(FakeSmtpServerTls, DataAndDripAndLinesAfterTheScriptGoThroughTls) {
  FakeSmtpServer server({start_tls(good_setup()), drip("220 slow\r\n", 5ms), expect("DATA"),
                         send("354 go"), expect_data(), send("250 queued")});
  UniqueFd fd = connect_to(AF_INET, server.port());
  TlsClient client(fd.get(), {});
  ASSERT_TRUE(client.handshake()) << client.error();
  EXPECT_EQ(client.read_line(), "220 slow\r\n");
  client.write("DATA\r\n");
  EXPECT_EQ(client.read_line(), "354 go\r\n");
  client.write("Subject: x\r\n\r\n..dot\r\n");
  client.write(".\r\n");
  EXPECT_EQ(client.read_line(), "250 queued\r\n");
  client.write("NOOP\r\n");
  client.close_notify();
  fd.reset();
  ASSERT_TRUE(server.wait_done());
  EXPECT_EQ(server.error(), "unexpected line after script: 'NOOP'");
  EXPECT_EQ(server.data_bodies(), std::vector<std::string>{"Subject: x\r\n\r\n..dot\r\n"});
  EXPECT_EQ(server.received_lines(), (std::vector<std::string>{"DATA", "NOOP"}));
}

TEST(FakeSmtpServerTls, ExpectCloseAcceptsCloseNotifyEofAndReset) {
  for (int how = 0; how < 3; ++how) {
    FakeSmtpServer server({start_tls(good_setup()), send("221 bye"), expect_close()});
    UniqueFd fd = connect_to(AF_INET, server.port());
    TlsClient client(fd.get(), {});
    ASSERT_TRUE(client.handshake()) << client.error();
    EXPECT_EQ(client.read_line(), "221 bye\r\n");
    if (how == 0) client.close_notify();
    if (how == 2) {
      // SO_LINGER 0: close() sends RST instead of FIN.
      linger hard{1, 0};
      ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
    }
    fd.reset();
    ASSERT_TRUE(server.wait_done()) << how;
    EXPECT_EQ(server.error(), "") << how;
  }
}

TEST(FakeSmtpServerTls, ExpectCloseUnderTlsRecordsLines) {
  FakeSmtpServer server({start_tls(good_setup()), send("221 bye"), expect_close()});
  UniqueFd fd = connect_to(AF_INET, server.port());
  TlsClient client(fd.get(), {});
  ASSERT_TRUE(client.handshake()) << client.error();
  EXPECT_EQ(client.read_line(), "221 bye\r\n");
  client.write("NOOP\r\n");
  client.close_notify();
  fd.reset();
  ASSERT_TRUE(server.wait_done());
  EXPECT_EQ(server.error(), "step 3: expected the client to close, got 'NOOP'");
}

TEST(FakeSmtpServerTls, BrokenRecordsShowInTheError) {
  FakeSmtpServer server({start_tls(good_setup()), send("220 hi"), expect("QUIT")});
  UniqueFd fd = connect_to(AF_INET, server.port());
  TlsClient client(fd.get(), {});
  ASSERT_TRUE(client.handshake()) << client.error();
  EXPECT_EQ(client.read_line(), "220 hi\r\n");
  // An application data record the server cannot decrypt, written past the client's TLS.
  write_all(fd.get(), std::string("\x17\x03\x03\x00\x20", 5) + std::string(32, 'x'));
  ASSERT_TRUE(server.wait_done());
  EXPECT_EQ(server.error(),
            "step 3: client closed while expecting 'QUIT' (TLS: decryption failed or bad "
            "record mac)");
}

TEST(FakeSmtpServerTls, Tls12AndSessionTickets) {
  for (const bool tickets : {true, false}) {
    for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
      TlsSetup setup = good_setup(version, version);
      setup.send_session_tickets = tickets;
      FakeSmtpServer server({start_tls(setup), send("220 hi"), expect_close()});
      UniqueFd fd = connect_to(AF_INET, server.port());
      TlsClient client(fd.get(), {});
      ASSERT_TRUE(client.handshake()) << client.error();
      // TLS 1.3 tickets arrive after the handshake; reading the greeting processes them.
      EXPECT_EQ(client.read_line(), "220 hi\r\n");
      const SSL_SESSION* session = SSL_get0_session(client.get());
      ASSERT_NE(session, nullptr);
      EXPECT_EQ(SSL_SESSION_has_ticket(session), tickets ? 1 : 0) << tickets << " " << version;
      fd.reset();
      ASSERT_TRUE(server.wait_done());
      EXPECT_EQ(server.error(), "");
      EXPECT_EQ(server.tls_version(), version == TLS1_2_VERSION ? "TLSv1.2" : "TLSv1.3");
    }
  }
}

TEST(FakeSmtpServerTls, OldProtocolOnlyServerRefusesAModernClient) {
  for (const int old : {TLS1_VERSION, TLS1_1_VERSION}) {
    FakeSmtpServer server({start_tls(good_setup(old, old)), send("220 old")});
    UniqueFd fd = connect_to(AF_INET, server.port());
    ClientOptions options;
    options.min_version = TLS1_2_VERSION;
    TlsClient client(fd.get(), options);
    const auto took = time_of([&] { EXPECT_FALSE(client.handshake()); });
    EXPECT_LT(took, kPrompt);
    EXPECT_NE(client.error(), "");
    ASSERT_TRUE(server.wait_done());
    EXPECT_TRUE(server.error().starts_with("step 1: TLS handshake failed: ")) << server.error();
    EXPECT_FALSE(server.tls_established());
    EXPECT_EQ(server.tls_version(), "");
  }
}

TEST(FakeSmtpServerTls, OldProtocolOnlyServerWorksWithAClientThatAllowsIt) {
  for (const int old : {TLS1_VERSION, TLS1_1_VERSION}) {
    FakeSmtpServer server({start_tls(good_setup(old, old)), send("220 old"), expect_close()});
    UniqueFd fd = connect_to(AF_INET, server.port());
    ClientOptions options;
    options.min_version = TLS1_VERSION;
    TlsClient client(fd.get(), options);
    ASSERT_TRUE(client.handshake()) << client.error();
    EXPECT_EQ(client.read_line(), "220 old\r\n");
    EXPECT_EQ(SSL_version(client.get()), old);
    fd.reset();
    ASSERT_TRUE(server.wait_done());
    EXPECT_EQ(server.error(), "");
    EXPECT_EQ(server.tls_version(), old == TLS1_VERSION ? "TLSv1" : "TLSv1.1");
  }
}

TEST(FakeSmtpServerTls, DefaultClientCannotEvenDoTls11WithoutSecurityLevelZero) {
  // What Debian 12's OpenSSL 3.0 does with a client that sets only the version floor: the
  // handshake still fails, so "TLS 1.0/1.1 only" tests need both knobs on the client too.
  FakeSmtpServer server({start_tls(good_setup(TLS1_1_VERSION, TLS1_1_VERSION))});
  UniqueFd fd = connect_to(AF_INET, server.port());
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_1_VERSION);
  SslPtr ssl(SSL_new(ctx.get()));
  SSL_set_fd(ssl.get(), fd.get());
  EXPECT_NE(SSL_connect(ssl.get()), 1);
  ERR_clear_error();
  ASSERT_TRUE(server.wait_done());
  EXPECT_TRUE(server.error().starts_with("step 1: TLS handshake failed: ")) << server.error();
}

struct CertCase {
  const char* name;
  TlsSetup setup;
  long verify_error;
};

TEST(FakeSmtpServerTls, CertificateFaultsFailTheClientVerification) {
  const std::vector<CertCase> cases = {
      {"missing intermediate", setup_for(pki().leaf({kMx}), false),
       X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY},
      {"wrong name", setup_for(pki().leaf({"other.smtpverify.test"})),
       X509_V_ERR_HOSTNAME_MISMATCH},
      {"expired", setup_for(pki().leaf({kMx}, -100, 10)), X509_V_ERR_CERT_HAS_EXPIRED},
      {"self-signed", setup_for(pki().self_signed(kMx), false),
       X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT},
      {"unknown CA", setup_for(TestPki().leaf({kMx}), false),
       X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY},
  };
  for (const CertCase& c : cases) {
    FakeSmtpServer server({start_tls(c.setup), send("220 hi")});
    UniqueFd fd = connect_to(AF_INET, server.port());
    TlsClient client(fd.get(), {});
    EXPECT_FALSE(client.handshake()) << c.name;
    EXPECT_EQ(client.error(), "certificate verify failed") << c.name;
    EXPECT_EQ(client.verify_result(), c.verify_error) << c.name;
    fd.reset();
    ASSERT_TRUE(server.wait_done()) << c.name;
    // The client's alert reaches the server as the handshake's failure.
    EXPECT_TRUE(server.error().starts_with("step 1: TLS handshake failed: ")) << server.error();
    EXPECT_FALSE(server.tls_established()) << c.name;
  }
}

TEST(FakeSmtpServerTls, ExpiringCertificateStillVerifies) {
  FakeSmtpServer server({start_tls(setup_for(pki().leaf({kMx}, -70, 90))), send("220 hi")});
  UniqueFd fd = connect_to(AF_INET, server.port());
  TlsClient client(fd.get(), {});
  ASSERT_TRUE(client.handshake()) << client.error();
  const X509Ptr peer(SSL_get1_peer_certificate(client.get()));
  int days = 0;
  int seconds = 0;
  ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notAfter(peer.get()));
  EXPECT_TRUE(days == 19 || days == 20) << days;
  // The chain the server sent: the leaf and the intermediate, not the root.
  EXPECT_EQ(sk_X509_num(SSL_get_peer_cert_chain(client.get())), 2);
}

TEST(FakeSmtpServerTls, ClientThatLeavesRightAfterTheHandshakeIsNoHandshakeFailure) {
  // The TLS 1.3 session tickets go out after the client's Finished; a client gone by then must
  // not turn into "TLS handshake failed".
  for (int i = 0; i < 20; ++i) {
    FakeSmtpServer server({start_tls(good_setup()), expect_close()});
    UniqueFd fd = connect_to(AF_INET, server.port());
    TlsClient client(fd.get(), {});
    ASSERT_TRUE(client.handshake()) << client.error();
    fd.reset();
    ASSERT_TRUE(server.wait_done());
    EXPECT_EQ(server.error(), "") << i;
  }
}

TEST(FakeSmtpServerTls, HandshakeFailureEndsTheSession) {
  FakeSmtpServer server({start_tls(good_setup()), send("220 never"), expect("QUIT")});
  UniqueFd fd = connect_to(AF_INET, server.port());
  write_all(fd.get(), "EHLO plain\r\n");  // not a ClientHello
  EXPECT_EQ(read_all(fd.get()).find("220 never"), std::string::npos);
  ASSERT_TRUE(server.wait_done());
  EXPECT_EQ(server.error(), "step 1: TLS handshake failed: wrong version number");
}

TEST(FakeSmtpServerTls, ClientVanishingMidHandshake) {
  FakeSmtpServer server({start_tls(good_setup()), send("220 never")});
  {
    UniqueFd fd = connect_to(AF_INET, server.port());
    write_all(fd.get(), std::string("\x16\x03\x01\x02\x00\x01\x00", 7));  // a ClientHello's start
  }
  ASSERT_TRUE(server.wait_done());
  EXPECT_EQ(server.error(), "step 1: TLS handshake failed: unexpected eof while reading");
}

TEST(FakeSmtpServerTls, ClientBytesPipelinedBeforeTheHandshakeAreAnError) {
  FakeSmtpServer server({expect("STARTTLS"), send("220 ready"), start_tls(good_setup())});
  UniqueFd fd = connect_to(AF_INET, server.port());
  write_all(fd.get(), "STARTTLS\r\nEHLO early\r\n");
  ASSERT_TRUE(server.wait_done());
  EXPECT_EQ(server.error(), "step 3: client sent 'EHLO early\\x0d\\x0a' before the TLS handshake");
}

TEST(FakeSmtpServerTls, StartTlsResponseInjection) {
  // curl test 980: bytes after the 220 must make the client give up before any handshake.
  FakeSmtpServer good({expect("STARTTLS"), send("220 ready\r\n250 injected"), expect_close()});
  {
    UniqueFd fd = connect_to(AF_INET, good.port());
    write_all(fd.get(), "STARTTLS\r\n");
    EXPECT_EQ(read_line(fd.get()), "220 ready\r\n");
    EXPECT_EQ(read_line(fd.get()), "250 injected\r\n");
  }
  ASSERT_TRUE(good.wait_done());
  EXPECT_EQ(good.error(), "");

  // A client that starts the handshake anyway is caught: its ClientHello is not a close.
  FakeSmtpServer bad({expect("STARTTLS"), send("220 ready\r\n250 injected"), expect_close()});
  {
    UniqueFd fd = connect_to(AF_INET, bad.port());
    write_all(fd.get(), "STARTTLS\r\n");
    read_line(fd.get());
    read_line(fd.get());
    write_all(fd.get(), std::string("\x16\x03\x01\x00\x05hello", 10));
  }
  ASSERT_TRUE(bad.wait_done());
  EXPECT_EQ(bad.error(),
            "step 3: expected the client to close, got '\\x16\\x03\\x01\\x00\\x05hello'");
}

TEST(FakeSmtpServerTls, GarbageInsteadOfServerHelloFailsTheClientPromptly) {
  FakeSmtpServer server(
      {expect("STARTTLS"), send("220 ready"), send_garbage_handshake(), send("never sent")});
  UniqueFd fd = connect_to(AF_INET, server.port());
  write_all(fd.get(), "STARTTLS\r\n");
  EXPECT_EQ(read_line(fd.get()), "220 ready\r\n");
  TlsClient client(fd.get(), {});
  const auto took = time_of([&] { EXPECT_FALSE(client.handshake()); });
  EXPECT_LT(took, kPrompt);
  EXPECT_EQ(client.error(), "wrong version number");
  ASSERT_TRUE(server.wait_done());
  EXPECT_EQ(server.error(), "");
}

TEST(FakeSmtpServerTls, GarbageHandshakeSendsPlausibleSmtp) {
  FakeSmtpServer server({send_garbage_handshake()});
  UniqueFd fd = connect_to(AF_INET, server.port());
  write_all(fd.get(), std::string("\x16\x03\x01\x00\x03"
                                  "abc",
                                  8));
  const std::string got = read_all(fd.get());
  EXPECT_TRUE(got.starts_with("220 not tls\r\n220 not tls\r\n")) << got.substr(0, 40);
  ASSERT_TRUE(server.wait_done());
  EXPECT_EQ(server.error(), "");
}

TEST(FakeSmtpServerTls, CloseMidHandshakeFailsTheClientPromptly) {
  FakeSmtpServer server({close_mid_handshake()});
  UniqueFd fd = connect_to(AF_INET, server.port());
  TlsClient client(fd.get(), {});
  const auto took = time_of([&] { EXPECT_FALSE(client.handshake()); });
  EXPECT_LT(took, kPrompt);
  EXPECT_NE(client.error(), "");
  ASSERT_TRUE(server.wait_done());
  EXPECT_EQ(server.error(), "");
}

TEST(FakeSmtpServerTls, FakeHandshakeStepsWantAClientHello) {
  FakeSmtpServer plain({send("220 hi"), close_mid_handshake()});
  {
    UniqueFd fd = connect_to(AF_INET, plain.port());
    read_line(fd.get());
    write_all(fd.get(), "QUIT\r\n");
  }
  ASSERT_TRUE(plain.wait_done());
  EXPECT_EQ(plain.error(), "step 2: expected a TLS ClientHello, got 'QUIT\\x0d\\x0a'");

  FakeSmtpServer gone({send_garbage_handshake()});
  connect_to(AF_INET, gone.port());
  ASSERT_TRUE(gone.wait_done());
  EXPECT_EQ(gone.error(), "step 1: client closed instead of sending a TLS ClientHello");
}

TEST(FakeSmtpServerTls, DestructorIsPromptWhileBlockedInATlsRead) {
  auto server = std::make_unique<FakeSmtpServer>(
      std::vector<Step>{start_tls(good_setup()), send("220 hi"), expect("QUIT")});
  UniqueFd fd = connect_to(AF_INET, server->port());
  TlsClient client(fd.get(), {});
  ASSERT_TRUE(client.handshake()) << client.error();
  EXPECT_EQ(client.read_line(), "220 hi\r\n");
  EXPECT_TRUE(eventually([&] {
    return server->error() == "script incomplete: step 3 (expect 'QUIT') did not finish";
  })) << server->error();
  EXPECT_LT(time_of([&] { server.reset(); }), kPrompt);
}

TEST(FakeSmtpServerTls, DestructorIsPromptMidHandshake) {
  auto server = std::make_unique<FakeSmtpServer>(std::vector<Step>{start_tls(good_setup())});
  UniqueFd fd = connect_to(AF_INET, server->port());
  write_all(fd.get(), std::string("\x16\x03\x01\x02\x00", 5));  // then silence
  EXPECT_TRUE(eventually([&] { return server->client_connected(); }));
  std::this_thread::sleep_for(20ms);
  EXPECT_LT(time_of([&] { server.reset(); }), kPrompt);
}

TEST(FakeSmtpServerTls, DestructorIsPromptWhileStreamingToAClientThatDoesNotRead) {
  auto server = std::make_unique<FakeSmtpServer>(
      std::vector<Step>{start_tls(good_setup()), stream_forever("250-x\r\n")});
  UniqueFd fd = connect_to(AF_INET, server->port());
  TlsClient client(fd.get(), {});
  ASSERT_TRUE(client.handshake()) << client.error();
  EXPECT_EQ(client.read_line(), "250-x\r\n");
  std::this_thread::sleep_for(100ms);  // long enough to fill the socket buffers
  EXPECT_LT(time_of([&] { server.reset(); }), kPrompt);
}

TEST(FakeSmtpServerTls, StreamForeverEndsWhenTheTlsClientCloses) {
  FakeSmtpServer server({start_tls(good_setup()), stream_forever("250-x\r\n")});
  UniqueFd fd = connect_to(AF_INET, server.port());
  TlsClient client(fd.get(), {});
  ASSERT_TRUE(client.handshake()) << client.error();
  EXPECT_EQ(client.read_line(), "250-x\r\n");
  fd.reset();
  ASSERT_TRUE(server.wait_done());
  EXPECT_EQ(server.error(), "");
}

TEST(FakeSmtpServerTls, ExpectRawReadsExactlyTheBytes) {
  // A PROXY protocol v2 header for TCP over IPv4 (16 + 12 bytes), then SMTP on the same socket.
  const std::string header = std::string("\r\n\r\n\0\r\nQUIT\n", 12) +
                             std::string(
                                 "\x21\x11\x00\x0c\x7f\x00\x00\x01\x7f\x00\x00\x01"
                                 "\x30\x39\x00\x19",
                                 16);
  FakeSmtpServer server({expect_raw(header.size()), send("220 behind a proxy"), expect("QUIT")});
  UniqueFd fd = connect_to(AF_INET, server.port());
  write_all(fd.get(), header);
  EXPECT_EQ(read_line(fd.get()), "220 behind a proxy\r\n");
  write_all(fd.get(), "QUIT\r\n");
  fd.reset();
  ASSERT_TRUE(server.wait_done());
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(server.raw_reads(), std::vector<std::string>{header});
  EXPECT_EQ(server.received_lines(), std::vector<std::string>{"QUIT"});
}

TEST(FakeSmtpServerTls, ExpectRawLeavesLaterBytesForTheNextStep) {
  FakeSmtpServer server({expect_raw(3), expect_raw(0), expect("EHLO x")});
  {
    UniqueFd fd = connect_to(AF_INET, server.port());
    write_all(fd.get(), "abcEHLO x\r\n");
  }
  ASSERT_TRUE(server.wait_done());
  EXPECT_EQ(server.error(), "");
  EXPECT_EQ(server.raw_reads(), (std::vector<std::string>{"abc", ""}));
}

TEST(FakeSmtpServerTls, ExpectRawShortRead) {
  FakeSmtpServer server({expect_raw(16)});
  {
    UniqueFd fd = connect_to(AF_INET, server.port());
    write_all(fd.get(), "PRO");
  }
  ASSERT_TRUE(server.wait_done());
  EXPECT_EQ(server.error(),
            "step 1: client closed after 3 of 16 raw bytes (after an "
            "unterminated 'PRO')");
  EXPECT_TRUE(server.raw_reads().empty());
}

TEST(FakeSmtpServerTls, SecondStartTlsIsAnError) {
  FakeSmtpServer server({start_tls(good_setup()), start_tls(good_setup())});
  UniqueFd fd = connect_to(AF_INET, server.port());
  TlsClient client(fd.get(), {});
  ASSERT_TRUE(client.handshake()) << client.error();
  EXPECT_TRUE(client.sees_close());
  ASSERT_TRUE(server.wait_done());
  EXPECT_EQ(server.error(), "step 2: TLS handshake failed: TLS is already active");
}

TEST(FakeSmtpServerTls, BadSetupThrowsFromTheConstructor) {
  TlsSetup no_key = good_setup();
  no_key.key_pem = "nonsense";
  EXPECT_THROW(FakeSmtpServer({start_tls(no_key)}), std::invalid_argument);
  TlsSetup wrong_key = good_setup();
  wrong_key.key_pem = pki().leaf({kMx}).key_pem;
  EXPECT_THROW(FakeSmtpServer({start_tls(wrong_key)}), std::invalid_argument);
  TlsSetup bad_version = good_setup(0x0999, 0);
  EXPECT_THROW(FakeSmtpServer({start_tls(bad_version)}), std::invalid_argument);
}

TEST(FakeSmtpServerTls, ClosingWhileTheServerWaitsForTheHandshakeIsAnErrorOnlyThen) {
  FakeSmtpServer server({send("220 ready"), start_tls(good_setup())});
  {
    UniqueFd fd = connect_to(AF_INET, server.port());
    read_line(fd.get());
  }
  ASSERT_TRUE(server.wait_done());
  EXPECT_EQ(server.error(), "step 2: TLS handshake failed: unexpected eof while reading");
}

}  // namespace
}  // namespace smtpverify::test
