#!/usr/bin/env python3
"""bench: smtptrace's verdicts against the generator's ground truth, then its throughput and
memory beside other readers of the same capture, file in the page cache, medians of N runs.

    tests/bench.py --build DIR --prog PROGRAM [--size 1G] [--seed 1] [--concurrency 500]
                   [--runs 5] [--dir build/bench] [--quick]

The capture and its ground truth come from tests/tools/mkbench.c. Rows: a bare libpcap loop
(tests/tools/pcapcount.c), smtptrace's own read path (tests/tools/readpath.c), tcpdump -r -w
/dev/null, tshark on a 100 MB slice, smtptrace, jansson's json_dumpb alone over smtptrace's
records (tests/tools/dumpfloor.c: the least time the thread dumping them can take); smtptrace
at 100, 1,000 and 10,000 sessions open at once; the same concurrency over a capture four times
as large (peak memory); the hash-collision capture of issue 10 against random tuples. It prints
one table, and exits non-zero only when a verdict differs from the ground truth (no test
asserts a time)."""
import argparse
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import time

COMPARED = ("outcome", "close", "close_by", "close_how", "client_style")
TX_FIELDS = ("outcome", "rejected_at", "method", "size")


def parse_size(text):
    """'1G', '200M', '512K' or bytes, as mkbench reads them (powers of 1024)."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    text = text.strip().lower()
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def size_name(n):
    for unit, div in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= div and n % div == 0:
            return f"{n // div}{unit}"
    return str(n)


class Bench:
    def __init__(self, args):
        self.args = args
        self.tools = os.path.join(args.build, "tools")
        self.failures = []
        self.rows = []
        self.notes = []
        os.makedirs(args.dir, exist_ok=True)

    # ---- running things ----

    def measure(self, cmd, stdin=None):
        """Runs cmd once through tests/tools/runstat.c; returns (wall seconds, CPU seconds,
        peak RSS in KiB, exit status)."""
        out = subprocess.run([os.path.join(self.tools, "runstat")] + cmd, stdin=stdin,
                             check=True, capture_output=True, text=True).stdout.split()
        return float(out[0]), float(out[1]) + float(out[2]), int(out[3]), int(out[4])

    def timed(self, cmd, runs=None):
        """Median wall and CPU time and the largest peak RSS over runs of cmd, after one
        warm-up run that leaves the file in the page cache."""
        runs = runs or self.args.runs
        self.measure(cmd)
        results = [self.measure(cmd) for _ in range(runs)]
        return (statistics.median(r[0] for r in results),
                statistics.median(r[1] for r in results), max(r[2] for r in results))

    def generate(self, name, options):
        """Writes (or reuses, when newer than the generator) NAME.pcap and NAME.truth."""
        cap = os.path.join(self.args.dir, name + ".pcap")
        truth = os.path.join(self.args.dir, name + ".truth")
        gen = os.path.join(self.tools, "mkbench")
        fresh = all(os.path.exists(p) and os.path.getmtime(p) > os.path.getmtime(gen)
                    for p in (cap, truth))
        if not fresh:
            start = time.perf_counter()
            subprocess.run([gen] + options + [cap, truth], check=True, stderr=subprocess.DEVNULL)
            self.notes.append(f"generated {name}.pcap ({os.path.getsize(cap) / 1e6:.0f} MB) "
                              f"in {time.perf_counter() - start:.1f} s")
        return cap, truth

    def packets(self, cap):
        out = subprocess.run([os.path.join(self.tools, "pcapcount"), cap], check=True,
                             capture_output=True, text=True).stdout
        return int(out.split()[0])

    # ---- the ground truth ----

    def check(self, name, cap, truth):
        """smtptrace's session records against the ground truth; returns the sessions seen.
        Every difference is a failure of the bench."""
        expected = {}
        with open(truth) as f:
            for line in f:
                t = json.loads(line)
                expected[(t["src_ip"], t["src_port"], t["dest_ip"], t["dest_port"])] = t
        out = os.path.join(self.args.dir, name + ".json")
        with open(out, "wb") as f:
            rc = subprocess.run([self.args.prog, "-r", cap], stdout=f).returncode
        if rc != 0:
            self.fail(name, f"smtptrace exited with status {rc}")
        seen = 0
        with open(out) as f:
            for line in f:
                seen += self.check_record(name, json.loads(line), expected)
        for key in list(expected)[:5]:
            self.fail(name, f"no record for session {key}")
        if len(expected) > 5:
            self.fail(name, f"... and {len(expected) - 5} more sessions without a record")
        return seen

    def check_record(self, name, rec, expected):
        if rec.get("event_type") != "smtp_session":
            return 0
        key = (rec["src_ip"], rec["src_port"], rec["dest_ip"], rec["dest_port"])
        want = expected.pop(key, None)
        if want is None:
            self.fail(name, f"a record the ground truth does not have: {key}")
            return 1
        sess = rec["smtp_session"]
        got = {k: sess.get(k) for k in COMPARED}
        got["transactions"] = [{k: t[k] for k in TX_FIELDS if k in t}
                               for t in sess.get("transactions", [])]
        got["anomalies"] = sorted(sess.get("anomalies", []))
        want = {k: (sorted(want[k]) if k == "anomalies" else want[k]) for k in got}
        diff = {k: {"expected": want[k], "got": got[k]} for k in got if got[k] != want[k]}
        if diff:
            self.fail(name, f"session {key}: {json.dumps(diff)}")
        return 1

    def fail(self, name, what):
        self.failures.append(f"{name}: {what}")

    # ---- rows ----

    def row(self, reader, cap, secs, cpu, rss, packets):
        size = os.path.getsize(cap)
        self.rows.append({"reader": reader, "mb": size / 1e6, "secs": secs, "cpu": cpu,
                          "mbps": size / 1e6 / secs, "mpps": packets / secs / 1e6, "rss": rss})
        return self.rows[-1]

    def smtptrace_cmd(self, cap):
        return [self.args.prog, "-r", cap, "-o", "/dev/null"]

    def main_rows(self):
        a = self.args
        name = f"mix-{size_name(a.size)}-s{a.seed}-c{a.concurrency}"
        cap, truth = self.generate(name, ["-s", str(a.size), "-S", str(a.seed),
                                          "-c", str(a.concurrency)])
        sessions = self.check(name, cap, truth)
        packets = self.packets(cap)
        self.notes.append(f"{name}.pcap: {os.path.getsize(cap) / 1e6:.0f} MB, {packets} "
                          f"packets, {sessions} sessions, {a.concurrency} open at once")
        bare = self.row("bare libpcap loop (pcap_next_ex)", cap,
                        *self.timed([os.path.join(self.tools, "pcapcount"), cap]), packets)
        self.row("smtptrace's read path (capture_next)", cap,
                 *self.timed([os.path.join(self.tools, "readpath"), cap]), packets)
        if shutil.which("tcpdump"):
            self.row("tcpdump -r -w /dev/null", cap,
                     *self.timed(["tcpdump", "-r", cap, "-w", "/dev/null"]), packets)
        else:
            self.notes.append("tcpdump: not installed, row left out")
        self.tshark_row(cap)
        ours = self.row("smtptrace", cap, *self.timed(self.smtptrace_cmd(cap)), packets)
        self.ratio = (bare["secs"] / ours["secs"], bare["cpu"] / ours["cpu"])
        self.main_rss = ours["rss"]
        self.dump_floor_row(name, cap, bare)
        return cap

    def dump_floor_row(self, name, cap, bare):
        """jansson's json_dumpb alone over the records smtptrace just wrote for cap (the
        check's output), with smtptrace's flags (tests/tools/dumpfloor.c): the least time
        the thread that dumps them can take, so the best wall time ratio any smtptrace that
        has jansson write every record through one thread can reach."""
        records = os.path.join(self.args.dir, name + ".json")
        tool = os.path.join(self.tools, "dumpfloor")
        runs = [subprocess.run([tool, records], check=True, capture_output=True,
                               text=True).stdout.split() for _ in range(self.args.runs)]
        secs = statistics.median(float(r[2]) for r in runs)
        size = os.path.getsize(cap)
        self.rows.append({"reader": f"json_dumpb alone, its {int(runs[0][0]):,} records",
                          "mb": size / 1e6, "secs": secs, "cpu": secs,
                          "mbps": size / 1e6 / secs, "mpps": None, "rss": None})
        self.dump_floor = (secs, int(runs[0][1]), bare["secs"] / secs)

    def stats_only_row(self, cap):
        """smtptrace with --records stats: the analysis without building and writing the
        session records, to show what the records cost."""
        self.row("smtptrace --records stats (no session records)", cap,
                 *self.timed(self.smtptrace_cmd(cap) + ["--records", "stats"]),
                 self.packets(cap))

    def one_thread_row(self, cap):
        """smtptrace --one-thread: the records dumped and written by the analysis thread
        itself, to show what the writer thread takes off it."""
        self.row("smtptrace `--one-thread` (no writer thread)", cap,
                 *self.timed(self.smtptrace_cmd(cap) + ["--one-thread"]), self.packets(cap))

    def read_ahead_row(self, cap):
        """smtptrace --read-ahead: plain files read, decoded and checksummed on a reader
        thread of their own (analyzer/read_ahead.c), a third thread beside the writer."""
        self.row("smtptrace `--read-ahead` (reader thread too)", cap,
                 *self.timed(self.smtptrace_cmd(cap) + ["--read-ahead"]), self.packets(cap))

    def tshark_row(self, cap):
        """tshark dissecting SMTP (fields of every command and reply) over the first 100 MB."""
        if not shutil.which("tshark"):
            self.notes.append("tshark: not installed, row left out")
            return
        part = os.path.join(self.args.dir, "slice-100M.pcap")
        packets = slice_pcap(cap, part, 100 * 1000 * 1000)
        cmd = ["tshark", "-n", "-r", part, "-T", "fields", "-e", "smtp.req.command",
               "-e", "smtp.response.code"]
        self.row("tshark (SMTP fields), 100 MB slice", part, *self.timed(cmd), packets)

    def concurrency_rows(self):
        a = self.args
        rss = {}
        for open_ in (100, 1000, 10000):
            # at least 40 KiB a session, so that all of them open before the file ends
            size = max(a.conc_size, -(-open_ * 40 * 1024 // (1 << 20)) << 20)
            name = f"mix-{size_name(size)}-s{a.seed}-c{open_}"
            cap, truth = self.generate(name, ["-s", str(size), "-S", str(a.seed),
                                              "-c", str(open_)])
            self.check(name, cap, truth)
            row = self.row(f"smtptrace, {open_:,} open at once", cap,
                           *self.timed(self.smtptrace_cmd(cap)), self.packets(cap))
            rss[open_] = row["rss"]
        self.per_session = (rss[10000] - rss[1000]) * 1024 / 9000
        self.conc_rss = rss

    def four_times_rows(self):
        """Peak memory for the main capture and one four times as large, same concurrency,
        both piped from the generator (no 4 GiB file on disk)."""
        a = self.args
        self.big = {}
        for factor in (1, 4):
            size = a.size * factor
            gen = subprocess.Popen([os.path.join(self.tools, "mkbench"), "-s", str(size),
                                    "-S", str(a.seed), "-c", str(a.concurrency), "-"],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            _, _, peak, rc = self.measure([a.prog, "-r", "-", "-o", "/dev/null"],
                                          stdin=gen.stdout)
            gen.stdout.close()
            if gen.wait() != 0 or rc != 0:
                self.fail(f"{factor}x pipe", f"generator {gen.returncode}, smtptrace {rc}")
            self.big[factor] = peak
            # memory only: through a pipe the generator sets the pace
            self.rows.append({"reader": f"smtptrace -r - from mkbench, {factor}x size",
                              "mb": size / 1e6, "secs": None, "cpu": None, "mbps": None,
                              "mpps": None, "rss": peak})

    def detect_rows(self):
        """Probing by content (analyzer/detect.c): a capture whose every other connection is
        HTTP on port 8080 (mkbench -H), with detection on (each HTTP flow probed, then a
        tombstone) and with --no-detect (its segments ignored)."""
        a = self.args
        name = f"half-http-{size_name(a.conc_size)}-s{a.seed}-c{a.concurrency}"
        cap, truth = self.generate(name, ["-s", str(a.conc_size), "-S", str(a.seed),
                                          "-c", str(a.concurrency), "-H"])
        self.check(name, cap, truth)
        packets = self.packets(cap)
        on = self.row("smtptrace, half the flows HTTP (probed)", cap,
                      *self.timed(self.smtptrace_cmd(cap)), packets)
        off = self.row("smtptrace --no-detect, the same capture", cap,
                       *self.timed(self.smtptrace_cmd(cap) + ["--no-detect"]), packets)
        self.detect_ratio = (on["secs"] / off["secs"], on["cpu"] / off["cpu"])

    def collision_rows(self):
        a = self.args
        secs = {}
        for mode in ("collide", "random"):
            name = f"{mode}-{a.collide_sessions}"
            cap, truth = self.generate(name, ["-m", mode, "-n", str(a.collide_sessions)])
            self.check(name, cap, truth)
            label = "in one bucket (unkeyed hash)" if mode == "collide" else "random"
            row = self.row(f"smtptrace, {a.collide_sessions:,} tuples {label}", cap,
                           *self.timed(self.smtptrace_cmd(cap)), self.packets(cap))
            secs[mode] = (row["secs"], row["cpu"])
        self.collision_ratio = [c / r for c, r in zip(secs["collide"], secs["random"])]

    # ---- the table ----

    def print_table(self):
        print()
        print(f"{'reader':<52}{'MB':>6}{'wall s':>8}{'CPU s':>8}{'MB/s':>7}{'Mpkt/s':>8}"
              f"{'peak RSS':>12}")
        for r in self.rows:
            cells = [f"{r[k]:.{d}f}" if r[k] is not None else "-"
                     for k, d in (("secs", 3), ("cpu", 3), ("mbps", 0), ("mpps", 2))]
            rss = f"{r['rss'] / 1024:>8.1f} MiB" if r["rss"] is not None else f"{'-':>12}"
            print(f"{r['reader']:<52}{r['mb']:>6.0f}{cells[0]:>8}{cells[1]:>8}{cells[2]:>7}"
                  f"{cells[3]:>8}{rss}")
        print()
        if hasattr(self, "ratio"):
            print(f"smtptrace / bare libpcap loop (throughput): {self.ratio[0]:.2f} by wall "
                  f"time, {self.ratio[1]:.2f} by CPU time (target 0.75)")
        if hasattr(self, "dump_floor"):
            secs, nbytes, best = self.dump_floor
            print(f"jansson's json_dumpb alone: {secs:.3f} s for the {nbytes / 1e6:.0f} MB of "
                  f"records ({nbytes / 1e6 / secs:.0f} MB/s of JSON), so with one thread\n"
                  f"dumping them no smtptrace passes {best:.2f} of the bare loop by wall time "
                  "on this machine")
        if hasattr(self, "per_session"):
            print(f"memory per open session: {self.per_session / 1024:.1f} KiB "
                  "(peak RSS at 10,000 open minus 1,000 open, over 9,000)")
        if hasattr(self, "big"):
            print(f"peak RSS, {self.args.concurrency} open: {self.big[1] / 1024:.1f} MiB at "
                  f"{size_name(self.args.size)}, {self.big[4] / 1024:.1f} MiB at four times "
                  "that size")
        if hasattr(self, "detect_ratio"):
            print(f"detection by content: probing every flow (half of them HTTP) takes "
                  f"{self.detect_ratio[0]:.2f}x the wall time of --no-detect, "
                  f"{self.detect_ratio[1]:.2f}x the CPU time")
        if hasattr(self, "collision_ratio"):
            print(f"hash collision: colliding tuples take {self.collision_ratio[0]:.1f}x the "
                  f"wall time of random ones, {self.collision_ratio[1]:.1f}x the CPU time "
                  "(target: within 3x)")
        for n in self.notes:
            print(n)


def slice_pcap(src, dst, limit):
    """Copies src's pcap header and its whole records up to limit bytes into dst; returns
    the number of packets copied."""
    packets = 0
    with open(src, "rb") as f, open(dst, "wb") as out:
        head = f.read(24)
        endian = "<" if head[:4] == b"\xd4\xc3\xb2\xa1" else ">"
        out.write(head)
        written = 24
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                break
            caplen = struct.unpack(endian + "IIII", rec)[2]
            if written + 16 + caplen > limit:
                break
            out.write(rec + f.read(caplen))
            written += 16 + caplen
            packets += 1
    return packets


def check_only(bench, cap, truth):
    """The verdict check alone, for an existing capture and its ground truth."""
    name = os.path.splitext(os.path.basename(cap))[0]
    sessions = bench.check(name, cap, truth)
    if bench.failures or sessions == 0:
        print(f"FAIL: {len(bench.failures)} differences from the ground truth "
              f"({sessions} sessions):")
        for f in bench.failures[:50]:
            print("  " + f)
        return 1
    print(f"ground truth: every session's verdicts match ({sessions} sessions)")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", required=True)
    p.add_argument("--prog", required=True)
    p.add_argument("--size", type=parse_size, default=parse_size("1G"))
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--concurrency", type=int, default=500)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--dir", default="build/bench")
    p.add_argument("--conc-size", type=parse_size, default=parse_size("256M"),
                   help="size of the 100/1,000/10,000-open captures (at least 40 KiB each)")
    p.add_argument("--collide-sessions", type=int, default=4000)
    p.add_argument("--quick", action="store_true",
                   help="only the ground-truth checks and the main rows")
    p.add_argument("--check-only", nargs=2, metavar=("CAPTURE", "TRUTH"),
                   help="only the ground-truth check of CAPTURE against TRUTH, no timing")
    args = p.parse_args()
    bench = Bench(args)
    if args.check_only:
        return check_only(bench, *args.check_only)
    cap = bench.main_rows()
    bench.stats_only_row(cap)
    bench.one_thread_row(cap)
    bench.read_ahead_row(cap)
    bench.collision_rows()
    bench.detect_rows()
    if not args.quick:
        bench.concurrency_rows()
        bench.four_times_rows()
    bench.print_table()
    if bench.failures:
        print(f"\nFAIL: {len(bench.failures)} differences from the ground truth:")
        for f in bench.failures[:50]:
            print("  " + f)
        return 1
    print("\nground truth: every session's verdicts match")
    return 0


if __name__ == "__main__":
    sys.exit(main())
