// The one deadline of a check, passed down explicitly (no alarm(), no signals, no globals).
#pragma once

#include <chrono>

namespace smtpverify::net {

using Clock = std::chrono::steady_clock;

/// A point in time after which every operation of the check gives up.
class Deadline {
 public:
  explicit Deadline(Clock::time_point at) : at_(at) {}
  /// A deadline `d` from now.
  static Deadline after(Clock::duration d) { return Deadline(Clock::now() + d); }

  [[nodiscard]] Clock::time_point at() const { return at_; }
  [[nodiscard]] bool expired() const { return Clock::now() >= at_; }
  /// Milliseconds left for poll(), rounded up so we never wake early and spin; 0 when expired.
  [[nodiscard]] int poll_timeout_ms() const;

 private:
  Clock::time_point at_;
};

}  // namespace smtpverify::net
