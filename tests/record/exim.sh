#!/bin/bash
# exim.sh: records smtptrace's Exim samples (samples/exim-*.pcap) from a real Exim 4.96
# (Debian 12's exim4-daemon-light) on loopback talking to swaks and tests/record/exim_client.py.
#
#   tests/record/exim.sh                 swap Postfix for Exim, record every sample, swap back
#   tests/record/exim.sh NAME...         only these (NAME as in samples/exim-NAME.pcap)
#   tests/record/exim.sh --dry-run [NAME...]
#                                        the same against the exim4 binary unpacked from the
#                                        package, in a private mount and network namespace,
#                                        into a temporary directory: no lock, Postfix untouched
#   tests/record/exim.sh --list          list the sample names
#
# Debian's MTAs replace each other: installing Exim removes Postfix. So, as root and holding
# /run/lock/smtptrace-postfix.lock for its whole run (the live tests wait on it), it saves
# /etc/postfix, /etc/mailname and /etc/aliases, installs Exim (preseeded, non-interactive),
# runs its own daemon (tests/record/exim4.conf, port 2525 of 127.0.0.1 and ::1, one start per
# sample with the sample's -D macros), records each sample with tcpdump on lo
# (record-samples.sh's helpers), then, however it exits, stops Exim, reinstalls Postfix,
# purges the packages the swap added, restores the saved files and leaves Postfix stopped.
# Exim's log lines for each sample are printed (samples/README.md quotes them).
# Environment: SAMPLES_DIR (default samples/ of this repository), KEEP=1 keeps the work
# directory (client transcripts, Exim's logs).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/record/record-samples.sh
RECORD_HELPERS_ONLY=1 . "$here/record-samples.sh"	# swaks_msg, capture_*, rec; postfix.sh
die() { echo "exim: $*" >&2; exit 1; }
note() { echo "exim: $*"; }
eclient=$here/exim_client.py
conf=$here/exim4.conf
EXIM=/usr/sbin/exim4
APT=(apt-get -y -q -o DPkg::Lock::Timeout=600)
EXIM_PKGS="exim4-daemon-light exim4-base exim4-config"

# --- the samples: sample NAME is made by x_NAME ('-' as '_'); exim_rec NAME MACRO... -- CMD
SAMPLES=(normal early-talker pipelining-unadvertised data-before-354 data-before-354-pipelining
	eod-then-close rejected-rcpt rejected-eod bdat too-many-errors)

x_normal()                  { exim_rec normal -- swaks_msg; }
# PIPECONNECT (advertised by default) lets a client send EHLO early; off, and with the
# greeting held 1 s by the connect ACL, the EHLO surely comes before it.
x_early_talker()            { exim_rec early-talker NOPIPECONNECT CONNECT_DELAY -- \
					"$eclient" early-talker; }
x_pipelining_unadvertised() { exim_rec pipelining-unadvertised NOPIPE -- \
					"$eclient" pipelining-unadvertised; }
# DATA, text and end in one write: a sync error without PIPELINING, read as sent with it.
x_data_before_354()         { exim_rec data-before-354 NOPIPE -- "$eclient" data-before-354; }
x_data_before_354_pipelining() { exim_rec data-before-354-pipelining -- \
					"$eclient" data-before-354; }
# The data ACL holds the reply to the end of data 1 s: the client's FIN is surely there first.
x_eod_then_close()          { exim_rec eod-then-close DATA_DELAY -- "$eclient" eod-then-close; }
x_rejected_rcpt()           { exim_rec rejected-rcpt -- swaks_msg --to mallory@smtptrace.test; }
x_rejected_eod()            { exim_rec rejected-eod DATA_DENY -- swaks_msg; }
x_bdat()                    { exim_rec bdat -- "$eclient" bdat; }
x_too_many_errors()         { exim_rec too-many-errors -- "$eclient" too-many-errors; }

# --- the Exim daemon ---------------------------------------------------------------------
exim_pid=
exim_start() {	# MACRO...: the daemon in the foreground (-bdf) in the background
	local m args=(-DPORT="$PORT" -DSPOOL="$work/spool" -DLOG="$work/log")
	for m in "$@"; do args+=("-D$m"); done
	# The dry run has no exim_path to re-exec for delivery: messages stay queued (-odq).
	[ -z "${dry:-}" ] || args+=(-odq)
	"$EXIM" -C "$conf" "${args[@]}" -oP "$work/exim.pid" -bdf &
	exim_pid=$!
	for _ in $(seq 100); do
		ss -Hltn "sport = :$PORT" | grep -q . && return 0
		kill -0 "$exim_pid" 2>/dev/null || break
		sleep 0.1
	done
	tail -5 "$work/log/paniclog" "$work/log/mainlog" >&2 2>/dev/null || true
	die "Exim does not listen on port $PORT"
}

exim_stop() {
	[ -n "$exim_pid" ] || return 0
	kill "$exim_pid" 2>/dev/null || true
	wait "$exim_pid" 2>/dev/null || true
	exim_pid=
	for _ in $(seq 50); do ss -Hltn "sport = :$PORT" | grep -q . || return 0; sleep 0.1; done
}

exim_rec() {	# NAME MACRO... -- COMMAND...: one sample, its Exim log lines printed
	local name=$1 macros=() from
	shift
	while [ "$1" != -- ]; do macros+=("$1"); shift; done
	shift
	from=1
	[ ! -f "$work/log/mainlog" ] || from=$(($(wc -l <"$work/log/mainlog") + 1))
	exim_start "${macros[@]}"
	rec "exim-$name" "$@"
	exim_stop
	echo "exim: exim-$name.pcap: Exim's log (-D ${macros[*]:-none}):"
	tail -n "+$from" "$work/log/mainlog" | tee "$work/exim-$name.mainlog" | sed 's/^/    /'
}

# --- the swap ----------------------------------------------------------------------------
swap_in() {	# saves what Postfix needs back, installs Exim
	dpkg-query -W -f='${Package}\n' | sort >"$work/packages.before"
	tar -C / -cpf "$work/etc.tar" etc/postfix etc/mailname etc/aliases etc/aliases.db
	getent passwd Debian-exim >/dev/null || user_added=1	# the package adds it, never removes
	swapped=1
	debconf-set-selections <<-EOF
		exim4-config exim4/dc_eximconfig_configtype select local delivery only; not on a network
		exim4-config exim4/dc_local_interfaces string 127.0.0.1 ; ::1
		exim4-config exim4/use_split_config boolean false
	EOF
	DEBIAN_FRONTEND=noninteractive "${APT[@]}" install exim4-daemon-light >"$work/apt.log" 2>&1 ||
		{ tail -5 "$work/apt.log" >&2; die "apt-get install exim4-daemon-light failed"; }
	# Debian's own daemon, if an init script started it, is not ours.
	if [ -s /run/exim4/exim.pid ]; then kill "$(cat /run/exim4/exim.pid)" 2>/dev/null || true; fi
	install -d -o Debian-exim -g Debian-exim "$work/spool" "$work/log"
	note "Exim $("$EXIM" -bV 2>/dev/null | sed -n '1s/Exim version \([^ ]*\).*/\1/p') installed; Postfix removed"
}

swap_out() {	# Postfix back as it was found: installed, its files restored, stopped
	local added
	DEBIAN_FRONTEND=noninteractive "${APT[@]}" install postfix >>"$work/apt.log" 2>&1 ||
		{ tail -5 "$work/apt.log" >&2; echo "exim: apt-get install postfix FAILED" >&2; return 1; }
	added=$(dpkg-query -W -f='${Package}\n' | sort | comm -13 "$work/packages.before" -)
	# shellcheck disable=SC2086 # one package name a word
	[ -z "$added" ] || DEBIAN_FRONTEND=noninteractive "${APT[@]}" purge $added \
		>>"$work/apt.log" 2>&1 || echo "exim: purging $added failed" >&2
	tar -C / -xpf "$work/etc.tar"
	if [ -n "${user_added:-}" ]; then
		rm -rf "$work/spool" "$work/log"	# its files; the transcripts stay
		userdel Debian-exim 2>/dev/null || true
		groupdel Debian-exim 2>/dev/null || true
	fi
	postfix stop >/dev/null 2>&1 || true
	postfix check
	postfix status >/dev/null 2>&1 && { echo "exim: Postfix is running" >&2; return 1; }
	swapped=
	note "Postfix $(postconf -h mail_version) back, stopped, /etc/postfix restored${added:+; purged: ${added//$'\n'/ }}"
}

cleanup() {
	local rc=$?
	if [ -n "$client_pid" ]; then
		pkill -P "$client_pid" 2>/dev/null || true
		kill "$client_pid" 2>/dev/null || true
	fi
	capture_stop 0
	exim_stop
	if [ -n "${swapped:-}" ]; then swap_out || rc=1; fi
	if [ -n "${work:-}" ] && [ -z "$dry" ]; then
		if [ "${KEEP:-0}" = 1 ]; then note "work directory kept: $work"; else rm -rf "$work"; fi
	fi
	exit $rc
}

# --- the dry run: the package's binary, unpacked, in namespaces of its own ---------------
dry_setup() {	# unpacks the cached .debs into $work/root; a passwd with Debian-exim
	local p deb
	for p in $EXIM_PKGS libidn12; do
		deb=$(find /var/cache/apt/archives -name "${p}_*.deb" | sort | tail -1)
		if [ -z "$deb" ]; then (cd "$work" && apt-get download "$p" >/dev/null); deb=$(ls "$work/${p}"_*.deb); fi
		dpkg-deb -x "$deb" "$work/root"
	done
	cp /etc/passwd /etc/group "$work/"
	echo 'Debian-exim:x:990:990::/var/spool/exim4:/usr/sbin/nologin' >>"$work/passwd"
	echo 'Debian-exim:x:990:' >>"$work/group"
	install -d -o 990 -g 990 "$work/spool" "$work/log"
}

dry_inner() {	# in the new namespaces: Debian-exim known, lo up, the unpacked binary
	mount --bind "$work/passwd" /etc/passwd
	mount --bind "$work/group" /etc/group
	ip link set lo up
	export LD_LIBRARY_PATH=$work/root/usr/lib/x86_64-linux-gnu
	EXIM=$work/root/usr/sbin/exim4
}

# --- main --------------------------------------------------------------------------------
if [ "${1:-}" = --list ]; then printf '%s\n' "${SAMPLES[@]}"; exit 0; fi
dry=
if [ "${1:-}" = --dry-run ]; then dry=1; shift; fi
want=("$@")
[ ${#want[@]} -gt 0 ] || want=("${SAMPLES[@]}")
for n in "${want[@]}"; do
	case " ${SAMPLES[*]} " in *" $n "*) ;; *) die "no sample named $n (--list)" ;; esac
done
[ "$(id -u)" = 0 ] || die "needs root (it installs packages, runs Exim and tcpdump)"
for t in swaks tcpdump python3 ss flock dpkg-deb unshare; do
	command -v "$t" >/dev/null || die "$t is missing: tests/setup-deps.sh test"
done

if [ -n "${EXIM_DRY_INNER:-}" ]; then	# the dry run, re-executed in its namespaces
	work=$EXIM_DRY_INNER out=$work/samples
	dry_inner
elif [ -n "$dry" ]; then
	work=$(mktemp -d /tmp/smtptrace-exim-dry.XXXXXX)
	chmod 755 "$work"
	dry_setup
	note "dry run in $work (samples in $work/samples)"
	EXIM_DRY_INNER=$work exec unshare -m -n "$0" --dry-run "${want[@]}"
else
	out=${SAMPLES_DIR:-$(cd "$here/../.." && pwd)/samples}
	exec 9>"$LOCK"
	note "waiting for $LOCK"
	flock -w 1200 9 || die "$LOCK is still held after 20 minutes"
	postfix status >/dev/null 2>&1 && die "Postfix is running (someone else's); not swapping"
	work=$(mktemp -d /tmp/smtptrace-exim.XXXXXX)
	chmod 755 "$work"
fi
mkdir -p "$out"
trap cleanup EXIT
trap 'exit 130' INT TERM

t0=$(date +%s)
[ -n "$dry" ] || swap_in
for n in "${want[@]}"; do "x_${n//-/_}"; done
note "recorded in $(($(date +%s) - t0)) s"
