/* capture_map: plain pcap files (draft-ietf-opsawg-pcap) read in place from a memory mapping,
 * without libpcap's copy of every record through stdio; any record out of the ordinary is
 * handed back to libpcap, which reads the rest of the file as it always would. */
#include <pcap/dlt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "capture_int.h"

enum {
	MAP_FILE_HDR = 24,            /* magic, version, reserved, snaplen, link type */
	MAP_REC_HDR = 16,             /* seconds, microseconds, captured length, wire length */
	MAP_MAX_CAPLEN = 65535,       /* below every link type's maximum in libpcap */
	MAP_DROP_WINDOW = 2 << 20,    /* pages read are unmapped this often: RSS stays flat */
	MAP_MAGIC_USEC = 0xa1b2c3d4u, /* in the host's order: neither swapped nor nanoseconds */
};

struct capture_map {
	const uint8_t *base;
	size_t size, off, dropped; /* off: the next record; dropped: pages before it given back */
	uint32_t snaplen;
	size_t rest; /* the fallback stream's read position in the file (after the header) */
};

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

/* Link types libpcap hands over untouched (no pseudo-header fix-up after reading). */
static bool dlt_in_place(int dlt)
{
	return dlt == DLT_EN10MB || dlt == DLT_RAW || dlt == DLT_IPV4 || dlt == DLT_IPV6;
}

struct capture_map *capture_map_open(int fd, int dlt)
{
	struct stat st;
	if (!dlt_in_place(dlt) || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size < MAP_FILE_HDR)
		return NULL;
	uint8_t hdr[MAP_FILE_HDR];
	if (pread(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) || rd32(hdr) != MAP_MAGIC_USEC ||
	    hdr[4] != 2 || hdr[5] != 0 || hdr[6] != 4 || hdr[7] != 0)
		return NULL;
	struct capture_map *m = calloc(1, sizeof(*m));
	void *p = m ? mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
	if (p == MAP_FAILED) {
		free(m);
		return NULL;
	}
	(void)madvise(p, (size_t)st.st_size, MADV_SEQUENTIAL);
	m->base = p;
	m->size = (size_t)st.st_size;
	m->off = MAP_FILE_HDR;
	m->snaplen = rd32(hdr + 16);
	return m;
}

/* Gives back the pages of records already read, a window at a time. */
static void drop_behind(struct capture_map *m)
{
	size_t page = 4096, upto = m->off / page * page;
	if (upto - m->dropped < MAP_DROP_WINDOW)
		return;
	(void)madvise((void *)(uintptr_t)(m->base + m->dropped), upto - m->dropped, MADV_DONTNEED);
	m->dropped = upto;
}

int capture_map_next(struct capture_map *m, struct capture_pkt *out)
{
	drop_behind(m);
	size_t left = m->size - m->off;
	if (left == 0)
		return 0;
	if (left < MAP_REC_HDR)
		return -1;
	const uint8_t *h = m->base + m->off;
	uint32_t caplen = rd32(h + 8);
	if (caplen > m->snaplen || caplen > MAP_MAX_CAPLEN || caplen > left - MAP_REC_HDR)
		return -1;
	out->data = h + MAP_REC_HDR;
	out->caplen = caplen;
	out->wirelen = rd32(h + 12);
	out->ts_us = (uint64_t)rd32(h) * 1000000u + (uint64_t)rd32(h + 4);
	m->off += MAP_REC_HDR + caplen;
	return 1;
}

/* The fallback stream: the file header, then the file from the record libpcap is to read. */
static ssize_t rest_read(void *cookie, char *buf, size_t size)
{
	struct capture_map *m = cookie;
	size_t pos = m->rest, n;
	const uint8_t *src;
	if (pos < MAP_FILE_HDR) {
		src = m->base + pos;
		n = MAP_FILE_HDR - pos;
	} else {
		size_t at = m->off + (pos - MAP_FILE_HDR);
		src = m->base + at;
		n = at < m->size ? m->size - at : 0;
	}
	n = n < size ? n : size;
	memcpy(buf, src, n);
	m->rest += n;
	return (ssize_t)n;
}

FILE *capture_map_rest(struct capture_map *m)
{
	static const cookie_io_functions_t io = {.read = rest_read};
	m->rest = 0;
	return fopencookie(m, "rb", io);
}

void capture_map_progress(const struct capture_map *m, uint64_t *done, uint64_t *total)
{
	*done = m->off;
	*total = m->size;
}

void capture_map_free(struct capture_map *m)
{
	if (!m)
		return;
	munmap((void *)(uintptr_t)m->base, m->size);
	free(m);
}
