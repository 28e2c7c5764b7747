// A one-connection loopback server that floods the client: it writes `head`, optionally reads
// one line (the EHLO), then writes `chunk` over and over until `limit` bytes went out or the
// client stopped taking them. Unlike FakeSmtpServer::stream_forever it counts what it sent, so a
// test can show the client hung up long before the flood was over.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

namespace smtpverify::test {

/// Floods one client connection on 127.0.0.1 from a background thread.
class FloodServer {
 public:
  /// Listens on 127.0.0.1, port 0, and serves one connection.
  FloodServer(std::string head, bool read_line_first, std::string chunk, std::size_t limit)
      : head_(std::move(head)), chunk_(std::move(chunk)), limit_(limit) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(listen_fd_, 1) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("FloodServer: cannot listen");
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, read_line_first] { serve(read_line_first); });
  }
  /// Stops serving (a client that never came is fine) and closes every socket.
  ~FloodServer() {
    join();
    ::close(listen_fd_);
  }
  FloodServer(const FloodServer&) = delete;
  FloodServer& operator=(const FloodServer&) = delete;

  /// The port the kernel chose.
  [[nodiscard]] std::uint16_t port() const { return port_; }
  /// Waits for the flood to end; afterwards sent() is final.
  void join() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  /// Bytes written to the client so far (head and chunks).
  [[nodiscard]] std::size_t sent() const { return sent_; }

 private:
  void serve(bool read_line_first) {
    pollfd p{listen_fd_, POLLIN, 0};
    for (int waited = 0; !stop_ && waited < 10000; waited += 50) {
      if (::poll(&p, 1, 50) > 0) break;
    }
    const int fd =
        (p.revents & POLLIN) ? ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC) : -1;
    if (fd < 0) return;
    // A client that stops reading without closing must not block the test forever.
    const timeval five_seconds{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &five_seconds, sizeof five_seconds);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &five_seconds, sizeof five_seconds);
    bool ok = write_all(fd, head_);
    for (char ch = 0; ok && read_line_first && ch != '\n';) ok = ::recv(fd, &ch, 1, 0) == 1;
    while (ok && sent_ < limit_) ok = write_all(fd, chunk_);
    ::close(fd);
  }

  bool write_all(int fd, const std::string& bytes) {
    for (std::size_t done = 0; done < bytes.size();) {
      const ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
      sent_ += static_cast<std::size_t>(n);
    }
    return true;
  }

  std::string head_;
  std::string chunk_;
  std::size_t limit_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> sent_{0};
  std::thread thread_;
};

}  // namespace smtpverify::test
