// Internal helpers shared by the loopback test fakes (fake_smtp_server.cpp, fake_dns_server.cpp)
// and the clients of their self-tests (loopback_client.h). Not part of the fakes' public API.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

namespace smtpverify::test::detail {

/// Throws std::system_error for the current errno, naming the call that failed.
[[noreturn]] inline void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

/// Owns one file descriptor and closes it exactly once.
class UniqueFd {
 public:
  /// An empty holder.
  UniqueFd() = default;
  /// Takes ownership of fd (may be -1).
  explicit UniqueFd(int fd) : fd_(fd) {}
  /// Transfers ownership.
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  /// Transfers ownership, closing what this held.
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  /// The descriptor, or -1.
  int get() const { return fd_; }
  /// True when a descriptor is held.
  explicit operator bool() const { return fd_ >= 0; }
  /// Closes the held descriptor and holds fd instead.
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

/// A self-pipe: one write makes the read end readable for good, so every later poll() that
/// watches it returns at once. This is how destructors interrupt a background thread that is
/// blocked in poll(), whatever it was waiting for.
class WakePipe {
 public:
  /// Creates the pipe (non-blocking, close-on-exec).
  WakePipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) throw_errno("pipe2");
    read_.reset(fds[0]);
    write_.reset(fds[1]);
  }
  /// The end to poll for POLLIN.
  int read_fd() const { return read_.get(); }
  /// Wakes every current and future poll() on read_fd(); safe to call more than once.
  void wake() const {
    const char byte = 1;
    // EAGAIN only means the pipe is already full, i.e. already readable: nothing to do.
    if (::write(write_.get(), &byte, 1) < 0) return;
  }

 private:
  UniqueFd read_;
  UniqueFd write_;
};

/// A fake's background thread and the wake pipe that stops it: start() runs the body, stop()
/// (and the destructor) wakes it and joins. The owner calls stop() first in its own destructor,
/// while everything the thread reads is still alive.
class ServerThread {
 public:
  ServerThread() = default;
  ServerThread(const ServerThread&) = delete;
  ServerThread& operator=(const ServerThread&) = delete;
  ~ServerThread() { stop(); }

  /// Starts body on the thread (once).
  template <typename F>
  void start(F&& body) {
    thread_ = std::thread(std::forward<F>(body));
  }
  /// Wakes the thread's polls and waits for it to return; nothing when it never started.
  void stop() {
    if (!thread_.joinable()) return;
    wake_.wake();
    thread_.join();
  }
  /// The pipe the thread's polls watch.
  const WakePipe& wake() const { return wake_; }

 private:
  WakePipe wake_;
  std::thread thread_;
};

/// The loopback host text for family: "127.0.0.1" or "::1".
inline std::string loopback_host(int family) { return family == AF_INET6 ? "::1" : "127.0.0.1"; }

/// A loopback socket address: 127.0.0.1 or [::1] (by family) and port.
struct LoopbackAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  /// For bind() and connect().
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

/// The loopback address of family (AF_INET or AF_INET6; else EAFNOSUPPORT) with port.
inline LoopbackAddress loopback_address(int family, uint16_t port) {
  LoopbackAddress a;
  if (family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&a.storage);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.length = sizeof(sockaddr_in);
  } else if (family == AF_INET6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    sin6->sin6_addr = in6addr_loopback;
    a.length = sizeof(sockaddr_in6);
  } else {
    throw std::system_error(EAFNOSUPPORT, std::generic_category(), "loopback family");
  }
  return a;
}

/// Creates a non-blocking socket of type bound to the loopback address of family on port
/// (0 lets the kernel choose). Throws std::system_error (e.g. errc::address_in_use).
inline UniqueFd bind_loopback(int family, int type, uint16_t port) {
  const LoopbackAddress address = loopback_address(family, port);
  UniqueFd fd(::socket(family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) throw_errno("socket");
  if (::bind(fd.get(), address.get(), address.length) != 0) throw_errno("bind");
  return fd;
}

/// The local port a bound socket got.
inline uint16_t local_port(int fd) {
  sockaddr_storage storage{};
  socklen_t length = sizeof(storage);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) {
    throw_errno("getsockname");
  }
  if (storage.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
}

/// What a wait on one descriptor ended with.
enum class WaitResult { Ready, Timeout, Woken };

/// Waits until fd reports any of events (fd < 0: wait on nothing but the wake pipe), the wake
/// pipe fires, or timeout passes (negative: no timeout). revents receives fd's events.
inline WaitResult wait_fd(int fd, short events, const WakePipe& wake,
                          std::chrono::milliseconds timeout, short* revents = nullptr) {
  using Clock = std::chrono::steady_clock;
  const bool forever = timeout.count() < 0;
  const auto deadline = Clock::now() + (forever ? std::chrono::milliseconds(0) : timeout);
  for (;;) {
    pollfd fds[2] = {{wake.read_fd(), POLLIN, 0}, {fd, events, 0}};
    int wait_ms = -1;
    if (!forever) {
      const auto left =
          std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
      wait_ms = left > 0 ? static_cast<int>(left) : 0;
    }
    const int n = ::poll(fds, fd >= 0 ? 2 : 1, wait_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("poll");
    }
    if (fds[0].revents != 0) return WaitResult::Woken;
    if (n > 0 && fd >= 0 && fds[1].revents != 0) {
      if (revents != nullptr) *revents = fds[1].revents;
      return WaitResult::Ready;
    }
    if (!forever && Clock::now() >= deadline) return WaitResult::Timeout;
  }
}

/// Renders bytes for an error message: quoted, control and 8-bit bytes as \xNN, long text cut.
inline std::string quote(std::string_view bytes, size_t max_shown = 200) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  const std::string_view shown = bytes.substr(0, max_shown);
  for (const char c : shown) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte == '\\') {
      out += "\\\\";
    } else if (byte < 0x20 || byte >= 0x7f) {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0x0f];
    } else {
      out += c;
    }
  }
  out += "'";
  if (shown.size() < bytes.size()) out += "... (" + std::to_string(bytes.size()) + " bytes)";
  return out;
}

}  // namespace smtpverify::test::detail
