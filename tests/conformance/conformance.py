#!/usr/bin/env python3
"""conformance: runs smtptrace over every capture of the peer corpus and holds its records
against the corpus's other tools (python3 standard library only).

  conformance.py --prog ./smtptrace --corpus ../shared/corpus
                 --known tests/known-differences.tsv --work DIR [--san-prog P] [--jobs 2]

Check groups, one result line each ("RESULT<TAB>pass|fail|skip<TAB>name<TAB>detail"):
- capture NAME: smtptrace exits 0 (2 with a warning for the one corrupt capture), no crash,
  no sanitizer report (also through --san-prog when given), every line valid JSON with
  the fields of DESIGN.md section 6 (schema.py);
- corrupt-capture NAME: the records before the damage, then one clear warning;
- suricata CASE / zeek CASE / arkime CASE / tshark CAPTURE: every field compared agrees, or
  its difference is listed in the known-differences file with the same values (one
  "tshark" skip when smtptrace has no --trace or tshark is missing);
- known-differences: every line of the file is well-formed and belongs to a group that ran
  (a listed difference that no longer occurs fails its own group).
Then "SUMMARY<TAB>..." lines: captures run, sessions, fields compared, agreements, known
differences (smtptrace bugs / other tools), not comparable fields.

Notes on running smtptrace: --ports covers the corpus's SMTP servers: the defaults plus,
per capture, the odd ports of EXTRA_PORTS (the ports SUMMARY.md's decode-as column names,
except 143, IMAP traffic in the same capture, and 8240, where smtptrace finds the SMTP after
an HTTP CONNECT by content, analyzer/detect.c). --trace is passed when smtptrace's --help
lists it (a build that writes command_verbs unasked counts too); the tshark groups are
skipped until then."""

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import arkime  # noqa: E402
import schema  # noqa: E402
import suricata  # noqa: E402
import tshark  # noqa: E402
import zeek  # noqa: E402
from common import Session  # noqa: E402

DEFAULT_PORTS = [25, 465, 587, 2525]
EXTRA_PORTS = {
    "arkime/socks5-smtp-503/socks5-smtp-503.pcap": [1080],       # SMTP inside SOCKS5
    # zeek/http-connect-with-smtp (SMTP after an HTTP CONNECT on 8240): found by content
    "arkime/smtp-html/smtp-html.pcap": [8000],                    # one SMTP packet to 8000
}
# tshark finds SMTP by port only: the ports smtptrace finds it on by content, decoded as SMTP
TSHARK_DECODE_AS = {"zeek/http-connect-with-smtp/connect-with-smtp.pcap": [8240]}
# The one damaged capture: libpcap stops after 18 packets (MANIFEST.tsv); the intact
# original it was edited from.
CORRUPT = "suricata-verify/smtp-to-comma/10.7.29.101_49898-178.63.41.150_25.pcap"
CORRUPT_ORIGINAL = "suricata-verify/smtp-data-rejected/10.7.29.101_49898-178.63.41.150_25.pcap"
SANITIZER = re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|"
                       r"ERROR: UndefinedBehaviorSanitizer")
KNOWN_COLUMNS = ["capture", "locator", "field", "smtptrace", "other", "tool", "reason"]
TOOLS = ("suricata", "zeek", "arkime", "tshark")


def result(status, name, detail=""):
    detail = detail.replace("\t", " ").replace("\n", " | ")
    print("RESULT\t%s\t%s\t%s" % (status, name, detail), flush=True)


def captures(corpus):
    """Captures listed in MANIFEST.tsv, in its order."""
    out = []
    with open(os.path.join(corpus, "MANIFEST.tsv"), encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        col = header.index("file")
        for line in f:
            name = line.rstrip("\n").split("\t")[col]
            if name.endswith((".pcap", ".pcapng", ".pcap.gz", ".pcapng.gz")):
                out.append(name)
    return out


def ports_for(capture):
    return DEFAULT_PORTS + EXTRA_PORTS.get(capture, [])


def supports_trace(prog):
    try:
        res = subprocess.run([prog, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return b"--trace" in res.stdout


def run_prog(prog, corpus, capture, trace):
    # The peers read the corpus without checksum validation (suricata-verify runs with -k none,
    # Zeek with -C), and many of its captures had bytes edited without their checksum fixed.
    cmd = [prog, "-r", os.path.join(corpus, capture), "--ports",
           ",".join(str(p) for p in ports_for(capture)), "--checksum", "no"]
    if trace:
        cmd.append("--trace")
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    try:
        res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120,
                             env=env)
    except subprocess.TimeoutExpired:
        return None, b"", b"timeout after 120 s"
    if os.environ.get("SMTPTRACE_TEST_RECORDS"):  # tests/schema-tests.sh validates them
        with open(os.environ["SMTPTRACE_TEST_RECORDS"], "ab") as f:
            f.write(res.stdout)
    return res.returncode, res.stdout, res.stderr


def check_output(capture, rc, out, err, trace, expect_rc):
    """(problems, records)."""
    problems, records = [], []
    if rc is None:
        return ["timed out"], records
    if rc < 0 or rc > 3:
        problems.append("exit status %d (crash?)" % rc)
    elif rc != expect_rc:
        problems.append("exit status %d, expected %d" % (rc, expect_rc))
    text = err.decode("utf-8", "replace")
    if SANITIZER.search(text):
        problems.append("sanitizer report: " + SANITIZER.search(text).group(0))
    if expect_rc == 0 and text.strip():
        problems.append("unexpected stderr: " + text.strip()[:200])
    for n, line in enumerate(out.split(b"\n"), 1):
        if not line:
            continue
        try:
            rec = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            problems.append("line %d is not valid JSON: %s" % (n, e))
            continue
        if rec.get("event_type") == "stats":  # the run's counters, not a session
            continue
        p = schema.check_record(rec, trace)
        problems += ["line %d: %s" % (n, x) for x in p]
        records.append(rec)
    if not out.endswith(b"\n") and out:
        problems.append("output does not end with a newline")
    return problems, records


def check_corrupt(corpus, runs):
    """The damaged capture: the records before the damage and one clear warning."""
    rc, out, err, records = runs[CORRUPT]
    problems = []
    lines = [x for x in err.decode("utf-8", "replace").split("\n") if x]
    if rc != 3:
        problems.append("exit status %s, expected 3" % rc)
    if len(lines) != 1 or "warning" not in lines[0] or os.path.basename(CORRUPT) not in lines[0]:
        problems.append("expected one warning line naming the file, got %r" % lines)
    elif not re.search(r"bad|damaged|corrupt|truncated|invalid", lines[0], re.I):
        problems.append("warning does not say the file is damaged: %r" % lines[0])
    orig = runs.get(CORRUPT_ORIGINAL)
    if not records:
        problems.append("no record before the damage")
    elif orig and orig[3]:
        a, b = records[0], orig[3][0]
        for k in ("src_ip", "src_port", "dest_ip", "dest_port", "community_id"):
            if a.get(k) != b.get(k):
                problems.append("%s %r differs from the intact capture's %r" % (k, a.get(k), b.get(k)))
        ta, tb = a["smtp_session"]["transactions"], b["smtp_session"]["transactions"]
        if len(ta) > len(tb):
            problems.append("more transactions than the intact capture")
        for x, y in zip(ta, tb):
            if (x.get("mail_from"), x.get("rcpt_to")) != (y.get("mail_from"), y.get("rcpt_to")):
                problems.append("tx %s envelope differs from the intact capture" % x.get("tx_id"))
        if ta and ta[-1].get("outcome") != "incomplete":
            problems.append("the transaction cut by the damage is %r, not incomplete"
                            % ta[-1].get("outcome"))
        if a["smtp_session"].get("outcome") != "incomplete":
            problems.append("session outcome %r, not incomplete" % a["smtp_session"].get("outcome"))
    return problems


def load_known(path):
    """(entries, problems); an entry is a dict of KNOWN_COLUMNS plus "line"."""
    entries, problems = [], []
    if not os.path.exists(path):
        return entries, ["%s is missing" % path]
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            cols = line.split("\t")
            if cols == KNOWN_COLUMNS:
                continue
            if len(cols) != len(KNOWN_COLUMNS):
                problems.append("line %d: %d columns, want %d" % (n, len(cols), len(KNOWN_COLUMNS)))
                continue
            e = dict(zip(KNOWN_COLUMNS, cols))
            e["line"] = n
            if e["tool"] not in TOOLS:
                problems.append("line %d: unknown tool %r" % (n, e["tool"]))
            if len(e["reason"].strip()) < 20:
                problems.append("line %d: the reason must say why (an RFC section, the other "
                                "tool's known bug, or SMTPTRACE BUG: ...)" % n)
            entries.append(e)
    return entries, problems


def known_key(e):
    return (e["tool"], e["capture"], e["locator"], e["field"], e["smtptrace"], e["other"])


def is_bug(reason):
    return reason.startswith("SMTPTRACE BUG")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prog", required=True)
    ap.add_argument("--san-prog")
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--known", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--tshark", default=shutil.which("tshark"))
    args = ap.parse_args()

    caps = [c for c in captures(args.corpus) if os.path.exists(os.path.join(args.corpus, c))]
    missing = [c for c in captures(args.corpus) if c not in caps]
    trace = supports_trace(args.prog)
    san = args.san_prog if args.san_prog and os.access(args.san_prog, os.X_OK) else None
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs))

    # 1. smtptrace (and the sanitizer build) over every capture
    futs = {c: pool.submit(run_prog, args.prog, args.corpus, c, trace) for c in caps}
    # the sanitizer build is checked for crashes, sanitizer reports and valid records only
    san_trace = san is not None and supports_trace(san)
    sfuts = {c: pool.submit(run_prog, san, args.corpus, c, san_trace) for c in caps} if san else {}
    # a build that writes the trace fields without being asked counts as having --trace
    first = {c: futs[c].result() for c in caps}
    if not trace and first and all(
            out.strip() == b"" or b'"command_verbs"' in out for _rc, out, _err in first.values()):
        trace = any(b'"command_verbs"' in out for _rc, out, _err in first.values())
    tfuts = {}
    if trace and args.tshark:
        tfuts = {c: pool.submit(tshark.run_tshark, args.tshark, os.path.join(args.corpus, c),
                                ports_for(c) + TSHARK_DECODE_AS.get(c, [])) for c in caps}
    runs, sessions = {}, {}
    for c in caps:
        expect = 3 if c == CORRUPT else 0
        rc, out, err = first[c]
        problems, records = check_output(c, rc, out, err, trace, expect)
        if san:
            src, sout, serr = sfuts[c].result()
            sp, _ = check_output(c, src, sout, serr, False, expect)
            problems += ["sanitizer build: " + p for p in sp]
        runs[c] = (rc, out, err, records)
        sessions[c] = [Session(c, i, r) for i, r in enumerate(records)]
        seen = {}
        for s in sessions[c]:
            seen[s.client] = seen.get(s.client, 0) + 1
            s.nth = seen[s.client]
        result("fail" if problems else "pass", "capture " + c, "; ".join(problems[:5]))
    for c in missing:
        result("fail", "capture " + c, "listed in MANIFEST.tsv but missing")
    if CORRUPT in runs:
        p = check_corrupt(args.corpus, runs)
        result("fail" if p else "pass", "corrupt-capture " + CORRUPT, "; ".join(p))

    # 2. the other tools
    groups = []  # (group name, tool, [Comparison]) or (name, tool, None, skip reason)
    for case, doc, cap in suricata.cases(args.corpus):
        g = "suricata " + case
        if cap not in sessions:
            groups.append((g, "suricata", None, "capture %s not run" % cap))
            continue
        groups.append((g, "suricata", suricata.compare_case(case, doc, cap, sessions[cap], g)))
    for case, log, cap in zeek.cases(args.corpus):
        g = "zeek " + case
        if cap not in sessions:
            groups.append((g, "zeek", None, "capture %s not run" % cap))
            continue
        groups.append((g, "zeek", zeek.compare_log(case, log, cap, sessions[cap], g)))
    for case, test, cap in arkime.cases(args.corpus):
        g = "arkime " + case
        if cap not in sessions:
            groups.append((g, "arkime", None, "capture %s not run" % cap))
            continue
        groups.append((g, "arkime", arkime.compare_test(case, test, cap, sessions[cap], g)))
    if not trace:
        groups.append(("tshark", "tshark", None, "smtptrace has no --trace option "
                       "(smtp_session.command_verbs, reply_codes) to compare with"))
    elif not args.tshark:
        groups.append(("tshark", "tshark", None, "tshark is not installed"))
    for c in caps if trace and args.tshark else []:
        g = "tshark " + c
        trc, tout, terr = tfuts[c].result()
        if trc not in (0, 2) or (trc == 2 and c != CORRUPT):
            groups.append((g, "tshark", None, "tshark failed (exit %s): %s" % (trc, terr.strip()[:200])))
            continue
        server_ports = set(ports_for(c)) | {s.server[1] for s in sessions[c]}
        streams = tshark.parse(tout, server_ports)
        groups.append((g, "tshark", tshark.compare_capture(c, sessions[c], streams, g)))
    pool.shutdown()

    # 3. known differences
    known, kproblems = load_known(args.known)
    by_key = {}
    for e in known:
        if known_key(e) in by_key:
            kproblems.append("line %d repeats line %d" % (e["line"], by_key[known_key(e)]["line"]))
        by_key[known_key(e)] = e
    skipped = [g[0] for g in groups if g[2] is None]
    used = set()
    newlines = []
    totals = {"fields": 0, "agree": 0, "known_bug": 0, "known_other": 0, "new": 0, "na": 0,
              "stale": 0}
    for g in groups:
        name, tool = g[0], g[1]
        if g[2] is None:
            result("skip", name, g[3])
            continue
        comps = g[2]
        new, stale = [], []
        for c in comps:
            if c.status == "na":
                totals["na"] += 1
                continue
            totals["fields"] += 1
            if c.status == "agree":
                totals["agree"] += 1
                continue
            e = by_key.get(c.key())
            if e is None:
                new.append(c)
                totals["new"] += 1
            else:
                used.add(known_key(e))
                totals["known_bug" if is_bug(e["reason"]) else "known_other"] += 1
        for e in known:
            if e["tool"] == tool and known_key(e) not in used and _belongs(e, name):
                stale.append(e)
                used.add(known_key(e))
                totals["stale"] += 1
        detail = []
        newlines.extend("\t".join([c.capture, c.locator, c.field, c.mine, c.other, c.tool, ""])
                        for c in new)
        for c in new:
            detail.append("new difference: %s\t%s\t%s\t%s\t%s\t%s" % (
                c.capture, c.locator, c.field, c.mine, c.other, c.tool))
        for e in stale:
            detail.append("listed difference no longer occurs (line %d): %s %s %s" % (
                e["line"], e["capture"], e["locator"], e["field"]))
        if detail:
            result("fail", name, "\n".join(detail))
        else:
            result("pass", name, "%d fields" % sum(1 for c in comps if c.status != "na"))
    os.makedirs(args.work, exist_ok=True)
    with open(os.path.join(args.work, "new-differences.tsv"), "w", encoding="utf-8") as f:
        f.write("".join(x + "\n" for x in newlines))
    unverified = [e for e in known if known_key(e) not in used and
                  any(_belongs(e, name) for name in skipped)]
    orphans = [e for e in known if known_key(e) not in used and e not in unverified]
    for e in orphans:
        kproblems.append("line %d (%s %s) belongs to no check that ran" % (e["line"], e["tool"], e["capture"]))
    result("fail" if kproblems else "pass", "known-differences " + os.path.basename(args.known),
           "; ".join(kproblems[:10]))

    nsessions = sum(len(v) for v in sessions.values())
    bugs = sum(1 for e in known if is_bug(e["reason"]))
    print("SUMMARY\tcaptures run: %d, sessions: %d, fields compared: %d, agreements: %d, "
          "known differences: %d (smtptrace bugs: %d, other tools: %d), new differences: %d, "
          "stale: %d, not comparable: %d" % (
              len(caps), nsessions, totals["fields"], totals["agree"],
              totals["known_bug"] + totals["known_other"], totals["known_bug"],
              totals["known_other"], totals["new"], totals["stale"], totals["na"]))
    print("SUMMARY\tknown-differences file: %d lines (%d SMTPTRACE BUG), %d not checked in this "
          "run (their tool's checks were skipped)%s" % (
              len(known), bugs, len(unverified),
              "" if trace else "; tshark cross-check skipped: smtptrace has no --trace"))
    if san:
        print("SUMMARY\tsanitizer build %s run over every capture" % san)
    return 0


def _belongs(e, group):
    """Whether a known-differences line belongs to this group: the case for the tools
    whose expectations come per test case, the capture for tshark."""
    tool, _, what = group.partition(" ")
    if not what:  # a whole tool skipped
        return e["tool"] == tool
    if e["tool"] == "tshark":
        return e["capture"] == what
    return _case_of(e["locator"]) == what


def _case_of(locator):
    m = re.match(r"case=(\S+)", locator)
    return m.group(1) if m else None


if __name__ == "__main__":
    sys.exit(main())
