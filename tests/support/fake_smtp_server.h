// A scriptable SMTP server on a loopback socket for component and end-to-end tests.
//
// The server plays the script against exactly one client connection on a background thread.
// It never decides anything on its own: every byte it sends and every line it accepts comes from
// the script, so a test states the whole dialogue it expects in one place.
//
// TLS: start_tls() runs the server side of a handshake on the connection; every later step then
// reads and writes through TLS. A script whose first step is start_tls() is an implicit-TLS
// server (SMTPS, RFC 8314): the handshake comes before the greeting.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace smtpverify::test {

/// How the fake server does TLS.
struct TlsSetup {
  /// The server certificate (the first certificate in the PEM is used).
  std::string cert_pem;
  /// Its private key.
  std::string key_pem;
  /// Extra certificates sent after the leaf, in order (e.g. the intermediate; one PEM string may
  /// hold several); empty = the leaf alone, the "missing intermediate" server.
  std::vector<std::string> chain_pem;
  /// Lowest protocol version (TLS1_VERSION ... TLS1_3_VERSION); 0 = the library default. A
  /// range reaching below TLS 1.2 also lowers the server to security level 0, without which
  /// OpenSSL 3 cannot sign a TLS 1.0/1.1 handshake at all.
  int min_version = 0;
  /// Highest protocol version; 0 = the library default (TLS 1.3).
  int max_version = 0;
  /// False: no TLS 1.3 NewSessionTicket messages after the handshake and no TLS 1.2 ticket.
  bool send_session_tickets = true;
};

/// One step of a server script; build steps with the functions below.
struct Step {
  /// What the step does.
  enum class Kind {
    Send,               ///< write `text` as is
    Expect,             ///< read one line, it must equal `text`
    ExpectPrefix,       ///< read one line, it must start with `text`
    ExpectData,         ///< read a DATA body up to the "." line
    Delay,              ///< wait `duration`
    CloseConnection,    ///< close the socket; the session ends
    Hang,               ///< do nothing until the client closes; the session ends
    Drip,               ///< write `text` one byte at a time, `duration` apart
    StreamForever,      ///< write `text` over and over until the client closes
    ExpectClose,        ///< read until EOF; any line read is an error
    StartTls,           ///< server side of a TLS handshake with `tls`
    GarbageHandshake,   ///< read a ClientHello, answer with non-TLS bytes, close
    CloseMidHandshake,  ///< read a ClientHello, close without answering
    ExpectRaw,          ///< read exactly `size` bytes
    ExpectAlone,        ///< read one line, it must equal `text` with nothing sent after it
  };
  /// What the step does.
  Kind kind = Kind::Send;
  /// Bytes to send, or the line or prefix to expect.
  std::string text;
  /// The delay, or the gap between dripped bytes.
  std::chrono::milliseconds duration{0};
  /// The TLS setup of a StartTls step.
  std::optional<TlsSetup> tls = std::nullopt;
  /// The byte count of an ExpectRaw step.
  std::size_t size = 0;
};

/// Sends line + "\r\n".
Step send(std::string line);
/// Sends bytes exactly as given (no CRLF added).
Step send_raw(std::string bytes);
/// Reads one line (up to LF, CRLF or LF stripped); it must equal line exactly.
Step expect(std::string line);
/// Reads one line (as expect()); nothing may follow it yet: a client that pipelined more
/// commands behind it (RFC 2920) is the error "step N: pipelined input after 'LINE'", and the
/// server closes the connection, as OpenSMTPD does when PIPELINING was not offered.
Step expect_alone(std::string line);
/// Reads one line; it must start with prefix (case-sensitive).
Step expect_prefix(std::string prefix);
/// Reads a DATA body through the "." line; the raw body (dot-stuffed, CRLF intact, without the
/// final ".\r\n") goes to FakeSmtpServer::data_bodies().
Step expect_data();
/// Waits for duration before the next step.
Step delay(std::chrono::milliseconds duration);
/// Closes the connection at once (sending FIN after what was already sent; under TLS a
/// close_notify first); the session ends.
Step close_connection();
/// Stops reading and writing, keeping the socket open until the client closes or the server is
/// destroyed; the session ends there (later steps never run).
Step hang();
/// Sends bytes one byte at a time with gap between them (a slow server).
Step drip(std::string bytes, std::chrono::milliseconds gap);
/// Sends chunk over and over until the client closes or the server is destroyed; later steps
/// never run. An empty chunk behaves like hang().
Step stream_forever(std::string chunk);
/// Reads until the client closes; every line received before EOF is an error. Under TLS a
/// close_notify, a plain EOF and a reset all count as the close.
Step expect_close();
/// Runs the server side of a TLS handshake on the current connection; every later step (send,
/// expect, expect_data, drip, ...) goes through TLS, and lines read under TLS are recorded like
/// any other. As the first step it makes an implicit-TLS server. A failed handshake is the error
/// "step N: TLS handshake failed: <reason>" (e.g. "tlsv1 alert unknown ca", "unexpected eof
/// while reading") and the session ends. Plaintext already received and not yet consumed when
/// the step starts (a client pipelining bytes ahead of its ClientHello) is an error too. Throws
/// std::invalid_argument from the FakeSmtpServer constructor when the setup is unusable (PEM,
/// key not matching the certificate, unknown version).
Step start_tls(TlsSetup setup);
/// Reads the client's first TLS record (the ClientHello), then answers with non-TLS bytes
/// ("220 not tls\r\n" repeated) instead of a ServerHello and closes; the session ends. Bytes that
/// are not a TLS handshake record are the error "step N: expected a TLS ClientHello, got ...".
Step send_garbage_handshake();
/// Reads the client's ClientHello, then closes without answering; the session ends.
Step close_mid_handshake();
/// Reads exactly bytes raw bytes (e.g. a binary PROXY v2 header) into raw_reads(); they are not
/// lines and do not appear in received_lines().
Step expect_raw(std::size_t bytes);

/// A one-connection SMTP server on 127.0.0.1 or ::1 that plays a script on a background thread.
///
/// Error rules: steps are numbered from 1 in messages. The first failing step is recorded, and the
/// server then closes the connection (the client sees EOF). After the last step the server keeps
/// reading: each further line is recorded and the first one is an error. A client that closes while
/// the server writes is an error only if a step that needs the client (an expect step, start_tls(),
/// the fake handshakes, expect_raw()) was still to come. Lines may be up to
/// 1 MiB long; the server records at most 64 MiB of client data in total.
class FakeSmtpServer {
 public:
  /// Listens on 127.0.0.1 (or ::1 when family == AF_INET6), on `port` (0: one the kernel
  /// chooses), and serves ONE connection with the script on a background thread. Throws
  /// std::system_error if it cannot listen.
  explicit FakeSmtpServer(std::vector<Step> script, int family = AF_INET, uint16_t port = 0);
  /// Stops the thread promptly whatever step it is in, and closes every socket.
  ~FakeSmtpServer();
  FakeSmtpServer(const FakeSmtpServer&) = delete;
  FakeSmtpServer& operator=(const FakeSmtpServer&) = delete;

  /// The port the kernel chose.
  uint16_t port() const;
  /// The address listened on: "127.0.0.1" or "::1".
  std::string host() const;
  /// Blocks until the script has finished (or failed) and the connection is closed by either
  /// side, or until timeout passes. Returns true if finished.
  bool wait_done(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /// Every line the client sent, in order, line ending stripped; DATA bodies are not included.
  std::vector<std::string> received_lines() const;
  /// The raw DATA bodies received by expect_data() steps, in order.
  std::vector<std::string> data_bodies() const;
  /// Empty when every step succeeded; otherwise the first problem: "client never connected",
  /// "step 3: expected 'MAIL FROM:<a@b>', got 'QUIT'", "unexpected line after script: 'NOOP'",
  /// or "script incomplete: step 4 (expect 'QUIT') did not finish" while a step is pending.
  std::string error() const;
  /// True once a client has connected.
  bool client_connected() const;
  /// The bytes read by expect_raw() steps, one entry per step, in order.
  std::vector<std::string> raw_reads() const;
  /// True when the last start_tls() handshake completed (false before one and after a failed one).
  bool tls_established() const;
  /// The protocol of the last completed handshake, e.g. "TLSv1.3" or "TLSv1.1"; empty if none.
  std::string tls_version() const;
  /// The SNI host name the client sent in the last completed handshake; empty if it sent none.
  std::string tls_server_name() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace smtpverify::test
