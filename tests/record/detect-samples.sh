#!/bin/sh
# detect-samples.sh: makes the crafted samples of detection by content (analyzer/detect.c)
# from dialogue scripts (format: tests/dialogues/README.md), with tests/tools/dialogue (make
# tools) and mergecap (Debian's wireshark-common):
#   samples/http-connect.pcap  SMTP inside an HTTP CONNECT tunnel through a proxy on 3128
#                              (tests/dialogues/detect-http-connect.dlg, every send whole)
#   samples/not-smtp.pcap      HTTP on 8080, an FTP server's 220 on 2121, a TLS ClientHello
#                              on 8443 (none SMTP by content) and HTTP on 25 (a --ports
#                              port: followed without probing), tests/record/detect/*.dlg
# Usage: tests/record/detect-samples.sh [BUILD_DIR] (default build/opt)
set -eu
cd "$(dirname "$0")/../.."
dlg=${1:-build/opt}/tools/dialogue
[ -x "$dlg" ] || { echo "detect-samples: $dlg missing: make tools" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$dlg" -1 tests/dialogues/detect-http-connect.dlg samples/http-connect.pcap >/dev/null
for f in tests/record/detect/*.dlg; do
	"$dlg" -1 "$f" "$work/$(basename "$f" .dlg).pcap" >/dev/null
done
mergecap -F pcap -w samples/not-smtp.pcap "$work"/*.pcap
echo "detect-samples: samples/http-connect.pcap samples/not-smtp.pcap"
