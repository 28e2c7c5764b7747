// The client side of the fakes' self-tests (support_selftest.cpp, tls_selftest.cpp): plain
// blocking sockets to the loopback fakes, and waiting for what their threads do.
#pragma once

#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>

#include "socket_util.h"

namespace smtpverify::test {

/// Generous for sanitizer builds on a loaded CI machine, still far below a hang.
inline constexpr std::chrono::milliseconds kPrompt{2000};

/// True when this machine can bind [::1].
inline bool ipv6_loopback_available() {
  try {
    detail::bind_loopback(AF_INET6, SOCK_STREAM, 0);
    return true;
  } catch (const std::system_error&) {
    return false;
  }
}

/// A blocking client socket connected to the loopback address of family on port, whose reads
/// and writes give up after 5 s, so a broken fake fails the test instead of hanging it (a
/// timed-out SSL call fails like any other).
inline detail::UniqueFd connect_to(int family, uint16_t port, int type = SOCK_STREAM) {
  const detail::LoopbackAddress address = detail::loopback_address(family, port);
  detail::UniqueFd fd(::socket(family, type | SOCK_CLOEXEC, 0));
  if (!fd) detail::throw_errno("socket");
  timeval timeout{5, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  if (::connect(fd.get(), address.get(), address.length) != 0) detail::throw_errno("connect");
  return fd;
}

/// Sends all of bytes (throws std::system_error when the peer is gone).
inline void write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) detail::throw_errno("send");
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

/// Reads up to and including the next LF; returns what was read if EOF or the timeout comes
/// first.
inline std::string read_line(int fd) {
  std::string line;
  char c = 0;
  while (::recv(fd, &c, 1, 0) == 1) {
    line += c;
    if (c == '\n') break;
  }
  return line;
}

/// Reads until EOF (or the receive timeout).
inline std::string read_all(int fd) {
  std::string out;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0)
    out.append(buffer, static_cast<size_t>(n));
  return out;
}

/// True when the peer closed: recv returns 0 (or a reset) within the timeout.
inline bool sees_eof(int fd) {
  char c = 0;
  const ssize_t n = ::recv(fd, &c, 1, 0);
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

/// Polls condition until it holds or timeout passes; for state another thread reaches soon.
template <typename F>
bool eventually(F&& condition, std::chrono::milliseconds timeout = kPrompt) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

/// How long f() took.
template <typename F>
std::chrono::milliseconds time_of(F&& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start);
}

}  // namespace smtpverify::test
