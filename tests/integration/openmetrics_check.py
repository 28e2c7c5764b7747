#!/usr/bin/python3
"""Checks one --output openmetrics exposition (stdin) as strictly as Debian's tools can.

Usage: openmetrics_check.py EXIT_CODE < exposition

- The bytes must be UTF-8 and parse with the OpenMetrics parser of python3-prometheus-client
  (prometheus_client.openmetrics.parser, strict: # EOF last, no blank or comment lines,
  metadata before samples, units matching names, grouped samples).
- Every family is a gauge with a HELP text; a *_seconds family carries the unit "seconds".
- The Prometheus text format parser (what node_exporter's textfile collector speaks) must read
  the same samples.
- smtp_verify_state has exactly one sample, equal to EXIT_CODE.

On success prints each sample as NAME{label="value",...} VALUE (label values JSON-quoted, in
the order written), for the caller's grep; on failure says why on stderr and exits 1.
"""
import json
import sys

from prometheus_client import parser as text_format
from prometheus_client.openmetrics import parser as openmetrics


def fail(why):
    print(f"openmetrics_check: {why}", file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) != 2:
        fail("usage: openmetrics_check.py EXIT_CODE < exposition")
    want = int(sys.argv[1])
    raw = sys.stdin.buffer.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        fail(f"not UTF-8: {e}")
    try:
        families = list(openmetrics.text_string_to_metric_families(text))
    except ValueError as e:
        fail(f"not OpenMetrics: {e}")
    lines = []
    for f in families:
        if f.type != "gauge":
            fail(f"{f.name}: type {f.type}, expected gauge")
        if not f.documentation:
            fail(f"{f.name}: no HELP")
        if f.name.endswith("_seconds") != (f.unit == "seconds"):
            fail(f"{f.name}: unit '{f.unit}'")
        for s in f.samples:
            labels = ",".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in s.labels.items())
            lines.append(f"{s.name}{{{labels}}} {s.value}")
    try:
        classic = [(s.name, s.labels, s.value)
                   for f in text_format.text_string_to_metric_families(text) for s in f.samples]
    except ValueError as e:
        fail(f"not the Prometheus text format: {e}")
    strict = [(s.name, s.labels, s.value) for f in families for s in f.samples]
    if classic != strict:
        fail(f"the text format parser reads other samples: {classic} != {strict}")
    states = [s.value for f in families if f.name == "smtp_verify_state" for s in f.samples]
    if states != [want]:
        fail(f"smtp_verify_state {states}, expected [{want}] (the exit code)")
    print("\n".join(lines))


main()
