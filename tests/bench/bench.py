#!/usr/bin/env python3
"""The measuring half of tests/bench/run.sh (see tests/bench/README.md).

run.sh installs the packages, builds the plugin, starts Postfix and unbound and exports
their DIR/env variables (POSTFIX_*, UNBOUND_*, HELO_OK); this script then
  1. checks every command once: exit 0, the dialogue Postfix logged, no DNS traffic to port 53;
  2. counts instructions with callgrind (one run per scenario and tool);
  3. runs every scenario N times, the tools alternating: CPU (user+sys of the child, from
     wait4) and wall (perf_counter around spawn and wait4), and again N times under
     /usr/bin/time -f %M for the peak RSS;
  4. prints the Markdown table (stdout) with ratios ours/theirs and the issue's targets;
  5. with --floor, measures reference programs that do no SMTP at all (instructions, peak
     RSS) and prints them beside check_smtp's plain check: what loading alone costs.
Progress goes to stderr. Exit 0 whatever the figures; 1 if a run did not return OK.
"""

import argparse
import datetime
import os
import re
import socket
import statistics
import subprocess
import sys
import time

CHECK_SMTP = "/usr/lib/nagios/plugins/check_smtp"
CHECK_SSMTP = "/usr/lib/nagios/plugins/check_ssmtp"
GNU_TIME = "/usr/bin/time"
THEIRS = "theirs"  # the key of the monitoring-plugins tool in every scenario

# Perfdata phases of ours, in the order --help lists them; "time" is the total.
PHASES = ["resolve", "connect", "tls", "banner", "ehlo", "starttls", "auth", "mail", "rcpt",
          "data", "commands", "quit", "helo_dns", "time"]
STALL_MS = 20.0  # a phase slower than this (median or p90) is reported as a possible idle wait

# Targets of issues 8 and 18, per build label: (scenario, metric) -> the highest ratio
# ours/theirs (issue 18 #3 tightened STARTTLS instructions: default 0.9, static 0.8).
# Wall targets apply to every build, including ones given with --plugin under other labels.
WALL_TARGETS = {("plain", "wall"): 1.0, ("starttls", "wall"): 1.0,
                ("implicit", "wall"): 0.5, ("helo", "wall"): 1.0}
TARGETS = {
    "default": {("plain", "instr"): 0.75, ("plain", "rss"): 1.0,
                ("starttls", "instr"): 0.9, ("starttls", "rss"): 1.0},
    "static": {("plain", "instr"): 0.2, ("starttls", "instr"): 0.8},
}


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


class SetupError(Exception):
    pass


def env(name):
    value = os.environ.get(name, "")
    if not value:
        raise SetupError(f"{name} is not set (run this through tests/bench/run.sh)")
    return value


# ------------------------------------------------------------------ scenarios

class Scenario:
    def __init__(self, key, title, ours, theirs, theirs_name, ref=None, same_dialogue=True):
        self.key = key
        self.title = title
        self.ours = ours                # argument list of ours (without the binary)
        self.theirs = theirs            # full argv of theirs, or None (then ref)
        self.theirs_name = theirs_name  # what the table calls theirs
        self.ref = ref                  # scenario whose "theirs" figures this one compares to
        self.same_dialogue = same_dialogue


def scenarios(helo_args):
    rcpt = env("POSTFIX_LOCAL_RCPT")
    ca, name = env("POSTFIX_CA_FILE"), env("POSTFIX_TLS_NAME")
    notls, starttls, smtps = env("POSTFIX_NOTLS_PORT"), env("POSTFIX_PORT"), env("POSTFIX_SMTPS_PORT")
    dns = f"127.0.0.1:{env('UNBOUND_PORT')}"
    txn_ours = ["-f", rcpt, "--rcpt", rcpt]
    txn_theirs = ["-f", rcpt, "-C", f"RCPT TO:<{rcpt}>", "-R", "250"]
    verify = ["--ca-file", ca, "--verify-name", name]
    return [
        Scenario("plain", "plain",
                 ["-H", "127.0.0.1", "-p", notls, "--helo-dns", "ignore", *helo_args, *txn_ours],
                 [CHECK_SMTP, "-H", "127.0.0.1", "-p", notls, *txn_theirs], "check_smtp"),
        Scenario("starttls", "STARTTLS",
                 ["-H", "127.0.0.1", "-p", starttls, "-S", *verify, "--helo-dns", "ignore",
                  *helo_args, *txn_ours],
                 [CHECK_SMTP, "-H", "127.0.0.1", "-p", starttls, "-S", *txn_theirs], "check_smtp -S"),
        # check_ssmtp does handshake, banner and QUIT only; ours without --from does the
        # least it can: banner, EHLO, QUIT.
        Scenario("implicit", "implicit TLS ¹",
                 ["-H", "127.0.0.1", "-p", smtps, "-s", *verify, "--helo-dns", "ignore", *helo_args],
                 [CHECK_SSMTP, "-H", "127.0.0.1", "-p", smtps], "check_ssmtp", same_dialogue=False),
        Scenario("helo", "plain + HELO lookup ²",
                 ["-H", "127.0.0.1", "-p", notls, "--helo-dns", "warning", "-F", env("HELO_OK"),
                  "--dns-server", dns, *txn_ours],
                 None, "check_smtp, plain", ref="plain"),
    ]


# ------------------------------------------------------------------ latency (issue 18)

DELAY_MS = 20.0  # one way; the RTT is twice that
LATENCY_RUNS = 5  # direct and proxied runs per tool and scenario (medians)


def latency_scenarios(helo_args):
    """(key, title, ours(port), theirs(port), theirs' words, target round trips of ours)."""
    rcpt, foreign = env("POSTFIX_LOCAL_RCPT"), env("POSTFIX_FOREIGN_RCPT")
    ca, name = env("POSTFIX_CA_FILE"), env("POSTFIX_TLS_NAME")
    verify = ["--ca-file", ca, "--verify-name", name]
    base = ["-H", "127.0.0.1", "--helo-dns", "ignore", *helo_args]
    three = ["RCPT TO:<%s>" % r for r in (rcpt, foreign, foreign)]
    return [
        ("ehlo", "banner, EHLO, QUIT",
         lambda p: [*base, "-p", p],
         lambda p: [CHECK_SMTP, "-H", "127.0.0.1", "-p", p], "check_smtp", 4),
        ("rcpt3", "plain, MAIL and three RCPTs",
         lambda p: [*base, "-p", p, "-f", rcpt, "--rcpt", rcpt, "--reject-rcpt", foreign,
                    "--reject-rcpt", foreign],
         lambda p: [CHECK_SMTP, "-H", "127.0.0.1", "-p", p, "-f", rcpt,
                    *[x for c in three for x in ("-C", c)], "-R", "250", "-R", "554", "-R", "554"],
         "check_smtp -C ×3", 4),
        ("starttls", "STARTTLS verified, one RCPT and DATA",
         lambda p: [*base, "-p", p, "-S", *verify, "-f", rcpt, "--rcpt", rcpt, "--data"],
         lambda p: [CHECK_SMTP, "-H", "127.0.0.1", "-p", p, "-S", "-f", rcpt,
                    "-C", f"RCPT TO:<{rcpt}>", "-R", "250"],
         "check_smtp -S, one RCPT, no DATA ³", 8),
    ]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_proxy(target):
    port = free_port()
    proc = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(__file__),
                                                          "delay_proxy.py"),
                             str(port), str(target), "--delay-ms", str(DELAY_MS)],
                            stdout=subprocess.PIPE, text=True)
    if proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise SetupError("delay_proxy.py did not start")
    return proc, str(port)


# ------------------------------------------------------------------ running

def spawn_wait(argv, out_path):
    """Runs argv with stdout+stderr to out_path; returns (status, cpu_s, wall_s)."""
    fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        actions = [(os.POSIX_SPAWN_DUP2, fd, 1), (os.POSIX_SPAWN_DUP2, fd, 2),
                   (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0)]
        start = time.perf_counter()
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - start
    finally:
        os.close(fd)
    return os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime, wall


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def perfdata(output):
    """The phase times (seconds) of ours' perfdata."""
    first = output.split("\n", 1)[0]
    if "|" not in first:
        return {}
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r"([a-z_]+)=([0-9.]+)s;", first.split("|", 1)[1])}


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = args.work
        self.tools = {}  # label -> binary of ours
        for spec in args.tool:
            label, _, path = spec.partition("=")
            if not label or not path:
                raise SetupError(f"--tool wants LABEL=PATH, got {spec!r}")
            if label in self.tools or label == THEIRS:
                raise SetupError(f"label {label!r} given twice or reserved")
            if not os.access(path, os.X_OK):
                raise SetupError(f"{path} is not an executable")
            self.tools[label] = os.path.abspath(path)
        for path in (CHECK_SMTP, CHECK_SSMTP, GNU_TIME):
            if not os.access(path, os.X_OK):
                raise SetupError(f"{path} is missing")
        self.helo_args = self.helo_parity()
        self.scen = scenarios(self.helo_args)
        self.failures = []
        self.dialogues = {}       # (scenario, tool) -> Postfix's command counts
        self.instr = {}           # (scenario, tool) -> instructions
        self.cpu, self.wall, self.rss, self.phases = {}, {}, {}, {}
        # --floor label -> instructions; [KiB], [s], [s]
        self.floor_instr, self.floor_rss, self.floor_cpu, self.floor_wall = {}, {}, {}, {}

    @staticmethod
    def helo_parity():
        """check_smtp sends gethostname() as HELO name. Ours, without -F, looks up the FQDN
        through NSS: answered by /etc/hosts here, but on a host whose name is not there that
        would be a DNS query to the system's resolver, which the bench must never send. Then
        -F with the same name as check_smtp's."""
        host = os.uname().nodename
        try:
            with open("/etc/hosts", encoding="utf-8") as f:
                for line in f:
                    if host in line.split("#", 1)[0].split()[1:]:
                        return []
        except OSError:
            pass
        log(f"host name {host!r} is not in /etc/hosts: ours gets -F {host} (no FQDN lookup)")
        return ["-F", host]

    def argv(self, scenario, tool):
        if tool == THEIRS:
            return scenario.theirs
        return [self.tools[tool], *scenario.ours]

    def cells(self):
        """Every (scenario, tool) that runs, theirs last."""
        for s in self.scen:
            for tool in self.tools:
                yield s, tool
            if s.theirs:
                yield s, THEIRS

    def fail(self, scenario, tool, what, status, output):
        first = output.strip().split("\n", 1)[0][:200]
        self.failures.append(f"{scenario.key}/{tool} ({what}): exit {status}: {first}")
        log(f"NOT OK: {scenario.key}/{tool} ({what}) exit {status}: {first}")

    # ---- 1. once each: exit 0, the dialogue in Postfix's log, no DNS to port 53

    def maillog_disconnect(self, offset):
        """The command counts of the first 'disconnect from' line after offset in the maillog
        (postlogd writes asynchronously: wait a little)."""
        path = env("POSTFIX_MAILLOG")
        deadline = time.monotonic() + 5
        while True:
            with open(path, encoding="utf-8", errors="replace") as f:
                f.seek(offset)
                text = f.read()
            m = re.search(r"disconnect from \S+ (.*)", text)
            if m:
                extra = " (improper pipelining!)" if "improper command pipelining" in text else ""
                return m.group(1).strip() + extra
            if time.monotonic() > deadline:
                return "(no disconnect line in the maillog)"
            time.sleep(0.02)

    def validate(self):
        maillog = env("POSTFIX_MAILLOG")
        dns_port = env("UNBOUND_PORT")
        for s, tool in self.cells():
            argv = self.argv(s, tool)
            offset = os.path.getsize(maillog)
            trace = os.path.join(self.work, "strace.out")
            out = os.path.join(self.work, "out")
            status, _, _ = spawn_wait(["/usr/bin/strace", "-f", "-qq", "-o", trace,
                                       "-e", "trace=connect,sendto,sendmsg,sendmmsg", *argv], out)
            output = read(out)
            if status != 0:
                self.fail(s, tool, "first run", status, output)
                raise SetupError("a tool did not return OK; see above")
            calls = read(trace)
            if re.search(r"htons\(53\)", calls):
                raise SetupError(f"{s.key}/{tool} sent something to port 53:\n" +
                                 "\n".join(l for l in calls.splitlines() if "htons(53)" in l))
            if s.key == "helo" and f"htons({dns_port})" not in calls:
                raise SetupError(f"{s.key}/{tool} never asked the local unbound on port {dns_port}")
            self.dialogues[(s.key, tool)] = self.maillog_disconnect(offset)
        # The same dialogue where the scenario says so (HELO and EHLO count as one).
        norm = lambda d: re.sub(r"\bhelo=", "ehlo=", d)
        for s in self.scen:
            theirs_key = (s.ref or s.key, THEIRS)
            if not s.same_dialogue:
                continue
            for tool in self.tools:
                ours, theirs = self.dialogues[(s.key, tool)], self.dialogues[theirs_key]
                if norm(ours) != norm(theirs):
                    raise SetupError(f"{s.key}: ours ({tool}) and {s.theirs_name} differ in "
                                     f"Postfix's log: {ours!r} vs {theirs!r}")
        for (key, tool), d in self.dialogues.items():
            log(f"dialogue {key}/{tool}: {d}")
        log("no tool sent anything to port 53")

    # ---- 2. instructions

    def callgrind(self):
        for s, tool in self.cells():
            vlog = os.path.join(self.work, "callgrind.log")
            cg_out = os.path.join(self.args.callgrind_dir or self.work,
                                  f"callgrind.out.{s.key}.{tool}")
            out = os.path.join(self.work, "out")
            status, _, wall = spawn_wait(["/usr/bin/valgrind", "--tool=callgrind",
                                          f"--callgrind-out-file={cg_out}", f"--log-file={vlog}",
                                          *self.argv(s, tool)], out)
            if status != 0:
                self.fail(s, tool, "under callgrind", status, read(out))
                continue
            m = re.search(r"Collected : (\d+)", read(vlog))
            if not m:
                raise SetupError(f"no 'Collected' line in callgrind's log: {read(vlog)[-500:]}")
            self.instr[(s.key, tool)] = int(m.group(1))
            log(f"callgrind {s.key}/{tool}: {int(m.group(1)):,} instructions ({wall:.1f} s)")

    # ---- 3. timing and RSS, alternating

    def rounds(self, runs, record=True):
        out = os.path.join(self.work, "out")
        rss_file = os.path.join(self.work, "rss")
        for r in range(runs):
            for s in self.scen:
                tools = [t for t in self.tools] + ([THEIRS] if s.theirs else [])
                k = r % len(tools)  # rotate who goes first, against order effects
                tools = tools[k:] + tools[:k]
                for tool in tools:
                    status, cpu, wall = spawn_wait(self.argv(s, tool), out)
                    output = read(out)
                    if status != 0:
                        self.fail(s, tool, f"round {r + 1}", status, output)
                        continue
                    if not record:
                        continue
                    key = (s.key, tool)
                    self.cpu.setdefault(key, []).append(cpu)
                    self.wall.setdefault(key, []).append(wall)
                    if tool != THEIRS:
                        for phase, secs in perfdata(output).items():
                            self.phases.setdefault(key, {}).setdefault(phase, []).append(secs)
                if not record:
                    continue
                for tool in tools:
                    status, _, _ = spawn_wait([GNU_TIME, "-f", "%M", "-o", rss_file, "--",
                                               *self.argv(s, tool)], out)
                    if status != 0:
                        self.fail(s, tool, f"round {r + 1} under time", status, read(out))
                        continue
                    kib = read(rss_file).strip().splitlines()[-1]
                    self.rss.setdefault((s.key, tool), []).append(int(kib))
            if record and (r + 1) % 10 == 0:
                log(f"{r + 1}/{runs} rounds")


    # ---- 4b. latency: round trips through a delay proxy (issue 18)

    def latency(self):
        """Round trips = (median wall through the proxy - median wall direct) / RTT."""
        self.round_trips = {}  # (scenario key, tool) -> round trips
        out = os.path.join(self.work, "out")
        targets = {"ehlo": env("POSTFIX_NOTLS_PORT"), "rcpt3": env("POSTFIX_NOTLS_PORT"),
                   "starttls": env("POSTFIX_PORT")}
        proxies = {}
        try:
            for port in set(targets.values()):
                proxies[port] = start_proxy(port)
            for key, title, ours, theirs, _, _ in latency_scenarios(self.helo_args):
                direct, proxied = targets[key], proxies[targets[key]][1]
                for tool in [*self.tools, THEIRS]:
                    argv = (lambda p: theirs(p)) if tool == THEIRS else \
                        (lambda p, t=tool: [self.tools[t], *ours(p)])
                    walls = {direct: [], proxied: []}
                    for _ in range(LATENCY_RUNS):
                        for port in (direct, proxied):
                            status, _, wall = spawn_wait(argv(port), out)
                            if status != 0:
                                self.fail(Scenario(key, title, [], None, ""), tool,
                                          f"latency via {port}", status, read(out))
                            walls[port].append(wall)
                    self.round_trips[(key, tool)] = (
                        (median(walls[proxied]) - median(walls[direct])) / (2 * DELAY_MS / 1000))
        finally:
            for proc, _ in proxies.values():
                proc.kill()
                proc.wait()

    # ---- 5. floors: programs that do no SMTP

    def floors(self, runs):
        """Instructions and median peak RSS of each --floor program (see table_of_floors)."""
        out = os.path.join(self.work, "out")
        rss_file = os.path.join(self.work, "rss")
        vlog = os.path.join(self.work, "callgrind.log")
        for label, argv, ok in self.args.floor_programs:
            cg_out = os.path.join(self.args.callgrind_dir or self.work, f"callgrind.out.floor.{label}")
            status, _, _ = spawn_wait(["/usr/bin/valgrind", "--tool=callgrind",
                                       f"--callgrind-out-file={cg_out}", f"--log-file={vlog}",
                                       *argv], out)
            m = re.search(r"Collected : (\d+)", read(vlog))
            if status != ok or not m:
                self.failures.append(f"floor {label}: exit {status} under callgrind, expected {ok}: "
                                     f"{read(out)[:200]!r}")
                continue
            self.floor_instr[label] = int(m.group(1))
            for r in range(runs):
                status, cpu, wall = spawn_wait(argv, out)
                if status == ok:
                    self.floor_cpu.setdefault(label, []).append(cpu)
                    self.floor_wall.setdefault(label, []).append(wall)
                status, _, _ = spawn_wait([GNU_TIME, "-f", "%M", "-o", rss_file, "--", *argv], out)
                if status != ok:
                    self.failures.append(f"floor {label}: exit {status} in round {r + 1}, expected {ok}")
                    continue
                kib = read(rss_file).strip().splitlines()[-1]
                self.floor_rss.setdefault(label, []).append(int(kib))
            log(f"floor {label}: {self.floor_instr[label]:,} instructions, "
                f"peak RSS {median(self.floor_rss.get(label, [])) or 0:.0f} KiB")


# ------------------------------------------------------------------ the table

def median(values):
    return statistics.median(values) if values else None


def p90(values):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(round(0.9 * (len(v) - 1))))]


def fmt(metric, value):
    if value is None:
        return "–"
    if metric == "instr":
        return f"{value / 1e6:.2f} M"
    if metric in ("cpu", "wall"):
        return f"{value * 1e3:.2f} ms"
    return f"{value / 1024:.2f} MiB"  # rss, in KiB


METRICS = [("instr", "instructions"), ("cpu", "CPU user+sys, median"),
           ("wall", "wall, median"), ("rss", "peak RSS, median")]


def table(b, runs):
    labels = list(b.tools)
    figures = {"instr": lambda k: b.instr.get(k), "cpu": lambda k: median(b.cpu.get(k, [])),
               "wall": lambda k: median(b.wall.get(k, [])), "rss": lambda k: median(b.rss.get(k, []))}
    lines = []
    head = "| Scenario | Metric | theirs |"
    rule = "|---|---|--:|"
    for label in labels:
        head += f" ours: {label} | ratio | target |"
        rule += "--:|--:|---|"
    lines += [head, rule]
    met = missed = 0
    for s in b.scen:
        theirs_key = (s.ref or s.key, THEIRS)
        for i, (metric, name) in enumerate(METRICS):
            title = f"**{s.title}** (vs {s.theirs_name})" if i == 0 else ""
            theirs = figures[metric](theirs_key)
            row = f"| {title} | {name} | {fmt(metric, theirs)} |"
            for label in labels:
                ours = figures[metric]((s.key, label))
                ratio = ours / theirs if ours is not None and theirs else None
                target = TARGETS.get(label, {}).get((s.key, metric), WALL_TARGETS.get((s.key, metric)))
                mark = ""
                if target is not None:
                    ok = ratio is not None and ratio <= target
                    met += ok
                    missed += not ok
                    mark = f"≤ {target:g}× {'met' if ok else '**MISSED**'}"
                row += f" {fmt(metric, ours)} | {'–' if ratio is None else f'{ratio:.2f}×'} | {mark} |"
            lines.append(row)
    return lines, met, missed


def latency_table(b):
    rows = [f"Round trips (issue 18): (median wall through a delay proxy, {DELAY_MS:g} ms each way, "
            f"− median wall direct) / RTT, {LATENCY_RUNS} runs each; the proxy also delays the "
            "TCP handshake (connect and banner: 2 round trips).", "",
            "| scenario | " + " | ".join(f"ours ({t})" for t in b.tools) +
            " | theirs | target (ours) |",
            "|---|" + "---|" * len(b.tools) + "---|---|"]
    for key, title, _, _, theirs_name, target in latency_scenarios(b.helo_args):
        cells = []
        for tool in b.tools:
            rt = b.round_trips.get((key, tool))
            mark = "" if rt is None else (" ✓" if rt <= target + 0.5 else " ✗")
            cells.append("–" if rt is None else f"{rt:.1f}{mark}")
        theirs = b.round_trips.get((key, THEIRS))
        rows.append(f"| {title} | " + " | ".join(cells) +
                    f" | {'–' if theirs is None else f'{theirs:.1f}'} ({theirs_name}) | {target} |")
    rows += ["", "³ check_smtp cannot send a message (its -C DATA would leave Postfix waiting for "
             "one): its STARTTLS run stops after the RCPT."]
    return rows


def table_of_floors(b):
    """The floors beside check_smtp's plain check: what loading costs before any SMTP."""
    theirs = median(b.rss.get(("plain", THEIRS), []))
    lines = ["| program (no SMTP) | instructions | CPU, median | wall, median | peak RSS, median "
             "| peak RSS / check_smtp plain |", "|---|--:|--:|--:|--:|--:|"]
    for label, argv, _ in b.args.floor_programs:
        rss = median(b.floor_rss.get(label, []))
        ratio = f"{rss / theirs:.2f}×" if rss is not None and theirs else "–"
        lines.append(f"| {b.args.floor_titles[label]} | {fmt('instr', b.floor_instr.get(label))} "
                     f"| {fmt('cpu', median(b.floor_cpu.get(label, [])))} "
                     f"| {fmt('wall', median(b.floor_wall.get(label, [])))} "
                     f"| {fmt('rss', rss)} | {ratio} |")
    return lines


def phase_table(b):
    labels = list(b.tools)
    seen = [p for p in PHASES if any(p in ph for ph in b.phases.values())]
    lines = ["| Scenario | Build | " + " | ".join("total" if p == "time" else p for p in seen) +
             " | process wall |", "|---|---|" + "--:|" * (len(seen) + 1)]
    stalls = []
    for s in b.scen:
        for label in labels:
            ph = b.phases.get((s.key, label), {})
            cells = []
            for p in seen:
                med = median(ph.get(p, []))
                cells.append("" if med is None else f"{med * 1e3:.2f}")
                if p != "time" and med is not None:
                    hi = p90(ph[p])
                    slow = sum(v * 1e3 >= STALL_MS for v in ph[p])
                    if slow:
                        stalls.append(f"{s.title.rstrip(' ¹²')} / {label}: {p} ≥ {STALL_MS:g} ms "
                                      f"in {slow} of {len(ph[p])} runs (median {med * 1e3:.1f} ms, "
                                      f"p90 {hi * 1e3:.1f} ms, max {max(ph[p]) * 1e3:.1f} ms)")
            wall = median(b.wall.get((s.key, label), []))
            cells.append("" if wall is None else f"{wall * 1e3:.2f}")
            lines.append(f"| {s.title.rstrip(' ¹²')} | {label} | " + " | ".join(cells) + " |")
    return lines, stalls


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--tool", action="append", default=[], metavar="LABEL=PATH")
    ap.add_argument("--work", required=True)
    ap.add_argument("--callgrind-dir")
    ap.add_argument("--machine", default="", help="Markdown lines about machine and versions")
    ap.add_argument("--command", default="tests/bench/run.sh")
    ap.add_argument("--floor", action="append", default=[], metavar="LABEL=STATUS=TITLE=ARGV",
                    help="a program that does no SMTP: exit STATUS expected, ARGV split at spaces")
    args = ap.parse_args()
    args.floor_programs, args.floor_titles = [], {}
    for f in args.floor:
        label, status, title, argv = f.split("=", 3)
        args.floor_programs.append((label, argv.split(), int(status)))
        args.floor_titles[label] = title
    try:
        b = Bench(args)
        log("checking every command once (exit 0, Postfix's log, strace: no port 53)")
        b.validate()
        log("counting instructions (valgrind --tool=callgrind)")
        b.callgrind()
        log(f"warm-up: {args.warmup} rounds")
        b.rounds(args.warmup, record=False)
        log(f"measuring: {args.runs} alternating rounds (CPU/wall, then peak RSS under {GNU_TIME})")
        t0 = time.monotonic()
        b.rounds(args.runs)
        log(f"latency: round trips through a {DELAY_MS:g} ms-each-way delay proxy")
        b.latency()
        if args.floor_programs:
            log(f"floors: {len(args.floor_programs)} programs that do no SMTP")
            b.floors(args.runs)
        log(f"measured in {time.monotonic() - t0:.0f} s")
    except SetupError as e:
        log(f"error: {e}")
        return 2

    rows, met, missed = table(b, args.runs)
    phases, stalls = phase_table(b)
    d = b.dialogues
    first = next(iter(b.tools))
    out = [f"### {args.command}", "",
           f"{datetime.date.today().isoformat()}, {args.runs} alternating runs per tool and "
           f"scenario; instructions: one callgrind run each.", ""]
    out += [args.machine.strip(), ""] if args.machine.strip() else []
    out += rows
    out += ["", f"Targets (issues 8, 18): {met} met, {missed} missed. Ratios are ours/theirs; "
            "CPU is user+sys of the process, wall from spawn to exit, peak RSS from "
            "`/usr/bin/time -f %M`.", ""]
    out += [f"¹ check_ssmtp does the TLS handshake, reads the banner and sends QUIT "
            f"(Postfix logs `{d.get(('implicit', THEIRS), '?')}`), and verifies no certificate; "
            f"ours does banner, EHLO, QUIT (`{d.get(('implicit', first), '?')}`) with chain and "
            "name verification. \"Far below\" is taken as ≤ 0.5×.",
            f"² ours with `--helo-dns warning` (A and AAAA of the HELO name from a local unbound), "
            f"compared with check_smtp's plain run, which makes no such lookup.",
            f"Dialogues as Postfix logged them: plain `{d.get(('plain', first), '?')}` (ours) / "
            f"`{d.get(('plain', THEIRS), '?')}` (check_smtp); STARTTLS "
            f"`{d.get(('starttls', first), '?')}` (both). check_smtp -S verifies no certificate; "
            "ours verifies chain and name (`--ca-file`, `--verify-name`).", ""]
    out += latency_table(b) + [""]
    if args.floor_programs:
        out += ["Floors: what loading costs before any SMTP is spoken (same run; instructions from "
                "callgrind, CPU, wall and peak RSS medians of the same number of runs), beside "
                "check_smtp's whole plain check:", ""] + table_of_floors(b) + [""]
    out += ["Per-phase medians of ours (ms, from its perfdata; total is its own `time=`, "
            "process wall the median wall above: the difference is exec, loading and exit):",
            ""] + phases + [""]
    if stalls:
        out += [f"Phases that took {STALL_MS:g} ms or more (possible idle waits):", ""]
        out += [f"- {s}" for s in stalls] + [""]
    else:
        out += [f"No phase of ours took {STALL_MS:g} ms or more in any run.", ""]
    if b.failures:
        out += ["**Runs that did not return OK:**", ""] + [f"- {f}" for f in b.failures] + [""]
    print("\n".join(out))
    return 1 if b.failures else 0


if __name__ == "__main__":
    sys.exit(main())
