#!/usr/bin/env python3
"""bench: smtptrace's throughput and memory against a bare libpcap read loop over the same
capture (tests/tools/pcapcount.c), best of N runs each. Prints one table; the ratio is
smtptrace's throughput as a fraction of the bare loop's.
    tests/bench.py BUILD_DIR PROGRAM CAPTURE [RUNS]"""
import os
import re
import subprocess
import sys
import time


def run(cmd):
    """Runs cmd; returns (seconds, peak memory in KiB as the program itself reports it).
    A process's peak RSS survives exec, so a program forked straight from Python would
    report Python's pages: it is started from a small shell that forks it instead."""
    start = time.perf_counter()
    done = subprocess.run(["sh", "-c", '"$0" "$@"; exit $?'] + cmd, check=True,
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    found = re.search(r"peak memory:? (\d+) KiB", done.stdout + done.stderr)
    return elapsed, int(found.group(1)) if found else 0


def main():
    build, prog, capture = sys.argv[1:4]
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    size = os.path.getsize(capture)
    count = subprocess.run([os.path.join(build, "tools", "pcapcount"), capture], check=True,
                           capture_output=True, text=True).stdout.split()[0]
    packets = int(count)
    bare = min(run([os.path.join(build, "tools", "pcapcount"), capture]) for _ in range(runs))
    ours = min(run([prog, "-r", capture, "-o", "/dev/null", "--stats"]) for _ in range(runs))
    sessions = sum(1 for _ in subprocess.run([prog, "-r", capture], check=True,
                                             capture_output=True).stdout.splitlines())
    print(f"capture: {capture}: {size / 1e6:.1f} MB, {packets} packets, {sessions} sessions")
    print(f"{'reader':<22}{'seconds':>9}{'Mpkt/s':>9}{'MB/s':>9}{'peak RSS':>12}")
    for name, (secs, rss) in (("bare libpcap loop", bare), ("smtptrace", ours)):
        print(f"{name:<22}{secs:>9.3f}{packets / secs / 1e6:>9.2f}{size / secs / 1e6:>9.0f}"
              f"{rss / 1024:>9.1f} MiB")
    print(f"throughput ratio (smtptrace / bare loop): {bare[0] / ours[0]:.2f}")


if __name__ == "__main__":
    main()
