#!/bin/bash
# live-tests: smtptrace as a live sensor, end to end, with real parts: libpcap on loopback
# and on a veth pair in a network namespace made here, a real Postfix (tests/record/postfix.sh)
# and swaks, tcpreplay, tcpdump, logrotate. Prints "ok NAME", "FAIL NAME" or "skip NAME (why)"
# per check, as the unit tests do; tests/run-tests.sh counts them.
#   tests/live/live-tests.sh PROGRAM BUILD_DIR
# Needs root (capture, Postfix, namespaces); without it every check is reported as skipped.
set -u
prog=$(realpath "$1")
build=${2:-build/opt}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cd "$top" || exit 2
# shellcheck source=tests/record/postfix.sh
. tests/record/postfix.sh

CHECKS="live-sessions live-sigint live-any live-idle-wall-clock live-sighup live-relinquish live-netns live-workers live-pipe offline-sigterm"
ok() { echo "ok $1"; }
bad() { echo "FAIL $1"; [ $# -gt 1 ] && printf '    %s\n' "${@:2}"; }
skip_all() { for c in $CHECKS; do echo "skip $c ($1)"; done; exit 0; }
die() { echo "FAIL live setup ($*)"; exit 1; }

[ "$(id -u)" = 0 ] || skip_all "needs root"
# The lock first: a recording script may have swapped Postfix out for another MTA
# (tests/record/) and holds the lock until Postfix is back; wait for it rather than skip.
exec 9>"$LOCK"
flock -w 1200 9 || skip_all "another recording or test holds $LOCK"
for t in postfix postconf swaks tcpdump tcpreplay logrotate ip openssl python3 ss; do
	command -v "$t" >/dev/null || skip_all "$t not installed"
done
postfix status >/dev/null 2>&1 && skip_all "Postfix is already running (someone else's)"

work=$(mktemp -d /tmp/smtptrace-live.XXXXXX)
chmod 755 "$work"
cp -p "$PFDIR/main.cf" "$PFDIR/master.cf" "$work/"
pids=()
ns=
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	postfix stop >/dev/null 2>&1
	cp -p "$work/main.cf" "$PFDIR/main.cf"
	cp -p "$work/master.cf" "$PFDIR/master.cf"
	[ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
	cat "$work"/*.json >>"${SMTPTRACE_TEST_RECORDS:-/dev/null}" 2>/dev/null # tests/schema-tests.sh
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pf_configure >"$work/postfix.log" 2>&1 || die "postfix configuration: $(tail -3 "$work/postfix.log")"
# The reply to the end of data comes 1 s late, so that a client that leaves right after its
# dot (swaks --drop-after-send DOT) is surely gone before it: the RFC 1047 window on demand.
postconf -P "$LSN/smtpd_end_of_data_restrictions=sleep,1"
postfix start >/dev/null 2>&1 || die "postfix start"
wait_listener

# --- helpers -----------------------------------------------------------------------------
verdicts() { python3 tests/verdicts.py; }
sensor_pid=
start_sensor() {	# ERRFILE ARGS...: smtptrace in the background, back once it listens
	local err=$1
	shift
	"$@" 2>"$err" &
	sensor_pid=$!
	pids+=("$sensor_pid")
	for _ in $(seq 100); do
		grep -q 'listening on' "$err" && return 0
		kill -0 "$sensor_pid" 2>/dev/null || break
		sleep 0.05
	done
	return 1
}

stop_sensor() {	# SIGNAL: the exit status of the sensor
	kill "-$1" "$sensor_pid"
	wait "$sensor_pid"
}

sessions_in() { grep -c '"event_type":"smtp_session"' "$1" 2>/dev/null || true; }

swaks_run() {	# swaks with fixed identities, extra options appended
	timeout 30 swaks --server 127.0.0.1 --port "$PORT" --helo client.smtptrace.test \
		--from sender@example.org --to alice@smtptrace.test \
		--data 'Subject: live\n\nA live test message.' "$@" >>"$work/swaks.log" 2>&1
}

# wait_record FILE COUNT: waits (3 s at most) until FILE holds COUNT session records; prints
# how long after its session's last packet (its timestamp plus its duration, both from the
# kernel's clock) the COUNTth record was there, or the seconds waited when it never came.
wait_record() {
	python3 - "$1" "$2" <<'EOF'
import datetime, json, sys, time
path, want = sys.argv[1], int(sys.argv[2])
t0 = time.monotonic()
while time.monotonic() - t0 < 3.0:
    try:
        recs = [l for l in open(path) if '"event_type":"smtp_session"' in l]
    except OSError:
        recs = []
    if len(recs) >= want:
        now = time.time()
        r = json.loads(recs[want - 1])
        first = datetime.datetime.strptime(r["timestamp"], "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
        print("%.3f" % (now - first - r["smtp_session"]["duration"]))
        sys.exit(0)
    time.sleep(0.01)
print("%.3f" % (time.monotonic() - t0))
EOF
}

# check_record FILE N WANT...: the Nth session record (1-based) has these verdicts.
check_record() {
	python3 - "$@" <<'EOF'
import json, sys
path, n, outcome, close, close_by, style, txs = sys.argv[1:8]
recs = [json.loads(l) for l in open(path) if '"event_type":"smtp_session"' in l]
s = recs[int(n) - 1]["smtp_session"]
got = [s.get("outcome"), s.get("close"), s.get("close_by"), s.get("client_style"),
       ",".join(t["outcome"] for t in s.get("transactions", [])) or "-"]
want = [outcome, close, close_by, style, txs]
if close_by == "*":   # either side may close first
    want[2] = got[2]
if got != want:
    print("got %s, want %s" % (got, want))
    sys.exit(1)
EOF
}

# --- 1. sessions reported as they end, with their verdicts; 2. SIGINT ---------------------
live_sessions() {
	local out=$work/live.json n=0 fails=0 worst=0 name opts outcome close by style txs took
	start_sensor "$work/live.err" "$prog" -i lo -o "$out" || { bad live-sessions "sensor did not start: $(head -c 300 "$work/live.err")"; return; }
	while IFS=$'\t' read -r name opts outcome close by style txs; do
		case "$name" in '' | '#'*) continue ;; esac
		n=$((n + 1))
		[ "$opts" = - ] && opts=
		# shellcheck disable=SC2086
		swaks_run $opts
		took=$(wait_record "$out" "$n")
		if [ "$(sessions_in "$out")" -lt "$n" ] || ! python3 -c "import sys; sys.exit(float('$took') > 1.0)"; then
			bad "live-sessions $name" "no record within one second of the session's end (waited $took s)"
			fails=$((fails + 1))
			continue
		fi
		worst=$(python3 -c "print(max($worst, $took))")
		if msg=$(check_record "$out" "$n" "$outcome" "$close" "$by" "$style" "$txs"); then
			ok "live-sessions $name (record after $took s)"
		else
			bad "live-sessions $name" "$msg"
			fails=$((fails + 1))
		fi
	done <tests/live/sessions.tsv
	echo "    live: $n sessions, slowest record $worst s after its session's last packet" >&2
	# One session left open, then SIGINT: it is ended as capture_ended, the stats record is
	# written, tcpdump's counts are said, exit 0.
	python3 -c 'import socket, time
s = socket.create_connection(("127.0.0.1", 2525)); s.recv(512)
s.sendall(b"EHLO open.smtptrace.test\r\n"); time.sleep(0.5); s.recv(4096); time.sleep(60)' &
	local client=$!
	pids+=("$client")
	sleep 1.5
	stop_sensor INT
	local rc=$?
	kill "$client" 2>/dev/null
	if [ "$rc" -eq 0 ] && [ "$(sessions_in "$out")" -eq $((n + 1)) ] &&
		python3 - "$out" <<'EOF' && grep -q 'packets dropped by kernel' "$work/live.err"; then
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
last, stats = recs[-2], recs[-1]
assert last["smtp_session"]["close"] == "capture_ended", last["smtp_session"]
assert last["smtp"]["helo"] == "open.smtptrace.test"
assert stats["event_type"] == "stats"
c = stats["stats"]["capture"]
assert c["packets"] > 0 and c["kernel_drops"] == 0 and c["if_drops"] == 0, c
assert stats["stats"]["sessions"]["ended"] == len(recs) - 1, stats["stats"]["sessions"]
EOF
		ok "live-sigint (open session ended as capture_ended, stats record, exit 0)"
	else
		bad live-sigint "exit $rc; $(tail -c 300 "$out")"
	fi
}

# --- -i any (Linux cooked capture), the periodic stats record ------------------------------
live_any() {
	local out=$work/any.json
	start_sensor "$work/any.err" "$prog" -i any --stats-interval 1 -o "$out" || { bad live-any "sensor did not start: $(head -c 200 "$work/any.err")"; return; }
	swaks_run
	wait_record "$out" 1 >/dev/null
	sleep 1.5
	stop_sensor TERM
	local rc=$?
	local nstats
	nstats=$(grep -c '"event_type":"stats"' "$out")
	if [ "$rc" -eq 0 ] && [ "$(sessions_in "$out")" -eq 1 ] &&
		check_record "$out" 1 committed quit '*' rfc5321 committed && [ "$nstats" -ge 3 ]; then
		ok "live-any (a session on the any device; $nstats stats records with --stats-interval 1)"
	else
		bad live-any "exit $rc, $(sessions_in "$out") sessions, $nstats stats records"
	fi
}

# --- idle sessions end on the wall clock: no packet comes after the sessions went quiet, yet
# their records are written after --idle-timeout; and the flow cap holds, counted.
live_idle_wall_clock() {
	local out=$work/idle.json
	# The filter keeps other TCP traffic on lo (detection's default filter takes all of TCP)
	# out of a flow table of two: a stranger's connection would evict these sessions.
	start_sensor "$work/idle.err" "$prog" -i lo --idle-timeout 2 --max-flows 2 -o "$out" "tcp port $PORT" || { bad live-idle-wall-clock "sensor did not start"; return; }
	python3 -c 'import socket, time
socks = []
for i in range(3):   # three quiet sessions: one over the cap of two
    s = socket.create_connection(("127.0.0.1", 2525)); s.recv(512)
    s.sendall(b"EHLO idle%d.smtptrace.test\r\n" % i); time.sleep(0.3); s.recv(4096)
    socks.append(s)
time.sleep(8)' &
	local client=$!
	pids+=("$client")
	local took
	took=$(python3 - "$out" <<'PY'
import os, sys, time
t0 = time.monotonic()
while time.monotonic() - t0 < 6:
    n = sum('"idle_timeout"' in l for l in open(sys.argv[1])) if os.path.exists(sys.argv[1]) else 0
    if n >= 2:
        break
    time.sleep(0.05)
print("%.2f" % (time.monotonic() - t0))
PY
)
	stop_sensor INT
	local rc=$?
	kill "$client" 2>/dev/null
	if [ "$rc" -eq 0 ] && python3 - "$out" <<'PY'; then
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
sess = [r for r in recs if r["event_type"] == "smtp_session"]
closes = sorted(r["smtp_session"]["close"] for r in sess)
assert len(sess) == 3, closes
assert closes.count("idle_timeout") == 2, closes          # ended by the wall clock
evicted = [r for r in sess if "limit_reached" in r["smtp_session"]["anomalies"]]
assert len(evicted) == 1, closes                          # the first, to make room
s = recs[-1]["stats"]
assert s["flows"]["evicted"] == 1 and s["flows"]["timed_out"] == 2, s["flows"]
assert s["caps"]["flows_evicted"] == 1, s["caps"]
PY
		ok "live-idle-wall-clock (two quiet sessions ended by --idle-timeout 2 on the wall clock, $took s after the last packet; one evicted under --max-flows 2)"
	else
		bad live-idle-wall-clock "exit $rc after $took s: $(cut -c1-200 "$out" | head -5)"
	fi
}

# --- SIGHUP: logrotate renames the file and signals; nothing lost, nothing twice ----------
live_sighup() {
	local out=$work/rot.json
	start_sensor "$work/rot.err" "$prog" -i lo -o "$out" || { bad live-sighup "sensor did not start"; return; }
	swaks_run
	swaks_run
	wait_record "$out" 2 >/dev/null
	# The repository's logrotate snippet, with this test's file and this sensor's pid.
	sed -e "s|/var/log/smtptrace/smtptrace.json|$out|" \
		-e "s|systemctl kill .*|kill -HUP $sensor_pid|" \
		-e "s|^\(\s*\)su .*|\1su root root|" \
		-e "s|create 0640 smtptrace adm|create 0644 root root|" docs/smtptrace.logrotate >"$work/lr.conf"
	logrotate -f -s "$work/lr.state" "$work/lr.conf" 2>"$work/lr.err"
	local lrc=$?
	sleep 0.3
	swaks_run
	swaks_run
	wait_record "$out" 2 >/dev/null
	stop_sensor INT
	local rc=$?
	if [ "$lrc" -eq 0 ] && [ "$rc" -eq 0 ] && python3 - "$out.1" "$out" <<'EOF'; then
import json, sys
old = [json.loads(l) for l in open(sys.argv[1])]
new = [json.loads(l) for l in open(sys.argv[2])]
po = [r["src_port"] for r in old if r["event_type"] == "smtp_session"]
pn = [r["src_port"] for r in new if r["event_type"] == "smtp_session"]
assert len(po) == 2 and len(pn) == 2, (po, pn)
assert len(set(po + pn)) == 4, (po, pn)
assert new[-1]["event_type"] == "stats"
EOF
		ok "live-sighup (two records before the rotation in the old file, two after in the new)"
	else
		bad live-sighup "logrotate $lrc, exit $rc: $(head -c 300 "$work/lr.err")"
	fi
}

# --- -Z: the sensor runs as nobody once the interface and the output are open -------------
live_relinquish() {
	local out=$work/z.json
	start_sensor "$work/z.err" "$prog" -i lo -Z nobody -o "$out" || { bad live-relinquish "sensor did not start: $(head -c 200 "$work/z.err")"; return; }
	local uid
	uid=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$sensor_pid/status")
	local caps
	caps=$(awk '/^CapEff:/ {print $2}' "/proc/$sensor_pid/status")
	local nobody
	nobody=$(id -u nobody)
	swaks_run
	wait_record "$out" 1 >/dev/null
	stop_sensor TERM
	local rc=$?
	if [ "$uid" = "$nobody $nobody $nobody $nobody" ] && [ "$caps" = 0000000000000000 ] &&
		[ "$rc" -eq 0 ] && [ "$(sessions_in "$out")" -eq 1 ]; then
		ok "live-relinquish (uid $uid, no capabilities, record written, exit 0 on SIGTERM)"
	else
		bad live-relinquish "uid '$uid' caps '$caps' exit $rc sessions $(sessions_in "$out")"
	fi
}

# --- a namespace and a veth pair: tcpreplay replays the samples; records as offline -------
# strip: the records without what the replay changes (times, the file name, flow ids, which
# hash the first packet's time), sorted.
strip() {
	python3 -c 'import json, sys
def clean(v):
    if isinstance(v, dict):
        return {k: clean(x) for k, x in v.items()
                if k not in ("timestamp", "pcap_filename", "flow_id", "duration", "eod_reply_ms")}
    if isinstance(v, list):
        return [clean(x) for x in v]
    return v
recs = [json.loads(l) for l in sys.stdin if "\"event_type\":\"smtp_session\"" in l]
for r in sorted(json.dumps(clean(r), sort_keys=True) for r in recs):
    print(r)'
}

live_netns() {
	local a=stl$$a b=stl$$b files=() f
	ns=smtptrace-test-$$
	if ! ip netns add "$ns" 2>"$work/ns.err" || ! ip link add "$a" type veth peer name "$b" 2>>"$work/ns.err"; then
		echo "skip live-netns (cannot make a namespace and a veth pair: $(head -c 200 "$work/ns.err"))"
		return
	fi
	ip link set "$b" netns "$ns"
	ip link set "$a" mtu 65535 up # the samples were recorded on loopback: large segments
	ip netns exec "$ns" ip link set "$b" mtu 65535 up
	# Every Ethernet sample; the Linux cooked ones (recorded on "any") have no Ethernet frame
	# to put on a wire. vlan and qinq repeat normal's session, tagged: they go last, one at a
	# time, each after the previous one's record is out.
	for f in samples/*.pcap; do
		case "$f" in */vlan.pcap | */qinq.pcap | */cooked*.pcap) continue ;; esac
		files+=("$f")
	done
	# --checksum no on both sides: auto chooses once per run on its first segments, and the
	# live run sees every sample where the offline runs see one each (the choice is tested
	# by the golden bad-checksum cases)
	for f in "${files[@]}" samples/vlan.pcap samples/qinq.pcap; do "$prog" -r "$f" --checksum no 2>/dev/null; done | strip >"$work/offline.txt"
	start_sensor "$work/ns.err" ip netns exec "$ns" "$prog" -i "$b" --checksum no -o "$work/ns.json" || { bad live-netns "sensor did not start: $(head -c 200 "$work/ns.err")"; return; }
	tcpreplay -q -i "$a" --topspeed "${files[@]}" >"$work/replay.log" 2>&1
	local trc=$?
	for f in samples/vlan.pcap samples/qinq.pcap; do
		sleep 1.2
		tcpreplay -q -i "$a" --topspeed "$f" >>"$work/replay.log" 2>&1 || trc=$?
	done
	sleep 1.2
	stop_sensor INT
	local rc=$?
	strip <"$work/ns.json" >"$work/live.txt"
	if [ "$trc" -eq 0 ] && [ "$rc" -eq 0 ] && [ -s "$work/offline.txt" ] &&
		cmp -s "$work/offline.txt" "$work/live.txt" &&
		tail -1 "$work/ns.json" | grep -q '"kernel_drops":0,"if_drops":0'; then
		ok "live-netns ($((${#files[@]} + 2)) samples replayed on a veth pair: $(wc -l <"$work/live.txt") records as offline, no drops; the 2 cooked samples have no Ethernet frame to replay)"
	else
		bad live-netns "tcpreplay $trc, exit $rc" "$(diff "$work/offline.txt" "$work/live.txt" | head -5 | cut -c1-300)" "$(tail -c 300 "$work/ns.json")"
	fi
	ip netns del "$ns"
	ns=
}

# --- --workers 2 in one fanout group: a generated capture of a few thousand sessions
# replayed into a namespace; each session reported once, by one worker, with the offline
# verdicts; no drops; the total stats record adds up the workers'.
live_workers() {
	local a=stw$$a b=stw$$b
	ns=smtptrace-workers-$$
	if ! ip netns add "$ns" 2>"$work/wns.err" || ! ip link add "$a" type veth peer name "$b" 2>>"$work/wns.err"; then
		echo "skip live-workers (cannot make a namespace and a veth pair: $(head -c 200 "$work/wns.err"))"
		return
	fi
	ip link set "$b" netns "$ns"
	ip link set "$a" up
	ip netns exec "$ns" ip link set "$b" up
	"$build/tools/mkbench" -s 60M "$work/w.pcap" >/dev/null 2>&1 || { bad live-workers "mkbench failed"; return; }
	"$prog" -r "$work/w.pcap" -q 2>/dev/null | verdicts >"$work/w.offline"
	start_sensor "$work/w.err" ip netns exec "$ns" "$prog" -i "$b" --workers 2 -o "$work/w.json" || { bad live-workers "sensor did not start: $(head -c 200 "$work/w.err")"; return; }
	sleep 0.5 # the second worker's "listening on" line
	tcpreplay -q -i "$a" --pps 20000 "$work/w.pcap" >"$work/wreplay.log" 2>&1
	local trc=$?
	sleep 1.5
	stop_sensor INT
	local rc=$?
	verdicts <"$work/w.json" >"$work/w.live"
	if [ "$trc" -eq 0 ] && [ "$rc" -eq 0 ] && [ -s "$work/w.offline" ] && cmp -s "$work/w.offline" "$work/w.live" &&
		python3 - "$work/w.json" <<'PY'; then
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
stats = [r["stats"] for r in recs if r["event_type"] == "stats"]
workers = sorted(s["worker"]["id"] for s in stats)
assert workers == [0, 1, 2], workers                      # each worker's, and the total
total = [s for s in stats if s["worker"]["id"] == 0][0]
parts = [s for s in stats if s["worker"]["id"] != 0]
assert all(s["capture"]["packets"] > 0 for s in parts), "a worker saw nothing"
assert total["capture"]["packets"] == sum(s["capture"]["packets"] for s in parts)
assert total["capture"]["kernel_drops"] == 0 and total["capture"]["if_drops"] == 0, total["capture"]
sessions = [r for r in recs if r["event_type"] == "smtp_session"]
assert total["sessions"]["ended"] == len(sessions)
keys = [(r["src_ip"], r["src_port"], r["dest_ip"], r["dest_port"], r["timestamp"]) for r in sessions]
assert len(keys) == len(set(keys)), "a session reported twice"
PY
		ok "live-workers (2 workers, $(wc -l <"$work/w.live") sessions replayed at 20000 packets/s, each once, verdicts as offline, no drops)"
	else
		bad live-workers "tcpreplay $trc, exit $rc" "$(diff "$work/w.offline" "$work/w.live" | head -4 | cut -c1-200)"
	fi
	ip netns del "$ns"
	ns=
}

# --- the pipe: tcpdump -U -w - | smtptrace -r -: the record while tcpdump still runs ------
live_pipe() {
	local out=$work/pipe.json
	(tcpdump -i lo -U -w - "tcp port $PORT" 2>"$work/td.err" & echo $! >"$work/td.pid"; wait) |
		"$prog" -r - -o "$out" 2>"$work/pipe.err" &
	local spid=$!
	pids+=("$spid")
	for _ in $(seq 100); do grep -q 'listening on' "$work/td.err" 2>/dev/null && break; sleep 0.05; done
	local tpid
	tpid=$(cat "$work/td.pid")
	pids+=("$tpid")
	swaks_run
	local took
	took=$(wait_record "$out" 1)
	local alive=no
	kill -0 "$tpid" 2>/dev/null && alive=yes
	kill -INT "$tpid"
	wait "$spid"
	local rc=$?
	# tcpdump itself holds packets up to its 1 s buffer timeout, so no one-second bound here.
	if [ "$(sessions_in "$out")" -eq 1 ] && [ "$alive" = yes ] && [ "$rc" -eq 0 ] &&
		tail -1 "$out" | grep -q '"event_type":"stats"'; then
		ok "live-pipe (record $took s after the session, tcpdump still running)"
	else
		bad live-pipe "took $took s, tcpdump alive: $alive, exit $rc, $(head -c 200 "$work/pipe.err")"
	fi
}

# --- SIGTERM during an offline run of a large capture: exit 0, whole valid records --------
offline_sigterm() {
	local cap=$work/big.pcap d
	"$build/tools/mkbench" -s 200M "$cap" >/dev/null 2>&1 || { bad offline-sigterm "mkbench failed"; return; }
	local total
	total=$("$prog" -r "$cap" --records session 2>/dev/null | wc -l)
	for d in 0.02 0.05 0.1 0.2; do
		"$prog" -r "$cap" -o "$work/term.json" --overwrite 2>"$work/term.err" &
		local p=$!
		sleep "$d"
		kill -TERM "$p"
		wait "$p"
		local rc=$?
		local n
		n=$(sessions_in "$work/term.json")
		[ "$n" -lt "$total" ] || continue # it had finished: try an earlier signal
		if [ "$rc" -eq 0 ] && python3 - "$work/term.json" <<'EOF'; then
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]   # every line a whole, valid record
assert recs and recs[-1]["event_type"] == "stats"
assert all(r["event_type"] == "smtp_session" for r in recs[:-1])
EOF
			ok "offline-sigterm (stopped after $d s: $n of $total sessions written whole, exit 0)"
		else
			bad offline-sigterm "exit $rc after $d s; $(tail -c 200 "$work/term.json")"
		fi
		return
	done
	bad offline-sigterm "the run always finished before the signal ($total sessions)"
}

live_sessions
live_any
live_idle_wall_clock
live_sighup
live_relinquish
live_netns
live_workers
live_pipe
offline_sigterm
