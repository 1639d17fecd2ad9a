/* read_ahead: the reader thread. It reads records of a capture read in place, decodes them and
 * checks their TCP checksums (RFC 9293, RFC 1071), the first touch of every packet's bytes, and
 * hands them to the analysis thread in batches through a ring of fixed size: the analysis
 * thread waits while the ring is empty, the reader while it is full. The packets stay in the
 * file's mapping, so a batch holds views into it, never copies. */
#include "read_ahead.h"

#include <pthread.h>
#include <stdlib.h>

#include "thread.h"

enum {
	RA_BATCH = 256, /* packets a batch: one hand-over, one lock, per that many */
	/* and bytes of the file a batch: the pages of the batches in the ring are kept (not given
	 * back, capture_map.c), at most RA_SLOTS * (RA_BATCH_BYTES + a record) of them */
	RA_BATCH_BYTES = 256 * 1024,
	RA_SLOTS = 8,           /* batches in the ring */
	RA_WAKE = RA_SLOTS / 2, /* a full reader is woken only with this many batches free */
	RA_REC_HDR = 16,        /* a pcap record's header */
};

struct ra_batch {
	struct read_ahead_pkt pkt[RA_BATCH];
	unsigned n;
	uint64_t start, done; /* capture_progress() before the first packet and after the last */
};

struct read_ahead {
	struct capture *cap; /* read by the reader only, while it runs */
	int dlt;
	bool checksum;
	uint64_t done, total; /* the progress line's: the analysis thread's own */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t filled; /* the analysis thread waits on it: a batch, or the end */
	pthread_cond_t freed;  /* the reader waits on it: room, or the stop */
	unsigned head;         /* the oldest batch not given back: the one being analysed */
	unsigned count;        /* batches filled and not given back (the one being analysed too) */
	unsigned pos; /* the analysis thread's next packet in batch head, while it holds it */
	bool holding; /* the analysis thread holds batch head */
	bool ended;   /* the reader read its last batch; end says why */
	bool stop;    /* the analysis thread wants no more */
	bool reader_waiting, analysis_waiting;
	enum capture_rc end;
	struct ra_batch slot[RA_SLOTS];
};

static uint64_t capture_offset(struct capture *cap)
{
	uint64_t done = 0, total;
	(void)capture_progress(cap, &done, &total);
	return done;
}

/* Reads and decodes up to a batch of packets. Returns how the last read ended: CAPTURE_PKT
 * when the batch is full and there may be more. */
static enum capture_rc fill_batch(struct read_ahead *ra, struct ra_batch *b)
{
	struct capture_pkt pkt;
	enum capture_rc rc = CAPTURE_PKT;
	uint64_t bytes = 0;
	b->n = 0;
	b->start = capture_offset(ra->cap);
	while (b->n < RA_BATCH && bytes < RA_BATCH_BYTES &&
	       (rc = capture_next_in_place(ra->cap, &pkt)) == CAPTURE_PKT) {
		struct read_ahead_pkt *p = &b->pkt[b->n++];
		bytes += RA_REC_HDR + pkt.caplen;
		p->st = decode_packet_csum(ra->dlt, pkt.data, pkt.caplen, pkt.wirelen, ra->checksum,
		                           &p->seg);
		p->seg.ts_us = pkt.ts_us;
		p->wirelen = pkt.wirelen;
	}
	b->done = capture_offset(ra->cap);
	return rc;
}

/* Waits for a free slot; false when the analysis thread said stop. Under the lock. */
static bool wait_room(struct read_ahead *ra)
{
	while (ra->count == RA_SLOTS && !ra->stop) {
		ra->reader_waiting = true;
		pthread_cond_wait(&ra->freed, &ra->mu);
		ra->reader_waiting = false;
	}
	return !ra->stop;
}

static void *reader_main(void *arg)
{
	struct read_ahead *ra = arg;
	enum capture_rc rc = CAPTURE_PKT;
	pthread_mutex_lock(&ra->mu);
	while (rc == CAPTURE_PKT && wait_room(ra)) {
		struct ra_batch *b = &ra->slot[(ra->head + ra->count) % RA_SLOTS];
		/* the batches in the ring are still to be analysed: their pages stay */
		uint64_t keep = ra->count ? ra->slot[ra->head].start : UINT64_MAX;
		pthread_mutex_unlock(&ra->mu);
		capture_keep_from(ra->cap, keep);
		rc = fill_batch(ra, b);
		pthread_mutex_lock(&ra->mu);
		ra->count++;
		ra->ended = rc != CAPTURE_PKT;
		ra->end = rc;
		if (ra->analysis_waiting)
			pthread_cond_signal(&ra->filled);
	}
	pthread_mutex_unlock(&ra->mu);
	capture_keep_from(ra->cap, UINT64_MAX);
	return NULL;
}

struct read_ahead *read_ahead_start(struct capture *cap, int dlt, bool checksum)
{
	struct read_ahead *ra = capture_in_place(cap) ? calloc(1, sizeof(*ra)) : NULL;
	if (!ra || !capture_progress(cap, &ra->done, &ra->total)) {
		free(ra);
		return NULL;
	}
	ra->cap = cap;
	ra->dlt = dlt;
	ra->checksum = checksum;
	if (pthread_mutex_init(&ra->mu, NULL) != 0) {
		free(ra);
		return NULL;
	}
	pthread_cond_init(&ra->filled, NULL);
	pthread_cond_init(&ra->freed, NULL);
	if (!thread_start_quiet(&ra->thread, reader_main, ra)) {
		pthread_cond_destroy(&ra->filled);
		pthread_cond_destroy(&ra->freed);
		pthread_mutex_destroy(&ra->mu);
		free(ra);
		return NULL;
	}
	return ra;
}

/* Gives the batch being analysed back and takes the next one, waiting for it. Returns false at
 * the reader's end. Under the lock. */
static bool next_batch(struct read_ahead *ra)
{
	if (ra->holding) {
		ra->head = (ra->head + 1) % RA_SLOTS;
		ra->count--;
		ra->holding = false;
		if (ra->reader_waiting && RA_SLOTS - ra->count >= RA_WAKE)
			pthread_cond_signal(&ra->freed);
	}
	while (ra->count == 0 && !ra->ended) {
		ra->analysis_waiting = true;
		pthread_cond_wait(&ra->filled, &ra->mu);
		ra->analysis_waiting = false;
	}
	if (ra->count == 0)
		return false;
	ra->holding = true;
	ra->pos = 0;
	ra->done = ra->slot[ra->head].done;
	return true;
}

enum capture_rc read_ahead_next(struct read_ahead *ra, struct read_ahead_pkt **out)
{
	while (!ra->holding || ra->pos == ra->slot[ra->head].n) {
		pthread_mutex_lock(&ra->mu);
		bool more = next_batch(ra);
		enum capture_rc end = ra->end;
		pthread_mutex_unlock(&ra->mu);
		if (!more)
			return end;
	}
	*out = &ra->slot[ra->head].pkt[ra->pos++];
	return CAPTURE_PKT;
}

bool read_ahead_progress(const struct read_ahead *ra, uint64_t *done, uint64_t *total)
{
	*done = ra->done;
	*total = ra->total;
	return true;
}

void read_ahead_stop(struct read_ahead *ra)
{
	if (!ra)
		return;
	pthread_mutex_lock(&ra->mu);
	ra->stop = true;
	pthread_cond_signal(&ra->freed);
	pthread_mutex_unlock(&ra->mu);
	pthread_join(ra->thread, NULL);
	pthread_cond_destroy(&ra->filled);
	pthread_cond_destroy(&ra->freed);
	pthread_mutex_destroy(&ra->mu);
	free(ra);
}
