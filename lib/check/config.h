// What a check is asked to do, decided entirely before anything is sent.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "check/range.h"
#include "net/proxy_header.h"
#include "net/tls.h"

namespace smtpverify::check {

/// Nagios plugin states; the numeric value is the exit code.
enum class State { Ok = 0, Warning = 1, Critical = 2, Unknown = 3 };

/// "OK", "WARNING", "CRITICAL", "UNKNOWN".
std::string_view state_name(State state);

/// Severity order for "the worst wins": OK < WARNING < UNKNOWN < CRITICAL.
int severity(State state);

/// --helo-dns: what a HELO name that does not resolve to us is worth. Report (the default
/// when neither -F nor --helo-dns is given): looked up and shown (-v, JSON), never rated, since
/// the name then describes the monitoring host, not the mail server.
enum class HeloDnsMode { Ignore, Report, Warning, Critical };

/// --output: what stdout carries.
enum class OutputFormat {
  Nagios,       ///< the status line (and the -v transcript)
  Json,         ///< one JSON object
  OpenMetrics,  ///< an OpenMetrics text exposition, for Prometheus and node_exporter
};

/// -A: the SASL mechanism.
enum class AuthMechanism { Plain, Login };

/// "PLAIN" or "LOGIN", as AUTH names it.
std::string_view auth_mechanism_name(AuthMechanism mechanism);

/// The parsed command line.
struct Config {
  std::string host;                           ///< -H: a name or an IP literal (brackets stripped)
  std::uint16_t port = 25;                    ///< -p
  int family = AF_UNSPEC;                     ///< -4 / -6
  std::optional<std::string> expect;          ///< -e
  std::string helo_name;                      ///< -F; empty = the machine's FQDN, found at run time
  std::optional<std::string> mail_from;       ///< -f/--from without brackets; "" = null sender
  std::vector<std::string> rcpts;             ///< --rcpt
  std::vector<std::string> reject_rcpts;      ///< --reject-rcpt
  bool data = false;                          ///< --data or --data-file
  std::optional<std::string> data_file_text;  ///< --data-file contents as read
  std::vector<std::string> commands;          ///< -C
  std::vector<std::string> responses;         ///< -R, paired with commands by position
  bool lmtp = false;                          ///< -L
  bool no_pipelining = false;                 ///< --no-pipelining: lock-step, RFC 2920 unused
  std::map<std::string, Range, std::less<>> warning;   ///< phase label or "time" → range
  std::map<std::string, Range, std::less<>> critical;  ///< phase label or "time" → range
  std::chrono::milliseconds timeout{10000};            ///< -t
  State timeout_state = State::Critical;               ///< -t N:STATE
  bool ignore_quit_failure = false;                    ///< -q
  std::vector<std::string> dns_servers;                ///< --dns-server
  std::optional<net::ProxyVersion> proxy;              ///< -r/--proxy[=v1|v2]
  std::optional<std::string> bind;                     ///< -b: local IP literal, no brackets
  bool starttls = false;                               ///< -S (or -D alone)
  bool starttls_implied = false;                       ///< -D without -S/-s, as check_smtp
  bool plaintext_refused = false;      ///< --plaintext-refused: MAIL refused, no AUTH before TLS
  bool implicit_tls = false;           ///< -s/--ssl/--tls
  std::optional<std::string> sni;      ///< --sni
  bool no_verify = false;              ///< --no-verify
  std::optional<std::string> ca_file;  ///< --ca-file
  std::optional<std::string> ca_path;  ///< --ca-path
  std::optional<std::string> verify_name;            ///< --verify-name
  std::optional<long long> cert_warning_days;        ///< -D W
  std::optional<long long> cert_critical_days;       ///< -D W,C
  net::TlsVersion tls_min = net::TlsVersion::Tls12;  ///< --tls-min
  std::optional<AuthMechanism> auth_mechanism;       ///< -A
  std::string auth_user;                             ///< -U
  std::string auth_password;         ///< --authpass-file, -P or SMTP_AUTHPASS; never printed
  bool auth_plaintext = false;       ///< --auth-plaintext
  std::optional<std::string> mx;     ///< --mx DOMAIN instead of -H
  bool mx_all = false;               ///< --mx-all
  bool mta_sts = false;              ///< --mta-sts: hold the MX hosts to the domain's policy
  bool starttls_by_mta_sts = false;  ///< STARTTLS only because of --mta-sts (no -S, no -D)
  bool tls_rpt = false;              ///< --tls-rpt: the domain publishes a TLS-RPT record
  bool each_address = false;         ///< --each-address: every address of the host, in turn
  bool dane = false;                 ///< --dane: TLSA records authenticate the certificate
  bool dane_insecure = false;        ///< --dane-insecure: accept TLSA answers without the AD bit
  HeloDnsMode helo_dns = HeloDnsMode::Report;  ///< --helo-dns (-F alone: Warning)
  OutputFormat output = OutputFormat::Nagios;  ///< --output
  int verbosity = 0;                           ///< -v count
};

}  // namespace smtpverify::check
