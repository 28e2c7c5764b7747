// MX lookup for --mx (RFC 5321 §5.1, RFC 7505 null MX).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dns/resolver.h"

namespace smtpverify::dns {

/// One MX record.
struct MxHost {
  std::uint16_t preference = 0;
  std::string host;  ///< "" for the null MX's "."; raw, as DNS gave it
  /// `host` passes is_host_name() (dns/resolver.h); when false it may hold any byte (spaces,
  /// '|', control or 8-bit bytes) and must not be printed or connected to as it is.
  bool host_name_ok = false;
};

/// The MX records of a domain, most preferred first (ties in answer order), or why none.
struct MxResult {
  Status status = Status::Error;  ///< NoData: no MX at all (then the domain is its own host)
  std::vector<MxHost> hosts;
  bool null_mx = false;  ///< RFC 7505: the domain accepts no mail
  std::string error;
};

/// Asks DNS for the MX records of `domain` under the deadline.
MxResult lookup_mx(Resolver& resolver, const std::string& domain, const net::Deadline& deadline);

}  // namespace smtpverify::dns
