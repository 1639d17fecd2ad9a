/* readpath: the benchmark's second baseline: smtptrace's own read path (capture.c's
 * capture_open_file and capture_next over pcap or pcapng, plain or gzip) and nothing else:
 * each packet's last byte touched and counted.  readpath FILE */
#include <stdio.h>
#include <sys/resource.h>

#include "capture.h"

int main(int argc, char **argv)
{
	char err[512];
	struct capture_pkt pkt;
	unsigned long packets = 0, sum = 0;
	enum capture_rc rc;
	struct capture *cap = argc > 1 ? capture_open_file(argv[1], NULL, err, sizeof(err)) : NULL;
	if (!cap) {
		fprintf(stderr, "readpath: %s\n", argc > 1 ? err : "usage: readpath FILE");
		return 2;
	}
	while ((rc = capture_next(cap, &pkt)) == CAPTURE_PKT) {
		packets++;
		sum += pkt.caplen ? pkt.data[pkt.caplen - 1] : 0;
	}
	if (rc == CAPTURE_ERR)
		fprintf(stderr, "readpath: %s\n", capture_error(cap));
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("%lu packets (checksum %lu), peak memory %ld KiB\n", packets, sum, ru.ru_maxrss);
	capture_close(cap);
	return rc == CAPTURE_ERR ? 1 : 0;
}
