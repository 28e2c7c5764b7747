// PROXY protocol headers (HAProxy's proxy-protocol.txt, versions 1 and 2), built from the real
// addresses of a connection. Pure functions: bytes out, no I/O.
#pragma once

#include <string>

#include "net/stream.h"

namespace smtpverify::net {

/// Which PROXY protocol version to speak.
enum class ProxyVersion { V1, V2 };

/// v1: "PROXY TCP4 <src> <dst> <srcport> <dstport>\r\n" (TCP6 for IPv6), at most 107 bytes.
/// `source` is our end of the connection, `destination` the server's.
std::string proxy_v1_header(const Endpoint& source, const Endpoint& destination);

/// v2: the 12-byte signature, 0x21 (version 2, PROXY), 0x11/0x21 (TCP over IPv4/IPv6), the
/// address block length (12 or 36, network order), addresses, then ports.
std::string proxy_v2_header(const Endpoint& source, const Endpoint& destination);

/// The header of `version`; both endpoints must be of one family.
std::string proxy_header(ProxyVersion version, const Endpoint& source, const Endpoint& destination);

/// A transcript line for the header: v1 as it is, v2 described ("[PROXY v2 …, 28 bytes]").
std::string describe_proxy_header(ProxyVersion version, const Endpoint& source,
                                  const Endpoint& destination);

}  // namespace smtpverify::net
