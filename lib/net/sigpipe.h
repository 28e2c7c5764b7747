// SIGPIPE around library code that writes to sockets with write(), not send(MSG_NOSIGNAL):
// OpenSSL's socket BIO (the TLS module) and whatever libcurl hands to OpenSSL (the HTTPS
// module). Internal to lib/net.
#pragma once

#include <csignal>

namespace smtpverify::net {

// To a peer that has gone, write() raises SIGPIPE, which would kill the plugin. Around each
// call that may write, block SIGPIPE for this thread only, swallow one raised meanwhile, and
// restore the mask; nothing process-wide changes.
class SigpipeGuard {
 public:
  SigpipeGuard();
  ~SigpipeGuard();
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_{};
  sigset_t old_{};
  bool was_pending_ = false;
};

}  // namespace smtpverify::net
