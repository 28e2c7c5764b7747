#include "check/option_values.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <optional>

#include "net/stream.h"
#include "smtp/phase.h"

namespace smtpverify::check {

namespace {

// RFC 5321 4.5.3.1: the limits of the lines and fields we send.
constexpr std::size_t kMaxLocalPart = 64;     // 4.5.3.1.1
constexpr std::size_t kMaxDomain = 255;       // 4.5.3.1.2
constexpr std::size_t kMaxPath = 256;         // 4.5.3.1.3, with "<" and ">"
constexpr std::size_t kMaxCommandLine = 512;  // 4.5.3.1.4, with CRLF
// RFC 1035 2.3.4: a label, and a name in its text form without the root's trailing dot.
constexpr std::size_t kMaxLabel = 63;
constexpr std::size_t kMaxName = 253;

std::optional<State> parse_state_name(const std::string& text) {
  std::string upper;
  for (const char c : text) upper += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
  if (upper == "OK" || upper == "0") return State::Ok;
  if (upper == "WARNING" || upper == "1") return State::Warning;
  if (upper == "CRITICAL" || upper == "2") return State::Critical;
  if (upper == "UNKNOWN" || upper == "3") return State::Unknown;
  return std::nullopt;
}

// Opens a file an option names without blocking (open() of a FIFO with no writer would wait
// for one) and fstat()s it. "cannot read OPTION 'PATH'" when either fails.
Checked<net::Fd> open_named(const std::string& what, const std::string& path, struct stat& st) {
  net::Fd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0) return bad("cannot read " + what);
  return fd;
}

}  // namespace

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c < 0x20 || c == 0x7f;
  });
}

Checked<std::string> check_address(const std::string& option, std::string value, bool allow_null) {
  if (value.size() >= 2 && value.front() == '<' && value.back() == '>') {
    value = value.substr(1, value.size() - 2);
  }
  if (has_control(value) || value.find(' ') != std::string::npos) {
    return bad(option + " contains a space or control character");
  }
  if (value.find_first_of("<>") != std::string::npos) {
    return bad(option + " '" + value + "' has stray angle brackets");
  }
  if (value.empty() && !allow_null) return bad(option + " is empty");
  // The domain never holds an '@' (a quoted local part may): the local part ends at the last.
  const auto at = value.rfind('@');
  if ((at == std::string::npos ? value.size() : at) > kMaxLocalPart) {
    return bad(option + " has a local part longer than 64 octets (RFC 5321 4.5.3.1.1)");
  }
  if (value.size() + 2 > kMaxPath) {
    return bad(option + " is longer than 256 octets with <> (RFC 5321 4.5.3.1.3)");
  }
  return value;
}

Checked<> check_dns_name(const std::string& option, std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.size() > kMaxName) return bad(option + " is longer than 253 octets (RFC 1035 2.3.4)");
  for (std::size_t start = 0; start <= name.size();) {
    const auto dot = std::min(name.find('.', start), name.size());
    if (dot - start > kMaxLabel) {
      return bad(option + " has a label longer than 63 octets (RFC 1035 2.3.4)");
    }
    start = dot + 1;
  }
  return {};
}

Checked<> check_helo_name(std::string_view name) {
  if (name.empty() || has_control(name) || name.find(' ') != std::string_view::npos) {
    return bad("-F must be a name without spaces or control characters");
  }
  if (name.size() > kMaxDomain) return bad("-F is longer than 255 octets (RFC 5321 4.5.3.1.2)");
  if (name.front() == '[') return {};  // an address literal: [192.0.2.1], [IPv6:2001:db8::1]
  return check_dns_name("-F", name);
}

Checked<> check_command(const std::string& command) {
  if (command.empty() || has_control(command)) {
    return bad("-C command is empty or contains a control character");
  }
  if (command.size() + 2 > kMaxCommandLine) {
    return bad("-C command is longer than 510 octets, 512 with CRLF (RFC 5321 4.5.3.1.4)");
  }
  return {};
}

Checked<std::uint16_t> parse_port(const std::string& text) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 1 || value > 65535) {
    return bad("port '" + text + "' is not a number from 1 to 65535");
  }
  return static_cast<std::uint16_t>(value);
}

Checked<> parse_timeout(const std::string& text, Config& config) {
  const auto colon = text.find(':');
  const std::string seconds_text = text.substr(0, colon);
  double seconds = 0;
  const auto [end, ec] =
      std::from_chars(seconds_text.data(), seconds_text.data() + seconds_text.size(), seconds);
  if (ec != std::errc() || end != seconds_text.data() + seconds_text.size() || !(seconds > 0) ||
      seconds > 86400) {
    return bad("-t '" + text + "': seconds must be a number above 0 and at most 86400");
  }
  config.timeout = std::chrono::milliseconds(static_cast<long long>(seconds * 1000 + 0.5));
  if (config.timeout.count() == 0) config.timeout = std::chrono::milliseconds(1);
  if (colon != std::string::npos) {
    const std::string state = text.substr(colon + 1);
    const auto parsed = parse_state_name(state);
    if (!parsed) return bad("-t state '" + state + "' is not OK, WARNING, CRITICAL or UNKNOWN");
    config.timeout_state = *parsed;
  }
  return {};
}

namespace {

bool plain_label(std::string_view label) {
  if (label == "time" || label == "cert_days") return true;
  const auto known = smtp::phase_from_name(label);
  return known && smtp::takes_thresholds(*known);
}

}  // namespace

bool threshold_label(std::string_view label) {
  if (plain_label(label)) return true;
  // A prefix of the characters perfdata_label() keeps, then "_" and a plain label (not time).
  for (std::size_t at = label.find('_'); at != std::string_view::npos;
       at = label.find('_', at + 1)) {
    const std::string_view prefix = label.substr(0, at);
    const std::string_view rest = label.substr(at + 1);
    const bool safe = !prefix.empty() && std::all_of(prefix.begin(), prefix.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '.' || c == '-';
    });
    if (safe && rest != "time" && plain_label(rest)) return true;
  }
  return false;
}

Checked<> parse_thresholds(const std::string& option, const std::vector<std::string>& values,
                           std::map<std::string, Range, std::less<>>& out) {
  for (const auto& value : values) {
    std::string phase = "time";
    std::string range_text = value;
    if (const auto eq = value.find('='); eq != std::string::npos) {
      phase = value.substr(0, eq);
      range_text = value.substr(eq + 1);
      // "time" is the whole dialogue, "cert_days" the certificate's days left; every other
      // label is a phase of the registry, alone or as --mx-all/--each-address print it, after
      // a host's or an address's prefix ("mx1.example.org_banner", "192.0.2.1_cert_days").
      if (!threshold_label(phase)) {
        return bad(option + ": unknown label '" + phase + "' (labels: time " +
                   smtp::threshold_phase_names(" ") + " cert_days, or PREFIX_ one of them)");
      }
    }
    auto range = parse_range(range_text);
    if (!range) return bad(option + ": " + range.error().what);
    if (!out.emplace(phase, *range).second) return bad(option + " given twice for " + phase);
  }
  return {};
}

Checked<std::string> read_regular_file(const std::string& option, const std::string& path,
                                       std::size_t limit, const std::string& too_big,
                                       bool first_line) {
  const std::string what = option + " '" + path + "'";
  struct stat st {};
  const auto fd = open_named(what, path, st);
  if (!fd) return tl::unexpected(fd.error());
  if (!S_ISREG(st.st_mode)) return bad(what + " is not a regular file");
  // Straight into the string, sized once from the file's size (so no copy of a password is
  // left on the stack or in a block given back by a reallocation, and no deep stack frame).
  std::string text;
  text.reserve(std::min(static_cast<std::size_t>(st.st_size), limit) + 1);
  for (;;) {
    const std::size_t old = text.size();
    const std::size_t room = text.capacity() > old ? text.capacity() - old : 4096;
    text.resize(old + room);
    const ssize_t n = ::read(fd->get(), text.data() + old, room);
    text.resize(old + static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return bad("cannot read " + what);
    if (n == 0) break;
    if (first_line) {
      if (const auto nl = text.find('\n'); nl != std::string::npos) {
        text.resize(nl);
        break;
      }
    }
    if (text.size() > limit) break;
  }
  if (text.size() > limit) return bad(what + " " + too_big);
  if (first_line && !text.empty() && text.back() == '\r') text.pop_back();
  return text;
}

Checked<> require_readable(const std::string& option, const std::string& path, bool folder) {
  const std::string what = option + " '" + path + "'";
  struct stat st {};
  const auto fd = open_named(what, path, st);
  if (!fd) return tl::unexpected(fd.error());
  if (folder && !S_ISDIR(st.st_mode)) return bad(what + " is not a folder");
  if (!folder && !S_ISREG(st.st_mode)) return bad(what + " is not a regular file");
  return {};
}

}  // namespace smtpverify::check
