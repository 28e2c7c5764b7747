#include "net/proxy_header.h"

#include <cstring>

namespace smtpverify::net {

namespace {

// proxy-protocol.txt §2.2: the v2 signature, chosen so it can never start a v1 header or any
// common text protocol.
constexpr char kV2Signature[12] = {'\x0D', '\x0A', '\x0D', '\x0A', '\x00', '\x0D',
                                   '\x0A', '\x51', '\x55', '\x49', '\x54', '\x0A'};

void append_port(std::string& out, std::uint16_t port) {
  out += static_cast<char>(port >> 8);
  out += static_cast<char>(port & 0xff);
}

void append_address(std::string& out, const Endpoint& ep) {
  if (ep.family() == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ep.storage);
    out.append(reinterpret_cast<const char*>(&a->sin_addr), 4);  // already network order
  } else {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ep.storage);
    out.append(reinterpret_cast<const char*>(&a->sin6_addr), 16);
  }
}

}  // namespace

std::string proxy_v1_header(const Endpoint& source, const Endpoint& destination) {
  // §2.1: addresses in their usual text form (IPv6 without brackets), ports in decimal.
  return std::string("PROXY ") + (source.family() == AF_INET6 ? "TCP6 " : "TCP4 ") +
         source.address() + " " + destination.address() + " " + std::to_string(source.port()) +
         " " + std::to_string(destination.port()) + "\r\n";
}

std::string proxy_v2_header(const Endpoint& source, const Endpoint& destination) {
  const bool v6 = source.family() == AF_INET6;
  std::string out(kV2Signature, sizeof kV2Signature);
  out += '\x21';                   // version 2, command PROXY
  out += v6 ? '\x21' : '\x11';     // AF_INET6 / AF_INET, SOCK_STREAM
  append_port(out, v6 ? 36 : 12);  // length of the address block that follows
  append_address(out, source);
  append_address(out, destination);
  append_port(out, source.port());
  append_port(out, destination.port());
  return out;
}

std::string proxy_header(ProxyVersion version, const Endpoint& source,
                         const Endpoint& destination) {
  return version == ProxyVersion::V1 ? proxy_v1_header(source, destination)
                                     : proxy_v2_header(source, destination);
}

std::string describe_proxy_header(ProxyVersion version, const Endpoint& source,
                                  const Endpoint& destination) {
  if (version == ProxyVersion::V1) {
    std::string line = proxy_v1_header(source, destination);
    line.resize(line.size() - 2);  // without CRLF
    return line;
  }
  return "[PROXY v2 " + std::string(source.family() == AF_INET6 ? "TCP6 " : "TCP4 ") +
         source.to_string() + " -> " + destination.to_string() + ", " +
         std::to_string(proxy_v2_header(source, destination).size()) + " bytes]";
}

}  // namespace smtpverify::net
