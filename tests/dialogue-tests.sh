# dialogue-tests: SMTP dialogues written as scripts (tests/dialogues/*.dlg, format in
# tests/dialogues/README.md), each turned by build/.../tools/dialogue into one capture that
# holds the dialogue over many TCP connections cut into segments differently (whole sends,
# one-byte segments, every send cut at each offset), run through smtptrace. One pass or fail
# per dialogue: every connection gives one record, every record gives the same verdicts as
# the first (the whole record but for packet counts and timings), and the first matches the
# script's EXPECT lines, which say what DESIGN.md section 5 calls right.
#
# Sourced by tests/run-tests.sh (uses pass, fail, skip, $prog, $out, and $build when set).
# DIALOGUES="tests/dialogues/a.dlg ..." runs only those.
# shellcheck disable=SC2154 # prog and out come from the script that sources this one

dlg_tool=${build:-build/opt}/tools/dialogue
[ -x "$dlg_tool" ] || dlg_tool=build/opt/tools/dialogue

# dlg_check.py EXPECT VARIANTS RECORDS: prints what differs; exit status 1 when anything does.
cat >"$out/dlg_check.py" <<'EOF'
import json, re, sys

expect_path, variants_path, records_path = sys.argv[1:4]
variants = []
with open(variants_path) as f:
    lines = f.read().splitlines()
for line in lines[1:]:
    port, what = line.split(" ", 1)
    variants.append((int(port), what))
raw = {}
with open(records_path, encoding="utf-8") as f:
    for line in f:
        if line.strip():
            rec = json.loads(line)
            if rec.get("event_type") == "stats":  # counts the run, not a session
                continue
            raw.setdefault(rec.get("src_port"), []).append((rec, line))
problems = []
n_records = sum(len(v) for v in raw.values())
if n_records != len(variants):
    problems.append("%d records for %d connections" % (n_records, len(variants)))

TIMING = ("duration", "pkts_toserver", "pkts_toclient")

def projection(rec):
    """Everything the record says about the dialogue, without packet counts and timings."""
    s = dict(rec.get("smtp_session", {}))
    for k in TIMING:
        s.pop(k, None)
    s["transactions"] = [{k: v for k, v in tx.items() if k != "eod_reply_ms"}
                         for tx in s.get("transactions", [])]
    return {"smtp": rec.get("smtp"), "smtp_session": s}

def flatten(v, path, out):
    if isinstance(v, dict):
        for k in v:
            flatten(v[k], path + "." + k if path else k, out)
    elif isinstance(v, list) and any(isinstance(x, (dict, list)) for x in v):
        out[path + ".len"] = len(v)
        for i, x in enumerate(v):
            flatten(x, "%s[%d]" % (path, i), out)
    else:
        out[path] = v
    return out

def show(v):
    if v is None:
        return "absent"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return ",".join(show(x) for x in v) if v else "none"
    return str(v)

ref = None
for port, what in variants:
    got = raw.get(port, [])
    if len(got) != 1:
        problems.append("connection %d (%s): %d records" % (port, what, len(got)))
    elif ref is None:
        ref = (port, what, got[0][0], got[0][1], flatten(projection(got[0][0]), "", {}))
differing = []
if ref is not None:
    for port, what in variants:
        got = raw.get(port, [])
        if port == ref[0] or len(got) != 1:
            continue
        mine = flatten(projection(got[0][0]), "", {})
        diff = [k for k in sorted(set(mine) | set(ref[4])) if mine.get(k) != ref[4].get(k)]
        if diff:
            differing.append((port, what, mine, diff))
    for port, what, mine, diff in differing[:3]:
        problems.append("connection %d (%s) differs from %d (%s):" % (port, what, ref[0], ref[1]))
        for k in diff[:8]:
            problems.append("    %s: %s, not %s" % (k, show(mine.get(k)), show(ref[4].get(k))))
    if differing:
        problems.append("%d of %d connections differ from the reference: ports %s" % (
            len(differing), len(variants),
            " ".join(str(p) for p, _, _, _ in differing[:40]) + (
                " ..." if len(differing) > 40 else "")))

SESSION_KEYS = ("outcome", "close", "close_by", "close_how", "client_style", "starttls", "detected",
                "commands", "replies", "bytes_toserver", "bytes_toclient", "helo_command")
POLICY_KEYS = ("rfc5321_delivered", "strict_quit_delivered")
SETS = ("anomalies",)

def lookup(rec, line, key):
    """The record's value for an EXPECT key, as text; None for a key the harness lacks."""
    s = rec.get("smtp_session", {})
    if key in SESSION_KEYS:
        return show(s.get(key))
    if key in POLICY_KEYS:
        return show(s.get("policy", {}).get(key))
    if key == "txcount":
        return str(len(s["transactions"])) if "transactions" in s else "absent"
    if key in ("anomalies", "inferred"):
        return s.get(key, [])
    if key == "extensions":  # a set like anomalies; absent when unknown
        return show(None) if "extensions" not in s else s["extensions"]
    m = re.fullmatch(r"(smuggling|auth|greeting|tls)\.(\w+)", key)
    if m:
        return show((s.get(m.group(1)) or {}).get(m.group(2)))
    m = re.fullmatch(r"tx(\d+)\.(\w+)", key)
    if m:
        txs = s.get("transactions", [])
        i, field = int(m.group(1)), m.group(2)
        if i >= len(txs):
            return "no transaction %d" % i
        tx = txs[i]
        if field == "reply":
            return show((tx.get("reply") or {}).get("code"))
        if field == "anomalies":
            return tx.get("anomalies", [])
        if field in ("reply_after_close", "smuggled"):
            return show(tx.get(field, False))
        return show(tx.get(field))
    m = re.fullmatch(r"smtp\.(\w+)", key)
    if m:
        return show((rec.get("smtp") or {}).get(m.group(1)))
    return None

with open(expect_path) as f:
    expects = [l.split("=", 1) for l in f.read().splitlines() if l]
if ref is not None:
    rec, line = ref[2], ref[3]
    for key, want in expects:
        want = want.replace("\\s", " ")  # values hold no blanks: \s is one
        if key == "notcontains":
            if want in line:
                problems.append("the record contains %r" % want)
            continue
        got = lookup(rec, line, key)
        if got is None:
            problems.append("EXPECT %s: no such key" % key)
        elif isinstance(got, list):
            want_set = set() if want in ("", "none") else set(want.split(","))
            if set(got) != want_set or len(got) != len(set(got)):
                problems.append("%s: %s, expected %s" % (key, show(got), want))
        elif got != want:
            problems.append("%s: %s, expected %s" % (key, got, want))
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
EOF

if [ ! -x "$dlg_tool" ]; then
	fail "dialogue (no $dlg_tool: build it with make tools)"
elif ! command -v python3 >/dev/null 2>&1; then
	skip "dialogue" "python3 not installed"
else
	for dlg_file in ${DIALOGUES:-tests/dialogues/*.dlg}; do
		[ -f "$dlg_file" ] || continue
		dlg_name=$(basename "$dlg_file" .dlg)
		if ! "$dlg_tool" -v "$dlg_file" "$out/dlg.pcap" >"$out/dlg.var" 2>"$out/dlg.err" ||
			! "$dlg_tool" --expect "$dlg_file" >"$out/dlg.exp" 2>>"$out/dlg.err"; then
			fail "dialogue $dlg_name (the script: $(head -c 300 "$out/dlg.err"))"
			continue
		fi
		dlg_opts=$("$dlg_tool" --options "$dlg_file")
		# shellcheck disable=SC2086
		"$prog" -r "$out/dlg.pcap" $dlg_opts >"$out/dlg.json" 2>"$out/dlg.err"
		dlg_rc=$?
		cat "$out/dlg.json" >>"${SMTPTRACE_TEST_RECORDS:-/dev/null}"
		if [ "$dlg_rc" -ne 0 ]; then
			fail "dialogue $dlg_name (smtptrace exit $dlg_rc)"
			sed 's/^/    /' "$out/dlg.err" | head -5
		elif python3 "$out/dlg_check.py" "$out/dlg.exp" "$out/dlg.var" "$out/dlg.json" \
			>"$out/dlg.diff" 2>&1; then
			pass "dialogue $dlg_name"
		else
			fail "dialogue $dlg_name"
			sed 's/^/    /' "$out/dlg.diff" | head -30
		fi
	done
fi
