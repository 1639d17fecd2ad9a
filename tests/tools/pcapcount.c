/* pcapcount: the benchmark's baseline: a bare libpcap read loop that touches every packet's
 * last byte and counts them, nothing else.  pcapcount FILE */
#include <pcap/pcap.h>
#include <stdio.h>
#include <sys/resource.h>

int main(int argc, char **argv)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	unsigned long packets = 0, sum = 0;
	pcap_t *p = argc > 1 ? pcap_open_offline(argv[1], err) : NULL;
	if (!p) {
		fprintf(stderr, "pcapcount: %s\n", argc > 1 ? err : "usage: pcapcount FILE");
		return 2;
	}
	while (pcap_next_ex(p, &h, &d) == 1) {
		packets++;
		sum += h->caplen ? d[h->caplen - 1] : 0;
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("%lu packets (checksum %lu), peak memory %ld KiB\n", packets, sum, ru.ru_maxrss);
	pcap_close(p);
	return 0;
}
