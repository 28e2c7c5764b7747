#include "check/options.h"

#include <fcntl.h>
#include <poll.h>
#include <regex.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <iterator>

#include "check/regex.h"
#include "dns/resolver.h"
#include "net/stream.h"
#include "smtp/phase.h"

namespace smtpverify::check {

namespace po = boost::program_options;

namespace {

constexpr std::size_t kMaxDataFileBytes = 10 * 1024 * 1024;
constexpr std::size_t kMaxPasswordLineBytes = 4096;
// How long a pipe or FIFO named by --data-file/--authpass-file may take to deliver: the
// deadline (-t) only starts after the options, and a FIFO without a writer must not hang us.
constexpr auto kFileWait = std::chrono::seconds(2);

struct BadOption {
  std::string what;
};

// Any byte that could end or split an SMTP command line (or hide in one) is refused.
bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c < 0x20 || c == 0x7f;
  });
}

// A mailbox as given to --from/--rcpt: optional angle brackets, no spaces or control bytes.
std::string check_address(const std::string& option, std::string value, bool allow_null) {
  if (value.size() >= 2 && value.front() == '<' && value.back() == '>') {
    value = value.substr(1, value.size() - 2);
  }
  if (has_control(value) || value.find(' ') != std::string::npos) {
    throw BadOption{option + " contains a space or control character"};
  }
  if (value.find_first_of("<>") != std::string::npos) {
    throw BadOption{option + " '" + value + "' has stray angle brackets"};
  }
  if (value.empty() && !allow_null) throw BadOption{option + " is empty"};
  return value;
}

std::uint16_t parse_port(const std::string& text) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 1 || value > 65535) {
    throw BadOption{"port '" + text + "' is not a number from 1 to 65535"};
  }
  return static_cast<std::uint16_t>(value);
}

State parse_state(const std::string& text) {
  std::string upper;
  for (const char c : text) upper += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
  if (upper == "OK" || upper == "0") return State::Ok;
  if (upper == "WARNING" || upper == "1") return State::Warning;
  if (upper == "CRITICAL" || upper == "2") return State::Critical;
  if (upper == "UNKNOWN" || upper == "3") return State::Unknown;
  throw BadOption{"-t state '" + text + "' is not OK, WARNING, CRITICAL or UNKNOWN"};
}

void parse_timeout(const std::string& text, Config& config) {
  const auto colon = text.find(':');
  const std::string seconds_text = text.substr(0, colon);
  double seconds = 0;
  const auto [end, ec] =
      std::from_chars(seconds_text.data(), seconds_text.data() + seconds_text.size(), seconds);
  if (ec != std::errc() || end != seconds_text.data() + seconds_text.size() || !(seconds > 0) ||
      seconds > 86400) {
    throw BadOption{"-t '" + text + "': seconds must be a number above 0 and at most 86400"};
  }
  config.timeout = std::chrono::milliseconds(static_cast<long long>(seconds * 1000 + 0.5));
  if (config.timeout.count() == 0) config.timeout = std::chrono::milliseconds(1);
  if (colon != std::string::npos) config.timeout_state = parse_state(text.substr(colon + 1));
}

void parse_thresholds(const std::string& option, const std::vector<std::string>& values,
                      std::map<std::string, Range, std::less<>>& out) {
  for (const auto& value : values) {
    std::string phase = "time";
    std::string range_text = value;
    if (const auto eq = value.find('='); eq != std::string::npos) {
      phase = value.substr(0, eq);
      range_text = value.substr(eq + 1);
      // "time" is the whole dialogue; every other label is a phase of the registry.
      const auto known = smtp::phase_from_name(phase);
      if (phase != "time" && (!known || !smtp::takes_thresholds(*known))) {
        throw BadOption{option + ": unknown phase '" + phase + "' (phases: time " +
                        smtp::threshold_phase_names(" ") + ")"};
      }
    }
    std::string error;
    auto range = parse_range(range_text, error);
    if (!range) throw BadOption{option + ": " + error};
    if (!out.emplace(phase, *range).second) {
      throw BadOption{option + " given twice for " + phase};
    }
  }
}

// Opens a file an option names without blocking (a FIFO with no writer must not stop us
// before -t even starts) and fstat()s it into `st`; "cannot read OPTION 'PATH'" when either
// fails. `what` is "OPTION 'PATH'".
net::Fd open_named(const std::string& path, const std::string& what, struct stat& st) {
  net::Fd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0) throw BadOption{"cannot read " + what};
  return fd;
}

// Reads a file an option names, bounded in size (more than `limit` bytes: `too_big`) and in
// time (a pipe or FIFO gets kFileWait to deliver). With `first_line` it stops at the first
// newline, and `limit` bounds that line.
std::string read_bounded(const std::string& option, const std::string& path, std::size_t limit,
                         const std::string& too_big, bool first_line) {
  const std::string what = option + " '" + path + "'";
  struct stat st {};
  const net::Fd fd = open_named(path, what, st);
  if (S_ISDIR(st.st_mode)) throw BadOption{"cannot read " + what};
  const auto give_up = std::chrono::steady_clock::now() + kFileWait;
  std::string text;
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n > 0) {
      text.append(buffer, static_cast<std::size_t>(n));
      if (first_line) {
        if (const auto nl = text.find('\n'); nl != std::string::npos) {
          text.resize(nl);
          break;
        }
      }
      if (text.size() > limit) throw BadOption{what + " " + too_big};
      continue;
    }
    if (n == 0) break;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) throw BadOption{"cannot read " + what};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        give_up - std::chrono::steady_clock::now());
    if (left.count() <= 0) throw BadOption{"nothing to read from " + what + " within 2 s"};
    pollfd p{fd.get(), POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(left.count()) + 1);
  }
  if (text.size() > limit) throw BadOption{what + " " + too_big};
  return text;
}

std::string read_data_file(const std::string& path) {
  return read_bounded("--data-file", path, kMaxDataFileBytes, "is larger than 10 MiB", false);
}

// The options, as Boost.Program_options spells them. Every value is taken as a string and
// validated here, for exact one-line messages.
enum class Kind { Switch, Value, Values, ValueOrV1 };
struct OptionSpec {
  const char* names;  ///< "long,s" or "long"
  Kind kind;
};
// clang-format off
constexpr OptionSpec kOptions[] = {
    {"hostname,H", Kind::Value},
    {"port,p", Kind::Value},
    {"ipv4,4", Kind::Switch},
    {"ipv6,6", Kind::Switch},
    {"use-ipv4", Kind::Switch},  // check_smtp's long names
    {"use-ipv6", Kind::Switch},
    {"expect,e", Kind::Value},
    {"fqdn,F", Kind::Value},
    {"from,f", Kind::Value},
    {"rcpt", Kind::Values},
    {"reject-rcpt", Kind::Values},
    {"data", Kind::Switch},
    {"data-file", Kind::Value},
    {"command,C", Kind::Values},
    {"response,R", Kind::Values},
    {"lmtp,L", Kind::Switch},
    {"warning,w", Kind::Values},
    {"critical,c", Kind::Values},
    {"timeout,t", Kind::Value},
    {"ignore-quit-failure,q", Kind::Switch},
    {"dns-server", Kind::Values},
    {"proxy,r", Kind::ValueOrV1},
    {"bind,b", Kind::Value},
    {"starttls,S", Kind::Switch},
    {"ssl,s", Kind::Switch},
    {"tls", Kind::Switch},
    {"sni", Kind::Value},
    {"no-verify", Kind::Switch},
    {"ca-file", Kind::Value},
    {"ca-path", Kind::Value},
    {"verify-name", Kind::Value},
    {"certificate,D", Kind::Value},
    {"tls-min", Kind::Value},
    {"authtype,A", Kind::Value},
    {"authuser,U", Kind::Value},
    {"authpass,P", Kind::Value},
    {"authpass-file", Kind::Value},
    {"auth-plaintext", Kind::Switch},
    {"output", Kind::Value},
    {"helo-dns", Kind::Value},
    {"mx", Kind::Value},
    {"mx-all", Kind::Switch},
    {"dane", Kind::Switch},
    {"dane-insecure", Kind::Switch},
    {"verbose,v", Kind::Switch},
    {"help,h", Kind::Switch},
    {"version,V", Kind::Switch},
};
// clang-format on

// Only the options the command line can name are described to Boost: building all of them,
// matching every token against every one and storing the defaults of every switch cost ~0.5 M
// instructions per run (half of a plain check with the static runtime). A token names an
// option by its long name (--name or --name=value; no guessing of abbreviations) or by any of
// its letters (-x, -xVALUE, -46): taking every letter of a short token keeps the set a
// superset of what Boost will look up, so parsing sees exactly what the full table would.
bool named_by(const OptionSpec& o, const std::vector<std::string_view>& tokens) {
  const std::string_view names = o.names;
  const auto comma = names.find(',');
  const std::string_view long_name = names.substr(0, comma);
  const char letter = comma == std::string_view::npos ? '\0' : names[comma + 1];
  for (const std::string_view t : tokens) {
    if (t.substr(0, 2) == "--") {
      const std::string_view name = t.substr(2);  // --name or --name=value
      if (name.substr(0, name.find('=')) == long_name) return true;
    } else if (letter != '\0' && t.find(letter, 1) != std::string_view::npos) {
      return true;
    }
  }
  return false;
}

po::options_description describe_options(int argc, const char* const* argv) {
  std::vector<std::string_view> tokens;
  for (int i = 1; i < argc; ++i) {
    const std::string_view t = argv[i];
    if (t == "--") break;  // the rest is positional
    if (t.size() > 1 && t[0] == '-') tokens.push_back(t);
  }
  po::options_description d;
  auto add = d.add_options();
  for (const auto& o : kOptions) {
    if (!named_by(o, tokens)) continue;
    switch (o.kind) {
      case Kind::Switch:
        add(o.names, po::bool_switch());
        break;
      case Kind::Value:
        add(o.names, po::value<std::string>());
        break;
      case Kind::Values:
        add(o.names, po::value<std::vector<std::string>>());
        break;
      case Kind::ValueOrV1:
        add(o.names, po::value<std::string>()->implicit_value("v1"));
        break;
    }
  }
  add("stray", po::value<std::vector<std::string>>());  // positional arguments: refused
  return d;
}

// A switch: given or not (absent from the map when the command line did not name it).
bool flag(const po::variables_map& vm, const char* name) {
  return vm.count(name) != 0 && vm[name].as<bool>();
}

template <typename T>
std::optional<T> get(const po::variables_map& vm, const char* name) {
  if (vm.count(name) == 0) return std::nullopt;
  return vm[name].as<T>();
}

std::vector<std::string> get_all(const po::variables_map& vm, const char* name) {
  return vm.count(name) ? vm[name].as<std::vector<std::string>>() : std::vector<std::string>{};
}

// A file or folder OpenSSL will read, refused up front, before anything is sent: --ca-file
// must be a readable regular file and --ca-path a readable folder. OpenSSL opens them later
// without a time limit, and a FIFO (or a device) would block it past -t.
void require_readable(const std::string& option, const std::string& path, bool folder) {
  const std::string what = option + " '" + path + "'";
  struct stat st {};
  const net::Fd fd = open_named(path, what, st);
  if (folder && !S_ISDIR(st.st_mode)) throw BadOption{what + " is not a folder"};
  if (!folder && !S_ISREG(st.st_mode)) throw BadOption{what + " is not a regular file"};
}

void parse_tls(const po::variables_map& vm, Config& c) {
  const bool tls = c.starttls || c.implicit_tls;
  for (const char* name : {"sni", "ca-file", "ca-path", "verify-name", "certificate", "tls-min"}) {
    if (vm.count(name) != 0 && !tls) throw BadOption{std::string("--") + name + " needs -S or -s"};
  }
  if (flag(vm, "no-verify") && !tls) throw BadOption{"--no-verify needs -S or -s"};
  c.no_verify = flag(vm, "no-verify");
  c.dane = flag(vm, "dane");
  c.dane_insecure = flag(vm, "dane-insecure");
  if (c.dane && !tls) throw BadOption{"--dane needs -S or -s"};
  if (c.dane_insecure && !c.dane) throw BadOption{"--dane-insecure needs --dane"};
  if (c.dane && c.no_verify) throw BadOption{"--dane and --no-verify exclude each other"};
  // RFC 7672 §2.2: the TLSA records live under the host name; an address has none.
  if (c.dane && net::parse_ip_literal(c.host, 0)) {
    throw BadOption{"--dane needs -H to be a host name (the TLSA owner), not an address"};
  }
  if (const auto sni = get<std::string>(vm, "sni")) {
    // RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not permitted in HostName."
    if (sni->empty() || has_control(*sni) || sni->find(' ') != std::string::npos ||
        net::parse_ip_literal(*sni, 0)) {
      throw BadOption{"--sni must be a host name, not an address"};
    }
    c.sni = *sni;
  }
  if (const auto name = get<std::string>(vm, "verify-name")) {
    if (name->empty() || has_control(*name) || name->find(' ') != std::string::npos) {
      throw BadOption{"--verify-name must be a name without spaces or control characters"};
    }
    c.verify_name = *name;
  }
  if (const auto file = get<std::string>(vm, "ca-file")) {
    require_readable("--ca-file", *file, false);
    c.ca_file = *file;
  }
  if (const auto path = get<std::string>(vm, "ca-path")) {
    require_readable("--ca-path", *path, true);
    c.ca_path = *path;
  }
  if (const auto days = get<std::string>(vm, "certificate")) {
    const auto comma = days->find(',');
    auto number = [&](const std::string& text) {
      long long value = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (ec != std::errc() || end != text.data() + text.size() || value < 0 || value > 36500) {
        throw BadOption{"-D '" + *days + "': days must be whole numbers from 0 to 36500"};
      }
      return value;
    };
    c.cert_warning_days = number(days->substr(0, comma));
    if (comma != std::string::npos) {
      c.cert_critical_days = number(days->substr(comma + 1));
      if (*c.cert_critical_days > *c.cert_warning_days) {
        throw BadOption{"-D '" + *days + "': critical days must not exceed warning days"};
      }
    }
  }
  if (const auto min = get<std::string>(vm, "tls-min")) {
    if (*min == "1.2") {
      c.tls_min = net::TlsVersion::Tls12;
    } else if (*min == "1.3") {
      c.tls_min = net::TlsVersion::Tls13;
    } else {
      throw BadOption{"--tls-min '" + *min + "' is not 1.2 or 1.3"};
    }
  }
}

std::string first_line_of_file(const std::string& path) {
  std::string line = read_bounded("--authpass-file", path, kMaxPasswordLineBytes,
                                  "has a first line longer than 4096 bytes", true);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

void parse_auth(const po::variables_map& vm, Config& c) {
  const auto mech = get<std::string>(vm, "authtype");
  if (!mech) {
    for (const char* name : {"authuser", "authpass", "authpass-file"}) {
      if (vm.count(name) != 0) throw BadOption{std::string("--") + name + " needs -A"};
    }
    if (flag(vm, "auth-plaintext")) throw BadOption{"--auth-plaintext needs -A"};
    return;
  }
  std::string upper;
  for (const char ch : *mech) upper += (ch >= 'a' && ch <= 'z') ? static_cast<char>(ch - 32) : ch;
  if (upper != "PLAIN" && upper != "LOGIN") {
    throw BadOption{"-A '" + *mech + "' is not PLAIN or LOGIN"};
  }
  c.auth_mechanism = upper;
  c.auth_plaintext = flag(vm, "auth-plaintext");
  if (!c.starttls && !c.implicit_tls && !c.auth_plaintext) {
    throw BadOption{"-A without -S or -s would send the password in plaintext (--auth-plaintext)"};
  }
  const auto user = get<std::string>(vm, "authuser");
  if (!user || user->empty()) throw BadOption{"-A needs -U/--authuser"};
  if (has_control(*user)) throw BadOption{"-U contains a control character"};
  c.auth_user = *user;
  // The password: a file first (nothing in argv), then -P (visible in ps), then the environment.
  if (const auto file = get<std::string>(vm, "authpass-file")) {
    c.auth_password = first_line_of_file(*file);
  } else if (const auto pass = get<std::string>(vm, "authpass")) {
    c.auth_password = *pass;
  } else if (const char* env = std::getenv("SMTP_AUTHPASS")) {
    c.auth_password = env;
  } else {
    throw BadOption{"-A needs a password: --authpass-file, SMTP_AUTHPASS or -P"};
  }
  if (c.auth_password.empty()) throw BadOption{"the AUTH password is empty"};
  if (c.auth_password.find('\0') != std::string::npos ||
      c.auth_user.find('\0') != std::string::npos) {
    throw BadOption{"AUTH user and password must not contain NUL"};
  }
}

Config build_config(const po::variables_map& vm) {
  Config c;
  const auto host = get<std::string>(vm, "hostname");
  if (const auto mx = get<std::string>(vm, "mx")) {
    if (host) throw BadOption{"-H and --mx exclude each other"};
    if (mx->empty() || has_control(*mx) || mx->find(' ') != std::string::npos ||
        net::parse_ip_literal(*mx, 0)) {
      throw BadOption{"--mx needs a domain name"};
    }
    c.mx = *mx;
    c.mx_all = flag(vm, "mx-all");
    c.host = *mx;  // validated like -H below; the MX hosts replace it at run time
  } else {
    if (flag(vm, "mx-all")) throw BadOption{"--mx-all needs --mx"};
    if (!host || host->empty()) throw BadOption{"missing -H/--hostname (or --mx DOMAIN)"};
    c.host = *host;
  }
  if (has_control(c.host) || c.host.find(' ') != std::string::npos) {
    throw BadOption{"-H contains a space or control character"};
  }
  if (c.host.size() >= 2 && c.host.front() == '[' && c.host.back() == ']') {
    c.host = c.host.substr(1, c.host.size() - 2);
    // Found by the option fuzzer: "[]" must not become an empty host.
    if (c.host.empty()) throw BadOption{"-H '[]' is not a host name or address"};
  }
  const bool v4 = flag(vm, "ipv4") || flag(vm, "use-ipv4");
  const bool v6 = flag(vm, "ipv6") || flag(vm, "use-ipv6");
  if (v4 && v6) throw BadOption{"-4 and -6 exclude each other"};
  c.family = v4 ? AF_INET : (v6 ? AF_INET6 : AF_UNSPEC);
  if (const auto literal = net::parse_ip_literal(c.host, 25)) {
    if (c.family != AF_UNSPEC && literal->family() != c.family) {
      throw BadOption{std::string("-H ") + c.host + " is not an " + (v4 ? "IPv4" : "IPv6") +
                      " address"};
    }
  }
  if (const auto bind = get<std::string>(vm, "bind")) {
    const auto local = net::parse_ip_literal(*bind, 0);
    if (!local) throw BadOption{"-b '" + *bind + "' is not an IP address"};
    const std::string family_name = local->family() == AF_INET ? "IPv4" : "IPv6";
    if (c.family != AF_UNSPEC && c.family != local->family()) {
      throw BadOption{"-b " + local->address() + " is not an " + (v4 ? "IPv4" : "IPv6") +
                      " address"};
    }
    if (const auto target = net::parse_ip_literal(c.host, 25);
        target && target->family() != local->family()) {
      throw BadOption{"-b " + local->address() + " is " + family_name + " but -H " + c.host +
                      " is not"};
    }
    // The source address decides the family: only those addresses of -H are reachable from it.
    c.family = local->family();
    c.bind = local->address();
  }
  if (const auto proxy = get<std::string>(vm, "proxy")) {
    if (*proxy == "v1") {
      c.proxy = net::ProxyVersion::V1;
    } else if (*proxy == "v2") {
      c.proxy = net::ProxyVersion::V2;
    } else {
      throw BadOption{"--proxy '" + *proxy + "' is not v1 or v2"};
    }
  }
  c.lmtp = flag(vm, "lmtp");
  c.starttls = flag(vm, "starttls");
  c.implicit_tls = flag(vm, "ssl") || flag(vm, "tls");
  if (c.starttls && c.implicit_tls) throw BadOption{"-S and -s exclude each other"};
  // RFC 2033 §4: LMTP on TCP uses port 24 by convention; RFC 8314 §7.3: submissions on 465.
  c.port = c.lmtp ? 24 : (c.implicit_tls ? 465 : 25);
  parse_tls(vm, c);
  parse_auth(vm, c);
  if (const auto port = get<std::string>(vm, "port")) c.port = parse_port(*port);

  c.expect = get<std::string>(vm, "expect");
  if (const auto fqdn = get<std::string>(vm, "fqdn")) {
    if (fqdn->empty() || has_control(*fqdn) || fqdn->find(' ') != std::string::npos) {
      throw BadOption{"-F must be a name without spaces or control characters"};
    }
    c.helo_name = *fqdn;
  }
  if (const auto from = get<std::string>(vm, "from")) {
    c.mail_from = check_address("--from", *from, true);
  }
  for (const auto& r : get_all(vm, "rcpt")) c.rcpts.push_back(check_address("--rcpt", r, false));
  for (const auto& r : get_all(vm, "reject-rcpt")) {
    c.reject_rcpts.push_back(check_address("--reject-rcpt", r, false));
  }
  if (const auto file = get<std::string>(vm, "data-file")) c.data_file_text = read_data_file(*file);
  c.data = flag(vm, "data") || c.data_file_text.has_value();
  if (!c.mail_from) {
    if (!c.rcpts.empty()) throw BadOption{"--rcpt needs --from"};
    if (!c.reject_rcpts.empty()) throw BadOption{"--reject-rcpt needs --from"};
    if (c.data) throw BadOption{"--data needs --from"};
  }
  if (c.data && c.rcpts.empty()) throw BadOption{"--data needs at least one --rcpt"};

  c.commands = get_all(vm, "command");
  c.responses = get_all(vm, "response");
  for (const auto& cmd : c.commands) {
    if (cmd.empty() || has_control(cmd)) {
      throw BadOption{"-C command is empty or contains a control character"};
    }
  }
  if (c.responses.size() > c.commands.size()) {
    throw BadOption{"more -R than -C: each -R checks the reply to the -C at the same position"};
  }
  for (const auto& pattern : c.responses) {
    if (const auto re = Regex::compile(pattern); !re) {
      throw BadOption{"-R '" + pattern + "': " + re.error().what};
    }
  }

  parse_thresholds("-w", get_all(vm, "warning"), c.warning);
  parse_thresholds("-c", get_all(vm, "critical"), c.critical);
  if (const auto t = get<std::string>(vm, "timeout")) parse_timeout(*t, c);
  c.ignore_quit_failure = flag(vm, "ignore-quit-failure");
  if (const auto mode = get<std::string>(vm, "helo-dns")) {
    if (*mode == "ignore") {
      c.helo_dns = HeloDnsMode::Ignore;
    } else if (*mode == "warning") {
      c.helo_dns = HeloDnsMode::Warning;
    } else if (*mode == "critical") {
      c.helo_dns = HeloDnsMode::Critical;
    } else {
      throw BadOption{"--helo-dns '" + *mode + "' is not ignore, warning or critical"};
    }
  }
  if (const auto output = get<std::string>(vm, "output")) {
    if (*output != "nagios" && *output != "json") {
      throw BadOption{"--output '" + *output + "' is not nagios or json"};
    }
    c.json = *output == "json";
  }
  for (const auto& server : get_all(vm, "dns-server")) {
    if (const auto error = dns::check_server_syntax(server); !error.empty()) {
      throw BadOption{"--dns-server '" + server + "': " + error};
    }
    c.dns_servers.push_back(server);
  }
  return c;
}

}  // namespace

std::string_view state_name(State state) {
  switch (state) {
    case State::Ok:
      return "OK";
    case State::Warning:
      return "WARNING";
    case State::Critical:
      return "CRITICAL";
    case State::Unknown:
      return "UNKNOWN";
  }
  return "UNKNOWN";
}

int severity(State state) {
  switch (state) {
    case State::Ok:
      return 0;
    case State::Warning:
      return 1;
    case State::Unknown:
      return 2;
    case State::Critical:
      return 3;
  }
  return 2;
}

ParsedOptions parse_options(int argc, const char* const* argv) {
  ParsedOptions out;
  try {
    const auto desc = describe_options(argc, argv);
    po::positional_options_description positional;
    positional.add("stray", -1);
    // No guessing of abbreviated long options: a typo must not select another option.
    const int style =
        po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    po::parsed_options parsed =
        po::command_line_parser(argc, argv).options(desc).positional(positional).style(style).run();
    // -v is repeatable: count it here, the variables_map only knows "given or not".
    int verbosity = 0;
    auto& opts = parsed.options;
    for (const auto& o : opts) verbosity += o.string_key == "verbose" ? 1 : 0;
    opts.erase(std::remove_if(opts.begin(), opts.end(),
                              [](const po::option& o) { return o.string_key == "verbose"; }),
               opts.end());
    po::variables_map vm;
    po::store(parsed, vm);
    po::notify(vm);
    if (flag(vm, "help")) {
      out.action = ParsedOptions::Action::Help;
      out.text = help_text();
      return out;
    }
    if (flag(vm, "version")) {
      out.action = ParsedOptions::Action::Version;
      out.text = version_text();
      return out;
    }
    if (const auto stray = get_all(vm, "stray"); !stray.empty()) {
      throw BadOption{"unexpected argument '" + stray.front() + "'"};
    }
    out.config = build_config(vm);
    out.config.verbosity = verbosity;
    out.action = ParsedOptions::Action::Run;
  } catch (const BadOption& e) {
    out.action = ParsedOptions::Action::Error;
    out.text = e.what;
  } catch (const po::unknown_option& e) {
    out.action = ParsedOptions::Action::Error;
    out.text = "unknown option '" + e.get_option_name() + "'";
  } catch (const po::error& e) {
    out.action = ParsedOptions::Action::Error;
    out.text = e.what();
  }
  return out;
}

std::string version_text() { return "check_smtp_verify " SMTPVERIFY_VERSION; }

}  // namespace smtpverify::check
