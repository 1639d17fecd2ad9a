# detect-tests: SMTP found by content on any port (analyzer/detect.c), sourced by
# tests/run-tests.sh (uses pass, fail, skip, $prog, $out). The goldens (tests/TESTLIST:
# http-connect, not-smtp, port-8025, their --no-detect cases) pin the records; this checks
# the stats counters, the corpus capture of SMTP behind an HTTP CONNECT against Zeek's
# smtp.log, and that the live default filter lets a port outside --ports through.

# stat_flows FILE: "created probed no_smtp segments_ignored" from the stats record of FILE.
stat_flows() {
	python3 -c 'import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("event_type") == "stats":
        f = r["stats"]["flows"]
        print(f["created"], f["probed"], f["no_smtp"], f["segments_ignored"])' "$1"
}

# Three flows of other ports found not SMTP (tombstones, counted), one on port 25 (followed
# without probing); --no-detect: the port-25 flow only, the other segments ignored.
"$prog" -r samples/not-smtp.pcap -o "$out/det.json" --overwrite 2>/dev/null
rc=$?
got=$(stat_flows "$out/det.json")
[ $rc -eq 0 ] && [ "$got" = "4 3 3 0" ] && [ "$(grep -c '"event_type":"smtp_session"' "$out/det.json")" = 1 ] &&
	pass "detect not-smtp-counted" || fail "detect not-smtp-counted (exit $rc: $got)"
"$prog" -r samples/not-smtp.pcap --no-detect -o "$out/det.json" --overwrite 2>/dev/null
rc=$?
got=$(stat_flows "$out/det.json")
[ $rc -eq 0 ] && [ "$got" = "1 0 0 27" ] &&
	pass "detect no-detect-counted" || fail "detect no-detect-counted (exit $rc: $got)"

# --ports naming the proxy's port: the flow is SMTP by its port, the CONNECT lines are then
# commands the session cannot name (what --ports means: no probing).
"$prog" -r samples/http-connect.pcap --ports 3128 --records session >"$out/det.json" 2>/dev/null
rc=$?
[ $rc -eq 0 ] && grep -q '"detected":"port"' "$out/det.json" && grep -q '"unknown_command"' "$out/det.json" &&
	pass "detect ports-means-no-probe" || fail "detect ports-means-no-probe (exit $rc)"

# The corpus capture: SMTP after an HTTP CONNECT on port 8240, no --ports for it. Its
# envelope must be Zeek's (its smtp.log baseline): HELO, MAIL FROM, RCPT TO, the last reply.
conn_cap=../shared/corpus/zeek/http-connect-with-smtp/connect-with-smtp.pcap
conn_log=../shared/corpus/zeek/http-connect-with-smtp/baseline/scripts.base.protocols.http.http-connect/smtp.log
if [ ! -f "$conn_cap" ] || [ ! -f "$conn_log" ]; then
	skip "detect corpus-http-connect" "corpus capture $conn_cap absent"
	skip "detect corpus-http-connect-no-detect" "corpus capture $conn_cap absent"
else
	"$prog" -r "$conn_cap" --records session >"$out/det.json" 2>"$out/det.err"
	rc=$?
	if [ $rc -eq 0 ] && python3 - "$out/det.json" "$conn_log" >"$out/det.why" 2>&1 <<'PY'; then
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
fields = row = None
for line in open(sys.argv[2]):
    line = line.rstrip("\n")
    if line.startswith("#fields"):
        fields = line.split("\t")[1:]
    elif not line.startswith("#"):
        row = dict(zip(fields, line.split("\t")))
assert len(recs) == 1, "%d records" % len(recs)
r, s = recs[0], recs[0]["smtp_session"]
tx = s["transactions"][0]
want = {"dest_port": int(row["id.resp_p"]), "detected": "http_connect",
        "helo": row["helo"], "mail_from": "<%s>" % row["mailfrom"],
        "rcpt_to": ["<%s>" % a for a in row["rcptto"].split(",")],
        "last_reply": row["last_reply"], "anomalies": [], "commands": 5}
got = {"dest_port": r["dest_port"], "detected": s["detected"], "helo": r["smtp"]["helo"],
       "mail_from": tx["mail_from"], "rcpt_to": tx["rcpt_to"],
       "last_reply": "%d %s" % (tx["reply"]["code"], tx["reply"]["text"]),
       "anomalies": s["anomalies"], "commands": s["commands"]}
for k in want:
    if want[k] != got[k]:
        sys.exit("%s: %r, Zeek/expected %r" % (k, got[k], want[k]))
PY
		pass "detect corpus-http-connect"
	else
		fail "detect corpus-http-connect (exit $rc: $(head -c 300 "$out/det.why"))"
	fi
	"$prog" -r "$conn_cap" --no-detect --records session >"$out/det.json" 2>/dev/null
	rc=$?
	[ $rc -eq 0 ] && [ ! -s "$out/det.json" ] &&
		pass "detect corpus-http-connect-no-detect" || fail "detect corpus-http-connect-no-detect (exit $rc)"
fi

# Live, without a filter of the user's: SMTP on a port outside --ports reaches the probe
# (the default filter is all of TCP), and not with --no-detect (the ports alone). A scripted
# server and client on 127.0.0.1:18025 (python3), smtptrace on lo ended by SIGINT.
det_live() {	# OUTFILE [OPTIONS]: one scripted SMTP dialogue on lo while capturing
	det_file=$1
	shift
	"$prog" -i lo -q -o "$det_file" --overwrite --records session "$@" 2>"$out/det.err" &
	det_pid=$!
	sleep 1
	python3 - <<'PY' || echo "detect: the scripted dialogue failed" >>"$out/det.err"
import socket, threading
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 18025))
srv.listen(1)
def serve():
    c, _ = srv.accept()
    f = c.makefile("rb")
    c.sendall(b"220 mx.smtptrace.test ESMTP\r\n")
    for reply in (b"250 mx.smtptrace.test\r\n", b"221 2.0.0 Bye\r\n"):
        f.readline()
        c.sendall(reply)
    c.close()
t = threading.Thread(target=serve)
t.start()
cl = socket.create_connection(("127.0.0.1", 18025))
f = cl.makefile("rb")
f.readline()
cl.sendall(b"EHLO client.smtptrace.test\r\n")
f.readline()
cl.sendall(b"QUIT\r\n")
f.readline()
cl.close()
t.join()
srv.close()
PY
	sleep 1
	kill -INT "$det_pid" 2>/dev/null
	wait "$det_pid"
}
if [ "$(id -u)" != 0 ]; then
	skip "detect live-default-filter" "needs root"
	skip "detect live-no-detect-filter" "needs root"
else
	det_live "$out/det-live.json"
	rc=$?
	n=$(grep -c '"dest_port":18025.*"detected":"content".*"close":"quit"\|"dest_port":18025.*"close":"quit".*"detected":"content"' "$out/det-live.json" 2>/dev/null)
	[ $rc -eq 0 ] && [ "$n" = 1 ] && pass "detect live-default-filter" ||
		fail "detect live-default-filter (exit $rc, $n sessions on 18025: $(head -c 300 "$out/det.err"))"
	det_live "$out/det-live.json" --no-detect
	rc=$?
	[ $rc -eq 0 ] && ! grep -q '"dest_port":18025' "$out/det-live.json" && ! grep -q 'failed' "$out/det.err" &&
		pass "detect live-no-detect-filter" || fail "detect live-no-detect-filter (exit $rc)"
fi

# The real Postfix on 8025: found by content, the record is the one --ports 8025 gives but
# for "detected" (the probe hands the session every byte, with its ACK number and time).
"$prog" -r samples/port-8025.pcap --records session >"$out/det-c.json" 2>/dev/null
rc=$?
"$prog" -r samples/port-8025.pcap --records session --ports 8025 >"$out/det-p.json" 2>/dev/null
rc2=$?
if [ $rc -eq 0 ] && [ $rc2 -eq 0 ] && grep -q '"detected":"content"' "$out/det-c.json" &&
	sed 's/"detected":"content"/"detected":"port"/' "$out/det-c.json" | cmp -s - "$out/det-p.json"; then
	pass "detect content-same-as-port"
else
	fail "detect content-same-as-port (exit $rc, $rc2)"
fi
