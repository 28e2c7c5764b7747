#!/usr/bin/env python3
"""In-flight memory (issue 18 #2): what a host pays per check held mid-dialogue.

Starts N (default 40) checks of ours and N of Debian's check_smtp against a tiny SMTP server of
its own on 127.0.0.1 that stops answering at a fixed point, waits until the server has seen every
check reach that point, then sums the proportional set size (Pss) of each process from
/proc/PID/smaps_rollup (Rss and Private_Dirty for context) and prints a Markdown table.

Scenarios (both tools held at once, each against its own listener, so shared pages are split
among all of them alike):
  plain     the server accepts and never sends the banner (held: connection accepted)
  starttls  "220 x ESMTP", EHLO -> "250-x / 250 STARTTLS", STARTTLS -> "220 go", TLS handshake
            (CA + leaf for localhost / 127.0.0.1, made with the openssl CLI), then the post-TLS
            EHLO is never answered (held: that EHLO arrived through TLS)
Ours verifies chain and name (--ca-file CA; the name is -H's address in the IP SANs);
check_smtp -S cannot verify anything. Each tool does what it can.

For starttls it also lists, for one process of each tool, the mappings of /proc/PID/smaps that
carry the most Pss.

  python3 tests/bench/inflight.py [--plugin PATH] [--check-smtp PATH] [--count N]
                                  [--scenario plain|starttls|both]

Exit status: 0 once the table is printed (figures, not tests), 2 on a setup failure. Root is
not required unless monitoring-plugins-basic must be installed.
"""

import argparse
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TARGETS = {"plain": 0.6, "starttls": 1.0}
LABELS = {"plain": "plain, waiting for the banner",
          "starttls": "STARTTLS, TLS up, waiting for the post-TLS EHLO reply"}


class SetupError(Exception):
    pass


def log(msg):
    print(f"inflight: {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ certificates

def make_pki(work):
    """A CA and a leaf for localhost / 127.0.0.1, RSA 2048 (what most MTAs present)."""
    def run(*args):
        r = subprocess.run(["openssl", *args], cwd=work, capture_output=True, text=True)
        if r.returncode != 0:
            raise SetupError(f"openssl {args[0]} failed: {r.stderr.strip()}")
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=inflight bench CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr",
        "-subj", "/CN=localhost")
    with open(os.path.join(work, "leaf.ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "leaf.pem", "-days", "2", "-extfile", "leaf.ext")
    with open(os.path.join(work, "chain.pem"), "w") as out:
        for name in ("leaf.pem", "ca.pem"):
            with open(os.path.join(work, name)) as f:
                out.write(f.read())
    return os.path.join(work, "ca.pem"), os.path.join(work, "chain.pem"), \
        os.path.join(work, "leaf.key")


# ------------------------------------------------------------------ the server

class HoldServer:
    """Listens on 127.0.0.1:0; one thread per connection; counts connections that reached the
    holding point and keeps them open until close()."""

    def __init__(self, scenario, tls_ctx=None):
        self.scenario = scenario
        self.tls_ctx = tls_ctx
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.held = 0
        self.errors = []
        self.conns = []
        self.closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closing:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.conns.append(conn)
            if self.scenario == "plain":
                self._reached()  # held: accepted, no banner ever
            else:
                threading.Thread(target=self._starttls, args=(conn,), daemon=True).start()

    def _reached(self):
        with self.lock:
            self.held += 1

    @staticmethod
    def _line(reader):
        line = reader.readline(1000)
        if not line:
            raise ConnectionError("closed by the client")
        return line

    def _starttls(self, conn):
        try:
            conn.settimeout(120)
            conn.sendall(b"220 x ESMTP\r\n")
            r = conn.makefile("rb", buffering=0)
            while True:
                cmd = self._line(r).strip().upper()
                if cmd.startswith((b"EHLO", b"HELO")):
                    conn.sendall(b"250-x\r\n250 STARTTLS\r\n")
                elif cmd == b"STARTTLS":
                    conn.sendall(b"220 go\r\n")
                    break
                else:
                    conn.sendall(b"503 not now\r\n")
            r.close()
            tls = self.tls_ctx.wrap_socket(conn, server_side=True)
            with self.lock:
                self.conns.append(tls)
            buf = b""
            while b"\n" not in buf:
                chunk = tls.recv(1000)
                if not chunk:
                    raise ConnectionError("closed by the client after the handshake")
                buf += chunk
            if not buf.strip().upper().startswith((b"EHLO", b"HELO")):
                raise ConnectionError(f"expected EHLO after TLS, got {buf[:40]!r}")
            self._reached()  # held: the post-TLS EHLO is never answered
        except (OSError, ConnectionError, ssl.SSLError) as e:
            if not self.closing:
                with self.lock:
                    self.errors.append(str(e))

    def close(self):
        self.closing = True
        self.sock.close()
        with self.lock:
            for c in self.conns:
                try:
                    c.close()
                except OSError:
                    pass


# ------------------------------------------------------------------ /proc

def rollup(pid):
    """Pss, Rss, Private_Dirty in KiB from /proc/PID/smaps_rollup."""
    want = {"Pss:": "pss", "Rss:": "rss", "Private_Dirty:": "private_dirty"}
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            key = line.split(None, 1)[0]
            if key in want:
                out[want[key]] = int(line.split()[1])
    return out


def top_mappings(pid, n=16):
    """Pss (KiB) per mapping of /proc/PID/smaps, grouped by file (basename) or pseudo-name;
    anonymous mappings are grouped by their size, so the TLS arena's 16 MiB region shows."""
    groups = {}
    name = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()
            if not head:
                continue
            if "-" in head[0] and not head[0].endswith(":"):  # a mapping header
                start, end = (int(x, 16) for x in head[0].split("-"))
                path = " ".join(head[5:]) if len(head) > 5 else ""
                if path.startswith("["):
                    name = path
                elif path:
                    name = os.path.basename(path)
                else:
                    size = (end - start) // 1024
                    name = f"anon, {size} KiB mapping"
                    if size == 16384:
                        name += " (ours: the TLS arena's region)"
                g = groups.setdefault(name, [0, 0, 0, 0])
                g[3] += 1
            elif head[0] in ("Pss:", "Rss:", "Private_Dirty:") and name is not None:
                idx = {"Pss:": 0, "Rss:": 1, "Private_Dirty:": 2}[head[0]]
                groups[name][idx] += int(head[1])
    rows = sorted(groups.items(), key=lambda kv: -kv[1][0])
    total = sum(v[0] for v in groups.values())
    return rows[:n], total, len(rows)


# ------------------------------------------------------------------ one scenario

def run_scenario(scenario, args, work, ca, tls_ctx):
    servers = {"ours": HoldServer(scenario, tls_ctx), "theirs": HoldServer(scenario, tls_ctx)}
    procs = {"ours": [], "theirs": []}
    try:
        for i in range(args.count):
            for tool in ("ours", "theirs"):
                port = str(servers[tool].port)
                if tool == "ours":
                    cmd = [args.plugin, "-H", "127.0.0.1", "-p", port, "-t", "60",
                           "--helo-dns", "ignore", "-F", "probe.example"]
                    if scenario == "starttls":
                        cmd += ["-S", "--ca-file", ca]
                else:
                    cmd = [args.check_smtp, "-H", "127.0.0.1", "-p", port, "-t", "60"]
                    if scenario == "starttls":
                        cmd += ["-S"]
                out = open(os.path.join(work, f"{scenario}.{tool}.{i}.out"), "wb")
                procs[tool].append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                                    stderr=subprocess.STDOUT))
                out.close()
        deadline = time.monotonic() + args.setup_timeout
        while True:
            held = {t: servers[t].held for t in servers}
            if all(held[t] >= args.count for t in held):
                break
            for tool, ps in procs.items():
                for i, p in enumerate(ps):
                    if p.poll() is not None:
                        with open(os.path.join(work, f"{scenario}.{tool}.{i}.out"), "rb") as f:
                            text = f.read().decode(errors="replace").strip()
                        raise SetupError(f"{scenario}: {tool} #{i} exited {p.returncode} before "
                                         f"it was held: {text[:300]}")
            if time.monotonic() > deadline:
                errs = servers["ours"].errors + servers["theirs"].errors
                raise SetupError(f"{scenario}: only {held} of {args.count} held after "
                                 f"{args.setup_timeout} s; server errors: {errs[:3]}")
            time.sleep(0.05)
        time.sleep(args.settle)  # let every process block in its read
        figures = {}
        for tool, ps in procs.items():
            rows = [rollup(p.pid) for p in ps]
            figures[tool] = {k: sum(r[k] for r in rows) for k in ("pss", "rss", "private_dirty")}
        tops = None
        if scenario == "starttls" and args.count:
            tops = {tool: top_mappings(procs[tool][0].pid) for tool in procs}
        return figures, tops
    finally:
        for ps in procs.values():
            for p in ps:
                if p.poll() is None:
                    p.send_signal(signal.SIGKILL)
        for ps in procs.values():
            for p in ps:
                p.wait()
        for s in servers.values():
            s.close()


# ------------------------------------------------------------------ output

def mib(kib):
    return f"{kib / 1024:.2f}"


def report(results, tops, args):
    n = args.count
    print(f"In-flight memory, {n} concurrent checks per tool held mid-dialogue "
          f"({time.strftime('%Y-%m-%d')}; Pss summed from /proc/PID/smaps_rollup, "
          "both tools held at once)\n")
    print(f"| scenario | ours PSS total | ours per check | check_smtp PSS total | "
          f"check_smtp per check | ratio | target | |")
    print("|---|--:|--:|--:|--:|--:|---|---|")
    for sc, fig in results.items():
        o, t = fig["ours"]["pss"], fig["theirs"]["pss"]
        ratio = o / t if t else float("inf")
        target = TARGETS[sc]
        verdict = "met" if ratio <= target else "**missed**"
        print(f"| {LABELS[sc]} | {mib(o)} MiB | {mib(o / n)} MiB | {mib(t)} MiB | "
              f"{mib(t / n)} MiB | {ratio:.2f}× | ≤ {target:g}× | {verdict} |")
    print("\nContext, per check (MiB): Rss counts shared pages in full, Private_Dirty is what the "
          "process alone wrote.\n")
    print("| scenario | ours Pss | ours Rss | ours Private_Dirty | check_smtp Pss | "
          "check_smtp Rss | check_smtp Private_Dirty |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    for sc, fig in results.items():
        o, t = fig["ours"], fig["theirs"]
        print(f"| {sc} | {mib(o['pss'] / n)} | {mib(o['rss'] / n)} | "
              f"{mib(o['private_dirty'] / n)} | {mib(t['pss'] / n)} | {mib(t['rss'] / n)} | "
              f"{mib(t['private_dirty'] / n)} |")
    print("\nOurs: `-H 127.0.0.1 -p PORT -t 60 --helo-dns ignore -F probe.example` "
          "(+ `-S --ca-file CA`, chain and name verified); check_smtp: `-H 127.0.0.1 -p PORT "
          "-t 60` (+ `-S`, verifies nothing).")
    if tops:
        for tool, (rows, total, ngroups) in tops.items():
            who = "ours" if tool == "ours" else "check_smtp"
            print(f"\nSTARTTLS, one {who} process: top Pss by mapping "
                  f"(of {total / 1024:.2f} MiB in {ngroups} groups)\n")
            print("| mapping | Pss KiB | Rss KiB | Private_Dirty KiB | mappings |")
            print("|---|--:|--:|--:|--:|")
            for name, (pss, rss, pd, count) in rows:
                print(f"| {name} | {pss} | {rss} | {pd} | {count} |")


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--plugin", default=os.path.join(ROOT, "build/ci/plugin/check_smtp_verify"))
    ap.add_argument("--check-smtp", default="/usr/lib/nagios/plugins/check_smtp")
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--scenario", choices=("plain", "starttls", "both"), default="both")
    ap.add_argument("--setup-timeout", type=float, default=60.0)
    ap.add_argument("--settle", type=float, default=0.5)
    args = ap.parse_args()
    try:
        if args.count < 1:
            raise SetupError("--count wants a positive number")
        if not os.access(args.plugin, os.X_OK):
            raise SetupError(f"not an executable: {args.plugin}")
        if not os.access(args.check_smtp, os.X_OK):
            if args.check_smtp != "/usr/lib/nagios/plugins/check_smtp" or os.geteuid() != 0:
                raise SetupError(f"not an executable: {args.check_smtp} "
                                 "(apt-get install monitoring-plugins-basic)")
            log("installing monitoring-plugins-basic")
            r = subprocess.run(["apt-get", "install", "-y", "-q", "monitoring-plugins-basic"],
                               stdout=sys.stderr, env={**os.environ,
                                                       "DEBIAN_FRONTEND": "noninteractive"})
            if r.returncode != 0 or not os.access(args.check_smtp, os.X_OK):
                raise SetupError("apt-get install monitoring-plugins-basic failed")
        if shutil.which("openssl") is None:
            raise SetupError("no openssl CLI")
        scenarios = ["plain", "starttls"] if args.scenario == "both" else [args.scenario]
        results, tops = {}, None
        with tempfile.TemporaryDirectory(prefix="smtpverify-inflight.") as work:
            ca, chain, key = make_pki(work)
            tls_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            tls_ctx.load_cert_chain(chain, key)
            for sc in scenarios:
                log(f"{sc}: {args.count} + {args.count} checks")
                results[sc], t = run_scenario(sc, args, work, ca, tls_ctx)
                tops = tops or t
        report(results, tops, args)
        return 0
    except SetupError as e:
        log(f"setup failed: {e}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
