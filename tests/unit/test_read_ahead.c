/* test_read_ahead: the reader thread hands over every packet of a file read in place, decoded
 * as decode_packet_csum() decodes it on the analysis thread, in order, across many turns of its
 * ring; it ends where capture_map hands a record to libpcap, and capture_next() reads on from
 * that record; it stops at once when asked, full ring or not. */
#include <pcap/dlt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "decode.h"
#include "pcapw.h"
#include "read_ahead.h"
#include "tap.h"

enum { NPKT = 5000, SNAP = 1000, ERRLEN = 512 };

static char tmpdir[] = "/tmp/smtptrace-test-read-ahead-XXXXXX";
static char path_plain[64], path_odd[64];

/* Packet i: TCP over IPv4 from one of 7 clients, payload length from i (some empty), every
 * 13th with a wrong checksum, every 50th a frame that is not IP. */
static void write_packet(struct pcapw *w, int i, uint32_t odd_len)
{
	static uint8_t payload[1500];
	uint64_t ts = 1795874831000000ull + (uint64_t)i * 997;
	if (odd_len) { /* a frame longer than the file's snap length: libpcap's to read */
		memset(payload, 0x5a, sizeof(payload));
		CHECK_EQ_INT(pcapw_write_raw(w, ts, payload, odd_len, odd_len), 0);
		return;
	}
	if (i % 50 == 49) {
		memset(payload, 0, 60); /* Ethernet with ethertype 0: not IP */
		CHECK_EQ_INT(pcapw_write_raw(w, ts, payload, 60, 60), 0);
		return;
	}
	for (int j = 0; j < 900; j++)
		payload[j] = (uint8_t)(i + j);
	struct pcapw_link link = {.dlt = DLT_EN10MB};
	struct pcapw_tcp seg = {
	    .sport = (uint16_t)(40000 + i % 7),
	    .dport = 25,
	    .seq = (uint32_t)i * 1000u,
	    .ack = 77,
	    .flags = TCP_FLAG_ACK | TCP_FLAG_PSH,
	    .window = 512,
	    .payload = payload,
	    .len = (uint32_t)(i * 37 % 900),
	    .bad_checksum = i % 13 == 0,
	};
	pcapw_addr("192.0.2.1", &seg.src);
	pcapw_addr("198.51.100.2", &seg.dst);
	CHECK_EQ_INT(pcapw_write_tcp(w, &link, ts, &seg), 0);
}

/* NPKT packets; with odd >= 0, packet odd is one capture_map does not read in place. */
static void write_capture(const char *path, int odd)
{
	struct pcapw *w = pcapw_open(path, DLT_EN10MB, PCAPW_PCAP, SNAP);
	CHECK(w != NULL);
	if (!w)
		return;
	for (int i = 0; i < NPKT; i++)
		write_packet(w, i, i == odd ? SNAP + 200 : 0);
	CHECK_EQ_INT(pcapw_close(w), 0);
}

static struct capture *open_capture(const char *path)
{
	char err[ERRLEN];
	struct capture *cap = capture_open_file(path, NULL, err, sizeof(err));
	CHECK(cap != NULL);
	if (!cap)
		fprintf(stderr, "  %s\n", err);
	return cap;
}

/* What the analysis thread would have decoded itself; the payloads copied, as libpcap reuses
 * its buffer. */
struct ref {
	struct read_ahead_pkt p[NPKT];
	uint8_t bytes[NPKT][SNAP];
	int n;
};

static void read_reference(const char *path, bool checksum, struct ref *ref)
{
	struct capture *cap = open_capture(path);
	struct capture_pkt pkt;
	ref->n = 0;
	while (cap && ref->n < NPKT && capture_next(cap, &pkt) == CAPTURE_PKT) {
		struct read_ahead_pkt *p = &ref->p[ref->n++];
		p->st = decode_packet_csum(capture_datalink(cap), pkt.data, pkt.caplen, pkt.wirelen,
		                           checksum, &p->seg);
		p->seg.ts_us = pkt.ts_us;
		p->wirelen = pkt.wirelen;
		if (p->st != DECODE_OK)
			continue;
		memcpy(ref->bytes[ref->n - 1], p->seg.payload, p->seg.payload_len);
		p->seg.payload = ref->bytes[ref->n - 1];
	}
	capture_close(cap);
}

/* Field by field: the reference's payload pointed into another mapping. */
static bool same_packet(const struct read_ahead_pkt *a, const struct read_ahead_pkt *b)
{
	if (a->st != b->st || a->seg.ts_us != b->seg.ts_us || a->wirelen != b->wirelen)
		return false;
	if (a->st != DECODE_OK)
		return true;
	const struct tcp_seg *x = &a->seg, *y = &b->seg;
	return memcmp(&x->src, &y->src, sizeof(x->src)) == 0 &&
	       memcmp(&x->dst, &y->dst, sizeof(x->dst)) == 0 && x->sport == y->sport &&
	       x->dport == y->dport && x->seq == y->seq && x->ack == y->ack &&
	       x->flags == y->flags && x->csum == y->csum && x->window == y->window &&
	       x->payload_len == y->payload_len && x->payload_wire_len == y->payload_wire_len &&
	       memcmp(x->payload, y->payload, x->payload_len) == 0;
}

/* Reads path through a reader thread, then capture_next() for what it leaves; checks every
 * packet against the reference. Returns how many the reader handed over. */
static int check_read_ahead(const char *path, bool checksum, enum capture_rc want_end)
{
	static struct ref ref;
	read_reference(path, checksum, &ref);
	struct capture *cap = open_capture(path);
	struct read_ahead *ra = cap ? read_ahead_start(cap, capture_datalink(cap), checksum) : NULL;
	CHECK(ra != NULL);
	if (!ra) {
		capture_close(cap);
		return 0;
	}
	struct read_ahead_pkt *p;
	enum capture_rc rc;
	int n = 0, bad = 0;
	while ((rc = read_ahead_next(ra, &p)) == CAPTURE_PKT)
		bad += n >= ref.n || !same_packet(p, &ref.p[n++]);
	CHECK_EQ_INT(rc, want_end);
	read_ahead_stop(ra);
	int ahead = n;
	struct capture_pkt pkt;
	while (capture_next(cap, &pkt) == CAPTURE_PKT) {
		struct read_ahead_pkt q;
		q.st = decode_packet_csum(capture_datalink(cap), pkt.data, pkt.caplen, pkt.wirelen,
		                          checksum, &q.seg);
		q.seg.ts_us = pkt.ts_us;
		q.wirelen = pkt.wirelen;
		bad += n >= ref.n || !same_packet(&q, &ref.p[n++]);
	}
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(n, ref.n);
	CHECK_EQ_INT(n, NPKT);
	capture_close(cap);
	return ahead;
}

static void test_every_packet(void)
{
	CHECK_EQ_INT(check_read_ahead(path_plain, true, CAPTURE_EOF), NPKT);
}

/* --checksum no: none computed, as decode_packet_csum() computes none unasked. */
static void test_no_checksum(void)
{
	CHECK_EQ_INT(check_read_ahead(path_plain, false, CAPTURE_EOF), NPKT);
}

/* Packet 3100 is longer than the snap length: the reader hands over the 3100 before it and
 * ends, capture_next() reads that one (through libpcap) and the rest. */
static void test_fallback_part_way(void)
{
	CHECK_EQ_INT(check_read_ahead(path_odd, true, CAPTURE_NONE), 3100);
}

/* A stop with the ring full (nothing taken) and one part way: no wait is left hanging. */
static void test_stop(void)
{
	struct capture *cap = open_capture(path_plain);
	struct read_ahead *ra = cap ? read_ahead_start(cap, DLT_EN10MB, true) : NULL;
	CHECK(ra != NULL);
	usleep(20000); /* time to fill the ring and wait for room */
	read_ahead_stop(ra);
	ra = cap ? read_ahead_start(cap, DLT_EN10MB, true) : NULL;
	CHECK(ra != NULL);
	struct read_ahead_pkt *p;
	int n = 0;
	while (ra && n < 700 && read_ahead_next(ra, &p) == CAPTURE_PKT)
		n++;
	CHECK_EQ_INT(n, 700);
	read_ahead_stop(ra);
	read_ahead_stop(NULL);
	capture_close(cap);
}

/* The file cut shorter by another program while the reader is ahead (SIGBUS on the lost
 * pages, on the reader's thread or, for packets already handed over, on this one): the packets
 * end with CAPTURE_ERR naming the cut, never a crash. */
static void test_cut_while_read(void)
{
	char path[96];
	snprintf(path, sizeof(path), "%s/cut.pcap", tmpdir);
	write_capture(path, -1);
	struct capture *cap = open_capture(path);
	struct read_ahead *ra = cap ? read_ahead_start(cap, DLT_EN10MB, true) : NULL;
	CHECK(ra != NULL);
	if (!ra) {
		capture_close(cap);
		return;
	}
	struct read_ahead_pkt *p;
	enum capture_rc rc = CAPTURE_PKT;
	unsigned sum = 0;
	for (int i = 0; i < 40 && rc == CAPTURE_PKT; i++)
		rc = read_ahead_next(ra, &p);
	CHECK_EQ_INT(rc, CAPTURE_PKT);
	CHECK_EQ_INT(truncate(path, 1000), 0);
	int n = 40;
	while ((rc = read_ahead_next(ra, &p)) == CAPTURE_PKT && n++ < NPKT)
		for (uint32_t j = 0; p->st == DECODE_OK && j < p->seg.payload_len; j++)
			sum += p->seg.payload[j]; /* the lost pages read as zeros */
	CHECK_EQ_INT(rc, CAPTURE_ERR);
	CHECK(n < NPKT);
	read_ahead_stop(ra);
	CHECK(strstr(capture_error(cap), "cut shorter while it was read") != NULL);
	capture_close(cap);
	unlink(path);
	(void)sum;
}

/* Not read in place (a filter): no reader; the caller reads as before. */
static void test_not_in_place(void)
{
	char err[ERRLEN];
	struct capture *cap = capture_open_file(path_plain, "tcp", err, sizeof(err));
	CHECK(cap != NULL);
	CHECK(cap && !capture_in_place(cap));
	CHECK(cap && read_ahead_start(cap, DLT_EN10MB, true) == NULL);
	capture_close(cap);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path_plain, sizeof(path_plain), "%s/plain.pcap", tmpdir);
	snprintf(path_odd, sizeof(path_odd), "%s/odd.pcap", tmpdir);
	write_capture(path_plain, -1);
	write_capture(path_odd, 3100);
	RUN_TEST(test_every_packet);
	RUN_TEST(test_no_checksum);
	RUN_TEST(test_fallback_part_way);
	RUN_TEST(test_stop);
	RUN_TEST(test_cut_while_read);
	RUN_TEST(test_not_in_place);
	unlink(path_plain);
	unlink(path_odd);
	rmdir(tmpdir);
	TAP_EXIT();
}
