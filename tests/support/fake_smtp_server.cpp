#include "fake_smtp_server.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <utility>

#include "socket_util.h"

namespace smtpverify::test {

namespace {

using detail::quote;
using detail::UniqueFd;
using detail::WaitResult;
using detail::WakePipe;

constexpr std::chrono::milliseconds kForever{-1};
// The brief's bound on one line; it keeps a client without CRLF from growing memory forever.
constexpr size_t kMaxLine = 1024 * 1024;
// Bounds what one session can make us record (lines and DATA bodies together).
constexpr size_t kMaxRecorded = 64 * 1024 * 1024;
constexpr size_t kReadChunk = 64 * 1024;

// How one I/O operation on the client socket ended.
enum class Io { Ok, Closed, Woken, TooLong };

// What the step loop does after a step.
enum class Next { Continue, EndSession, Stop };

std::string_view strip_line_ending(std::string_view raw) {
  if (!raw.empty() && raw.back() == '\n') raw.remove_suffix(1);
  if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
  return raw;
}

bool is_expect(Step::Kind kind) {
  return kind == Step::Kind::Expect || kind == Step::Kind::ExpectPrefix ||
         kind == Step::Kind::ExpectData;
}

std::string describe(const Step& step) {
  switch (step.kind) {
    case Step::Kind::Send:
      return "send " + quote(step.text);
    case Step::Kind::Expect:
      return "expect " + quote(step.text);
    case Step::Kind::ExpectPrefix:
      return "expect_prefix " + quote(step.text);
    case Step::Kind::ExpectData:
      return "expect_data";
    case Step::Kind::Delay:
      return "delay " + std::to_string(step.duration.count()) + " ms";
    case Step::Kind::CloseConnection:
      return "close_connection";
    case Step::Kind::Hang:
      return "hang";
    case Step::Kind::Drip:
      return "drip " + quote(step.text);
    case Step::Kind::StreamForever:
      return "stream_forever " + quote(step.text);
    case Step::Kind::ExpectClose:
      return "expect_close";
  }
  return "unknown step";
}

Step make_step(Step::Kind kind, std::string text = {},
               std::chrono::milliseconds duration = std::chrono::milliseconds(0)) {
  return Step{kind, std::move(text), duration};
}

}  // namespace

Step send(std::string line) { return make_step(Step::Kind::Send, std::move(line) + "\r\n"); }
Step send_raw(std::string bytes) { return make_step(Step::Kind::Send, std::move(bytes)); }
Step expect(std::string line) { return make_step(Step::Kind::Expect, std::move(line)); }
Step expect_prefix(std::string prefix) {
  return make_step(Step::Kind::ExpectPrefix, std::move(prefix));
}
Step expect_data() { return make_step(Step::Kind::ExpectData); }
Step delay(std::chrono::milliseconds duration) {
  return make_step(Step::Kind::Delay, {}, duration);
}
Step close_connection() { return make_step(Step::Kind::CloseConnection); }
Step hang() { return make_step(Step::Kind::Hang); }
Step drip(std::string bytes, std::chrono::milliseconds gap) {
  return make_step(Step::Kind::Drip, std::move(bytes), gap);
}
Step stream_forever(std::string chunk) {
  return make_step(Step::Kind::StreamForever, std::move(chunk));
}
Step expect_close() { return make_step(Step::Kind::ExpectClose); }

struct FakeSmtpServer::Impl {
  Impl(std::vector<Step> script, int family)
      : script_(std::move(script)),
        family_(family),
        listener_(detail::bind_loopback(family, SOCK_STREAM, 0)),
        port_(detail::local_port(listener_.get())) {
    if (::listen(listener_.get(), 4) != 0) detail::throw_errno("listen");
    // Started last: every member the thread reads is initialised by now.
    thread_ = std::thread([this] { run(); });
  }

  ~Impl() {
    wake_.wake();
    thread_.join();
  }

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // ---- background thread ------------------------------------------------------------------

  void run() {
    try {
      if (accept_client()) {
        Next next = Next::Continue;
        for (size_t index = 0; index < script_.size() && next == Next::Continue; ++index) {
          set_current_step(index);
          next = run_step(index);
        }
        if (next == Next::Continue) {
          mark_complete();
          next = read_after_script();
        }
        if (next != Next::Stop) close_client();
      }
    } catch (const std::exception& e) {
      // An exception escaping the thread would terminate the whole test binary.
      fail(std::string("server error: ") + e.what());
    }
    // Sockets are closed (or the server is going away) before anyone is told we are done.
    client_.reset();
    listener_.reset();
    const std::lock_guard lock(mutex_);
    done_ = true;
    done_cv_.notify_all();
  }

  bool accept_client() {
    for (;;) {
      if (detail::wait_fd(listener_.get(), POLLIN, wake_, kForever) == WaitResult::Woken) {
        return false;
      }
      const int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd >= 0) {
        client_.reset(fd);
        // One connection only: a second connect is refused instead of waiting in the backlog.
        listener_.reset();
        const std::lock_guard lock(mutex_);
        connected_ = true;
        return true;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) {
        detail::throw_errno("accept4");
      }
    }
  }

  Next run_step(size_t index) {
    const Step& step = script_[index];
    switch (step.kind) {
      case Step::Kind::Send:
        return after_send(index, send_all(step.text));
      case Step::Kind::Expect:
      case Step::Kind::ExpectPrefix:
        return run_expect(index);
      case Step::Kind::ExpectData:
        return run_expect_data(index);
      case Step::Kind::Delay:
        return detail::wait_fd(-1, 0, wake_, step.duration) == WaitResult::Woken ? Next::Stop
                                                                                 : Next::Continue;
      case Step::Kind::CloseConnection:
        mark_complete();
        return Next::EndSession;
      case Step::Kind::Hang:
        mark_complete();
        return hang_until_client_closes();
      case Step::Kind::Drip:
        return run_drip(index);
      case Step::Kind::StreamForever:
        mark_complete();
        return run_stream(step.text);
      case Step::Kind::ExpectClose:
        return run_expect_close(index);
    }
    return Next::Continue;
  }

  Next run_expect(size_t index) {
    const Step& step = script_[index];
    const bool prefix = step.kind == Step::Kind::ExpectPrefix;
    std::string line;
    switch (read_line(line)) {
      case Io::Woken:
        return Next::Stop;
      case Io::TooLong:
        return fail_step(index, "line longer than 1 MiB");
      case Io::Closed:
        return fail_step(index, (prefix ? "client closed while expecting a line starting with "
                                        : "client closed while expecting ") +
                                    quote(step.text) + unterminated_suffix());
      case Io::Ok:
        break;
    }
    const bool matches = prefix ? line.starts_with(step.text) : line == step.text;
    record_line(line);
    if (matches) return Next::Continue;
    return fail_step(index, (prefix ? "expected a line starting with " : "expected ") +
                                quote(step.text) + ", got " + quote(line));
  }

  Next run_expect_data(size_t index) {
    std::string body;
    for (;;) {
      std::string raw;
      switch (read_raw_line(raw)) {
        case Io::Woken:
          return Next::Stop;
        case Io::TooLong:
          return fail_step(index, "DATA body line longer than 1 MiB");
        case Io::Closed:
          return fail_step(index, "client closed during the DATA body" + unterminated_suffix());
        case Io::Ok:
          break;
      }
      // RFC 5321 4.1.1.4: the body ends with a line holding a single ".".
      if (strip_line_ending(raw) == ".") break;
      if (!reserve_recorded(raw.size())) return fail_step(index, "client sent more than 64 MiB");
      body += raw;
    }
    const std::lock_guard lock(mutex_);
    bodies_.push_back(std::move(body));
    return Next::Continue;
  }

  Next run_drip(size_t index) {
    const Step& step = script_[index];
    for (size_t i = 0; i < step.text.size(); ++i) {
      if (i > 0 && detail::wait_fd(-1, 0, wake_, step.duration) == WaitResult::Woken) {
        return Next::Stop;
      }
      const Next next = after_send(index, send_all(std::string_view(step.text).substr(i, 1)));
      if (next != Next::Continue) return next;
    }
    return Next::Continue;
  }

  Next run_stream(const std::string& chunk) {
    if (chunk.empty()) return hang_until_client_closes();
    for (;;) {
      const Io io = send_all(chunk);
      if (io == Io::Woken) return Next::Stop;
      if (io == Io::Closed) return Next::EndSession;
    }
  }

  Next run_expect_close(size_t index) {
    for (;;) {
      std::string line;
      const Io io = read_line(line);
      if (io == Io::Woken) return Next::Stop;
      if (io == Io::TooLong) return fail_step(index, "line longer than 1 MiB");
      if (io == Io::Closed) {
        if (!inbuf_.empty()) {
          record_unexpected(index, "expected the client to close, got ", inbuf_);
          inbuf_.clear();
        }
        mark_complete();
        return Next::EndSession;
      }
      // Keep reading to the close so received_lines() shows everything the client sent.
      record_unexpected(index, "expected the client to close, got ", std::move(line));
    }
  }

  Next read_after_script() {
    for (;;) {
      std::string line;
      const Io io = read_line(line);
      if (io == Io::Woken) return Next::Stop;
      if (io == Io::TooLong) return fail("line longer than 1 MiB after script");
      if (io == Io::Closed) {
        if (!inbuf_.empty()) {
          record_unexpected(std::nullopt, "", inbuf_);
          inbuf_.clear();
        }
        return Next::EndSession;
      }
      record_unexpected(std::nullopt, "", std::move(line));
    }
  }

  // A closed client is only a failure while the script still wanted to hear from it.
  Next after_send(size_t index, Io io) {
    if (io == Io::Woken) return Next::Stop;
    if (io != Io::Closed) return Next::Continue;
    const auto pending =
        std::find_if(script_.begin() + static_cast<std::ptrdiff_t>(index) + 1, script_.end(),
                     [](const Step& s) { return is_expect(s.kind); });
    if (pending == script_.end()) {
      mark_complete();  // nothing left that needed the client
      return Next::EndSession;
    }
    const auto pending_index = static_cast<size_t>(pending - script_.begin());
    return fail_step(index, "client closed while the server was sending; step " +
                                std::to_string(pending_index + 1) + " (" + describe(*pending) +
                                ") never ran");
  }

  Next hang_until_client_closes() {
#ifdef POLLRDHUP
    // POLLRDHUP reports the peer's FIN without reading (and so without consuming) its data.
    const WaitResult result = detail::wait_fd(client_.get(), POLLRDHUP, wake_, kForever);
    return result == WaitResult::Woken ? Next::Stop : Next::EndSession;
#else
    for (;;) {
      char buffer[4096];
      if (detail::wait_fd(client_.get(), POLLIN, wake_, kForever) == WaitResult::Woken) {
        return Next::Stop;
      }
      const ssize_t n = ::recv(client_.get(), buffer, sizeof(buffer), 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        return Next::EndSession;
      }
    }
#endif
  }

  // ---- socket I/O (thread only) -----------------------------------------------------------

  Io send_all(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(client_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n > 0) {
        bytes.remove_prefix(static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        short revents = 0;
        if (detail::wait_fd(client_.get(), POLLOUT, wake_, kForever, &revents) ==
            WaitResult::Woken) {
          return Io::Woken;
        }
        continue;
      }
      return Io::Closed;  // EPIPE, ECONNRESET and friends: the client is gone.
    }
    return Io::Ok;
  }

  // Reads one line including its LF into raw.
  Io read_raw_line(std::string& raw) {
    for (;;) {
      const size_t lf = inbuf_.find('\n', scanned_);
      if (lf != std::string::npos) {
        raw.assign(inbuf_, 0, lf + 1);
        inbuf_.erase(0, lf + 1);
        scanned_ = 0;
        return strip_line_ending(raw).size() > kMaxLine ? Io::TooLong : Io::Ok;
      }
      scanned_ = inbuf_.size();
      // kMaxLine bytes plus a CR could still end well; one more byte cannot.
      if (inbuf_.size() >= kMaxLine + 2) return Io::TooLong;
      if (detail::wait_fd(client_.get(), POLLIN, wake_, kForever) == WaitResult::Woken) {
        return Io::Woken;
      }
      char buffer[kReadChunk];
      const ssize_t n = ::recv(client_.get(), buffer, sizeof(buffer), 0);
      if (n > 0) {
        inbuf_.append(buffer, static_cast<size_t>(n));
      } else if (n == 0) {
        return Io::Closed;
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        return Io::Closed;  // ECONNRESET: the client is gone as surely as with a FIN.
      }
    }
  }

  Io read_line(std::string& line) {
    const Io io = read_raw_line(line);
    if (io == Io::Ok) line.resize(strip_line_ending(line).size());
    return io;
  }

  void close_client() {
    if (!client_) return;
    // FIN first, then drain what already arrived: closing with unread data would send RST, and
    // an RST can make the client lose the reply we just sent (e.g. a 421 before the close).
    ::shutdown(client_.get(), SHUT_WR);
    char buffer[kReadChunk];
    for (int i = 0; i < 64 && ::recv(client_.get(), buffer, sizeof(buffer), 0) > 0; ++i) {
    }
    client_.reset();
  }

  std::string unterminated_suffix() const {
    if (inbuf_.empty()) return {};
    return " (after an unterminated " + quote(inbuf_) + ")";
  }

  // ---- shared state -----------------------------------------------------------------------

  bool reserve_recorded(size_t bytes) {
    const std::lock_guard lock(mutex_);
    if (recorded_ + bytes > kMaxRecorded) return false;
    recorded_ += bytes;
    return true;
  }

  void record_line(const std::string& line) {
    const std::lock_guard lock(mutex_);
    recorded_ += line.size();
    lines_.push_back(line);
  }

  // Records a line nobody expected; the first one becomes the error.
  void record_unexpected(std::optional<size_t> index, const std::string& what, std::string line) {
    std::string message = index ? "step " + std::to_string(*index + 1) + ": " + what + quote(line)
                                : "unexpected line after script: " + quote(line);
    const std::lock_guard lock(mutex_);
    if (error_.empty()) error_ = std::move(message);
    if (recorded_ + line.size() > kMaxRecorded) return;
    recorded_ += line.size();
    lines_.push_back(std::move(line));
  }

  Next fail(std::string message) {
    const std::lock_guard lock(mutex_);
    if (error_.empty()) error_ = std::move(message);
    return Next::EndSession;
  }

  Next fail_step(size_t index, const std::string& message) {
    return fail("step " + std::to_string(index + 1) + ": " + message);
  }

  void set_current_step(size_t index) {
    const std::lock_guard lock(mutex_);
    current_step_ = index;
  }

  void mark_complete() {
    const std::lock_guard lock(mutex_);
    complete_ = true;
  }

  const std::vector<Step> script_;
  const int family_;
  UniqueFd listener_;  // thread-owned after construction
  const uint16_t port_;
  WakePipe wake_;

  // Owned by the background thread alone.
  UniqueFd client_;
  std::string inbuf_;
  size_t scanned_ = 0;  // inbuf_ holds no LF before this offset
  std::thread thread_;

  mutable std::mutex mutex_;
  std::condition_variable done_cv_;
  // Guarded by mutex_.
  bool connected_ = false;
  bool complete_ = false;
  bool done_ = false;
  size_t current_step_ = 0;
  size_t recorded_ = 0;
  std::string error_;
  std::vector<std::string> lines_;
  std::vector<std::string> bodies_;
};

FakeSmtpServer::FakeSmtpServer(std::vector<Step> script, int family)
    : impl_(std::make_unique<Impl>(std::move(script), family)) {}

FakeSmtpServer::~FakeSmtpServer() = default;

uint16_t FakeSmtpServer::port() const { return impl_->port_; }

std::string FakeSmtpServer::host() const { return detail::loopback_host(impl_->family_); }

bool FakeSmtpServer::wait_done(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mutex_);
  return impl_->done_cv_.wait_for(lock, timeout, [this] { return impl_->done_; });
}

std::vector<std::string> FakeSmtpServer::received_lines() const {
  const std::lock_guard lock(impl_->mutex_);
  return impl_->lines_;
}

std::vector<std::string> FakeSmtpServer::data_bodies() const {
  const std::lock_guard lock(impl_->mutex_);
  return impl_->bodies_;
}

std::string FakeSmtpServer::error() const {
  const std::lock_guard lock(impl_->mutex_);
  if (!impl_->connected_) return "client never connected";
  if (!impl_->error_.empty()) return impl_->error_;
  if (!impl_->complete_ && impl_->current_step_ < impl_->script_.size()) {
    const size_t index = impl_->current_step_;
    return "script incomplete: step " + std::to_string(index + 1) + " (" +
           describe(impl_->script_[index]) + ") did not finish";
  }
  return {};
}

bool FakeSmtpServer::client_connected() const {
  const std::lock_guard lock(impl_->mutex_);
  return impl_->connected_;
}

}  // namespace smtpverify::test
