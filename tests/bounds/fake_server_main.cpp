// bounds_fake_server: one FakeSmtpServer scenario as a process, for scripts (memcheck.sh) that
// need a scripted server without a test binary around them.
// Usage: bounds_fake_server SCENARIO [CA_FILE]
//   Prints the port on the first stdout line, serves one connection, and exits 0 when the
//   client did exactly what the script expects (else 1, with the script error on stderr).
//   TLS scenarios write the test root CA to CA_FILE for the plugin's --ca-file.
//   Scenarios: ok, rejected, garbage, overlong, hang, starttls_ok, starttls_garbage,
//   implicit_tls_ok.
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "support/fake_smtp_server.h"
#include "support/smtp_script.h"
#include "support/test_pki.h"

namespace {

using namespace smtpverify::test;

const std::string kEhlo = "EHLO probe.smtpverify.test";

TlsSetup tls_setup(const TestPki& pki) {
  const TestCert cert = pki.leaf({"mx.smtpverify.test"}, -1, 90, {"127.0.0.1"});
  return {cert.cert_pem, cert.key_pem, {pki.intermediate_pem()}};
}

std::vector<Step> transaction() {
  return {expect("MAIL FROM:<m@smtpverify.test>"),
          send("250 2.1.0 Ok"),
          expect("RCPT TO:<probe@smtpverify.test>"),
          send("250 2.1.5 Ok"),
          expect("DATA"),
          send("354 go"),
          expect_data(),
          send("250 2.0.0 queued"),
          expect("QUIT"),
          send("221 bye"),
          expect_close()};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: bounds_fake_server SCENARIO [CA_FILE]\n";
    return 2;
  }
  const std::string scenario = argv[1];
  const TestPki& pki = shared_test_pki();
  if (argc > 2) std::ofstream(argv[2]) << pki.root_pem();
  const std::vector<Step> starttls = {send("220 mx ESMTP Fake"), expect(kEhlo),
                                      send("250-mx\r\n250 STARTTLS"), expect("STARTTLS"),
                                      send("220 2.0.0 Ready to start TLS")};
  const std::map<std::string, std::vector<Step>> scenarios = {
      {"ok",
       std::vector<Step>{send("220 mx ESMTP Fake"), expect(kEhlo), send("250 mx")} + transaction()},
      {"rejected",
       {send("220 mx ESMTP Fake"), expect(kEhlo), send("250 mx"),
        expect("MAIL FROM:<m@smtpverify.test>"), send("250 ok"),
        expect("RCPT TO:<probe@smtpverify.test>"), send("550 5.1.1 unknown"), expect("QUIT"),
        send("221 bye"), expect_close()}},
      {"garbage", {send("SSH-2.0-OpenSSH_9.2"), expect_close()}},
      {"overlong", {send("220 mx"), expect(kEhlo), stream_forever("250-continued\r\n")}},
      {"hang", {hang()}},
      {"starttls_ok",
       starttls + std::vector<Step>{start_tls(tls_setup(pki)), expect(kEhlo), send("250 mx")} +
           transaction()},
      {"starttls_garbage", starttls + std::vector<Step>{send_garbage_handshake()}},
      {"implicit_tls_ok", std::vector<Step>{start_tls(tls_setup(pki)), send("220 mx ESMTP Fake"),
                                            expect(kEhlo), send("250 mx")} +
                              transaction()},
  };
  const auto it = scenarios.find(scenario);
  if (it == scenarios.end()) {
    std::cerr << "unknown scenario '" << scenario << "'\n";
    return 2;
  }
  FakeSmtpServer server(it->second);
  std::cout << server.port() << std::endl;
  // Slow clients (valgrind) get a minute; the script's own steps bound everything else.
  const bool done = server.wait_done(std::chrono::seconds(60));
  if (!done || !server.error().empty()) {
    std::cerr << "bounds_fake_server " << scenario << ": "
              << (done ? server.error() : "not finished within 60 s") << "\n";
    return 1;
  }
  return 0;
}
