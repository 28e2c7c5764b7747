// TXT lookups (RFC 1035 §3.3.14) for the policy records of --mta-sts (`_mta-sts.DOMAIN`,
// RFC 8461 §3.1) and --tls-rpt (`_smtp._tls.DOMAIN`, RFC 8460 §3).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dns/resolver.h"

namespace smtpverify::dns {

/// The TXT records of a name, each one record's strings joined (RFC 7208 §3.3 and RFC 8461
/// §3.1 read a record so), raw: DNS may put any byte in them.
struct TxtResult {
  Status status = Status::Error;     ///< NoData / NxDomain: no TXT record at all
  std::vector<std::string> records;  ///< at most kMaxTxtRecords, each at most kMaxTxtLength
  std::string error;                 ///< in words when not Ok
};

/// A name's DNS decides how many records we would read: at most this many are kept.
inline constexpr std::size_t kMaxTxtRecords = 16;
/// …and at most this many bytes of each (the rest is cut; a policy record is far shorter).
inline constexpr std::size_t kMaxTxtLength = 1024;

/// The records of a TXT answer (the c-ares status of parsing it in `error` when it fails).
TxtResult parse_txt_answer(const unsigned char* answer, int length);

/// One TXT query, sent at once and collected later, so that several run side by side.
class TxtLookup {
 public:
  /// Sends the query now on `resolver`, which must outlive this object's use.
  TxtLookup(Resolver& resolver, const std::string& name);
  /// Waits for the answer until the deadline; false if it passed first.
  bool finish(const net::Deadline& deadline) { return resolver_.run(deadline, state_->done); }
  /// The answer (a timeout when finish() returned false).
  [[nodiscard]] TxtResult answer() const;

 private:
  struct State {
    bool done = false;
    TxtResult result;
  };
  Resolver& resolver_;
  // Shared with the c-ares callback, which may run after this object is gone (on destroy).
  std::shared_ptr<State> state_;
};

}  // namespace smtpverify::dns
