#!/usr/bin/env python3
"""The MTA-STS policy server of mta_sts_test.sh: HTTPS on ADDRESS:PORT with CHAIN (key,
leaf, intermediate in one PEM), answering GET /.well-known/mta-sts.txt by the Host header.

Usage: mta_sts_server.py CHAIN ADDRESS PORT ZONE READY_FILE
Writes READY_FILE once it listens; runs until killed. Only the test's domains are known;
any other host or path is 404.
"""
import http.server
import ssl
import sys

chain, address, port, zone, ready = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]


def policy(mode, mx, newline="\r\n", extra=()):
    lines = ["version: STSv1", f"mode: {mode}"] + [f"mx: {m}" for m in mx] + list(extra)
    lines.append("max_age: 86400")
    return (newline.join(lines) + newline).encode()


# Host -> (status, Content-Type, body).
POLICIES = {
    f"mta-sts.sts-enforce.{zone}": (200, "text/plain", policy("enforce", [f"mail.{zone}"])),
    f"mta-sts.sts-nomatch.{zone}": (200, "text/plain", policy("enforce", ["mail.other.example"])),
    f"mta-sts.sts-testing.{zone}": (200, "text/plain; charset=utf-8",
                                    policy("testing", ["mail.other.example"])),
    # LF line ends, a wildcard, an unknown key (ignored, RFC 8461 §3.2).
    f"mta-sts.sts-wild.{zone}": (200, "text/plain",
                                 policy("enforce", [f"*.{zone}"], "\n", ["x-note: ignored"])),
    f"mta-sts.sts-missing.{zone}": (404, "text/html", b"<h1>not here</h1>"),
    f"mta-sts.sts-badtype.{zone}": (200, "text/html", policy("enforce", [f"mail.{zone}"])),
    # Mode none: the MX matches nothing, and that is fine.
    f"mta-sts.sts-modenone.{zone}": (200, "text/plain", policy("none", ["mail.other.example"])),
    # Never reached: the certificate does not name it.
    f"mta-sts.sts-badcert.{zone}": (200, "text/plain", policy("enforce", [f"mail.{zone}"])),
}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        status, ctype, body = POLICIES.get(host, (404, "text/plain", b"unknown host\n"))
        if self.path != "/.well-known/mta-sts.txt":
            status, ctype, body = 404, "text/plain", b"unknown path\n"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write("mta_sts_server: " + (fmt % args) + "\n")


context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(chain)
server = http.server.ThreadingHTTPServer((address, port), Handler)
server.socket = context.wrap_socket(server.socket, server_side=True)
with open(ready, "w") as f:
    f.write("ready\n")
server.serve_forever()
