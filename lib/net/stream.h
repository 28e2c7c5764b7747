// Sockets: endpoints, a non-blocking connect under the deadline, and the byte stream the
// dialogue runs over. Knows nothing of SMTP.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "net/deadline.h"

namespace smtpverify::net {

/// An owned file descriptor, closed on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();

  [[nodiscard]] int get() const { return fd_; }
  [[nodiscard]] bool valid() const { return fd_ >= 0; }
  int release();

 private:
  int fd_ = -1;
};

/// An IPv4 or IPv6 address with a port.
struct Endpoint {
  sockaddr_storage storage{};
  socklen_t length = 0;

  [[nodiscard]] int family() const { return storage.ss_family; }
  [[nodiscard]] std::uint16_t port() const;
  /// The address alone: "192.0.2.1" or "2001:db8::1" (no brackets).
  [[nodiscard]] std::string address() const;
  /// "192.0.2.1:25" or "[2001:db8::1]:25".
  [[nodiscard]] std::string to_string() const;
};

/// Parses an IP literal ("192.0.2.1", "2001:db8::1" or "[2001:db8::1]"); nullopt if not one.
std::optional<Endpoint> parse_ip_literal(std::string_view text, std::uint16_t port);

/// The outcome of a socket operation; `error` is errno or 0.
struct IoResult {
  enum class Status { Ok, Eof, Timeout, Error };
  Status status = Status::Ok;
  std::size_t bytes = 0;
  int error = 0;
};

/// Why a connect failed: errno (ETIMEDOUT when the deadline passed), and whether it was the
/// bind to the local address that failed.
struct ConnectError {
  int error = 0;
  bool at_bind = false;
};

/// Connects to `to` from `from` (any local address when nullopt) without blocking past the
/// deadline. On failure returns an invalid Fd and fills `error`.
Fd connect_tcp(const Endpoint& to, const std::optional<Endpoint>& from, const Deadline& deadline,
               ConnectError& error);

/// The local and peer address of a connected socket.
std::optional<Endpoint> local_endpoint(int fd);
std::optional<Endpoint> peer_endpoint(int fd);

/// A connected byte stream: plain TCP here, TLS behind the same interface.
class Stream {
 public:
  virtual ~Stream() = default;
  /// Reads what is available (at least one byte), waiting until the deadline.
  virtual IoResult read(char* buffer, std::size_t size, const Deadline& deadline) = 0;
  /// Writes all of `data`, waiting until the deadline.
  virtual IoResult write_all(std::string_view data, const Deadline& deadline) = 0;
};

/// Plain TCP. Never raises SIGPIPE (MSG_NOSIGNAL).
class TcpStream final : public Stream {
 public:
  explicit TcpStream(Fd fd) : fd_(std::move(fd)) {}
  IoResult read(char* buffer, std::size_t size, const Deadline& deadline) override;
  IoResult write_all(std::string_view data, const Deadline& deadline) override;
  [[nodiscard]] int fd() const { return fd_.get(); }
  /// Hands the socket over (to a TLS stream after STARTTLS); this stream is unusable after.
  Fd release() { return std::move(fd_); }

 private:
  Fd fd_;
};

/// Waits for `events` on fd until the deadline: 1 ready, 0 timed out, -1 error (errno set).
int wait_for(int fd, short events, const Deadline& deadline);

/// wait_for(fd, POLLIN, deadline) on a TCP socket, after asking the kernel (TCP_QUICKACK) to
/// acknowledge what has arrived now and to leave delayed-ACK mode.
int wait_readable(int fd, const Deadline& deadline);

}  // namespace smtpverify::net
