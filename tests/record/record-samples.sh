#!/bin/bash
# record-samples.sh: re-records smtptrace's bundled sample captures (samples/*.pcap) from a
# real Postfix on loopback talking to real clients (swaks, and client.py for misbehaviour).
#
#   tests/record/record-samples.sh              record every sample
#   tests/record/record-samples.sh NAME...      record only these (NAME as in samples/NAME.pcap)
#   tests/record/record-samples.sh --list       list the sample names
#
# Needs root, Postfix, swaks, tcpdump, openssl, python3 and gzip (tests/setup-deps.sh test).
# Waits for the MTA lock (LOCK_WAIT seconds, default 1800), then refuses to run while Postfix
# is already running (someone else is using it). It saves
# /etc/postfix/main.cf and master.cf, configures a loopback-only test server (test domain
# smtptrace.test, users alice, bob and carol, everything delivered to discard:, a listener on
# port 2525, a self-signed certificate for STARTTLS), starts Postfix, records each sample
# with tcpdump on lo, and on exit, however it exits, stops Postfix and puts both files back.
# Settings a single sample needs go on the 2525 listener only (postconf -P, postfix reload)
# and are removed right after it. samples/README.md says what each capture shows.
# Environment: SAMPLES_DIR (default samples/ of this repository), KEEP=1 keeps the work
# directory with the client transcripts (its path is printed).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/record/postfix.sh
. "$here/postfix.sh"
top=$(cd "$here/../.." && pwd)
out=${SAMPLES_DIR:-$top/samples}
client=$here/client.py
pcaptool=$top/tests/tools/pcaptool.py

# Fixed, boring test identities and message (swaks turns \n into CRLF).
HELO=client.smtptrace.test
FROM=sender@example.org
TO=alice@smtptrace.test
DATA='From: <sender@example.org>\nTo: <alice@smtptrace.test>\nSubject: smtptrace sample\n\nThis is a test message for smtptrace.'

die() { echo "record-samples: $*" >&2; exit 1; }
note() { echo "record-samples: $*"; }

# --- the samples, in recording order; sample NAME is made by function s_NAME ('-' and '.'
# as '_'), the smuggle-* ones by smuggle() -------------------------------------------------
SAMPLES=(normal normal.pcap.gz vlan qinq cooked cooked-sll two-transactions rfc821-drop
	mid-message-close quit-after-greeting ipv6 client-closed-without-quit server-closed
	rset-then-commit pipelining early-talker early-talker-rejected bdat starttls
	auth-refused rejected-rcpt rejected-eod blaster unstuffed-dot
	smuggle-lf-dot-lf smuggle-crlf-dot-lf smuggle-lf-dot-crlf
	smuggle-lf-dot-lf-forbid smuggle-crlf-dot-lf-forbid smuggle-lf-dot-crlf-forbid
	too-many-errors eod-then-rst eod-unacknowledged bare-lf bare-cr
	starttls-tls12 starttls-tls13 starttls-failed implicit-tls vrfy-lf vrfy-lf-forbid)
SAMPLES+=(port-8025)

swaks_msg() {	# swaks with the fixed identities and message; extra options appended
	swaks --server 127.0.0.1 --port "$PORT" --helo "$HELO" --from "$FROM" --to "$TO" \
		--data "$DATA" "$@"
}

s_normal()                     { rec normal swaks_msg; derive; }
s_two_transactions()           { rec two-transactions "$client" two-transactions; }
s_rfc821_drop()                { rec rfc821-drop swaks_msg --drop-after DOT; }
s_mid_message_close()          { rec mid-message-close "$client" mid-message-close; }
s_quit_after_greeting()        { rec quit-after-greeting swaks_msg --quit-after CONNECT; }
s_ipv6()                       { rec ipv6 swaks --server ::1 --port "$PORT" -6 --helo "$HELO" \
					--from "$FROM" --to "$TO" --data "$DATA"; }
s_client_closed_without_quit() { rec client-closed-without-quit swaks_msg --drop-after EHLO; }
s_server_closed()              { with smtpd_timeout=5s -- \
					rec server-closed "$client" idle-after-ehlo; }
s_rset_then_commit()           { rec rset-then-commit "$client" rset-then-commit; }
s_pipelining()                 { rec pipelining swaks_msg --pipeline; }
# Postfix greets at once; on loopback that beats any client. Delaying the greeting by 1 s
# (a client restriction run at connect time) makes the early EHLO certain.
s_early_talker()               { with smtpd_client_restrictions=sleep,1 smtpd_delay_reject=no -- \
					rec early-talker "$client" early-talker; }
# The same, with reject_unauth_pipelining after the sleep: Postfix refuses the early talker.
s_early_talker_rejected() {
	with smtpd_client_restrictions=sleep,1,reject_unauth_pipelining smtpd_delay_reject=no -- \
		rec early-talker-rejected "$client" early-talker
}
s_bdat()                       { rec bdat "$client" bdat; }
s_starttls()                   { rec starttls swaks_msg --tls; }
# TLS versions forced from either end: swaks offers only TLS 1.2, or only TLS 1.3; for the
# failed handshake Postfix takes TLS 1.3 only and swaks offers only TLS 1.2 (a
# protocol_version alert).
s_starttls_tls12()             { rec starttls-tls12 swaks_msg --tls --tls-protocol tlsv1_2; }
s_starttls_tls13()             { with 'smtpd_tls_protocols=>=TLSv1.3' -- \
					rec starttls-tls13 swaks_msg --tls; }
s_starttls_failed()            { with 'smtpd_tls_protocols=>=TLSv1.3' -- \
					rec starttls-failed swaks_msg --tls --tls-protocol tlsv1_2; }
# Implicit TLS (RFC 8314): Postfix's smtps service, a wrapper-mode listener on port 465
# for this sample only.
s_implicit_tls() {
	postconf -M "465/inet=465 inet n - n - - smtpd -o smtpd_tls_wrappermode=yes"
	pf_reload
	PORT=465 wait_listener
	PORT=465 rec implicit-tls swaks_msg --tls-on-connect
	postconf -MX 465/inet
	pf_reload
}
s_auth_refused()               { rec auth-refused "$client" auth-refused; }
s_rejected_rcpt()              { rec rejected-rcpt swaks_msg --to mallory@smtptrace.test; }
s_rejected_eod()               { with message_size_limit=100 -- rec rejected-eod swaks_msg; }
s_blaster()                    { rec blaster "$client" blaster; }
s_unstuffed_dot()              { rec unstuffed-dot "$client" unstuffed-dot; }
s_too_many_errors()            { with smtpd_hard_error_limit=5 -- \
					rec too-many-errors "$client" too-many-errors; }
s_eod_then_rst()               { rec eod-then-rst "$client" eod-then-rst; }
# The reply to EOD comes 3 s after it, 2 s after the client left: keep capturing for it.
s_eod_unacknowledged()         { local LINGER=4; with smtpd_end_of_data_restrictions=sleep,3 -- \
					rec eod-unacknowledged "$client" eod-unacknowledged; }
s_bare_lf()                    { rec bare-lf "$client" bare-lf; }
s_bare_cr()                    { rec bare-cr "$client" bare-cr; }
# SMTP on a port that no --ports default names (found by content): a second listener on 8025
# for this sample only, removed right after it.
s_port_8025() {
	postconf -M "8025/inet=8025 inet n - n - - smtpd"
	local PORT=8025
	pf_reload
	rec port-8025 swaks_msg
	postconf -MX 8025/inet
	postfix reload 2>/dev/null
	sleep 1
}
s_vrfy_lf()                    { rec vrfy-lf "$client" vrfy-lf; }
s_vrfy_lf_forbid()             { with smtpd_forbid_bare_newline=reject smtpd_forbid_bare_newline_exclusions= -- \
                                 rec vrfy-lf-forbid "$client" vrfy-lf; }

smuggle() {	# smuggle-LOOKALIKE[-forbid]
	local name=$1 scen=${1%-forbid}
	if [ "$name" = "$scen" ]; then
		rec "$name" "$client" "$scen"
	else
		with smtpd_forbid_bare_newline=reject smtpd_forbid_bare_newline_exclusions= -- \
			rec "$name" "$client" "$scen"
	fi
}

# Derived from normal.pcap, and made again whenever it is recorded.
DERIVED=(normal.pcap.gz vlan qinq)
derive() { s_normal_pcap_gz; s_vlan; s_qinq; }
need_normal() { [ -s "$out/normal.pcap" ] || s_normal; }
s_normal_pcap_gz() { need_normal; gzip -9 -n -c "$out/normal.pcap" >"$out/normal.pcap.gz"
	note "normal.pcap.gz: gzip -9 -n of normal.pcap"; }
s_vlan() { need_normal; python3 "$pcaptool" vlan "$out/normal.pcap" "$out/vlan.pcap"
	note "vlan.pcap: pcaptool.py vlan normal.pcap"; }
s_qinq() { need_normal; python3 "$pcaptool" qinq "$out/normal.pcap" "$out/qinq.pcap"
	note "qinq.pcap: pcaptool.py qinq normal.pcap"; }
# A normal session captured on the "any" pseudo-interface: tcpdump 4.99 with libpcap 1.10
# writes Linux cooked v2 (DLT 276) there by default; -y LINUX_SLL asks for v1 (DLT 113).
s_cooked()     { IFACE=any rec cooked swaks_msg; }
s_cooked_sll() { IFACE=any LINKTYPE=LINUX_SLL rec cooked-sll swaks_msg; }

# --- capture -----------------------------------------------------------------------------
cap_pid=
capture_start() {	# FILE [IFACE]: tcpdump in the background, back once it listens
	local file=$1 iface=${2:-lo} log=$work/tcpdump.log
	: >"$log"
	tcpdump -i "$iface" ${LINKTYPE:+-y "$LINKTYPE"} -U -Z root -w "$file" "tcp port $PORT" \
		2>"$log" &
	cap_pid=$!
	for _ in $(seq 100); do
		grep -q 'listening on' "$log" && return 0
		kill -0 "$cap_pid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$log" >&2
	die "tcpdump did not start"
}

capture_stop() {	# LINGER (1) seconds for the last segments, then stop tcpdump by its PID
	[ -n "$cap_pid" ] || return 0
	sleep "${1:-${LINGER:-1}}"
	kill "$cap_pid" 2>/dev/null || true
	wait "$cap_pid" 2>/dev/null || true
	cap_pid=
}

client_pid=
rec() {	# NAME COMMAND...: capture one session into $out/NAME.pcap
	local name=$1 rc=0 tmp=$work/$1.pcap
	shift
	capture_start "$tmp" "${IFACE:-lo}"
	# The client runs in the background so that a signal ends the script at once.
	"$@" >"$work/$name.log" 2>&1 &
	client_pid=$!
	wait "$client_pid" || rc=$?
	client_pid=
	capture_stop
	local n
	n=$(tcpdump -r "$tmp" 2>/dev/null | wc -l)
	[ "$n" -gt 0 ] || { cat "$work/$name.log" >&2; die "$name: nothing captured"; }
	mv "$tmp" "$out/$name.pcap"
	note "$name.pcap: $n packets (client exit $rc)"
}

# --- Postfix -----------------------------------------------------------------------------
with_keys=()
with() {	# NAME=VALUE... -- COMMAND...: run COMMAND with these set on the 2525 listener
	local kv
	with_keys=()
	while [ "$1" != -- ]; do
		postconf -P "$LSN/$1"
		with_keys+=("${1%%=*}")
		shift
	done
	shift
	pf_reload
	"$@"
	for kv in "${with_keys[@]}"; do postconf -PX "$LSN/$kv"; done
	with_keys=()
	pf_reload
}

cleanup() {
	local rc=$?
	if [ -n "$client_pid" ]; then	# interrupted: the client and what it runs
		pkill -P "$client_pid" 2>/dev/null || true
		kill "$client_pid" 2>/dev/null || true
	fi
	capture_stop 0
	if [ -n "${started:-}" ]; then
		postfix stop >/dev/null 2>&1 || true
	fi
	if [ -n "${work:-}" ] && [ -f "$work/main.cf" ]; then
		cp -p "$work/main.cf" "$PFDIR/main.cf"
		cp -p "$work/master.cf" "$PFDIR/master.cf"
	fi
	if [ -n "${work:-}" ]; then
		if [ "${KEEP:-0}" = 1 ]; then note "work directory kept: $work"; else rm -rf "$work"; fi
	fi
	exit $rc
}

# Sourced by exim.sh for the helpers above (die and note it redefines): stop here.
[ -z "${RECORD_HELPERS_ONLY:-}" ] || return 0

# --- main --------------------------------------------------------------------------------
fn_of() { local f=${1//[-.]/_}; case $1 in smuggle-*) echo smuggle;; *) echo "s_$f";; esac; }

if [ "${1:-}" = --list ]; then printf '%s\n' "${SAMPLES[@]}"; exit 0; fi
want=()
for n in "$@"; do want+=("${n%.pcap}"); done
if [ ${#want[@]} -eq 0 ]; then	# all, the derived ones coming with normal
	for n in "${SAMPLES[@]}"; do
		printf '%s\n' "${DERIVED[@]}" | grep -qxF "$n" || want+=("$n")
	done
fi
for n in "${want[@]}"; do
	printf '%s\n' "${SAMPLES[@]}" | grep -qxF "$n" || die "no sample named $n (--list)"
done

only_derived=1
for n in "${want[@]}"; do
	printf '%s\n' "${DERIVED[@]}" | grep -qxF "$n" || only_derived=
done
if [ -n "$only_derived" ] && [ -s "$out/normal.pcap" ]; then	# no Postfix needed
	for n in "${want[@]}"; do "$(fn_of "$n")"; done
	exit 0
fi

[ "$(id -u)" = 0 ] || die "needs root (it runs Postfix and tcpdump)"
for t in postfix postconf swaks tcpdump openssl python3 gzip ss; do
	command -v "$t" >/dev/null || die "$t is missing: tests/setup-deps.sh test"
done
exec 9>"$LOCK"
# Another recording, a live test or an MTA swap may hold it: wait (LOCK_WAIT seconds)
note "waiting for $LOCK"
flock -w "${LOCK_WAIT:-1800}" 9 || die "another recording or test holds $LOCK"
postfix status >/dev/null 2>&1 && die "Postfix is already running; stop it first (postfix stop)"

mkdir -p "$out"
work=$(mktemp -d /tmp/smtptrace-record.XXXXXX)
cp -p "$PFDIR/main.cf" "$PFDIR/master.cf" "$work/"
trap cleanup EXIT
trap 'exit 130' INT TERM

t0=$(date +%s)
pf_configure
postfix start >/dev/null 2>&1
started=1
wait_listener
for n in "${want[@]}"; do
	f=$(fn_of "$n")
	if [ "$f" = smuggle ]; then smuggle "$n"; else "$f"; fi
done
note "done in $(($(date +%s) - t0)) s"
