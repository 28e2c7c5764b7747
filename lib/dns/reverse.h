// Reverse DNS of our address: its PTR name and whether that name resolves back (forward-confirmed
// reverse DNS), which receiving servers also score. Reported, not rated.
#pragma once

#include <memory>
#include <string>

#include "dns/resolver.h"

namespace smtpverify::dns {

/// The reverse name of an address and whether it resolves back.
struct ReverseAnswer {
  std::string address;             ///< the address asked about
  std::string ptr;                 ///< its PTR name, or "" when none
  bool ptr_is_host_name = false;   ///< `ptr` passes is_host_name() (else: raw bytes from DNS)
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
