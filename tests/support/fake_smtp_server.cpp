#include "fake_smtp_server.h"

#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
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

#include "openssl_util.h"
#include "socket_util.h"

namespace smtpverify::test {

namespace {

using detail::quote;
using detail::SslCtxPtr;
using detail::SslPtr;
using detail::UniqueFd;
using detail::WaitResult;
using detail::WakePipe;

constexpr std::chrono::milliseconds kForever{-1};
// The brief's bound on one line; it keeps a client without CRLF from growing memory forever.
constexpr size_t kMaxLine = 1024 * 1024;
// Bounds what one session can make us record (lines and DATA bodies together).
constexpr size_t kMaxRecorded = 64 * 1024 * 1024;
constexpr size_t kReadChunk = 64 * 1024;
// RFC 8446 5.1: the largest TLS record payload; stream_forever() writes about this much at once.
constexpr size_t kStreamBatch = 16 * 1024;
// What send_garbage_handshake() answers a ClientHello with: plausible SMTP, never a TLS record.
constexpr std::string_view kGarbageLine = "220 not tls\r\n";
constexpr int kGarbageRepeats = 40;
// RFC 8446 5.1: a record starts with type (22 = handshake), a 2-byte version, a 2-byte length.
constexpr size_t kTlsRecordHeader = 5;
constexpr unsigned char kTlsHandshakeRecord = 22;

// How one I/O operation on the client socket ended.
enum class Io { Ok, Closed, Woken, TooLong };

// What the step loop does after a step.
enum class Next { Continue, EndSession, Stop };

std::string_view strip_line_ending(std::string_view raw) {
  if (!raw.empty() && raw.back() == '\n') raw.remove_suffix(1);
  if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
  return raw;
}

// Steps that cannot run without the client sending something.
bool is_expect(Step::Kind kind) {
  return kind == Step::Kind::Expect || kind == Step::Kind::ExpectPrefix ||
         kind == Step::Kind::ExpectAlone || kind == Step::Kind::ExpectData ||
         kind == Step::Kind::StartTls || kind == Step::Kind::GarbageHandshake ||
         kind == Step::Kind::CloseMidHandshake || kind == Step::Kind::ExpectRaw;
}

std::string describe(const Step& step) {
  switch (step.kind) {
    case Step::Kind::Send:
      return "send " + quote(step.text);
    case Step::Kind::Expect:
      return "expect " + quote(step.text);
    case Step::Kind::ExpectPrefix:
      return "expect_prefix " + quote(step.text);
    case Step::Kind::ExpectAlone:
      return "expect_alone " + quote(step.text);
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
    case Step::Kind::StartTls:
      return "start_tls";
    case Step::Kind::GarbageHandshake:
      return "send_garbage_handshake";
    case Step::Kind::CloseMidHandshake:
      return "close_mid_handshake";
    case Step::Kind::ExpectRaw:
      return "expect_raw " + std::to_string(step.size) + " bytes";
  }
  return "unknown step";
}

Step make_step(Step::Kind kind, std::string text = {},
               std::chrono::milliseconds duration = std::chrono::milliseconds(0)) {
  Step step;
  step.kind = kind;
  step.text = std::move(text);
  step.duration = duration;
  return step;
}

bool below_tls12(int version) { return version != 0 && version < TLS1_2_VERSION; }

// The server context of one start_tls() step, built before the thread starts so that a bad setup
// fails the test at once (in the constructor) instead of as a handshake error later.
SslCtxPtr make_server_context(const TlsSetup& setup) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) detail::throw_openssl("SSL_CTX_new");
  if (below_tls12(setup.min_version) || below_tls12(setup.max_version)) {
    // OpenSSL 3 refuses SHA-1 signatures from security level 1 up, and TLS 1.0/1.1 cannot sign
    // a handshake any other way; level 0 (in the cipher string too, which would otherwise reset
    // it) is the only way to serve the "TLS 1.0/1.1 only" fault.
    SSL_CTX_set_security_level(ctx.get(), 0);
    if (SSL_CTX_set_cipher_list(ctx.get(), "DEFAULT:@SECLEVEL=0") != 1) {
      detail::throw_openssl("SSL_CTX_set_cipher_list");
    }
  }
  if ((setup.min_version != 0 &&
       SSL_CTX_set_min_proto_version(ctx.get(), setup.min_version) != 1) ||
      (setup.max_version != 0 &&
       SSL_CTX_set_max_proto_version(ctx.get(), setup.max_version) != 1)) {
    ERR_clear_error();
    throw std::invalid_argument("TlsSetup: unknown TLS version " +
                                std::to_string(setup.min_version) + ".." +
                                std::to_string(setup.max_version));
  }
  const detail::X509Ptr cert = detail::read_cert(setup.cert_pem);
  const detail::EvpPkeyPtr key = detail::read_key(setup.key_pem);
  if (SSL_CTX_use_certificate(ctx.get(), cert.get()) != 1 ||
      SSL_CTX_use_PrivateKey(ctx.get(), key.get()) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1) {
    throw std::invalid_argument("TlsSetup: certificate and key unusable: " +
                                detail::openssl_error_reason());
  }
  for (const std::string& pem : setup.chain_pem) {
    for (const detail::X509Ptr& extra : detail::read_certs(pem)) {
      if (SSL_CTX_add1_chain_cert(ctx.get(), extra.get()) != 1) {
        detail::throw_openssl("SSL_CTX_add1_chain_cert");
      }
    }
  }
  // NO_AUTO_CHAIN: the chain sent is exactly chain_pem, never completed from a store behind the
  // test's back. PARTIAL_WRITE + MOVING_WRITE_BUFFER: send_all() retries with a shorter view.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_NO_AUTO_CHAIN | SSL_MODE_ENABLE_PARTIAL_WRITE |
                                  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (!setup.send_session_tickets) {
    SSL_CTX_set_num_tickets(ctx.get(), 0);
    SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET);
  }
  return ctx;
}

std::vector<SslCtxPtr> make_server_contexts(const std::vector<Step>& script) {
  std::vector<SslCtxPtr> contexts;
  for (const Step& step : script) {
    contexts.push_back(
        step.kind == Step::Kind::StartTls && step.tls ? make_server_context(*step.tls) : nullptr);
  }
  return contexts;
}

// Why a TLS operation failed, for an error message. Drains the thread's OpenSSL error queue.
std::string tls_failure_reason(int ssl_error, int saved_errno) {
  switch (ssl_error) {
    case SSL_ERROR_ZERO_RETURN:
      return "client sent close_notify";
    case SSL_ERROR_SYSCALL:
      ERR_clear_error();
      return saved_errno == 0 ? "client closed the connection"
                              : std::generic_category().message(saved_errno);
    default:
      return detail::openssl_error_reason("TLS error " + std::to_string(ssl_error));
  }
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
Step start_tls(TlsSetup setup) {
  Step step = make_step(Step::Kind::StartTls);
  step.tls = std::move(setup);
  return step;
}
Step send_garbage_handshake() { return make_step(Step::Kind::GarbageHandshake); }
Step close_mid_handshake() { return make_step(Step::Kind::CloseMidHandshake); }
Step expect_alone(std::string line) { return make_step(Step::Kind::ExpectAlone, std::move(line)); }

Step expect_raw(std::size_t bytes) {
  Step step = make_step(Step::Kind::ExpectRaw);
  step.size = bytes;
  return step;
}

struct FakeSmtpServer::Impl {
  Impl(std::vector<Step> script, int family, uint16_t port)
      : script_(std::move(script)),
        contexts_(make_server_contexts(script_)),
        family_(family),
        listener_(detail::bind_loopback(family, SOCK_STREAM, port)),
        port_(detail::local_port(listener_.get())) {
    if (::listen(listener_.get(), 4) != 0) detail::throw_errno("listen");
    // Started last: every member the thread reads is initialised by now.
    worker_.start([this] { run(); });
  }

  ~Impl() { worker_.stop(); }

  // ---- background thread ------------------------------------------------------------------

  void run() {
    // OpenSSL writes with write(), not send(MSG_NOSIGNAL): a client that is gone would raise
    // SIGPIPE and kill the test binary. Blocked in this thread only, the signal stays pending
    // here and dies with the thread, while the write fails with EPIPE as it should.
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, nullptr);
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
    ssl_.reset();
    client_.reset();
    listener_.reset();
    const std::lock_guard lock(mutex_);
    done_ = true;
    done_cv_.notify_all();
  }

  bool accept_client() {
    for (;;) {
      if (detail::wait_fd(listener_.get(), POLLIN, worker_.wake(), kForever) == WaitResult::Woken) {
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
      case Step::Kind::ExpectAlone:
        return run_expect_alone(index);
      case Step::Kind::ExpectData:
        return run_expect_data(index);
      case Step::Kind::Delay:
        return detail::wait_fd(-1, 0, worker_.wake(), step.duration) == WaitResult::Woken
                   ? Next::Stop
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
      case Step::Kind::StartTls:
        return run_start_tls(index);
      case Step::Kind::GarbageHandshake:
      case Step::Kind::CloseMidHandshake:
        return run_fake_handshake(index);
      case Step::Kind::ExpectRaw:
        return run_expect_raw(index);
    }
    return Next::Continue;
  }

  // The line, and nothing behind it: what was already read, or is readable right now, came in
  // the same write as the line (a pipelining client sends a group in one write).
  Next run_expect_alone(size_t index) {
    const Next next = run_expect(index);
    if (next != Next::Continue) return next;
    if (inbuf_.empty() && !ssl_ &&
        detail::wait_fd(client_.get(), POLLIN, worker_.wake(), std::chrono::milliseconds(0)) ==
            WaitResult::Ready) {
      receive_more();
    }
    if (inbuf_.empty()) return Next::Continue;
    return fail_step(index, "pipelined input after " + quote(script_[index].text));
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
                                    quote(step.text) + closed_suffix());
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
          return fail_step(index, "client closed during the DATA body" + closed_suffix());
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
      if (i > 0 && detail::wait_fd(-1, 0, worker_.wake(), step.duration) == WaitResult::Woken) {
        return Next::Stop;
      }
      const Next next = after_send(index, send_all(std::string_view(step.text).substr(i, 1)));
      if (next != Next::Continue) return next;
    }
    return Next::Continue;
  }

  Next run_stream(const std::string& chunk) {
    if (chunk.empty()) return hang_until_client_closes();
    // Whole chunks batched into one TLS record's worth: one send() or record per batch instead
    // of per chunk, and a look at the wake pipe between batches. Writes that keep succeeding
    // never wait in poll(), and a sanitized TLS build can take seconds to fill the buffers of a
    // client that does not read; the destructor must not wait for that.
    std::string batch = chunk;
    while (batch.size() < kStreamBatch) batch += chunk;
    for (;;) {
      if (detail::wait_fd(-1, 0, worker_.wake(), std::chrono::milliseconds(0)) ==
          WaitResult::Woken) {
        return Next::Stop;
      }
      const Io io = send_all(batch);
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

  Next run_start_tls(size_t index) {
    if (ssl_) return fail_step(index, "TLS handshake failed: TLS is already active");
    SSL_CTX* ctx = contexts_[index].get();
    if (ctx == nullptr) return fail_step(index, "TLS handshake failed: step has no TlsSetup");
    // A STARTTLS client must wait for the 220 before its ClientHello (RFC 3207 4); anything
    // already read after the last line was sent before that, and would be lost to the handshake.
    if (!inbuf_.empty()) {
      return fail_step(index, "client sent " + quote(inbuf_) + " before the TLS handshake");
    }
    set_tls_state(false, {}, {});
    ssl_.reset(SSL_new(ctx));
    if (!ssl_ || SSL_set_fd(ssl_.get(), client_.get()) != 1) {
      ssl_.reset();
      return fail_step(index, "TLS handshake failed: " + detail::openssl_error_reason());
    }
    tls_fatal_ = false;
    for (;;) {
      ERR_clear_error();
      errno = 0;  // SSL_ERROR_SYSCALL with errno 0 means EOF; a stale errno would hide that
      const int rc = SSL_accept(ssl_.get());
      if (rc == 1) break;
      const int saved_errno = errno;
      const int error = SSL_get_error(ssl_.get(), rc);
      if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
        if (wait_for_tls(error) == WaitResult::Woken) return Next::Stop;
        continue;
      }
      // TLS 1.3: the server writes its session tickets after it has read the client's Finished,
      // i.e. after the handshake is complete for the client. A client that leaves at once makes
      // that write fail; the handshake itself did not, and the next read sees the close.
      if (SSL_get_state(ssl_.get()) == TLS_ST_SW_SESSION_TICKET && error == SSL_ERROR_SYSCALL) {
        ERR_clear_error();
        tls_fatal_ = true;
        break;
      }
      const std::string reason = tls_failure_reason(error, saved_errno);
      // Nothing more can be said over a failed session: close at the TCP level.
      ssl_.reset();
      return fail_step(index, "TLS handshake failed: " + reason);
    }
    const char* server_name = SSL_get_servername(ssl_.get(), TLSEXT_NAMETYPE_host_name);
    set_tls_state(true, SSL_get_version(ssl_.get()), server_name != nullptr ? server_name : "");
    return Next::Continue;
  }

  // send_garbage_handshake() and close_mid_handshake(): the two ways a broken TLS server fails a
  // client that has just sent its ClientHello.
  Next run_fake_handshake(size_t index) {
    std::string header;
    switch (read_exact(kTlsRecordHeader, header)) {
      case Io::Woken:
        return Next::Stop;
      case Io::Closed:
        return fail_step(
            index, "client closed instead of sending a TLS ClientHello" + closed_suffix(header));
      case Io::Ok:
      case Io::TooLong:
        break;
    }
    if (static_cast<unsigned char>(header[0]) != kTlsHandshakeRecord) {
      return fail_step(index, "expected a TLS ClientHello, got " + quote(header + inbuf_));
    }
    const size_t length = static_cast<size_t>(static_cast<unsigned char>(header[3])) << 8 |
                          static_cast<unsigned char>(header[4]);
    std::string hello;
    switch (read_exact(length, hello)) {
      case Io::Woken:
        return Next::Stop;
      case Io::Closed:
        return fail_step(index, "client closed in the middle of its ClientHello");
      case Io::Ok:
      case Io::TooLong:
        break;
    }
    mark_complete();
    if (script_[index].kind == Step::Kind::CloseMidHandshake) return Next::EndSession;
    std::string garbage;
    for (int i = 0; i < kGarbageRepeats; ++i) garbage += kGarbageLine;
    // A client that gives up after the first garbage bytes is what this step is for.
    return send_all(garbage) == Io::Woken ? Next::Stop : Next::EndSession;
  }

  Next run_expect_raw(size_t index) {
    const size_t size = script_[index].size;
    if (!reserve_recorded(size)) return fail_step(index, "client sent more than 64 MiB");
    std::string bytes;
    switch (read_exact(size, bytes)) {
      case Io::Woken:
        return Next::Stop;
      case Io::Closed:
        return fail_step(index, "client closed after " + std::to_string(bytes.size()) + " of " +
                                    std::to_string(size) + " raw bytes" + closed_suffix(bytes));
      case Io::Ok:
      case Io::TooLong:
        break;
    }
    const std::lock_guard lock(mutex_);
    raw_reads_.push_back(std::move(bytes));
    return Next::Continue;
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
    const WaitResult result = detail::wait_fd(client_.get(), POLLRDHUP, worker_.wake(), kForever);
    return result == WaitResult::Woken ? Next::Stop : Next::EndSession;
#else
    for (;;) {
      char buffer[4096];
      if (detail::wait_fd(client_.get(), POLLIN, worker_.wake(), kForever) == WaitResult::Woken) {
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
    if (ssl_) return tls_send_all(bytes);
    while (!bytes.empty()) {
      const ssize_t n = ::send(client_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n > 0) {
        bytes.remove_prefix(static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        short revents = 0;
        if (detail::wait_fd(client_.get(), POLLOUT, worker_.wake(), kForever, &revents) ==
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
      const Io io = receive_more();
      if (io != Io::Ok) return io;
    }
  }

  // Moves exactly size bytes (fewer if the client closes first) from the connection to out.
  Io read_exact(size_t size, std::string& out) {
    out.clear();
    for (;;) {
      const size_t take = std::min(size - out.size(), inbuf_.size());
      out.append(inbuf_, 0, take);
      inbuf_.erase(0, take);
      scanned_ = 0;
      if (out.size() == size) return Io::Ok;
      const Io io = receive_more();
      if (io != Io::Ok) return io;
    }
  }

  // Waits for the client and appends what it sent to inbuf_ (possibly nothing after a spurious
  // wake-up): the one place that reads the socket, plain or through TLS.
  Io receive_more() {
    char buffer[kReadChunk];
    if (ssl_) {
      size_t got = 0;
      const Io io = tls_io([&] { return SSL_read_ex(ssl_.get(), buffer, sizeof(buffer), &got); });
      if (io == Io::Ok) inbuf_.append(buffer, got);
      return io;
    }
    // Data OpenSSL had read ahead is never left behind here: SSL_read_ex above returns it first.
    if (detail::wait_fd(client_.get(), POLLIN, worker_.wake(), kForever) == WaitResult::Woken) {
      return Io::Woken;
    }
    const ssize_t n = ::recv(client_.get(), buffer, sizeof(buffer), 0);
    if (n > 0) {
      inbuf_.append(buffer, static_cast<size_t>(n));
    } else if (n == 0) {
      return Io::Closed;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      return Io::Closed;  // ECONNRESET: the client is gone as surely as with a FIN.
    }
    return Io::Ok;
  }

  Io tls_send_all(std::string_view bytes) {
    if (tls_fatal_) return Io::Closed;
    while (!bytes.empty()) {
      size_t written = 0;
      const Io io =
          tls_io([&] { return SSL_write_ex(ssl_.get(), bytes.data(), bytes.size(), &written); });
      if (io != Io::Ok) return io;
      bytes.remove_prefix(written);
    }
    return Io::Ok;
  }

  // Runs call (an SSL_read_ex or SSL_write_ex on ssl_, 1 on success) until it succeeds, waiting
  // whenever OpenSSL asks to; Closed (noted by note_tls_end) when the session ends instead.
  template <typename Call>
  Io tls_io(Call&& call) {
    if (tls_fatal_) return Io::Closed;
    for (;;) {
      ERR_clear_error();
      errno = 0;
      if (call() == 1) return Io::Ok;
      const int saved_errno = errno;
      const int error = SSL_get_error(ssl_.get(), 0);
      if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
        if (wait_for_tls(error) == WaitResult::Woken) return Io::Woken;
        continue;
      }
      note_tls_end(error, saved_errno);
      return Io::Closed;
    }
  }

  // The wait a non-blocking SSL call asked for; the wake pipe interrupts it like any other.
  WaitResult wait_for_tls(int ssl_error) {
    const short events = ssl_error == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
    return detail::wait_fd(client_.get(), events, worker_.wake(), kForever);
  }

  // Remembers how a TLS session ended: after SSL_ERROR_SYSCALL or SSL_ERROR_SSL OpenSSL forbids
  // further calls (no close_notify then), and anything but a clean close is worth showing.
  void note_tls_end(int ssl_error, int saved_errno) {
    if (ssl_error == SSL_ERROR_ZERO_RETURN) return;  // close_notify: clean, ssl_ stays usable
    tls_fatal_ = true;
    // A FIN without close_notify (OpenSSL 3 reports it as an SSL error) or a reset is how most
    // clients leave: the same close as on a plain connection, nothing to add to a message.
    const bool eof_without_notify =
        ssl_error == SSL_ERROR_SSL &&
        ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
    const bool plain_close =
        ssl_error == SSL_ERROR_SYSCALL &&
        (saved_errno == 0 || saved_errno == ECONNRESET || saved_errno == EPIPE);
    const std::string reason = tls_failure_reason(ssl_error, saved_errno);
    if (!eof_without_notify && !plain_close && tls_note_.empty()) tls_note_ = reason;
  }

  Io read_line(std::string& line) {
    const Io io = read_raw_line(line);
    if (io == Io::Ok) line.resize(strip_line_ending(line).size());
    return io;
  }

  void close_client() {
    if (!client_) return;
    if (ssl_ && !tls_fatal_ && SSL_is_init_finished(ssl_.get()) == 1) {
      // One try at close_notify, as a real server does; non-blocking, so it never waits.
      ERR_clear_error();
      SSL_shutdown(ssl_.get());
      ERR_clear_error();
    }
    ssl_.reset();
    // FIN first, then drain what already arrived: closing with unread data would send RST, and
    // an RST can make the client lose the reply we just sent (e.g. a 421 before the close).
    ::shutdown(client_.get(), SHUT_WR);
    char buffer[kReadChunk];
    for (int i = 0; i < 64 && ::recv(client_.get(), buffer, sizeof(buffer), 0) > 0; ++i) {
    }
    client_.reset();
  }

  // What an error about a closed client adds: an unterminated line (or partial raw read) and
  // how TLS ended when that was not a plain close.
  std::string closed_suffix(const std::string& partial = {}) const {
    std::string suffix;
    const std::string& pending = partial.empty() ? inbuf_ : partial;
    if (!pending.empty()) suffix += " (after an unterminated " + quote(pending) + ")";
    if (!tls_note_.empty()) suffix += " (TLS: " + tls_note_ + ")";
    return suffix;
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

  void set_tls_state(bool established, std::string version, std::string server_name) {
    const std::lock_guard lock(mutex_);
    tls_established_ = established;
    tls_version_ = std::move(version);
    tls_server_name_ = std::move(server_name);
  }

  const std::vector<Step> script_;
  const std::vector<SslCtxPtr> contexts_;  // per step; set for start_tls() steps only
  const int family_;
  UniqueFd listener_;  // thread-owned after construction
  const uint16_t port_;

  // Owned by the background thread alone.
  UniqueFd client_;
  SslPtr ssl_;              // set while the connection runs TLS; freed before client_ closes
  bool tls_fatal_ = false;  // OpenSSL reported SYSCALL/SSL: no further calls on ssl_
  std::string tls_note_;    // why TLS ended, when it was not a plain close
  std::string inbuf_;
  size_t scanned_ = 0;           // inbuf_ holds no LF before this offset
  detail::ServerThread worker_;  // ~Impl stops it before any member it reads goes

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
  std::vector<std::string> raw_reads_;
  bool tls_established_ = false;
  std::string tls_version_;
  std::string tls_server_name_;
};

FakeSmtpServer::FakeSmtpServer(std::vector<Step> script, int family, uint16_t port)
    : impl_(std::make_unique<Impl>(std::move(script), family, port)) {}

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

std::vector<std::string> FakeSmtpServer::raw_reads() const {
  const std::lock_guard lock(impl_->mutex_);
  return impl_->raw_reads_;
}

bool FakeSmtpServer::tls_established() const {
  const std::lock_guard lock(impl_->mutex_);
  return impl_->tls_established_;
}

std::string FakeSmtpServer::tls_version() const {
  const std::lock_guard lock(impl_->mutex_);
  return impl_->tls_version_;
}

std::string FakeSmtpServer::tls_server_name() const {
  const std::lock_guard lock(impl_->mutex_);
  return impl_->tls_server_name_;
}

}  // namespace smtpverify::test
