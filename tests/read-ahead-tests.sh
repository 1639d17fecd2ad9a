# read-ahead-tests: the reader thread (--read-ahead, analyzer/read_ahead.c) changes no byte of
# the records: each run here is made with it (on two CPUs) and with --one-thread (no reader, no
# writer), and the two outputs compared whole (the stats record's clock fields aside). Sourced
# by tests/run-tests.sh (uses pass, fail, skip, $prog, $build, $out).

ra_strip() {
	sed -E 's/"timestamp":"[^"]*","event_type":"stats"/"event_type":"stats"/; s/"uptime":[0-9.e+-]*,//; s/"peak_rss_kib":[0-9]*//' "$1"
}

# ra_same NAME MIN_RECORDS ARGS...: both runs exit 0 (3 with RA_RC=3), write at least
# MIN_RECORDS records, and the same bytes.
ra_same() {
	name=$1 min=$2
	shift 2
	"$prog" -q --records session,transaction,command,flow,stats --read-ahead "$@" \
		>"$out/ra-t.json" 2>"$out/ra-t.err"
	rc_t=$?
	"$prog" -q --records session,transaction,command,flow,stats --one-thread "$@" \
		>"$out/ra-1.json" 2>"$out/ra-1.err"
	rc_1=$?
	n=$(grep -c '"event_type"' "$out/ra-1.json")
	want=${RA_RC:-0}
	if [ $rc_t -eq "$want" ] && [ $rc_1 -eq "$want" ] && [ "$n" -ge "$min" ] &&
		ra_strip "$out/ra-t.json" >"$out/ra-t.s" && ra_strip "$out/ra-1.json" >"$out/ra-1.s" &&
		cmp -s "$out/ra-t.s" "$out/ra-1.s" && cmp -s "$out/ra-t.err" "$out/ra-1.err"; then
		pass "read-ahead $name ($n records, the same bytes)"
	else
		fail "read-ahead $name (exit $rc_t and $rc_1, want $want; $n records, want $min or more; or they differ)"
	fi
}

# ra_pcap_edit MODE IN OUT: a copy of a pcap (host order, microseconds) with, for mode
# "long-record", a junk frame longer than the file's snap length inserted after record 3000
# (capture_map hands that record and the rest to libpcap, part way through the file), or for
# mode "bad-checksums", every TCP checksum wrong (--checksum auto then turns checking off).
ra_pcap_edit() {
	python3 - "$@" <<'EOF'
import struct, sys
mode, src, dst = sys.argv[1:4]
d = open(src, 'rb').read()
hdr, off, recs = bytearray(d[:24]), 24, []
while off + 16 <= len(d):
    cap = struct.unpack_from('<I', d, off + 8)[0]
    recs.append(bytearray(d[off:off + 16 + cap]))
    off += 16 + cap
if mode == 'long-record':
    snap = max(struct.unpack_from('<I', r, 8)[0] for r in recs)
    struct.pack_into('<I', hdr, 16, snap)
    junk = bytearray(recs[3000][:16]) + bytes(snap + 40)
    struct.pack_into('<II', junk, 8, snap + 40, snap + 40)
    recs.insert(3001, junk)
else:
    for r in recs:
        eth = struct.unpack_from('>H', r, 16 + 12)[0]
        ip = 16 + 14
        if eth == 0x0800 and r[ip + 9] == 6:
            tcp = ip + (r[ip] & 15) * 4
        elif eth == 0x86dd and r[ip + 6] == 6:
            tcp = ip + 40
        else:
            continue
        if tcp + 18 <= len(r):
            r[tcp + 16] ^= 0x5a
open(dst, 'wb').write(bytes(hdr) + b''.join(bytes(r) for r in recs))
EOF
}

if "$build/tools/mkbench" -s 4M -S 3 -c 50 "$out/ra.pcap" >/dev/null 2>&1 &&
	ra_pcap_edit long-record "$out/ra.pcap" "$out/ra-long.pcap" &&
	ra_pcap_edit bad-checksums "$out/ra.pcap" "$out/ra-badsum.pcap"; then
	gzip -c "$out/ra.pcap" >"$out/ra.pcap.gz"
	ra_same bench-capture 100 -r "$out/ra.pcap"
	ra_same multi-file 200 -r "$out/ra.pcap" -r samples/pipelining.pcap -r "$out/ra.pcap.gz" \
		-r samples/bdat.pcap -r "$out/ra-long.pcap" -r samples/two-transactions.pcap
	ra_same max-packets 50 -c 3001 -r "$out/ra.pcap"
	ra_same max-packets-second-file 100 -c 8000 -r "$out/ra.pcap" -r "$out/ra-long.pcap"
	ra_same libpcap-part-way 100 -r "$out/ra-long.pcap"
	ra_same checksum-auto-off 100 -r "$out/ra-badsum.pcap"
	ra_same checksum-no 100 --checksum no -r "$out/ra-badsum.pcap"
	ra_same checksum-yes 1 --checksum yes -r "$out/ra-badsum.pcap"
	ra_same bad-checksum-sample 1 -r samples/bad-checksum.pcap
	ra_same shard 20 --shard 1/3 -r "$out/ra.pcap"
	# the file part way handed to libpcap: one record more than the original, not IP
	"$prog" -q -r "$out/ra-long.pcap" >"$out/ra-long.json" 2>&1
	if grep -q '"capture":{"packets":6773,.*"not_ip":1,' "$out/ra-long.json"; then
		pass "read-ahead libpcap-part-way-read (the long record read by libpcap)"
	else
		fail "read-ahead libpcap-part-way-read ($(grep -o '"capture":{[^}]*}' "$out/ra-long.json"))"
	fi
	"$prog" -q -r "$out/ra-badsum.pcap" >"$out/ra-bs.json" 2>&1
	if grep -q '"checksum":{"checked":0,"bad":0,"sampled":64,"sampled_bad":64}' "$out/ra-bs.json"; then
		pass "read-ahead checksum-auto-turned-off"
	else
		fail "read-ahead checksum-auto-turned-off ($(grep -o '"checksum":{[^}]*}' "$out/ra-bs.json"))"
	fi
	# A file cut in its last record: the reader hands over the records before it, libpcap
	# says what is wrong with that one; the exit status 3 either way.
	size=$(wc -c <"$out/ra.pcap")
	head -c $((size - 30)) "$out/ra.pcap" >"$out/ra-cut.pcap"
	RA_RC=3 ra_same cut-last-record 100 -r "$out/ra-cut.pcap"
	# The reader thread is really there: one thread more for each file read in place (and
	# the writer's) with --read-ahead; the writer's alone without; none with --one-thread,
	# even after --read-ahead. Only where two CPUs may run the process.
	if ! command -v strace >/dev/null 2>&1; then
		skip "read-ahead threads" "strace not installed"
	elif [ "$(nproc)" -lt 2 ]; then
		skip "read-ahead threads" "one CPU: no reader thread by design"
	else
		ra_threads() {
			strace -f -qq -e trace=clone,clone3 -o "$out/ra.strace" "$prog" -q "$@" \
				-r "$out/ra.pcap" -r "$out/ra.pcap.gz" -r "$out/ra-long.pcap" >/dev/null 2>&1
			grep -c 'clone' "$out/ra.strace"
		}
		n_ra=$(ra_threads --read-ahead)
		n_def=$(ra_threads)
		n_1=$(ra_threads --read-ahead --one-thread)
		# counted above --one-thread's: a sanitizer's build starts a thread of its own
		if [ $((n_ra - n_1)) -eq 3 ] && [ $((n_def - n_1)) -eq 1 ] && [ "$n_1" -le 1 ]; then
			pass "read-ahead threads (2 readers and the writer; the writer alone by default; none with --one-thread)"
		else
			fail "read-ahead threads ($n_ra threads started with --read-ahead, $n_def by default, $n_1 with --one-thread; want 3, 1 and 0 more than a build's own)"
		fi
	fi
else
	fail "read-ahead (mkbench or the pcap edits could not make the captures)"
fi
