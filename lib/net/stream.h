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
#include <tl/expected.hpp>
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

/// Why a socket operation failed: the peer closed the stream (Eof), the deadline passed
/// (Timeout, `error` ETIMEDOUT) or the system said no (Error, `error` is errno).
struct IoError {
  enum class Kind { Eof, Timeout, Error };
  Kind kind = Kind::Error;
  int error = 0;
};

/// Why a connect failed: errno (ETIMEDOUT when the deadline passed), and whether it was the
/// bind to the local address that failed.
struct ConnectError {
  int error = 0;
  bool at_bind = false;
};

/// Connects to `to` from `from` (any local address when nullopt) without blocking past the
/// deadline.
tl::expected<Fd, ConnectError> connect_tcp(const Endpoint& to, const std::optional<Endpoint>& from,
                                           const Deadline& deadline);

/// The local address of a connected socket.
std::optional<Endpoint> local_endpoint(int fd);

/// A connected byte stream: plain TCP here, TLS behind the same interface.
class Stream {
 public:
  virtual ~Stream() = default;
  /// Reads what is available (at least one byte), waiting until the deadline; the number of
  /// bytes read.
  virtual tl::expected<std::size_t, IoError> read(char* buffer, std::size_t size,
                                                  const Deadline& deadline) = 0;
  /// Writes all of `data`, waiting until the deadline.
  virtual tl::expected<void, IoError> write_all(std::string_view data,
                                                const Deadline& deadline) = 0;
};

/// Plain TCP. Never raises SIGPIPE (MSG_NOSIGNAL).
class TcpStream final : public Stream {
 public:
  explicit TcpStream(Fd fd) : fd_(std::move(fd)) {}
  tl::expected<std::size_t, IoError> read(char* buffer, std::size_t size,
                                          const Deadline& deadline) override;
  tl::expected<void, IoError> write_all(std::string_view data, const Deadline& deadline) override;
  /// Hands the socket over (to a TLS stream after STARTTLS); this stream is unusable after.
  Fd release() { return std::move(fd_); }

 private:
  Fd fd_;
};

/// Waits for `events` on fd until the deadline: ready, or a Timeout or Error.
tl::expected<void, IoError> wait_for(int fd, short events, const Deadline& deadline);

/// wait_for(fd, POLLIN, deadline) on a TCP socket, after asking the kernel (TCP_QUICKACK) to
/// acknowledge what has arrived now and to leave delayed-ACK mode.
tl::expected<void, IoError> wait_readable(int fd, const Deadline& deadline);

}  // namespace smtpverify::net
