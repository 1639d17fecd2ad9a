/* reasm: per-direction TCP reassembly (RFC 9293 section 3.4 sequence numbers, compared
 * modulo 2^32): in order without a copy, out of order held within caps, first copy wins. */
#include "reasm.h"

#include <stdlib.h>
#include <string.h>

#include "decode.h"

/* Signed distance from b to a in sequence space: valid while |a - b| < 2^31. */
#define SEQ_DIFF(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)))

struct reasm_held {
	struct reasm_held *next;
	uint32_t seq;
	uint32_t len;
	uint32_t ack;
	bool ack_valid;
	uint64_t ts_us;
	uint8_t data[];
};

void reasm_init(struct reasm *r, const struct reasm_sink *sink, const struct reasm_limits *lim,
		struct reasm_stats *stats)
{
	memset(r, 0, sizeof(*r));
	r->sink = sink;
	r->lim = lim;
	r->stats = stats;
}

static void half_start(struct reasm_half *h, uint32_t first_seq)
{
	h->started = true;
	h->base = first_seq;
	h->next = first_seq;
	h->delivered = 0;
}

/* Bytes of the other direction acknowledged by an ACK number, as a stream offset. */
static uint64_t acked_offset(const struct reasm *r, int dir, bool ack_valid, uint32_t ack)
{
	const struct reasm_half *other = &r->half[1 - dir];
	if (!ack_valid || !other->started)
		return UINT64_MAX;
	int64_t off = (int64_t)other->delivered + SEQ_DIFF(ack, other->next);
	return off < 0 ? 0 : (uint64_t)off;
}

uint64_t reasm_peer_acked(const struct reasm *r, int dir)
{
	return acked_offset(r, dir, r->half[dir].ack_valid, r->half[dir].last_ack);
}

static void deliver(struct reasm *r, int dir, const uint8_t *p, uint32_t len, uint64_t peer_acked,
		    uint64_t ts_us)
{
	struct reasm_half *h = &r->half[dir];
	h->next += len;
	h->delivered += len;
	r->sink->data(r->sink->ctx, dir, p, len, peer_acked, ts_us);
}

static void held_free(struct reasm *r, struct reasm_half *h, struct reasm_held *s)
{
	h->held_bytes -= s->len;
	r->stats->held_bytes -= s->len;
	free(s);
}

static void note_mismatch(struct reasm *r, int dir, const uint8_t *a, const uint8_t *b, size_t n)
{
	r->stats->overlaps++;
	if (memcmp(a, b, n) != 0) {
		r->stats->overlap_mismatches++;
		if (r->sink->overlap_mismatch)
			r->sink->overlap_mismatch(r->sink->ctx, dir);
	}
}

/* Delivers held segments that now start at or before next; first copy wins over later. */
static void drain_held(struct reasm *r, int dir)
{
	struct reasm_half *h = &r->half[dir];
	while (h->held && SEQ_DIFF(h->held->seq, h->next) <= 0) {
		struct reasm_held *s = h->held;
		h->held = s->next;
		int32_t skip = SEQ_DIFF(h->next, s->seq);
		if ((uint32_t)skip < s->len)
			deliver(r, dir, s->data + skip, s->len - (uint32_t)skip,
				acked_offset(r, dir, s->ack_valid, s->ack), s->ts_us);
		held_free(r, h, s);
	}
}

/* Delivers the part of segment [seq, seq+len) at and after next, letting a held copy of
 * any part of it win (first copy wins), then whatever held bytes follow contiguously. */
static void deliver_range(struct reasm *r, int dir, uint32_t seq, const uint8_t *p, uint32_t len,
			  uint64_t peer_acked, uint64_t ts_us)
{
	struct reasm_half *h = &r->half[dir];
	for (;;) {
		int32_t off = SEQ_DIFF(h->next, seq);
		if (off < 0 || off >= (int32_t)len)
			break;
		const uint8_t *q = p + off;
		uint32_t left = len - (uint32_t)off;
		struct reasm_held *s = h->held;
		if (s && SEQ_DIFF(s->seq, h->next) <= 0) {
			uint32_t in = (uint32_t)SEQ_DIFF(h->next, s->seq);
			if (in < s->len) {
				uint32_t n = s->len - in < left ? s->len - in : left;
				note_mismatch(r, dir, s->data + in, q, n);
			}
			drain_held(r, dir);
			continue;
		}
		uint32_t run = left;
		if (s && SEQ_DIFF(s->seq, h->next) < (int32_t)left)
			run = (uint32_t)SEQ_DIFF(s->seq, h->next);
		deliver(r, dir, q, run, peer_acked, ts_us);
	}
	drain_held(r, dir);
}

static struct reasm_held *held_new(struct reasm *r, struct reasm_half *h, uint32_t seq,
				   const uint8_t *p, uint32_t len, uint32_t ack, bool ack_valid,
				   uint64_t ts_us)
{
	struct reasm_held *s = malloc(sizeof(*s) + len);
	if (!s)
		abort(); /* out of memory is fatal (DESIGN.md section 3) */
	s->next = NULL;
	s->seq = seq;
	s->len = len;
	s->ack = ack;
	s->ack_valid = ack_valid;
	s->ts_us = ts_us;
	memcpy(s->data, p, len);
	h->held_bytes += len;
	r->stats->held_bytes += len;
	if (r->stats->held_bytes > r->stats->held_bytes_max)
		r->stats->held_bytes_max = r->stats->held_bytes;
	return s;
}

/* Gives up on the hole before the first held segment of dir: reports it as a gap and
 * delivers what follows it. */
static void skip_hole(struct reasm *r, int dir, uint64_t ts_us)
{
	struct reasm_half *h = &r->half[dir];
	if (!h->held)
		return;
	int32_t hole = SEQ_DIFF(h->held->seq, h->next);
	if (hole > 0) {
		r->stats->gaps++;
		r->stats->gap_bytes += (uint32_t)hole;
		h->next += (uint32_t)hole;
		h->delivered += (uint32_t)hole;
		r->sink->gap(r->sink->ctx, dir, (uint32_t)hole, ts_us);
	}
	drain_held(r, dir);
}

static size_t held_total(const struct reasm *r)
{
	return r->half[0].held_bytes + r->half[1].held_bytes;
}

/* Makes room for len more held bytes by skipping holes; false when nothing is held any
 * more and len alone is over the cap. */
static bool make_room(struct reasm *r, int dir, uint32_t len, uint64_t ts_us)
{
	size_t cap = r->lim->max_held_per_flow;
	while (held_total(r) + len > cap) {
		int victim = r->half[dir].held ? dir : 1 - dir;
		if (!r->half[victim].held)
			return false;
		r->stats->held_dropped++;
		skip_hole(r, victim, ts_us);
	}
	return true;
}

/* Inserts the parts of [seq, seq+len) that no held segment covers yet (first copy wins). */
static void hold(struct reasm *r, int dir, uint32_t seq, const uint8_t *p, uint32_t len,
		 uint32_t ack, bool ack_valid, uint64_t ts_us)
{
	struct reasm_half *h = &r->half[dir];
	struct reasm_held **link = &h->held;
	uint32_t end = seq + len;
	while (SEQ_DIFF(end, seq) > 0) {
		struct reasm_held *s = *link;
		if (s && SEQ_DIFF(s->seq + s->len, seq) <= 0) {
			link = &s->next;
			continue;
		}
		uint32_t piece_end = end;
		if (s && SEQ_DIFF(s->seq, end) < 0)
			piece_end = SEQ_DIFF(s->seq, seq) > 0 ? s->seq : seq;
		uint32_t n = (uint32_t)SEQ_DIFF(piece_end, seq);
		if (n > 0) {
			struct reasm_held *piece = held_new(r, h, seq, p, n, ack, ack_valid, ts_us);
			piece->next = s;
			*link = piece;
			link = &piece->next;
			seq += n;
			p += n;
			continue;
		}
		/* seq lies inside s: compare the overlap and skip it */
		uint32_t in = (uint32_t)SEQ_DIFF(seq, s->seq);
		uint32_t ov = s->len - in;
		if (ov > (uint32_t)SEQ_DIFF(end, seq))
			ov = (uint32_t)SEQ_DIFF(end, seq);
		note_mismatch(r, dir, s->data + in, p, ov);
		seq += ov;
		p += ov;
		link = &s->next;
	}
}

static void segment_data(struct reasm *r, int dir, uint32_t seq, uint32_t ack, bool ack_valid,
			 const uint8_t *p, uint32_t len, uint64_t ts_us)
{
	struct reasm_half *h = &r->half[dir];
	int32_t ahead = SEQ_DIFF(seq, h->next);
	if (ahead <= 0) {
		if ((int64_t)ahead + len <= 0) {
			r->stats->retransmitted++;
			return;
		}
		deliver_range(r, dir, seq, p, len, acked_offset(r, dir, ack_valid, ack), ts_us);
		return;
	}
	if (!make_room(r, dir, len, ts_us)) {
		/* nothing held and the segment alone exceeds the cap: the hole is a gap */
		r->stats->gaps++;
		r->stats->gap_bytes += (uint32_t)ahead;
		h->next = seq;
		h->delivered += (uint32_t)ahead;
		r->sink->gap(r->sink->ctx, dir, (uint32_t)ahead, ts_us);
		deliver_range(r, dir, seq, p, len, acked_offset(r, dir, ack_valid, ack), ts_us);
		return;
	}
	if (SEQ_DIFF(seq, h->next) <= 0) /* make_room may have moved next past seq */
		segment_data(r, dir, seq, ack, ack_valid, p, len, ts_us);
	else
		hold(r, dir, seq, p, len, ack, ack_valid, ts_us);
}

static void try_fin(struct reasm *r, int dir, uint64_t ts_us)
{
	struct reasm_half *h = &r->half[dir];
	if (h->fin_seen && !h->closed && SEQ_DIFF(h->next, h->fin_seq) >= 0) {
		h->closed = true;
		r->sink->close(r->sink->ctx, dir, false, ts_us);
	}
}

void reasm_feed(struct reasm *r, int dir, uint32_t seq, uint32_t ack, uint8_t flags,
		const uint8_t *payload, uint32_t len, uint64_t ts_us)
{
	struct reasm_half *h = &r->half[dir];
	bool ack_valid = (flags & TCP_FLAG_ACK) != 0;
	if (ack_valid && (!h->ack_valid || SEQ_DIFF(ack, h->last_ack) > 0)) {
		h->ack_valid = true;
		h->last_ack = ack;
	}
	if (flags & TCP_FLAG_SYN) {
		if (!h->started)
			half_start(h, seq + 1);
		seq += 1; /* data on a SYN follows the SYN's own sequence number */
	} else if (!h->started) {
		half_start(h, seq);
	}
	if (h->closed)
		return;
	if (flags & TCP_FLAG_RST) {
		h->closed = true;
		r->sink->close(r->sink->ctx, dir, true, ts_us);
		return;
	}
	if (len > 0)
		segment_data(r, dir, seq, ack, ack_valid, payload, len, ts_us);
	if ((flags & TCP_FLAG_FIN) && !h->fin_seen) {
		h->fin_seen = true;
		h->fin_seq = seq + len;
		h->fin_ts_us = ts_us;
	}
	try_fin(r, dir, ts_us);
}

void reasm_flush(struct reasm *r, uint64_t ts_us)
{
	for (int dir = 0; dir < 2; dir++) {
		struct reasm_half *h = &r->half[dir];
		while (h->held && !h->closed)
			skip_hole(r, dir, ts_us);
		if (h->fin_seen && !h->closed && SEQ_DIFF(h->fin_seq, h->next) > 0) {
			uint32_t hole = (uint32_t)SEQ_DIFF(h->fin_seq, h->next);
			r->stats->gaps++;
			r->stats->gap_bytes += hole;
			h->next = h->fin_seq;
			h->delivered += hole;
			r->sink->gap(r->sink->ctx, dir, hole, ts_us);
		}
		try_fin(r, dir, h->fin_ts_us ? h->fin_ts_us : ts_us);
	}
}

void reasm_release(struct reasm *r)
{
	for (int dir = 0; dir < 2; dir++) {
		struct reasm_half *h = &r->half[dir];
		while (h->held) {
			struct reasm_held *s = h->held;
			h->held = s->next;
			held_free(r, h, s);
		}
	}
}
