#include <charconv>
#include <cstdlib>
#include <utility>

#include "check/option_values.h"
#include "check/regex.h"
#include "dns/resolver.h"
#include "net/stream.h"

// The sections of build_config, one concern each: the command line (as GivenOptions) → Config.
namespace smtpverify::check {

namespace {

constexpr std::size_t kMaxDataFileBytes = 10 * 1024 * 1024;
constexpr std::size_t kMaxPasswordLineBytes = 4096;

// A name or an address in an option that needs a host name: no spaces or control bytes.
bool plain_name(const std::string& name) {
  return !name.empty() && !has_control(name) && name.find(' ') == std::string::npos;
}

// The sections of build_config, one concern each, run in this order: a later one may read
// what an earlier one decided (the host, TLS on or off).

// -H or --mx, and the address family.
Checked<> parse_host(const GivenOptions& vm, Config& c) {
  const auto host = vm.get("hostname");
  if (const auto mx = vm.get("mx")) {
    if (host) return bad("-H and --mx exclude each other");
    if (!plain_name(*mx) || net::parse_ip_literal(*mx, 0)) return bad("--mx needs a domain name");
    if (auto ok = check_dns_name("--mx", *mx); !ok) return ok;
    c.mx = *mx;
    c.mx_all = vm.flag("mx-all");
    c.mta_sts = vm.flag("mta-sts");
    c.tls_rpt = vm.flag("tls-rpt");
    c.host = *mx;  // the MX hosts replace it at run time
  } else {
    if (vm.flag("mx-all")) return bad("--mx-all needs --mx");
    // Both are published by the mail domain, not by a host.
    if (vm.flag("mta-sts")) return bad("--mta-sts needs --mx DOMAIN");
    if (vm.flag("tls-rpt")) return bad("--tls-rpt needs --mx DOMAIN");
    if (!host || host->empty()) return bad("missing -H/--hostname (or --mx DOMAIN)");
    c.host = *host;
  }
  if (!plain_name(c.host)) return bad("-H contains a space or control character");
  if (c.host.size() >= 2 && c.host.front() == '[' && c.host.back() == ']') {
    c.host = c.host.substr(1, c.host.size() - 2);
    // Found by the option fuzzer: "[]" must not become an empty host.
    if (c.host.empty()) return bad("-H '[]' is not a host name or address");
  }
  c.each_address = vm.flag("each-address");
  const bool v4 = vm.flag("ipv4") || vm.flag("use-ipv4");
  const bool v6 = vm.flag("ipv6") || vm.flag("use-ipv6");
  if (v4 && v6) return bad("-4 and -6 exclude each other");
  c.family = v4 ? AF_INET : (v6 ? AF_INET6 : AF_UNSPEC);
  const auto literal = net::parse_ip_literal(c.host, 25);
  if (!literal) return check_dns_name("-H", c.host);
  if (c.family != AF_UNSPEC && literal->family() != c.family) {
    return bad("-H " + c.host + " is not an " + (v4 ? "IPv4" : "IPv6") + " address");
  }
  return {};
}

// -b and -r: where the connection comes from and what it says about it first.
Checked<> parse_source(const GivenOptions& vm, Config& c) {
  if (const auto bind = vm.get("bind")) {
    const auto local = net::parse_ip_literal(*bind, 0);
    if (!local) return bad("-b '" + *bind + "' is not an IP address");
    const std::string family_name = local->family() == AF_INET ? "IPv4" : "IPv6";
    if (c.family != AF_UNSPEC && c.family != local->family()) {
      return bad("-b " + local->address() + " is not an " +
                 (c.family == AF_INET ? "IPv4" : "IPv6") + " address");
    }
    if (const auto target = net::parse_ip_literal(c.host, 25);
        target && target->family() != local->family()) {
      return bad("-b " + local->address() + " is " + family_name + " but -H " + c.host + " is not");
    }
    // The source address decides the family: only those addresses of -H are reachable from it.
    c.family = local->family();
    c.bind = local->address();
  }
  if (const auto proxy = vm.get("proxy")) {
    if (*proxy == "v1") {
      c.proxy = net::ProxyVersion::V1;
    } else if (*proxy == "v2") {
      c.proxy = net::ProxyVersion::V2;
    } else {
      return bad("--proxy '" + *proxy + "' is not v1 or v2");
    }
  }
  return {};
}

// --sni and --verify-name: host names (--verify-name may be -H's address).
Checked<> parse_tls_names(const GivenOptions& vm, Config& c) {
  if (const auto sni = vm.get("sni")) {
    // RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not permitted in HostName."
    if (!plain_name(*sni) || net::parse_ip_literal(*sni, 0)) {
      return bad("--sni must be a host name, not an address");
    }
    if (auto ok = check_dns_name("--sni", *sni); !ok) return ok;
    c.sni = *sni;
  }
  if (const auto name = vm.get("verify-name")) {
    if (!plain_name(*name)) {
      return bad("--verify-name must be a name without spaces or control characters");
    }
    if (!net::parse_ip_literal(*name, 0)) {
      if (auto ok = check_dns_name("--verify-name", *name); !ok) return ok;
    }
    c.verify_name = *name;
  }
  return {};
}

// --ca-file, --ca-path, -D and --tls-min.
Checked<> parse_tls_trust(const GivenOptions& vm, Config& c) {
  if (const auto file = vm.get("ca-file")) {
    if (auto ok = require_readable("--ca-file", *file, false); !ok) return ok;
    c.ca_file = *file;
  }
  if (const auto path = vm.get("ca-path")) {
    if (auto ok = require_readable("--ca-path", *path, true); !ok) return ok;
    c.ca_path = *path;
  }
  if (const auto days = vm.get("certificate")) {
    const auto comma = days->find(',');
    auto number = [&](const std::string& text) -> Checked<long long> {
      long long value = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (ec != std::errc() || end != text.data() + text.size() || value < 0 || value > 36500) {
        return bad("-D '" + *days + "': days must be whole numbers from 0 to 36500");
      }
      return value;
    };
    const auto warning = number(days->substr(0, comma));
    if (!warning) return tl::unexpected(warning.error());
    c.cert_warning_days = *warning;
    if (comma != std::string::npos) {
      const auto critical = number(days->substr(comma + 1));
      if (!critical) return tl::unexpected(critical.error());
      if (*critical > *warning) {
        return bad("-D '" + *days + "': critical days must not exceed warning days");
      }
      c.cert_critical_days = *critical;
    }
  }
  if (const auto min = vm.get("tls-min")) {
    if (*min != "1.2" && *min != "1.3") return bad("--tls-min '" + *min + "' is not 1.2 or 1.3");
    c.tls_min = *min == "1.3" ? net::TlsVersion::Tls13 : net::TlsVersion::Tls12;
  }
  return {};
}

// -S or -s, and what only makes sense with TLS.
Checked<> parse_tls(const GivenOptions& vm, Config& c) {
  c.starttls = vm.flag("starttls");
  c.implicit_tls = vm.flag("ssl") || vm.flag("tls");
  if (c.starttls && c.implicit_tls) return bad("-S and -s exclude each other");
  // check_smtp's -D alone checks the STARTTLS certificate; configs written for it keep working.
  c.starttls_implied = vm.given("certificate") && !c.starttls && !c.implicit_tls;
  c.starttls = c.starttls || c.starttls_implied;
  // RFC 8461 §4: MTA-STS holds an MX to STARTTLS with a certificate valid for the MX host's
  // name; the check then uses STARTTLS and verifies exactly that.
  if (c.mta_sts) {
    if (c.implicit_tls) return bad("--mta-sts checks STARTTLS (RFC 8461): not with -s");
    if (vm.flag("no-verify")) return bad("--mta-sts and --no-verify exclude each other");
    if (vm.given("verify-name")) {
      return bad("--mta-sts verifies each MX host's own name: not with --verify-name");
    }
    c.starttls_by_mta_sts = !c.starttls;
    c.starttls = true;
  }
  const bool tls = c.starttls || c.implicit_tls;
  // Only STARTTLS has a plaintext part to probe: with -s the first byte is TLS already.
  c.plaintext_refused = vm.flag("plaintext-refused");
  if (c.plaintext_refused && c.implicit_tls) {
    return bad("--plaintext-refused needs -S: with -s nothing is sent before TLS");
  }
  if (c.plaintext_refused && !c.starttls) return bad("--plaintext-refused needs -S");
  for (const char* name : {"sni", "ca-file", "ca-path", "verify-name", "certificate", "tls-min"}) {
    if (vm.given(name) && !tls) return bad(std::string("--") + name + " needs -S or -s");
  }
  if (vm.flag("no-verify") && !tls) return bad("--no-verify needs -S or -s");
  c.no_verify = vm.flag("no-verify");
  c.dane = vm.flag("dane");
  c.dane_insecure = vm.flag("dane-insecure");
  if (c.dane && !tls) return bad("--dane needs -S or -s");
  if (c.dane_insecure && !c.dane) return bad("--dane-insecure needs --dane");
  if (c.dane && c.no_verify) return bad("--dane and --no-verify exclude each other");
  // RFC 7672 §2.2: the TLSA records live under the host name; an address has none.
  if (c.dane && net::parse_ip_literal(c.host, 0)) {
    return bad("--dane needs -H to be a host name (the TLSA owner), not an address");
  }
  if (auto ok = parse_tls_names(vm, c); !ok) return ok;
  return parse_tls_trust(vm, c);
}

// The password: a file first (nothing in argv), then -P (visible in ps), then the environment.
Checked<std::string> auth_password(const GivenOptions& vm) {
  if (const auto file = vm.get("authpass-file")) {
    return read_regular_file("--authpass-file", *file, kMaxPasswordLineBytes,
                             "has a first line longer than 4096 bytes", true);
  }
  if (const auto pass = vm.get("authpass")) return *pass;
  if (const char* env = std::getenv("SMTP_AUTHPASS")) return std::string(env);
  return bad("-A needs a password: --authpass-file, SMTP_AUTHPASS or -P");
}

// -A, -U, the password and --auth-plaintext.
Checked<> parse_auth(const GivenOptions& vm, Config& c) {
  const auto mech = vm.get("authtype");
  if (!mech) {
    for (const char* name : {"authuser", "authpass", "authpass-file"}) {
      if (vm.given(name)) return bad(std::string("--") + name + " needs -A");
    }
    if (vm.flag("auth-plaintext")) return bad("--auth-plaintext needs -A");
    return {};
  }
  std::string upper;
  for (const char ch : *mech) upper += (ch >= 'a' && ch <= 'z') ? static_cast<char>(ch - 32) : ch;
  if (upper != "PLAIN" && upper != "LOGIN") return bad("-A '" + *mech + "' is not PLAIN or LOGIN");
  c.auth_mechanism = upper == "LOGIN" ? AuthMechanism::Login : AuthMechanism::Plain;
  c.auth_plaintext = vm.flag("auth-plaintext");
  if (!c.starttls && !c.implicit_tls && !c.auth_plaintext) {
    return bad("-A without -S or -s would send the password in plaintext (--auth-plaintext)");
  }
  const auto user = vm.get("authuser");
  if (!user || user->empty()) return bad("-A needs -U/--authuser");
  if (has_control(*user)) return bad("-U contains a control character");
  c.auth_user = *user;
  auto password = auth_password(vm);
  if (!password) return tl::unexpected(password.error());
  c.auth_password = std::move(*password);
  if (c.auth_password.empty()) return bad("the AUTH password is empty");
  if (c.auth_password.find('\0') != std::string::npos ||
      c.auth_user.find('\0') != std::string::npos) {
    return bad("AUTH user and password must not contain NUL");
  }
  return {};
}

// -L and -p: the protocol's port unless -p names one.
Checked<> parse_port_and_protocol(const GivenOptions& vm, Config& c) {
  c.lmtp = vm.flag("lmtp");
  c.no_pipelining = vm.flag("no-pipelining");
  // RFC 2033 §4: LMTP on TCP uses port 24 by convention; RFC 8314 §7.3: submissions on 465.
  c.port = c.lmtp ? 24 : (c.implicit_tls ? 465 : 25);
  if (const auto port = vm.get("port")) {
    const auto parsed = parse_port(*port);
    if (!parsed) return tl::unexpected(parsed.error());
    c.port = *parsed;
  }
  return {};
}

// -e, -F, --from, --rcpt, --reject-rcpt, --data and --data-file.
Checked<> parse_transaction(const GivenOptions& vm, Config& c) {
  c.expect = vm.get("expect");
  if (const auto fqdn = vm.get("fqdn")) {
    if (auto ok = check_helo_name(*fqdn); !ok) return ok;
    c.helo_name = *fqdn;
  }
  if (const auto from = vm.get("from")) {
    auto address = check_address("--from", *from, true);
    if (!address) return tl::unexpected(address.error());
    c.mail_from = std::move(*address);
  }
  for (const auto& [option, out] :
       {std::pair{"--rcpt", &c.rcpts}, std::pair{"--reject-rcpt", &c.reject_rcpts}}) {
    for (const auto& r : vm.get_all(option + 2)) {
      auto address = check_address(option, r, false);
      if (!address) return tl::unexpected(address.error());
      out->push_back(std::move(*address));
    }
  }
  if (const auto file = vm.get("data-file")) {
    auto text =
        read_regular_file("--data-file", *file, kMaxDataFileBytes, "is larger than 10 MiB", false);
    if (!text) return tl::unexpected(text.error());
    c.data_file_text = std::move(*text);
  }
  c.data = vm.flag("data") || c.data_file_text.has_value();
  if (!c.mail_from) {
    if (!c.rcpts.empty()) return bad("--rcpt needs --from");
    if (!c.reject_rcpts.empty()) return bad("--reject-rcpt needs --from");
    if (c.data) return bad("--data needs --from");
  }
  if (c.data && c.rcpts.empty()) return bad("--data needs at least one --rcpt");
  return {};
}

// -C and -R, paired by position.
Checked<> parse_commands(const GivenOptions& vm, Config& c) {
  c.commands = vm.get_all("command");
  c.responses = vm.get_all("response");
  for (const auto& command : c.commands) {
    if (auto ok = check_command(command); !ok) return ok;
  }
  if (c.responses.size() > c.commands.size()) {
    return bad("more -R than -C: each -R checks the reply to the -C at the same position");
  }
  for (const auto& pattern : c.responses) {
    if (const auto re = Regex::compile(pattern); !re) {
      return bad("-R '" + pattern + "': " + re.error().what);
    }
  }
  return {};
}

// cert_days takes -w/-c like every label; -D W,C means the same as "-w cert_days=W: -c
// cert_days=C:" (cert_days_range), so only one of the two may say it.
Checked<> cert_days_thresholds(const Config& c) {
  const bool ranges = c.warning.count("cert_days") != 0 || c.critical.count("cert_days") != 0;
  if (ranges && c.cert_warning_days) return bad("-D and -w/-c cert_days=... exclude each other");
  if (ranges && !c.starttls && !c.implicit_tls) return bad("cert_days thresholds need -S or -s");
  return {};
}

// -w, -c, -t, -q, --helo-dns and --dns-server: what the findings are worth, and when to stop.
Checked<> parse_checks(const GivenOptions& vm, Config& c) {
  if (auto ok = parse_thresholds("-w", vm.get_all("warning"), c.warning); !ok) return ok;
  if (auto ok = parse_thresholds("-c", vm.get_all("critical"), c.critical); !ok) return ok;
  if (const auto t = vm.get("timeout")) {
    if (auto ok = parse_timeout(*t, c); !ok) return ok;
  }
  if (auto ok = cert_days_thresholds(c); !ok) return ok;
  c.ignore_quit_failure = vm.flag("ignore-quit-failure");
  // A name the admin chose (-F) is worth a WARNING when it does not resolve to us; the
  // machine's own name is only reported unless --helo-dns says otherwise.
  if (vm.given("fqdn")) c.helo_dns = HeloDnsMode::Warning;
  if (const auto mode = vm.get("helo-dns")) {
    if (*mode == "ignore") {
      c.helo_dns = HeloDnsMode::Ignore;
    } else if (*mode == "warning") {
      c.helo_dns = HeloDnsMode::Warning;
    } else if (*mode == "critical") {
      c.helo_dns = HeloDnsMode::Critical;
    } else {
      return bad("--helo-dns '" + *mode + "' is not ignore, warning or critical");
    }
  }
  for (const auto& server : vm.get_all("dns-server")) {
    if (const auto error = dns::check_server_syntax(server); !error.empty()) {
      return bad("--dns-server '" + server + "': " + error);
    }
    c.dns_servers.push_back(server);
  }
  return {};
}

// --output (-v with openmetrics is refused in parse_options, which counts -v).
Checked<> parse_output(const GivenOptions& vm, Config& c) {
  if (const auto output = vm.get("output")) {
    if (*output == "nagios") {
      c.output = OutputFormat::Nagios;
    } else if (*output == "json") {
      c.output = OutputFormat::Json;
    } else if (*output == "openmetrics") {
      c.output = OutputFormat::OpenMetrics;
    } else {
      return bad("--output '" + *output + "' is not nagios, json or openmetrics");
    }
  }
  return {};
}

}  // namespace

Checked<Config> build_config(const GivenOptions& vm) {
  using Section = Checked<> (*)(const GivenOptions&, Config&);
  constexpr Section kSections[] = {
      parse_host,        parse_source,   parse_tls,    parse_auth,  parse_port_and_protocol,
      parse_transaction, parse_commands, parse_checks, parse_output};
  Config c;
  for (const Section section : kSections) {
    if (auto ok = section(vm, c); !ok) return tl::unexpected(ok.error());
  }
  return c;
}

}  // namespace smtpverify::check
