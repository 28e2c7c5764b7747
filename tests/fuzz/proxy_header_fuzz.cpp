// Fuzz target: net::proxy_v1_header / proxy_v2_header for endpoints built from the input:
// [family] [source address, 16 bytes] [source port, 2] [destination address, 16] [port, 2].
// v1 stays within 107 bytes and reads back to the same endpoints; v2's length field matches.
#include <arpa/inet.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "net/proxy_header.h"

namespace {

using smtpverify::net::Endpoint;

Endpoint endpoint(bool v6, const std::uint8_t* address, const std::uint8_t* port) {
  Endpoint ep;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ep.storage);
    a->sin6_family = AF_INET6;
    std::memcpy(&a->sin6_addr, address, 16);
    std::memcpy(&a->sin6_port, port, 2);  // network order, as the input gives it
    ep.length = sizeof(sockaddr_in6);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ep.storage);
    a->sin_family = AF_INET;
    std::memcpy(&a->sin_addr, address, 4);
    std::memcpy(&a->sin_port, port, 2);
    ep.length = sizeof(sockaddr_in);
  }
  return ep;
}

// One v1 field: the text up to the next space (or the CRLF), removed from `rest`.
std::string field(std::string_view& rest) {
  const auto end = std::min(rest.find(' '), rest.size());
  std::string out(rest.substr(0, end));
  rest.remove_prefix(std::min(end + 1, rest.size()));
  return out;
}

bool address_is(int family, const std::string& text, const std::uint8_t* address) {
  unsigned char parsed[16];
  return inet_pton(family, text.c_str(), parsed) == 1 &&
         std::memcmp(parsed, address, family == AF_INET6 ? 16 : 4) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace smtpverify::net;
  if (size < 37) return 0;
  const bool v6 = (data[0] & 1) != 0;
  const int family = v6 ? AF_INET6 : AF_INET;
  const Endpoint src = endpoint(v6, data + 1, data + 17);
  const Endpoint dst = endpoint(v6, data + 19, data + 35);

  const std::string v1 = proxy_v1_header(src, dst);
  FUZZ_CHECK(v1.size() <= 107 && v1.ends_with("\r\n") && v1.find('\n') == v1.size() - 1);
  std::string_view rest(v1.data(), v1.size() - 2);
  FUZZ_CHECK(field(rest) == "PROXY" && field(rest) == (v6 ? "TCP6" : "TCP4"));
  FUZZ_CHECK(address_is(family, field(rest), data + 1) &&
             address_is(family, field(rest), data + 19));
  FUZZ_CHECK(field(rest) == std::to_string(src.port()) &&
             field(rest) == std::to_string(dst.port()));
  FUZZ_CHECK(rest.empty());
  FUZZ_CHECK(describe_proxy_header(ProxyVersion::V1, src, dst) == v1.substr(0, v1.size() - 2));

  const std::string v2 = proxy_v2_header(src, dst);
  const std::size_t block = v6 ? 36 : 12;
  const auto byte = [&v2](std::size_t i) { return static_cast<unsigned char>(v2[i]); };
  FUZZ_CHECK(v2.size() == 16 + block && std::memcmp(v2.data(), "\r\n\r\n\0\r\nQUIT\n", 12) == 0);
  FUZZ_CHECK(byte(12) == 0x21 && byte(13) == (v6 ? 0x21 : 0x11));
  FUZZ_CHECK(static_cast<std::size_t>(byte(14) << 8 | byte(15)) == block);
  const std::size_t len = v6 ? 16 : 4;
  FUZZ_CHECK(std::memcmp(v2.data() + 16, data + 1, len) == 0);
  FUZZ_CHECK(std::memcmp(v2.data() + 16 + len, data + 19, len) == 0);
  FUZZ_CHECK(std::memcmp(v2.data() + 16 + 2 * len, data + 17, 2) == 0);
  FUZZ_CHECK(std::memcmp(v2.data() + 18 + 2 * len, data + 35, 2) == 0);
  FUZZ_CHECK(describe_proxy_header(ProxyVersion::V2, src, dst).rfind("[PROXY v2 ", 0) == 0);
  FUZZ_CHECK(proxy_header(ProxyVersion::V2, src, dst) == v2);
  return 0;
}
