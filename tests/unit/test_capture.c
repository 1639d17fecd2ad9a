/* test_capture: reading pcap and pcapng files, gzip or not, from a path or stdin, and the
 * one-line errors for files that are missing, empty, not captures or cut short. */
#include <errno.h>
#include <fcntl.h>
#include <pcap/dlt.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "capture.h"
#include "decode.h"
#include "pcapw.h"
#include "tap.h"

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif

enum { NFRAMES = 50, PATH_MAX_T = 512, ERRLEN = 512 };

static const uint64_t ts_base = 1795874831000000ull; /* 2026-11-28 14:07:11 UTC */
static char tmpdir[] = "/tmp/smtptrace-test-capture-XXXXXX";

/* ---- helpers ---- */

static const char *tpath(const char *name)
{
	static char buf[4][PATH_MAX_T];
	static int next;
	char *p = buf[next++ % 4];

	snprintf(p, PATH_MAX_T, "%s/%s", tmpdir, name);
	return p;
}

/* Frame i: its length, time and bytes follow from i, so a reader can check each one. */
static uint32_t frame_len(int i)
{
	return 60 + (uint32_t)(i * 37 % 1400);
}

static uint64_t frame_ts(int i)
{
	return ts_base + (uint64_t)i * 1234567;
}

static void frame_fill(int i, uint8_t *buf)
{
	for (uint32_t j = 0; j < frame_len(i); j++)
		buf[j] = (uint8_t)(i * 31 + j);
}

static void write_frames(const char *path, enum pcapw_format fmt, int dlt, int n)
{
	struct pcapw *w = pcapw_open(path, dlt, fmt, 0);
	uint8_t buf[1500];

	CHECK(w != NULL);
	if (!w)
		return;
	for (int i = 0; i < n; i++) {
		frame_fill(i, buf);
		CHECK_EQ_INT(pcapw_write_raw(w, frame_ts(i), buf, frame_len(i), frame_len(i) + i),
		             0);
	}
	CHECK_EQ_INT(pcapw_close(w), 0);
}

static uint8_t *file_read(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf = NULL;
	long size;

	*len = 0;
	CHECK(fp != NULL);
	if (!fp)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (size = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)size + 1);
		*len = fread(buf, 1, (size_t)size, fp);
	}
	fclose(fp);
	return buf;
}

static void file_write(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");

	CHECK(fp != NULL);
	if (!fp)
		return;
	CHECK_EQ_INT(fwrite(data, 1, len, fp), len);
	CHECK_EQ_INT(fclose(fp), 0);
}

/* Writes the first len bytes of src (len > size: all) to dst. */
static void file_copy_prefix(const char *src, const char *dst, size_t len)
{
	size_t n;
	uint8_t *data = file_read(src, &n);

	file_write(dst, data, len < n ? len : n);
	free(data);
}

static size_t file_size(const char *path)
{
	struct stat st;

	CHECK_EQ_INT(stat(path, &st), 0);
	return (size_t)st.st_size;
}

static void gzip_bytes(const char *dst, const void *data, size_t len)
{
	gzFile gz = gzopen(dst, "wb6");

	CHECK(gz != NULL);
	if (!gz)
		return;
	CHECK_EQ_INT(gzwrite(gz, data, (unsigned)len), (int)len);
	CHECK_EQ_INT(gzclose(gz), Z_OK);
}

static void gzip_file(const char *src, const char *dst)
{
	size_t n;
	uint8_t *data = file_read(src, &n);

	gzip_bytes(dst, data, n);
	free(data);
}

/* Reads packets from cap and checks that they are frames first..first+n-1. Returns how
 * many matched before anything else came back; *rc_out gets what ended the loop. */
static int read_frames(struct capture *cap, int n, enum capture_rc *rc_out)
{
	struct capture_pkt pkt;
	enum capture_rc rc;
	uint8_t want[1500];
	int i = 0;

	while ((rc = capture_next(cap, &pkt)) == CAPTURE_PKT) {
		CHECK(i < n);
		if (i >= n)
			break;
		frame_fill(i, want);
		CHECK_EQ_INT(pkt.caplen, frame_len(i));
		CHECK_EQ_INT(pkt.wirelen, frame_len(i) + (uint32_t)i);
		CHECK_EQ_INT(pkt.ts_us, frame_ts(i));
		CHECK(pkt.caplen == frame_len(i) && memcmp(pkt.data, want, pkt.caplen) == 0);
		i++;
	}
	*rc_out = rc;
	return i;
}

/* Opens path, expects frames 0..n-1 and a clean end. */
static void check_file_frames(const char *path, int dlt, int n)
{
	char err[ERRLEN];
	struct capture *cap = capture_open_file(path, NULL, err, sizeof(err));
	enum capture_rc rc;
	struct capture_pkt pkt;

	CHECK(cap != NULL);
	if (!cap) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	CHECK_EQ_STR(err, "");
	CHECK_EQ_INT(capture_datalink(cap), dlt);
	CHECK_EQ_STR(capture_name(cap), path);
	CHECK_EQ_INT(read_frames(cap, n, &rc), n);
	CHECK_EQ_INT(rc, CAPTURE_EOF);
	CHECK_EQ_INT(capture_next(cap, &pkt), CAPTURE_EOF); /* and it stays ended */
	CHECK_EQ_STR(capture_error(cap), "");
	capture_close(cap);
}

/* Expects capture_open_file(path) to fail with exactly want as its error. */
static void check_open_error(const char *path, const char *bpf, const char *want)
{
	char err[ERRLEN] = "untouched";
	struct capture *cap = capture_open_file(path, bpf, err, sizeof(err));

	CHECK(cap == NULL);
	capture_close(cap);
	CHECK_EQ_STR(err, want);
}

/* Expects the open to fail with an error that starts with prefix and contains part. */
static void check_open_error_has(const char *path, const char *bpf, const char *prefix,
                                 const char *part)
{
	char err[ERRLEN] = "";
	struct capture *cap = capture_open_file(path, bpf, err, sizeof(err));

	CHECK(cap == NULL);
	capture_close(cap);
	CHECK(strncmp(err, prefix, strlen(prefix)) == 0);
	CHECK(strstr(err, part) != NULL);
	if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, part))
		fprintf(stderr, "  got \"%s\"\n", err);
}

/* Expects path to open, give exactly n good frames, then an error starting with prefix
 * and containing part, which stays. */
static void check_read_error(const char *path, int n, const char *prefix, const char *part)
{
	char err[ERRLEN];
	struct capture *cap = capture_open_file(path, NULL, err, sizeof(err));
	struct capture_pkt pkt;
	enum capture_rc rc;
	const char *msg;

	CHECK(cap != NULL);
	if (!cap) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	CHECK_EQ_INT(read_frames(cap, NFRAMES, &rc), n);
	CHECK_EQ_INT(rc, CAPTURE_ERR);
	msg = capture_error(cap);
	CHECK(strncmp(msg, prefix, strlen(prefix)) == 0);
	CHECK(strstr(msg, part) != NULL);
	CHECK(strchr(msg, '\n') == NULL);
	if (strncmp(msg, prefix, strlen(prefix)) != 0 || !strstr(msg, part))
		fprintf(stderr, "  got \"%s\"\n", msg);
	CHECK_EQ_INT(capture_next(cap, &pkt), CAPTURE_ERR);
	capture_close(cap);
}

/* ---- good files ---- */

static void test_pcap(void)
{
	write_frames(tpath("a.pcap"), PCAPW_PCAP, DLT_EN10MB, NFRAMES);
	check_file_frames(tpath("a.pcap"), DLT_EN10MB, NFRAMES);
}

static void test_pcapng(void)
{
	write_frames(tpath("a.pcapng"), PCAPW_PCAPNG, DLT_LINUX_SLL2, NFRAMES);
	check_file_frames(tpath("a.pcapng"), DLT_LINUX_SLL2, NFRAMES);
}

/* A capture of the header alone holds no packets and is no error. */
static void test_no_packets(void)
{
	write_frames(tpath("none.pcap"), PCAPW_PCAP, DLT_RAW, 0);
	check_file_frames(tpath("none.pcap"), DLT_RAW, 0);
	write_frames(tpath("none.pcapng"), PCAPW_PCAPNG, DLT_NULL, 0);
	check_file_frames(tpath("none.pcapng"), DLT_NULL, 0);
}

static void test_gzip(void)
{
	write_frames(tpath("g.pcap"), PCAPW_PCAP, DLT_EN10MB, NFRAMES);
	gzip_file(tpath("g.pcap"), tpath("g.pcap.gz"));
	check_file_frames(tpath("g.pcap.gz"), DLT_EN10MB, NFRAMES);
	write_frames(tpath("g.pcapng"), PCAPW_PCAPNG, DLT_LOOP, NFRAMES);
	gzip_file(tpath("g.pcapng"), tpath("g.pcapng.gz"));
	check_file_frames(tpath("g.pcapng.gz"), DLT_LOOP, NFRAMES);
	/* The name does not matter, only the magic bytes. */
	gzip_file(tpath("g.pcap"), tpath("g-no-suffix"));
	check_file_frames(tpath("g-no-suffix"), DLT_EN10MB, NFRAMES);
}

/* Two gzip members back to back (cat a.gz b.gz) are one stream, as gzip -d sees them. */
static void test_gzip_members(void)
{
	size_t n, half;
	uint8_t *data;
	gzFile gz;

	write_frames(tpath("m.pcap"), PCAPW_PCAP, DLT_EN10MB, NFRAMES);
	data = file_read(tpath("m.pcap"), &n);
	half = n / 2 + 3;
	gz = gzopen(tpath("m.pcap.gz"), "wb");
	CHECK(gz != NULL);
	CHECK_EQ_INT(gzwrite(gz, data, (unsigned)half), (int)half);
	CHECK_EQ_INT(gzclose(gz), Z_OK);
	gz = gzopen(tpath("m.pcap.gz"), "ab");
	CHECK(gz != NULL);
	CHECK_EQ_INT(gzwrite(gz, data + half, (unsigned)(n - half)), (int)(n - half));
	CHECK_EQ_INT(gzclose(gz), Z_OK);
	free(data);
	check_file_frames(tpath("m.pcap.gz"), DLT_EN10MB, NFRAMES);
}

static uint32_t bswap32(uint32_t v)
{
	return (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* Rewrites a pcap file from pcapw: nanosecond magic and times, optionally in the other
 * byte order. libpcap must hand both back as the same microseconds. */
static void pcap_rewrite(const char *src, const char *dst, bool swap)
{
	size_t n, off = 24;
	uint8_t *d = file_read(src, &n);

	put32(d, 0xa1b23c4du);
	while (off + 16 <= n) {
		uint32_t caplen = get32(d + off + 8);
		put32(d + off + 4, get32(d + off + 4) * 1000 + 999);
		if (swap)
			for (int f = 0; f < 4; f++)
				put32(d + off + 4 * f, bswap32(get32(d + off + 4 * f)));
		off += 16 + caplen;
	}
	if (swap) {
		uint8_t t;
		put32(d, bswap32(get32(d)));
		t = d[4], d[4] = d[5], d[5] = t; /* the two 16-bit version numbers */
		t = d[6], d[6] = d[7], d[7] = t;
		for (int f = 2; f < 6; f++)
			put32(d + 4 * f, bswap32(get32(d + 4 * f)));
	}
	file_write(dst, d, n);
	free(d);
}

static void test_pcap_nanoseconds_and_byte_order(void)
{
	write_frames(tpath("us.pcap"), PCAPW_PCAP, DLT_EN10MB, NFRAMES);
	pcap_rewrite(tpath("us.pcap"), tpath("ns.pcap"), false);
	check_file_frames(tpath("ns.pcap"), DLT_EN10MB, NFRAMES);
	pcap_rewrite(tpath("us.pcap"), tpath("ns-swapped.pcap"), true);
	check_file_frames(tpath("ns-swapped.pcap"), DLT_EN10MB, NFRAMES);
}

/* A pcapng interface with if_tsresol 9 (nanoseconds): times still come back in µs. */
static void test_pcapng_nanoseconds(void)
{
	size_t n, off;
	uint8_t *d;

	write_frames(tpath("us.pcapng"), PCAPW_PCAPNG, DLT_EN10MB, NFRAMES);
	d = file_read(tpath("us.pcapng"), &n);
	/* SHB (28 bytes), then the IDB: if_tsresol's value sits at 28 + 20. */
	CHECK(n > 60 && get32(d + 28) == 1 && d[28 + 16] == 9 && d[28 + 20] == 6);
	d[28 + 20] = 9;
	for (off = 60; off + 28 <= n; off += get32(d + off + 4)) {
		uint64_t ts = (uint64_t)get32(d + off + 12) << 32 | get32(d + off + 16);
		ts = ts * 1000 + 999;
		put32(d + off + 12, (uint32_t)(ts >> 32));
		put32(d + off + 16, (uint32_t)ts);
	}
	file_write(tpath("ns.pcapng"), d, n);
	free(d);
	check_file_frames(tpath("ns.pcapng"), DLT_EN10MB, NFRAMES);
}

/* ---- bad files ---- */

static void test_missing_file(void)
{
	char want[PATH_MAX_T + 64];

	snprintf(want, sizeof(want), "%s: No such file or directory", tpath("missing.pcap"));
	check_open_error(tpath("missing.pcap"), NULL, want);
}

static void test_directory(void)
{
	char want[PATH_MAX_T + 64];

	snprintf(want, sizeof(want), "%s: Is a directory", tmpdir);
	check_open_error(tmpdir, NULL, want);
}

static void test_permission_denied(void)
{
	char want[PATH_MAX_T + 64];

	write_frames(tpath("secret.pcap"), PCAPW_PCAP, DLT_EN10MB, 1);
	CHECK_EQ_INT(chmod(tpath("secret.pcap"), 0), 0);
	snprintf(want, sizeof(want), "%s: Permission denied", tpath("secret.pcap"));
	check_open_error(tpath("secret.pcap"), NULL, want);
}

static void test_empty_file(void)
{
	char want[PATH_MAX_T + 64];

	file_write(tpath("empty.pcap"), "", 0);
	snprintf(want, sizeof(want), "%s: empty file", tpath("empty.pcap"));
	check_open_error(tpath("empty.pcap"), NULL, want);
	/* A gzip file holding nothing is as empty. */
	gzip_bytes(tpath("empty.pcap.gz"), "", 0);
	snprintf(want, sizeof(want), "%s: empty file", tpath("empty.pcap.gz"));
	check_open_error(tpath("empty.pcap.gz"), NULL, want);
}

static void test_not_a_capture(void)
{
	static const char text[] = "220 mx.example.net ESMTP\r\nthis is not a capture file\r\n";
	char want[PATH_MAX_T + 64];

	file_write(tpath("text.txt"), text, sizeof(text) - 1);
	snprintf(want, sizeof(want), "%s: not a pcap or pcapng capture file", tpath("text.txt"));
	check_open_error(tpath("text.txt"), NULL, want);
	gzip_bytes(tpath("text.txt.gz"), text, sizeof(text) - 1);
	snprintf(want, sizeof(want), "%s: not a pcap or pcapng capture file", tpath("text.txt.gz"));
	check_open_error(tpath("text.txt.gz"), NULL, want);
}

static void test_truncated_header(void)
{
	char prefix[PATH_MAX_T + 64];

	write_frames(tpath("full.pcap"), PCAPW_PCAP, DLT_EN10MB, 3);
	file_copy_prefix(tpath("full.pcap"), tpath("hdr10.pcap"), 10);
	snprintf(prefix, sizeof(prefix), "%s: truncated capture file header", tpath("hdr10.pcap"));
	check_open_error_has(tpath("hdr10.pcap"), NULL, prefix, "(libpcap: truncated dump file");
	write_frames(tpath("full.pcapng"), PCAPW_PCAPNG, DLT_EN10MB, 3);
	file_copy_prefix(tpath("full.pcapng"), tpath("hdr20.pcapng"), 20);
	snprintf(prefix, sizeof(prefix), "%s: truncated capture file header",
	         tpath("hdr20.pcapng"));
	check_open_error_has(tpath("hdr20.pcapng"), NULL, prefix, "(libpcap: truncated pcapng");
	/* Fewer bytes than a magic number. */
	file_write(tpath("two.bin"), "\xd4\xc3", 2);
	snprintf(prefix, sizeof(prefix), "%s: truncated capture file header", tpath("two.bin"));
	check_open_error_has(tpath("two.bin"), NULL, prefix, "only got 2");
}

static void test_truncated_record(void)
{
	char prefix[PATH_MAX_T + 64];
	const char *part = "(libpcap: truncated";

	write_frames(tpath("cut.pcap"), PCAPW_PCAP, DLT_EN10MB, NFRAMES);
	file_copy_prefix(tpath("cut.pcap"), tpath("cut1.pcap"),
	                 file_size(tpath("cut.pcap")) - frame_len(NFRAMES - 1) / 2);
	snprintf(prefix, sizeof(prefix), "%s: truncated capture file: the last record is cut short",
	         tpath("cut1.pcap"));
	check_read_error(tpath("cut1.pcap"), NFRAMES - 1, prefix, part);
	/* Cut inside a record header. */
	file_copy_prefix(tpath("cut.pcap"), tpath("cut2.pcap"),
	                 file_size(tpath("cut.pcap")) - frame_len(NFRAMES - 1) - 6);
	snprintf(prefix, sizeof(prefix), "%s: truncated capture file", tpath("cut2.pcap"));
	check_read_error(tpath("cut2.pcap"), NFRAMES - 1, prefix, part);
	/* pcapng, and pcap inside gzip. */
	write_frames(tpath("cut.pcapng"), PCAPW_PCAPNG, DLT_EN10MB, NFRAMES);
	file_copy_prefix(tpath("cut.pcapng"), tpath("cut3.pcapng"),
	                 file_size(tpath("cut.pcapng")) - 10);
	snprintf(prefix, sizeof(prefix), "%s: truncated capture file", tpath("cut3.pcapng"));
	check_read_error(tpath("cut3.pcapng"), NFRAMES - 1, prefix, "(libpcap: truncated pcapng");
	gzip_file(tpath("cut1.pcap"), tpath("cut4.pcap.gz"));
	snprintf(prefix, sizeof(prefix), "%s: truncated capture file", tpath("cut4.pcap.gz"));
	check_read_error(tpath("cut4.pcap.gz"), NFRAMES - 1, prefix, part);
}

/* Reads path through capture_next and through libpcap alone: the same records (lengths, time,
 * bytes) and the same end. */
static void check_same_as_libpcap(const char *path)
{
	char err[ERRLEN], perr[PCAP_ERRBUF_SIZE];
	struct capture *cap = capture_open_file(path, NULL, err, sizeof(err));
	pcap_t *p =
	    pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, perr);
	CHECK(cap != NULL && p != NULL);
	int records = 0, prc;
	enum capture_rc rc;
	do {
		struct capture_pkt pkt;
		struct pcap_pkthdr *h;
		const u_char *d;
		rc = cap && p ? capture_next(cap, &pkt) : CAPTURE_ERR;
		prc = p ? pcap_next_ex(p, &h, &d) : -1;
		CHECK_EQ_INT(rc == CAPTURE_PKT, prc == 1);
		if (rc != CAPTURE_PKT || prc != 1)
			break;
		records++;
		CHECK(pkt.caplen == h->caplen && pkt.wirelen == h->len);
		CHECK(pkt.ts_us == (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec);
		CHECK(memcmp(pkt.data, d, h->caplen) == 0);
	} while (records <= NFRAMES);
	CHECK_EQ_INT(rc == CAPTURE_EOF, prc == PCAP_ERROR_BREAK);
	CHECK(records > 0);
	capture_close(cap);
	if (p)
		pcap_close(p);
}

/* A plain pcap file is read in place; a record it does not take (longer than the header's snap
 * length, cut short) and everything after it are read by libpcap, as if it had read it all. */
static void test_in_place_as_libpcap(void)
{
	static const uint32_t snaps[] = {0, 100, 700, 1399, 65535, 262144, 300000};
	write_frames(tpath("m.pcap"), PCAPW_PCAP, DLT_EN10MB, NFRAMES);
	check_same_as_libpcap(tpath("m.pcap"));
	size_t n;
	uint8_t *d = file_read(tpath("m.pcap"), &n);
	for (size_t i = 0; d && i < sizeof(snaps) / sizeof(snaps[0]); i++) {
		memcpy(d + 16, &snaps[i], 4); /* the header's snap length, in the host's order */
		file_write(tpath("m2.pcap"), d, n);
		check_same_as_libpcap(tpath("m2.pcap"));
	}
	free(d);
	write_frames(tpath("m3.pcap"), PCAPW_PCAP, DLT_RAW, NFRAMES);
	check_same_as_libpcap(tpath("m3.pcap"));
}

/* A gzip stream cut short is an error, not a quiet end, even when it ends between records;
 * a damaged one names zlib's complaint. */
/* A plain pcap file read in place and cut shorter by another program meanwhile (SIGBUS on
 * the lost pages): an error naming the cut, never a crash; the record being read when the
 * fault came may come first, as zeros from the pages that replaced the lost ones. */
static void test_in_place_cut_while_read(void)
{
	const char *path = tpath("cut-while-read.pcap");
	char err[ERRLEN];
	struct capture_pkt pkt;
	enum capture_rc rc = CAPTURE_PKT;
	int n = 0;

	write_frames(path, PCAPW_PCAP, DLT_EN10MB, 3000);
	struct capture *cap = capture_open_file(path, NULL, err, sizeof(err));
	CHECK(cap != NULL);
	if (!cap)
		return;
	for (int i = 0; i < 40; i++) /* past the second page: the cut's page is behind */
		CHECK_EQ_INT(capture_next(cap, &pkt), CAPTURE_PKT);
	CHECK_EQ_INT(truncate(path, 1000), 0);
	while (n < 3000 && (rc = capture_next(cap, &pkt)) == CAPTURE_PKT)
		n++;
	CHECK(n <= 1);
	if (n > 1)
		fprintf(stderr, "  %d packets after the cut, rc %d\n", n, (int)rc);
	CHECK_EQ_INT(rc, CAPTURE_ERR);
	CHECK(strstr(capture_error(cap), "cut shorter while it was read") != NULL);
	capture_close(cap);
}

static void test_gzip_damaged(void)
{
	char prefix[PATH_MAX_T + 64];
	size_t n;
	uint8_t *d;

	write_frames(tpath("z.pcap"), PCAPW_PCAP, DLT_EN10MB, NFRAMES);
	gzip_file(tpath("z.pcap"), tpath("z.pcap.gz"));
	/* The last 8 bytes are the CRC and length: the data is all there, the end is not. */
	file_copy_prefix(tpath("z.pcap.gz"), tpath("z1.pcap.gz"),
	                 file_size(tpath("z.pcap.gz")) - 8);
	snprintf(prefix, sizeof(prefix), "%s: gzip data corrupt or cut short", tpath("z1.pcap.gz"));
	check_read_error(tpath("z1.pcap.gz"), NFRAMES, prefix, "(zlib: unexpected end of file)");
	d = file_read(tpath("z.pcap.gz"), &n);
	d[n - 8] ^= 0xff; /* a wrong CRC */
	file_write(tpath("z2.pcap.gz"), d, n);
	free(d);
	/* zlib's gzread() drops what it inflated in the call that found the bad CRC: in a
	 * file this small, everything, so the open fails. */
	snprintf(prefix, sizeof(prefix), "%s: bad gzip data (zlib: incorrect data check)",
	         tpath("z2.pcap.gz"));
	check_open_error(tpath("z2.pcap.gz"), NULL, prefix);
	/* The magic and nothing else. */
	file_write(tpath("z3.gz"), "\x1f\x8b", 2);
	snprintf(prefix, sizeof(prefix), "%s: bad gzip data (zlib: ", tpath("z3.gz"));
	check_open_error_has(tpath("z3.gz"), NULL, prefix, "unexpected end of file");
}

static void test_unsupported_link_type(void)
{
	char want[PATH_MAX_T + 64];

	write_frames(tpath("user0.pcap"), PCAPW_PCAP, 147, 2);
	snprintf(want, sizeof(want), "%s: unsupported link type 147 (USER0)", tpath("user0.pcap"));
	check_open_error(tpath("user0.pcap"), NULL, want);
	write_frames(tpath("atm.pcapng"), PCAPW_PCAPNG, 123, 2);
	snprintf(want, sizeof(want), "%s: unsupported link type 123 (SUNATM)", tpath("atm.pcapng"));
	check_open_error(tpath("atm.pcapng"), NULL, want);
}

/* ---- filters ---- */

/* Writes n segments alternating between ports 25 and 587 over link. */
static void write_two_ports(const char *path, const struct pcapw_link *link, int n)
{
	struct pcapw *w = pcapw_open(path, link->dlt, PCAPW_PCAP, 0);
	struct pcapw_tcp seg = {.sport = 40000, .flags = TCP_FLAG_ACK, .window = 512};

	CHECK(w != NULL);
	if (!w)
		return;
	pcapw_addr("192.0.2.10", &seg.src);
	pcapw_addr("198.51.100.5", &seg.dst);
	for (int i = 0; i < n; i++) {
		seg.dport = i % 2 ? 587 : 25;
		CHECK_EQ_INT(pcapw_write_tcp(w, link, ts_base + (uint64_t)i, &seg), 0);
	}
	CHECK_EQ_INT(pcapw_close(w), 0);
}

static int count_filtered(const char *path, const char *bpf)
{
	char err[ERRLEN];
	struct capture *cap = capture_open_file(path, bpf, err, sizeof(err));
	struct capture_pkt pkt;
	int n = 0;

	CHECK(cap != NULL);
	if (!cap) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	while (capture_next(cap, &pkt) == CAPTURE_PKT)
		n++;
	capture_close(cap);
	return n;
}

static void test_filter(void)
{
	struct pcapw_link sll2 = {.dlt = DLT_LINUX_SLL2}, vlan = {.dlt = DLT_EN10MB, .vlan = {7}};

	write_two_ports(tpath("ports.pcap"), &sll2, 10);
	CHECK_EQ_INT(count_filtered(tpath("ports.pcap"), NULL), 10);
	CHECK_EQ_INT(count_filtered(tpath("ports.pcap"), ""), 10);
	CHECK_EQ_INT(count_filtered(tpath("ports.pcap"), "tcp port 25"), 5);
	CHECK_EQ_INT(count_filtered(tpath("ports.pcap"), "tcp port 587 or tcp port 25"), 10);
	CHECK_EQ_INT(count_filtered(tpath("ports.pcap"), "ip6"), 0);
	/* libpcap, like tcpdump, needs "vlan" to look past a tag. */
	write_two_ports(tpath("vports.pcap"), &vlan, 10);
	CHECK_EQ_INT(count_filtered(tpath("vports.pcap"), "tcp port 25"), 0);
	CHECK_EQ_INT(count_filtered(tpath("vports.pcap"), "vlan and tcp port 25"), 5);
}

static void test_bad_filter(void)
{
	char prefix[PATH_MAX_T + 64], err[ERRLEN];
	struct capture *cap;

	write_frames(tpath("f.pcap"), PCAPW_PCAP, DLT_EN10MB, 2);
	cap = capture_open_file(tpath("f.pcap"), "tcp port", err, sizeof(err));
	CHECK(cap == NULL);
	snprintf(prefix, sizeof(prefix), "%s: bad filter expression: ", tpath("f.pcap"));
	CHECK(strncmp(err, prefix, strlen(prefix)) == 0);
	CHECK(strlen(err) > strlen(prefix) + 5); /* libpcap's own words follow */
	CHECK(strchr(err, '\n') == NULL);
	/* A filter that needs what the link type lacks fails at compile time too. */
	check_open_error_has(tpath("f.pcap"), "wlan type mgt", prefix, "802.11");
}

/* ---- stdin ---- */

/* Forks a child with fd as its stdin that reads "-" and expects frames 0..n-1 (or, when
 * want_err is set, that error from the open); other_fd (-1: none) is closed in the child,
 * which must not hold a pipe's write end. Returns the child's pid. */
static pid_t stdin_child(int fd, int other_fd, int n, const char *want_err)
{
	pid_t pid = fork();

	if (pid == 0) {
		char err[ERRLEN];
		struct capture *cap;
		enum capture_rc rc;

		tap_failed_checks = 0; /* the child reports only its own checks */
		if (other_fd >= 0)
			close(other_fd);
		dup2(fd, STDIN_FILENO);
		close(fd);
		cap = capture_open_file("-", NULL, err, sizeof(err));
		if (want_err) {
			CHECK(cap == NULL);
			CHECK_EQ_STR(err, want_err);
		} else if (!cap) {
			fprintf(stderr, "%s\n", err);
			_exit(3);
		} else {
			CHECK_EQ_STR(capture_name(cap), "-");
			CHECK_EQ_INT(read_frames(cap, n, &rc), n);
			CHECK_EQ_INT(rc, CAPTURE_EOF);
		}
		capture_close(cap);
		_exit(tap_failed_checks ? 1 : 0);
	}
	CHECK(pid > 0);
	return pid;
}

static int child_wait(pid_t pid)
{
	int status = -1;

	CHECK_EQ_INT(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status));
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_stdin_file(void)
{
	int fd;

	write_frames(tpath("in.pcap"), PCAPW_PCAP, DLT_EN10MB, NFRAMES);
	fd = open(tpath("in.pcap"), O_RDONLY);
	CHECK(fd >= 0);
	CHECK_EQ_INT(child_wait(stdin_child(fd, -1, NFRAMES, NULL)), 0);
	close(fd);
}

/* Through a pipe, which cannot seek, with more data than a pipe holds. */
static void check_stdin_pipe(const char *path, int n, const char *want_err)
{
	size_t len, off = 0;
	uint8_t *data = file_read(path, &len);
	int p[2];
	pid_t pid;

	CHECK_EQ_INT(pipe(p), 0);
	pid = stdin_child(p[0], p[1], n, want_err);
	close(p[0]);
	while (off < len) {
		ssize_t w = write(p[1], data + off, len - off);
		if (w <= 0)
			break; /* the child stopped reading: its status tells why */
		off += (size_t)w;
	}
	close(p[1]);
	CHECK_EQ_INT(child_wait(pid), 0);
	free(data);
}

static void test_stdin_pipe(void)
{
	enum { MANY = 2000 };

	write_frames(tpath("many.pcapng"), PCAPW_PCAPNG, DLT_EN10MB, MANY);
	CHECK(file_size(tpath("many.pcapng")) > 256 * 1024);
	check_stdin_pipe(tpath("many.pcapng"), MANY, NULL);
	gzip_file(tpath("many.pcapng"), tpath("many.pcapng.gz"));
	check_stdin_pipe(tpath("many.pcapng.gz"), MANY, NULL);
}

static void test_stdin_errors(void)
{
	file_write(tpath("empty2"), "", 0);
	check_stdin_pipe(tpath("empty2"), 0, "stdin: empty file");
	file_write(tpath("text2"), "hello, world\n", 13);
	check_stdin_pipe(tpath("text2"), 0, "stdin: not a pcap or pcapng capture file");
}

/* ---- capture and decode together ---- */

static void test_session_decodes(void)
{
	static const char text[] = "EHLO client.example\r\nMAIL FROM:<a@example.org>\r\n";
	struct pcapw_link link = {.dlt = DLT_EN10MB, .vlan = {10, 20}};
	struct pcapw *w = pcapw_open(tpath("s.pcapng"), DLT_EN10MB, PCAPW_PCAPNG, 0);
	struct pcapw_conn c;
	char err[ERRLEN], got[256] = "";
	struct capture *cap;
	struct capture_pkt pkt;
	struct tcp_seg seg;
	size_t got_len = 0;
	int npkts = 0;

	pcapw_conn_init(&c, w, &link, "2001:db8::10", 40000, "2001:db8::5", 25, 0xfffffff0u, 7);
	c.mss = 10;
	CHECK_EQ_INT(pcapw_conn_handshake(&c), 0);
	CHECK_EQ_INT(pcapw_conn_send(&c, true, text, sizeof(text) - 1), 0);
	CHECK_EQ_INT(pcapw_conn_fin(&c, true), 0);
	CHECK_EQ_INT(pcapw_close(w), 0);
	gzip_file(tpath("s.pcapng"), tpath("s.pcapng.gz"));
	cap = capture_open_file(tpath("s.pcapng.gz"), "vlan and vlan and tcp", err, sizeof(err));
	CHECK(cap != NULL);
	if (!cap)
		return;
	while (capture_next(cap, &pkt) == CAPTURE_PKT) {
		CHECK_EQ_INT(decode_packet(capture_datalink(cap), pkt.data, pkt.caplen, &seg),
		             DECODE_OK);
		CHECK_EQ_INT(pkt.ts_us, 1795874831000000ull + 1000 * (uint64_t)npkts);
		if (seg.payload_len && got_len + seg.payload_len < sizeof(got)) {
			memcpy(got + got_len, seg.payload, seg.payload_len);
			got_len += seg.payload_len;
		}
		npkts++;
	}
	CHECK_EQ_INT(npkts, 3 + 5 + 1); /* handshake, 47 bytes in 10-byte segments, FIN */
	CHECK_EQ_STR(got, text);
	capture_close(cap);
}

static void test_small_err_buffer(void)
{
	char err[8];

	CHECK(capture_open_file(tpath("missing.pcap"), NULL, err, sizeof(err)) == NULL);
	CHECK_EQ_INT(strlen(err), sizeof(err) - 1);
	CHECK(strncmp(err, tmpdir, sizeof(err) - 1) == 0);
	CHECK(capture_open_file(tpath("missing.pcap"), NULL, NULL, 0) == NULL);
	capture_close(NULL);
}

static void cleanup(void)
{
	char cmd[PATH_MAX_T + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN_TEST(test_pcap);
	RUN_TEST(test_pcapng);
	RUN_TEST(test_no_packets);
	RUN_TEST(test_gzip);
	RUN_TEST(test_gzip_members);
	RUN_TEST(test_pcap_nanoseconds_and_byte_order);
	RUN_TEST(test_pcapng_nanoseconds);
	RUN_TEST(test_missing_file);
	RUN_TEST(test_directory);
	/* root reads a mode-000 file anyway: the check would prove nothing, so it is skipped */
	if (geteuid() != 0)
		RUN_TEST(test_permission_denied);
	else
		printf("skip test_permission_denied (running as root)\n");
	RUN_TEST(test_empty_file);
	RUN_TEST(test_not_a_capture);
	RUN_TEST(test_truncated_header);
	RUN_TEST(test_truncated_record);
	RUN_TEST(test_gzip_damaged);
	RUN_TEST(test_unsupported_link_type);
	RUN_TEST(test_filter);
	RUN_TEST(test_bad_filter);
	RUN_TEST(test_stdin_file);
	RUN_TEST(test_stdin_pipe);
	RUN_TEST(test_stdin_errors);
	RUN_TEST(test_session_decodes);
	RUN_TEST(test_small_err_buffer);
	RUN_TEST(test_in_place_as_libpcap);
	RUN_TEST(test_in_place_cut_while_read);
	cleanup();
	TAP_EXIT();
}
