// A scriptable SMTP server on a loopback socket for component and end-to-end tests.
//
// The server plays the script against exactly one client connection on a background thread.
// It never decides anything on its own: every byte it sends and every line it accepts comes from
// the script, so a test states the whole dialogue it expects in one place.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace smtpverify::test {

/// One step of a server script; build steps with the functions below.
struct Step {
  /// What the step does.
  enum class Kind {
    Send,             ///< write `text` as is
    Expect,           ///< read one line, it must equal `text`
    ExpectPrefix,     ///< read one line, it must start with `text`
    ExpectData,       ///< read a DATA body up to the "." line
    Delay,            ///< wait `duration`
    CloseConnection,  ///< close the socket; the session ends
    Hang,             ///< do nothing until the client closes; the session ends
    Drip,             ///< write `text` one byte at a time, `duration` apart
    StreamForever,    ///< write `text` over and over until the client closes
    ExpectClose,      ///< read until EOF; any line read is an error
  };
  /// What the step does.
  Kind kind = Kind::Send;
  /// Bytes to send, or the line or prefix to expect.
  std::string text;
  /// The delay, or the gap between dripped bytes.
  std::chrono::milliseconds duration{0};
};

/// Sends line + "\r\n".
Step send(std::string line);
/// Sends bytes exactly as given (no CRLF added).
Step send_raw(std::string bytes);
/// Reads one line (up to LF, CRLF or LF stripped); it must equal line exactly.
Step expect(std::string line);
/// Reads one line; it must start with prefix (case-sensitive).
Step expect_prefix(std::string prefix);
/// Reads a DATA body through the "." line; the raw body (dot-stuffed, CRLF intact, without the
/// final ".\r\n") goes to FakeSmtpServer::data_bodies().
Step expect_data();
/// Waits for duration before the next step.
Step delay(std::chrono::milliseconds duration);
/// Closes the connection at once (sending FIN after what was already sent); the session ends.
Step close_connection();
/// Stops reading and writing, keeping the socket open until the client closes or the server is
/// destroyed; the session ends there (later steps never run).
Step hang();
/// Sends bytes one byte at a time with gap between them (a slow server).
Step drip(std::string bytes, std::chrono::milliseconds gap);
/// Sends chunk over and over until the client closes or the server is destroyed; later steps
/// never run. An empty chunk behaves like hang().
Step stream_forever(std::string chunk);
/// Reads until the client closes; every line received before EOF is an error.
Step expect_close();

/// A one-connection SMTP server on 127.0.0.1 or ::1 that plays a script on a background thread.
///
/// Error rules: steps are numbered from 1 in messages. The first failing step is recorded, and the
/// server then closes the connection (the client sees EOF). After the last step the server keeps
/// reading: each further line is recorded and the first one is an error. A client that closes while
/// the server writes is an error only if an expect step was still to come. Lines may be up to
/// 1 MiB long; the server records at most 64 MiB of client data in total.
class FakeSmtpServer {
 public:
  /// Listens on 127.0.0.1 (or ::1 when family == AF_INET6), port 0, and serves ONE connection
  /// with the script on a background thread. Throws std::system_error if it cannot listen.
  explicit FakeSmtpServer(std::vector<Step> script, int family = AF_INET);
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

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace smtpverify::test
