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
  std::vector<std::string> addresses;  ///< A then AAAA, text form
  std::string error;                   ///< in words when not Ok
  std::optional<std::chrono::steady_clock::time_point> finished;  ///< when the last answer came
};

/// A and AAAA of one name, asked of DNS only (the server does not read our hosts file), started
/// at once and collected later so the lookup overlaps connect and banner.
class HeloLookup {
 public:
  /// Sends both queries now on `resolver`, which must outlive this object's use.
  HeloLookup(Resolver& resolver, const std::string& name);
  /// True when both queries have ended.
  [[nodiscard]] bool done() const { return state_->pending == 0; }
  /// Processes answers that are ready, without waiting.
  void pump() { resolver_.pump(); }
  /// Waits for both answers until the deadline; false if it passed first.
  bool finish(const net::Deadline& deadline);
  /// The combined answer (valid once done()).
  [[nodiscard]] HeloAnswer answer() const;

 private:
  struct State {
    int pending = 2;
    bool finished_flag = false;
    std::vector<std::string> v4, v6;
    int status4 = 0, status6 = 0;
    std::optional<std::chrono::steady_clock::time_point> finished;
  };
  Resolver& resolver_;
  // Shared with the c-ares callbacks, which may run after this object is gone (on destroy).
  std::shared_ptr<State> state_;
};

/// "[192.0.2.1]" / "[IPv6:2001:db8::1]" → the address; nullopt for a name.
std::optional<std::string> address_literal(const std::string& helo_name);

/// The canonical name (the first name of its line) of `name` in a hosts(5) text, matched
/// case-insensitively against every name of every line; nullopt when no line names it.
std::optional<std::string> hosts_canonical_name(std::string_view hosts_text, std::string_view name);

}  // namespace smtpverify::dns

namespace smtpverify::dns {

/// The reverse name of our address and whether it resolves back (forward-confirmed reverse
/// DNS), which receiving servers also score. Reported, not rated.
struct ReverseAnswer {
  std::string address;             ///< the address asked about
  std::string ptr;                 ///< its PTR name, or "" when none
  bool forward_confirmed = false;  ///< the PTR name's A/AAAA include the address
  std::string error;               ///< why there is no PTR name ("NXDOMAIN", "DNS timeout", …)
};

/// PTR of an address, then A/AAAA of that name, started at once, collected later.
class ReverseLookup {
 public:
  /// Sends the PTR query for `address` (text form) now on `resolver`.
  ReverseLookup(Resolver& resolver, const std::string& address);
  /// Waits for the answers until the deadline; false if it passed first.
  bool finish(const net::Deadline& deadline);
  /// The answer (valid after finish() returned true).
  [[nodiscard]] ReverseAnswer answer() const;

 private:
  struct State;
  Resolver& resolver_;
  std::shared_ptr<State> state_;
};

}  // namespace smtpverify::dns
