# tls-tshark-tests: every TLS session of the samples and of the peer corpus against tshark's
# TLS dissector (tests/tls-tshark.py: version, cipher, SNI, ALPN, certificate, alert, JA4).
# Sourced by tests/run-tests.sh (uses pass, fail, skip, $prog, $out). Skipped, and reported
# as skipped, without tshark or python3; the corpus part without ../shared/corpus.
tt_corpus=../shared/corpus
if ! command -v tshark >/dev/null 2>&1 || ! command -v python3 >/dev/null 2>&1; then
	skip tls-tshark "tshark or python3 not installed"
else
	tt_caps=$(ls samples/*.pcap)
	if [ -d "$tt_corpus" ]; then
		tt_caps="$tt_caps $(find "$tt_corpus" -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' | sort)"
	else
		skip "tls-tshark corpus" "corpus $tt_corpus absent"
	fi
	# shellcheck disable=SC2086 # one word per capture
	python3 -B tests/tls-tshark.py "$prog" $tt_caps >"$out/tls-tshark.out" 2>"$out/tls-tshark.err"
	tt_rc=$?
	tt_n=0
	while read -r tt_status tt_name; do
		case $tt_status in
		ok) pass "$tt_name"; tt_n=$((tt_n + 1)) ;;
		FAIL) fail "$tt_name"; tt_n=$((tt_n + 1)) ;;
		esac
	done <"$out/tls-tshark.out"
	# it ran, and found the TLS sessions the samples hold (at least the seven of samples/)
	if [ "$tt_rc" -gt 1 ] || [ "$tt_n" -lt 7 ]; then
		fail "tls-tshark ran (exit $tt_rc, $tt_n sessions)"
		sed 's/^/    /' "$out/tls-tshark.err"
	fi
fi
