#!/usr/bin/env python3
"""Where the test run's time went, from the trx every `dotnet test` writes (Hermes.Tests/coverage.runsettings).

For each tier (the folder after Hermes.Tests.) and each of the slowest classes: the wall-clock span from its first
test's start to its last test's end, and the sum of its tests' own durations. Spans overlap, since classes run side by
side (docs/development.md, "Tests run side by side"). Usage: .ci/tiers.py TestResults/tests.trx [top-N classes].
"""
import sys
import xml.etree.ElementTree as ET
from datetime import datetime

NS = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}


def when(text):
    # 2026-12-05T07:11:00.1234567+00:00: Python wants at most six digits of fraction.
    head, _, rest = text.partition(".")
    digits = "".join(c for c in rest if c.isdigit())
    zone = rest[len(digits):]
    return datetime.fromisoformat(f"{head}.{digits[:6] or '0'}{zone}")


def seconds(duration):
    h, m, s = duration.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def main():
    root = ET.parse(sys.argv[1]).getroot()
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    classes = {d.get("id"): d.find("t:TestMethod", NS).get("className") for d in root.iterfind(".//t:UnitTest", NS)}
    groups = {}
    start_all, end_all = None, None
    for r in root.iterfind(".//t:UnitTestResult", NS):
        if r.get("startTime") is None or r.get("endTime") is None:
            continue
        cls = classes.get(r.get("testId"), "?")
        start, end = when(r.get("startTime")), when(r.get("endTime"))
        own = seconds(r.get("duration", "0:0:0"))
        parts = cls.split(".")
        tier = parts[2] if len(parts) > 3 and parts[0] == "Hermes" else "(root)"
        for key in (("tier", tier), ("class", cls.split(".")[-1])):
            g = groups.setdefault(key, [start, end, 0.0, 0])
            g[0], g[1], g[2], g[3] = min(g[0], start), max(g[1], end), g[2] + own, g[3] + 1
        start_all = start if start_all is None else min(start_all, start)
        end_all = end if end_all is None else max(end_all, end)
    if start_all is None:
        print("no timed results")
        return
    print(f"tests: {(end_all - start_all).total_seconds():.0f} s wall clock from the first test's start to the last one's end")
    print(f"{'tier':<16} {'tests':>5} {'span s':>7} {'sum s':>7}")
    for (kind, name), (s, e, own, n) in sorted(groups.items(), key=lambda kv: -(kv[1][1] - kv[1][0]).total_seconds()):
        if kind == "tier":
            print(f"{name:<16} {n:>5} {(e - s).total_seconds():>7.0f} {own:>7.0f}")
    print(f"slowest classes (span s, sum s):")
    ranked = sorted(((n, g) for (k, n), g in groups.items() if k == "class"), key=lambda ng: -(ng[1][1] - ng[1][0]).total_seconds())
    for name, (s, e, own, n) in ranked[:top]:
        print(f"  {name:<40} {(e - s).total_seconds():>7.0f} {own:>7.0f}")


if __name__ == "__main__":
    main()
