// One HTTPS GET, for the MTA-STS policy (RFC 8461 §3.3). The HTTP client is libcurl, in a
// module of its own (https_curl.cpp) that the plugin loads only for --mta-sts, as it loads the
// TLS module only for TLS: a check that does not fetch never maps libcurl.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "net/deadline.h"

namespace smtpverify::net {

/// What to fetch, and from where. Only `addresses` are connected to: the name is never
/// resolved by anyone but our own resolver (--dns-server holds).
struct HttpsRequest {
  std::string host;                    ///< the name: SNI, certificate name, Host header
  std::uint16_t port = 443;            ///< the port
  std::string path;                    ///< "/.well-known/mta-sts.txt"
  std::vector<std::string> addresses;  ///< IP literals without brackets, tried in order
  std::optional<std::string> ca_file;  ///< trust only these (else the system's trust store)
  std::optional<std::string> ca_path;  ///< …and/or this folder (OpenSSL c_rehash layout)
  std::size_t max_body = 0;            ///< a longer body is a failure
};

/// What came back: any status (redirects are never followed; a 3xx is returned as it is).
struct HttpsResponse {
  long status = 0;
  std::string content_type;  ///< the Content-Type header as sent ("" = none)
  std::string body;          ///< at most max_body bytes
};

/// Whether https_get() can work: the plugin's HTTPS module found and loaded (else why not).
tl::expected<void, std::string> https_ready();

/// GETs https://HOST:PORT/PATH under the deadline: certificate verified for HOST, SNI sent,
/// no redirects, no proxy, no cookies, HTTPS only. The error (a transport failure: connect,
/// TLS, certificate, timeout, a body over max_body) in words.
tl::expected<HttpsResponse, std::string> https_get(const HttpsRequest& request,
                                                   const Deadline& deadline);

}  // namespace smtpverify::net
