// The HELO-name check: does the name we present resolve to the address we connect from?
// Servers reject or score clients on exactly that (RFC 5321 §4.1.4 leaves it to them).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dns/resolver.h"

namespace smtpverify::dns {

/// What DNS says about the HELO name.
struct HeloAnswer {
  Status status = Status::Error;       ///< Ok when at least one address came back
  std::vector<std::string> addresses;  ///< A then AAAA, text form, every one of the answers
  std::string error;                   ///< in words when not Ok
  std::optional<std::chrono::steady_clock::time_point> finished;  ///< when the last answer came
};

/// A and AAAA of one name, asked of DNS only (the server does not read our hosts file), started
/// at once and collected later so the lookup overlaps connect and banner.
class HeloLookup {
 public:
  /// Sends both queries now on `resolver`, which must outlive this object's use.
  HeloLookup(Resolver& resolver, const std::string& name);
  /// Processes answers that are ready, without waiting.
  void pump() { resolver_.pump(); }
  /// Waits for both answers until the deadline; false if it passed first.
  bool finish(const net::Deadline& deadline) { return resolver_.run(deadline, state_->done); }
  /// The combined answer (valid once finish() returned true).
  [[nodiscard]] HeloAnswer answer() const;

 private:
  struct State {
    int pending = 2;
    bool done = false;
    std::vector<std::string> v4, v6;
    int status4 = ARES_ETIMEOUT, status6 = ARES_ETIMEOUT;
    std::optional<std::chrono::steady_clock::time_point> finished;
  };
  Resolver& resolver_;
  // Shared with the c-ares callbacks, which may run after this object is gone (on destroy).
  std::shared_ptr<State> state_;
};

}  // namespace smtpverify::dns
