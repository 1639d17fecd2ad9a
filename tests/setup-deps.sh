#!/bin/sh
# setup-deps: installs what smtptrace needs with apt-get (Debian 12), or, when not root,
# prints the exact command and fails. "build": compiler and libraries (librdkafka for the
# Kafka sink); "test": also what the test suite uses (python3 for the tools; jsonschema,
# fastjsonschema and yaml for the
# record schema and the examples; rsyslog for the shipper test; valgrind, tcpdump, Postfix and
# swaks for the end-to-end tests; tshark for the cross-check; tcpreplay, logrotate, iproute2
# and procps for the live sensor tests).
set -eu
what=${1:-build}
build_pkgs="gcc make pkg-config libpcap-dev zlib1g-dev libjansson-dev nettle-dev librdkafka-dev"
test_pkgs="python3 python3-jsonschema python3-fastjsonschema python3-yaml rsyslog valgrind tcpdump postfix swaks libnet-ssleay-perl libio-socket-ssl-perl openssl gzip tshark tcpreplay logrotate iproute2 procps strace"
pkgs=$build_pkgs
[ "$what" = test ] && pkgs="$build_pkgs $test_pkgs"

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" != 0 ]; then
	echo "smtptrace: missing packages:$missing" >&2
	echo "smtptrace: run as root: apt-get update && $cmd" >&2
	exit 1
fi
echo "smtptrace: installing$missing"
# Postfix asks questions at install time; answer them for a loopback-only test server.
echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections
echo "postfix postfix/mailname string smtptrace.test" | debconf-set-selections
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends$missing >/dev/null
