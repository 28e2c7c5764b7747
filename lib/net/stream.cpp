#include "net/stream.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

namespace smtpverify::net {

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

int Fd::release() { return std::exchange(fd_, -1); }

std::uint16_t Endpoint::port() const {
  if (family() == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
}

std::string Endpoint::address() const {
  std::array<char, INET6_ADDRSTRLEN> buf{};
  const void* src =
      family() == AF_INET
          ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr)
          : static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr);
  if (inet_ntop(family(), src, buf.data(), buf.size()) == nullptr) return "?";
  return buf.data();
}

std::string Endpoint::to_string() const {
  const std::string port_text = std::to_string(port());
  if (family() == AF_INET6) return "[" + address() + "]:" + port_text;
  return address() + ":" + port_text;
}

std::optional<Endpoint> parse_ip_literal(std::string_view text, std::uint16_t port) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  const std::string s(text);
  Endpoint ep;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ep.storage);
  if (inet_pton(AF_INET, s.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    ep.length = sizeof(sockaddr_in);
    return ep;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ep.storage);
  if (inet_pton(AF_INET6, s.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    ep.length = sizeof(sockaddr_in6);
    return ep;
  }
  return std::nullopt;
}

namespace {

tl::unexpected<IoError> io_error(IoError::Kind kind, int error) {
  return tl::unexpected(IoError{kind, error});
}

}  // namespace

tl::expected<void, IoError> wait_for(int fd, short events, const Deadline& deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, deadline.poll_timeout_ms());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error(IoError::Kind::Error, errno);
    if (n == 0) {
      if (deadline.expired()) return io_error(IoError::Kind::Timeout, ETIMEDOUT);
      continue;  // woke a little early (clock granularity): wait for the rest
    }
    return {};
  }
}

// A server that answers in two writes (a TLS 1.3 session ticket, then the reply to our
// command; or a multi-line reply written line by line) with Nagle's algorithm on holds the
// second write until the first is acknowledged, and Linux delays that ACK by up to 40 ms once
// the connection looks interactive. TCP_QUICKACK sends a pending ACK now and leaves the
// delayed-ACK ("pingpong") mode; the kernel re-enters it after our next write, so it is set
// again before every wait for data (what it saves against Postfix: tests/bench/README.md).
// One setsockopt per wait.
tl::expected<void, IoError> wait_readable(int fd, const Deadline& deadline) {
#ifdef TCP_QUICKACK
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
#endif
  return wait_for(fd, POLLIN, deadline);
}

tl::expected<Fd, ConnectError> connect_tcp(const Endpoint& to, const std::optional<Endpoint>& from,
                                           const Deadline& deadline) {
  const auto failed = [](int error, bool at_bind = false) {
    return tl::unexpected(ConnectError{error, at_bind});
  };
  Fd fd(::socket(to.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP));
  if (!fd.valid()) return failed(errno);
  if (from &&
      ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&from->storage), from->length) != 0) {
    return failed(errno, true);
  }
  // One write per command: Nagle would only hold back our small writes.
  const int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&to.storage), to.length) == 0) {
    return fd;
  }
  if (errno != EINPROGRESS) return failed(errno);
  if (const auto ready = wait_for(fd.get(), POLLOUT, deadline); !ready) {
    return failed(ready.error().error);
  }
  int so_error = 0;
  socklen_t len = sizeof so_error;
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &len) != 0) so_error = errno;
  if (so_error != 0) return failed(so_error);
  return fd;
}

std::optional<Endpoint> local_endpoint(int fd) {
  Endpoint ep;
  ep.length = sizeof ep.storage;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ep.storage), &ep.length) != 0) {
    return std::nullopt;
  }
  return ep;
}

tl::expected<std::size_t, IoError> TcpStream::read(char* buffer, std::size_t size,
                                                   const Deadline& deadline) {
  for (;;) {
    const ssize_t n = ::recv(fd_.get(), buffer, size, MSG_DONTWAIT);
    if (n > 0) return static_cast<std::size_t>(n);
    if (n == 0) return io_error(IoError::Kind::Eof, 0);
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return io_error(IoError::Kind::Error, errno);
    if (auto ready = wait_readable(fd_.get(), deadline); !ready) {
      return tl::unexpected(ready.error());
    }
  }
}

tl::expected<void, IoError> TcpStream::write_all(std::string_view data, const Deadline& deadline) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n =
        ::send(fd_.get(), data.data() + sent, data.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return io_error(IoError::Kind::Error, errno);
    if (auto ready = wait_for(fd_.get(), POLLOUT, deadline); !ready) {
      return tl::unexpected(ready.error());
    }
  }
  return {};
}

}  // namespace smtpverify::net
