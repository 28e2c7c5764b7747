// Shared helpers of the component tier: run_check in-process against the fakes.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <regex>
#include <string>
#include <vector>

#include "check/config.h"
#include "check/render.h"
#include "check/run_check.h"

namespace smtpverify::test {

/// A Config aimed at 127.0.0.1:port with a fixed HELO name and a short deadline.
inline check::Config config_for(std::uint16_t port, std::string host = "127.0.0.1") {
  check::Config c;
  c.host = std::move(host);
  c.port = port;
  c.helo_name = "probe.smtpverify.test";
  c.timeout = std::chrono::milliseconds(2000);
  // Never ask the machine's resolver about test names; HELO tests point at a FakeDnsServer.
  c.helo_dns = check::HeloDnsMode::Ignore;
  return c;
}

/// "127.0.0.1:PORT" of a UDP port nobody listens on (bound, then closed): a DNS server there
/// refuses every query at once (ICMP port unreachable, ECONNREFUSED).
inline std::string refused_dns_server() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    if (fd >= 0) ::close(fd);
    return "127.0.0.1:1";
  }
  ::close(fd);
  return "127.0.0.1:" + std::to_string(ntohs(sa.sin_port));
}

/// The rendered output of one check.
struct Checked {
  check::State state;
  std::string line;                 ///< first line, times replaced by "T"
  std::vector<std::string> labels;  ///< perfdata labels in order
  std::string text;                 ///< the whole output, untouched
  check::CheckResult result;
};

/// Replaces every number of seconds in the line (summary total and perfdata values) by "T".
inline std::string mask_times(const std::string& line) {
  static const std::regex total(R"(, [0-9.]+ s \|)");
  static const std::regex perf(R"(=([0-9.]+)s;)");
  return std::regex_replace(std::regex_replace(line, total, ", T s |"), perf, "=Ts;");
}

inline Checked check_with(const check::Config& config) {
  Checked c;
  c.result = check::run_check(config);
  const check::Report report = check::make_report(c.result, config);
  c.state = report.state;
  c.text = check::format_nagios(report);
  const std::string first = c.text.substr(0, c.text.find('\n'));
  c.line = mask_times(first);
  const auto bar = first.find(" | ");
  if (bar != std::string::npos) {
    static const std::regex label(R"(([a-z_]+)=)");
    const std::string perf = first.substr(bar + 3);
    for (std::sregex_iterator it(perf.begin(), perf.end(), label), end; it != end; ++it) {
      c.labels.push_back((*it)[1]);
    }
  }
  return c;
}

using Labels = std::vector<std::string>;

}  // namespace smtpverify::test
