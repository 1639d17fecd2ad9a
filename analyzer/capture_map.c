/* capture_map: plain pcap files (draft-ietf-opsawg-pcap) read in place from a memory mapping,
 * without libpcap's copy of every record through stdio; any record out of the ordinary is
 * handed back to libpcap, which reads the rest of the file as it always would. */
#include <pcap/dlt.h>
#include <signal.h>
#include <stdatomic.h>
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
	size_t keep;               /* no page from here on is given back (capture_map_keep) */
	uint32_t snaplen;
	size_t rest;   /* the fallback stream's read position in the file (after the header) */
	size_t mapped; /* the mapping's length: size as the file was opened */
	/* a read past the file's new end was caught (on_sigbus): atomic, as the fault may be the
	 * analysis thread's while the reader thread reads records (read_ahead.c) */
	atomic_int shrank;
	struct sigaction old_bus;
};

/* The mapping being read: files are read one at a time. */
static struct capture_map *volatile map_reading;

/* A file cut shorter while it is read (another program truncating it) makes a read of its
 * lost pages a SIGBUS. Such a read, here or in a later stage holding a packet in place, finds
 * zeros instead: the rest of the mapping is replaced by zero pages, and the next record asked
 * for reports the cut (capture_map_next's -2). A fault outside the mapping is not ours. */
static void on_sigbus(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	struct capture_map *m = map_reading;
	uintptr_t at = (uintptr_t)si->si_addr, base = m ? (uintptr_t)m->base : 0;
	if (!m || at < base || at >= base + m->mapped) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	uintptr_t from = at / 4096 * 4096;
	if (mmap((void *)from, base + m->mapped - from, PROT_READ,
	         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	atomic_store(&m->shrank, 1);
}

static void catch_sigbus(struct capture_map *m)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	map_reading = m;
	sigaction(SIGBUS, &sa, &m->old_bus);
}

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
	m->size = m->mapped = (size_t)st.st_size;
	m->off = MAP_FILE_HDR;
	m->keep = SIZE_MAX;
	m->snaplen = rd32(hdr + 16);
	catch_sigbus(m);
	return m;
}

/* Gives back the pages of records already read, a window at a time, but none from m->keep on
 * (records read ahead and not yet analysed would be faulted in again). */
static void drop_behind(struct capture_map *m)
{
	size_t page = 4096, upto = (m->off < m->keep ? m->off : m->keep) / page * page;
	if (upto < m->dropped || upto - m->dropped < MAP_DROP_WINDOW)
		return;
	(void)madvise((void *)(uintptr_t)(m->base + m->dropped), upto - m->dropped, MADV_DONTNEED);
	m->dropped = upto;
}

void capture_map_keep(struct capture_map *m, size_t from)
{
	m->keep = from;
}

int capture_map_next(struct capture_map *m, struct capture_pkt *out)
{
	if (atomic_load_explicit(&m->shrank, memory_order_relaxed))
		return -2;
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
	if (map_reading == m) {
		sigaction(SIGBUS, &m->old_bus, NULL);
		map_reading = NULL;
	}
	munmap((void *)(uintptr_t)m->base, m->mapped);
	free(m);
}
