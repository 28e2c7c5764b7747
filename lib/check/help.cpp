#include <algorithm>
#include <string>
#include <string_view>

#include "check/options.h"
#include "smtp/phase.h"

namespace smtpverify::check {

namespace {

// Fills the words of `text` into lines of at most 80 columns, each indented by `indent`.
std::string fill(std::string_view text, std::size_t indent) {
  const std::string margin(indent, ' ');
  std::string out;
  std::string line = margin;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = std::min(text.find(' ', start), text.size());
    const std::string_view word = text.substr(start, end - start);
    start = end + 1;
    if (word.empty()) continue;
    if (line.size() > indent && line.size() + 1 + word.size() > 80) {
      out += line + "\n";
      line = margin;
    }
    if (line.size() > indent) line += ' ';
    line += word;
  }
  return out + line + "\n";
}

// The phases -w/-c accept, from the registry: "mx, resolve, …, helo_dns".
std::string threshold_phases() { return smtp::threshold_phase_names(", "); }

// Every perfdata label of a phase, from the registry, in perfdata order.
std::string perfdata_labels() {
  std::string labels;
  for (const auto& p : smtp::kPhases) labels += (labels.empty() ? "" : " ") + std::string(p.name);
  return labels;
}

}  // namespace

std::string help_text() {
  return version_text() + R"( - verify an SMTP server the way an admin would by hand

Walks the whole dialogue - connect, 220 banner, EHLO (HELO fallback), MAIL FROM,
RCPT TO, optional DATA, QUIT - and prints one status line with perfdata.

Usage:
  check_smtp_verify {-H HOST | --mx DOMAIN [--mx-all] [--mta-sts] [--tls-rpt]}
                    [--each-address]
                    [-p PORT] [-4|-6]
                    [-e TEXT] [-F NAME] [-L]
                    [-f FROM [--rcpt ADDR]... [--reject-rcpt ADDR]...
                     [--data | --data-file FILE]] [-C CMD [-R REGEX]]...
                    [-w [PHASE=]RANGE]... [-c [PHASE=]RANGE]...
                    [-t SECONDS[:STATE]] [-q] [--dns-server IP[:PORT]]...
                    [-b ADDR] [-r[v1|v2]] [-S|-s] [TLS options]
                    [-A PLAIN|LOGIN -U USER --authpass-file FILE] [-v]...
  check_smtp_verify -h | -V

Connection:
  -H, --hostname HOST     server name or IP address (IPv6 with or without [ ]);
                          a name is resolved with c-ares, every A/AAAA tried
                          in order until one connects
  --mx DOMAIN             instead of -H: check DOMAIN's most preferred MX host
                          (equal preference: the next one if the first cannot
                          be reached; no MX: DOMAIN itself; null MX: CRITICAL)
  --mx-all                with --mx: check every MX host, the worst state wins,
                          perfdata labels prefixed with each host
  --mta-sts               with --mx: hold the MX hosts to the domain's MTA-STS
                          policy (RFC 8461): TXT _mta-sts.DOMAIN, the policy
                          from https://mta-sts.DOMAIN (verified, no redirects,
                          200 text/plain); STARTTLS on each MX, its certificate
                          valid for its name, its name matching an mx pattern.
                          Policy missing or unreadable: CRITICAL; a host failing
                          it: CRITICAL (enforce), WARNING (testing), nothing
                          (none). Perfdata mta_sts
  --tls-rpt               with --mx: the domain must publish one TLS-RPT record
                          (RFC 8460, _smtp._tls.DOMAIN, rua mailto:/https:);
                          missing or malformed: WARNING
  --each-address          check every address of the host (of each MX host),
                          not the first that connects, each in turn under the
                          one -t; the worst state wins ("1/2 addresses OK"),
                          perfdata labels prefixed with the address
                          (127.0.0.1_banner, 2001_db8__1_banner); at most 16
  -p, --port PORT         TCP port (default 25; 465 with -s; 24 with -L)
  -4, -6                  use only IPv4 / only IPv6 addresses (also
                          --use-ipv4 / --use-ipv6, as check_smtp spells them)
  -b, --bind ADDR         connect from this local IP address; its family decides
                          which addresses of -H are tried
  -r, --proxy[=v1|v2]     send a PROXY protocol header built from the real
                          addresses of the connection (default v1) before
                          anything else, for servers behind HAProxy & co.
  --helo-dns ignore|warning|critical
                          the state when the HELO name does not resolve (A or
                          AAAA, of the family connected over; asked of DNS, not
                          /etc/hosts) to the address we connect from: NXDOMAIN,
                          no address, another address, SERVFAIL, timeout.
                          Default: warning for a name given with -F; the
                          machine's own name is looked up and shown (-v, JSON)
                          but not rated. ignore skips the lookup. Its wait is
                          the helo_dns phase, never part of time. An address
                          literal HELO is compared as is.
  --dns-server IP[:PORT]  DNS server for every lookup (repeatable; IPv6 as
                          [addr]:port); default: /etc/resolv.conf
  -t, --timeout SEC[:STATE]
                          deadline for the whole check (default 10, state
                          CRITICAL); the line names the phase that timed out

TLS (verification is on by default):
  -S, --starttls          require STARTTLS (CRITICAL if not offered, refused, or
                          if any byte follows its 220: response injection)
  --plaintext-refused     with -S: the server must keep its TLS-only promise
                          (RFC 3207): before STARTTLS, MAIL FROM (the -f sender,
                          else <>) must be refused with 5xx and the EHLO must
                          not list AUTH. Accepted: CRITICAL (then RSET); AUTH
                          offered: CRITICAL; 4xx: WARNING. Perfdata plaintext
  -s, --ssl, --tls        implicit TLS from the first byte (SMTPS, port 465)
  --ca-file FILE          trust anchors (PEM) instead of the system store
  --ca-path DIR           a hashed directory of trust anchors
  --verify-name NAME      name the certificate must carry (default: -H when it
                          is a name, else -H's address in the IP SANs)
  --sni NAME              server name sent (default: --verify-name, else -H
                          when it is a name; never an address)
  --no-verify             do not verify chain and name (-D still applies)
  -D, --certificate W[,C] WARNING/CRITICAL when the soonest-expiring certificate
                          of the chain has fewer than W/C whole days left; an
                          expired one is CRITICAL always; perfdata cert_days
                          with the ranges W: and C: (alert below); the same as
                          -w cert_days=W: -c cert_days=C:. Without -S/-s it
                          implies -S, as check_smtp's -D does
  --tls-min 1.2|1.3       lowest TLS version accepted (default 1.2)
  --dane                  authenticate the certificate by the TLSA records of
                          _PORT._tcp.HOST (RFC 7672: DANE-TA/DANE-EE) instead of
                          the CA store; the answer must be DNSSEC-authenticated
                          (AD bit). No usable record or no match: CRITICAL
  --dane-insecure         with --dane: accept TLSA answers without the AD bit

AUTH (after TLS; the mechanism must be offered in the EHLO after TLS):
  -A, --authtype PLAIN|LOGIN
  -U, --authuser USER
  --authpass-file FILE    password: the first line of FILE, a regular file
                          (recommended)
  SMTP_AUTHPASS           password from the environment, if no file is given
  -P, --authpass PASS     password on the command line: visible in ps, avoid
  --auth-plaintext        allow AUTH without TLS (test setups only)
  The password never appears in the output or the -v transcript.

Dialogue:
  -e, --expect TEXT       TEXT must occur in the 220 greeting
  -F, --fqdn NAME         HELO/EHLO name (default: the machine's FQDN, as
                          `hostname -f` finds it; without one, the address
                          literal of our socket, e.g. [192.0.2.1], RFC 5321)
  -L, --lmtp              speak LMTP: LHLO, one reply per recipient after data
  -f, --from ADDR         send MAIL FROM:<ADDR>; '' or '<>' is the null sender.
                          Without --from the check QUITs after EHLO.
  --rcpt ADDR             RCPT TO that must be accepted (250/251); repeatable
  --reject-rcpt ADDR      RCPT TO that must be rejected with 5xx: probe for
                          unknown users and open relaying; repeatable. An
                          accepted probe is CRITICAL, a 4xx WARNING.
  --data                  send DATA with a generated RFC 5322 test message
                          (only when every recipient was answered as expected)
  --data-file FILE        send FILE (headers and body) as the message; line
                          ends become CRLF, dot-stuffed; implies --data.
                          FILE must be a regular file of at most 10 MiB
  -C, --command CMD       send CMD after the transaction (repeatable; at most
                          510 octets, RFC 5321)
  -R, --response REGEX    POSIX extended regex the reply to the -C at the
                          same position must match (multi-line replies: ^ and
                          $ match per line, e.g. '^250')
  -q, --ignore-quit-failure
                          no WARNING when QUIT is not answered with 221
  --no-pipelining         wait for each reply before the next command, even
                          when EHLO offers PIPELINING (RFC 2920; by default
                          MAIL, the RCPTs and DATA go out together)

Thresholds and output:
  -w, --warning [PHASE=]RANGE
  -c, --critical [PHASE=]RANGE
)" +
         fill(
             "Nagios range in seconds for PHASE, or for the total time without PHASE= "
             "(repeatable). Phases: " +
                 threshold_phases() +
                 ". Critical is evaluated first. Also cert_days (days; 14: alerts below 14), "
                 "and every label as --mx-all and --each-address print it "
                 "(mx1.example.org_banner).",
             26) +
         R"(  -v, --verbose           add the transcript (C:/S: lines) as long output;
                          -vv stamps each line with the elapsed time;
                          -vvv also logs each step of the dialogue
  --output nagios|json|openmetrics
                          json: one JSON object instead of the status line;
                          openmetrics: an OpenMetrics text exposition (gauges
                          smtp_verify_state, _up, _phase_seconds, _cert_days,
                          _rcpt_as_expected, ... labelled by host and port)
                          for Prometheus and node_exporter's textfile
                          collector; not with -v. Same exit code; bad options
                          still print the UNKNOWN line (docs/OUTPUT.md)
  -h, --help              this help (exit 3)
  -V, --version           version (exit 3)

States:
  OK        everything as expected, times inside thresholds
  WARNING   a time in the -w range; 4xx to MAIL/RCPT/DATA (greylisting, rate
            limits); a --reject-rcpt answered 4xx; QUIT not answered 221;
            --plaintext-refused: MAIL before STARTTLS answered 4xx
  CRITICAL  no address / no connection; greeting not 220 or without -e TEXT;
            EHLO and HELO rejected; 5xx to MAIL/RCPT/DATA; a --reject-rcpt
            accepted; 421 at any point; a -R mismatch; malformed, over-long
            or unsolicited replies; a time in the -c range; timeout;
            --plaintext-refused: mail accepted or AUTH offered before STARTTLS
  UNKNOWN   bad options, unreadable or non-regular files, names and addresses
            beyond the limits of RFC 1035/5321 (label 63 octets, name 253,
            local part 64, path 256, -F 255), internal errors, -h, -V.
            An error line names the option but never shows the value of a
            mistyped option or a word that belongs to no option: it may be a
            password.

)" +
         fill("Perfdata: time (total), then " + perfdata_labels() +
                  " for the phases that completed, in seconds; then cert_days=N;W:;C: when TLS "
                  "ran. Every label takes -w/-c; after DATA the OK line and the JSON carry the "
                  "server's queue id (queued as ID) or its reply.",
              0) +
         R"(
Examples:
  check_smtp_verify -H mail.example.org -w 2 -c 5
  check_smtp_verify -H mail.example.org -f monitor@example.org \
      --rcpt postmaster@example.org --reject-rcpt nobody@example.net
  check_smtp_verify -H mail.example.org -S -D 30,14 -A PLAIN -U monitor \
      --authpass-file /etc/nagios/smtp.pass -f monitor@example.org
  check_smtp_verify -H 192.0.2.10 -f '' --rcpt probe@example.org --data \
      -w banner=0.5 -c banner=2 -t 20:UNKNOWN
)";
}

}  // namespace smtpverify::check
