/* reasm: per-direction TCP reassembly (RFC 9293 section 3.4 sequence numbers, compared
 * modulo 2^32; RFC 7323 for the widest window): in order without a copy, out of order held
 * within caps, first copy wins, gaps from every TCP clue (a jump, an ACK, a FIN or RST past
 * the bytes seen, a snap length's cut). */
#include "reasm.h"

#include <stdlib.h>
#include <string.h>

#include "decode.h"

/* Signed distance from b to a in sequence space: valid while |a - b| < 2^31. */
#define SEQ_DIFF(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)))

/* No TCP window reaches further than 2^30 bytes (RFC 7323 section 2.3): a segment that starts
 * further ahead is not of this stream (a stale connection, a corrupt header), and holding it
 * would make the next flush report a gap of up to 2 GiB. */
#define REASM_WINDOW_MAX (1 << 30)

struct reasm_held {
	struct reasm_held *next;
	uint32_t seq;
	uint32_t len;
	uint32_t ack;
	uint32_t
	    cut; /* bytes of the segment on the wire right after these that were not captured */
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

/* Bytes of the other direction acknowledged by an ACK number, as a stream offset. A FIN takes
 * a sequence number but is no byte: the ACK of a FIN counts only the bytes before it. */
static uint64_t acked_offset(const struct reasm *r, int dir, bool ack_valid, uint32_t ack)
{
	const struct reasm_half *other = &r->half[1 - dir];
	if (!ack_valid || !other->started)
		return UINT64_MAX;
	if (other->fin_seen && SEQ_DIFF(ack, other->fin_seq) > 0)
		ack = other->fin_seq;
	/* delivered and next move together (gaps included), so this stays right as they move */
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
	h->held_segs--;
	r->stats->held_bytes -= s->len;
	free(s);
}

/* Compares n bytes of a held copy with a later copy of the same place; the held one is kept. */
static void note_overlap(struct reasm *r, int dir, const uint8_t *held, const uint8_t *later,
                         size_t n)
{
	r->stats->overlaps++;
	if (memcmp(held, later, n) != 0) {
		r->stats->overlap_mismatches++;
		if (r->sink->overlap_mismatch)
			r->sink->overlap_mismatch(r->sink->ctx, dir);
	}
}

/* Tells the close once every byte before the FIN is delivered or given up as a gap; the close
 * carries the FIN's own time, as held bytes carry theirs. */
static void release_half(struct reasm *r, struct reasm_half *h)
{
	while (h->held) {
		struct reasm_held *s = h->held;
		h->held = s->next;
		held_free(r, h, s);
	}
}

/* Tells dir's close. When the other direction's end is unsure, a FIN (tail_unsure) that the
 * closing segment acknowledged, that lost FIN may have been the first close. */
static void tell_close(struct reasm *r, int dir, bool rst, uint64_t ts_us)
{
	struct reasm_half *other = &r->half[1 - dir];
	if (other->tail_unsure && !other->fin_seen && !other->closed)
		other->close_unsure = true;
	r->sink->close(r->sink->ctx, dir, rst, ts_us);
}

static void try_fin(struct reasm *r, int dir)
{
	struct reasm_half *h = &r->half[dir];
	if (h->fin_seen && !h->closed && SEQ_DIFF(h->next, h->fin_seq) >= 0) {
		release_half(r, h); /* anything still held lies past the FIN: not stream */
		h->closed = true;
		tell_close(r, dir, false, h->fin_ts_us);
	}
}

/* Tells [next, to) of dir as a gap, bytes that will not be waited for. */
static void gap_to(struct reasm *r, int dir, uint32_t to, uint64_t ts_us)
{
	struct reasm_half *h = &r->half[dir];
	int32_t hole = SEQ_DIFF(to, h->next);
	if (hole <= 0)
		return;
	r->stats->gaps++;
	r->stats->gap_bytes += (uint32_t)hole;
	h->next = to;
	h->delivered += (uint32_t)hole;
	r->sink->gap(r->sink->ctx, dir, (uint32_t)hole, ts_us);
}

/* Delivers the first held segment, which starts at or before next. later, unless NULL, is a
 * later copy of the n bytes at next: the held copy came first, so it wins; the two are compared. */
static void deliver_first_held(struct reasm *r, int dir, const uint8_t *later, uint32_t n)
{
	struct reasm_half *h = &r->half[dir];
	struct reasm_held *s = h->held;
	uint32_t in = (uint32_t)SEQ_DIFF(h->next, s->seq);
	h->held = s->next;
	if (in < s->len) {
		uint32_t left = s->len - in;
		if (later)
			note_overlap(r, dir, s->data + in, later, left < n ? left : n);
		deliver(r, dir, s->data + in, left, acked_offset(r, dir, s->ack_valid, s->ack),
		        s->ts_us);
	}
	/* the snap length cut the segment here: its missing tail is a gap of known size, unless a
	 * later copy is being delivered over it */
	if (s->cut && !later)
		gap_to(r, dir, s->seq + s->len + s->cut, s->ts_us);
	held_free(r, h, s);
}

/* Delivers held segments for as long as they continue the stream. */
static void drain_held(struct reasm *r, int dir)
{
	struct reasm_half *h = &r->half[dir];
	while (h->held && SEQ_DIFF(h->held->seq, h->next) <= 0)
		deliver_first_held(r, dir, NULL, 0);
}

/* Delivers the part of segment [seq, seq + len) at and after next, which must not be ahead of
 * seq. Where a held segment covers part of it, that held copy is delivered instead and each
 * such overlap compared: a held list has no overlaps, so every held segment is met here. */
static void deliver_range(struct reasm *r, int dir, uint32_t seq, const uint8_t *p, uint32_t len,
                          uint64_t peer_acked, uint64_t ts_us)
{
	struct reasm_half *h = &r->half[dir];
	for (;;) {
		int32_t off = SEQ_DIFF(h->next, seq);
		if (off < 0 || (uint32_t)off >= len)
			break;
		uint32_t left = len - (uint32_t)off;
		int32_t to_held = h->held ? SEQ_DIFF(h->held->seq, h->next) : INT32_MAX;
		if (to_held <= 0) {
			deliver_first_held(r, dir, p + off, left);
			continue;
		}
		uint32_t run = (uint32_t)to_held < left ? (uint32_t)to_held : left;
		deliver(r, dir, p + off, run, peer_acked, ts_us);
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
	s->cut = 0;
	s->ack_valid = ack_valid;
	s->ts_us = ts_us;
	memcpy(s->data, p, len);
	h->held_bytes += len;
	h->held_segs++;
	r->stats->held_bytes += len;
	if (r->stats->held_bytes > r->stats->held_bytes_max)
		r->stats->held_bytes_max = r->stats->held_bytes;
	return s;
}

/* Gives up [next, to) of dir as a gap (those bytes will not be waited for), then delivers the
 * held bytes that follow. */
static void skip_hole(struct reasm *r, int dir, uint32_t to, uint64_t ts_us)
{
	struct reasm_half *h = &r->half[dir];
	if (h->closed) { /* nothing more of a closed direction is delivered, not even a gap */
		release_half(r, h);
		return;
	}
	gap_to(r, dir, to, ts_us);
	drain_held(r, dir);
}

/* TCP says that dir sent every byte before to: what the capture lacks of [next, to) is a gap,
 * and held bytes inside it are delivered in their places. */
static void skip_to(struct reasm *r, int dir, uint32_t to, uint64_t ts_us)
{
	struct reasm_half *h = &r->half[dir];
	while (!h->closed && SEQ_DIFF(to, h->next) > 0) {
		bool held_inside = h->held && SEQ_DIFF(h->held->seq, to) < 0;
		skip_hole(r, dir, held_inside ? h->held->seq : to, ts_us);
	}
}

/* Bytes of [seq, seq + len) that no held segment covers yet, which is what holding it adds,
 * and in how many pieces; hold() below cuts it the same way. */
static uint32_t held_uncovered(const struct reasm_half *h, uint32_t seq, uint32_t len,
                               size_t *pieces)
{
	int64_t at = 0; /* offset in the segment up to which every byte is accounted for */
	uint32_t add = 0;
	*pieces = 0;
	for (const struct reasm_held *s = h->held; s && at < len; s = s->next) {
		int64_t lo = SEQ_DIFF(s->seq, seq), hi = lo + s->len;
		if (hi <= at)
			continue;
		if (lo > at) {
			int64_t n = lo < len ? lo : len;
			add += (uint32_t)(n - at);
			(*pieces)++;
		}
		at = hi;
	}
	if (at < len) {
		add += (uint32_t)(len - at);
		(*pieces)++;
	}
	return add;
}

/* The caps are reached: gives up one hole. The direction holding more goes first, so that a
 * stalled direction cannot turn every reordering of the other into a gap. A hole of dir ends
 * where its first held segment or the new segment at seq starts, whichever comes first, so
 * the new segment's own bytes are never given up. */
static void give_up_hole(struct reasm *r, int dir, uint32_t seq, uint64_t ts_us)
{
	const struct reasm_half *h = &r->half[dir], *other = &r->half[1 - dir];
	r->stats->held_dropped++;
	if (h->held_bytes >= other->held_bytes) {
		bool held_first = h->held && SEQ_DIFF(h->held->seq, seq) < 0;
		skip_hole(r, dir, held_first ? h->held->seq : seq, ts_us);
	} else {
		skip_hole(r, 1 - dir, other->held->seq, ts_us);
		try_fin(r, 1 - dir); /* no segment of that direction is coming to tell it */
	}
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
		note_overlap(r, dir, s->data + in, p, ov);
		seq += ov;
		p += ov;
		link = &s->next;
	}
}

static bool fits(const struct reasm *r, uint32_t add, size_t pieces)
{
	const struct reasm_half *h = r->half;
	return h[0].held_bytes + h[1].held_bytes + add <= r->lim->max_held_per_flow &&
	       r->stats->held_bytes + add <= r->lim->max_held_total &&
	       h[0].held_segs + h[1].held_segs + pieces <= REASM_MAX_HELD_SEGS;
}

/* A segment's payload: delivered from next on, dropped when it brings nothing new, held when
 * ahead and within the caps; otherwise holes are given up until it fits or is next. */
static void segment_data(struct reasm *r, int dir, uint32_t seq, uint32_t ack, bool ack_valid,
                         const uint8_t *p, uint32_t len, uint64_t ts_us)
{
	struct reasm_half *h = &r->half[dir];
	for (;;) {
		int32_t ahead = SEQ_DIFF(seq, h->next);
		if (ahead <= 0) {
			if ((int64_t)ahead + len <= 0)
				r->stats->retransmitted++;
			else
				deliver_range(r, dir, seq, p, len,
				              acked_offset(r, dir, ack_valid, ack), ts_us);
			return;
		}
		size_t pieces;
		uint32_t add = held_uncovered(h, seq, len, &pieces);
		if (fits(r, add, pieces)) {
			if (add == 0)
				r->stats->retransmitted++;
			hold(r, dir, seq, p, len, ack, ack_valid, ts_us);
			return;
		}
		give_up_hole(r, dir, seq, ts_us); /* moves next towards seq, or frees held bytes */
	}
}

/* Bytes past the first FIN seen cannot belong to the stream; returns how many of len do. */
static uint32_t before_fin(const struct reasm_half *h, uint32_t seq, uint32_t len)
{
	if (!h->fin_seen || SEQ_DIFF(seq + len, h->fin_seq) <= 0)
		return len;
	int32_t n = SEQ_DIFF(h->fin_seq, seq);
	return n > 0 ? (uint32_t)n : 0;
}

/* The other side acknowledged bytes of dir up to ack that the capture does not have: a
 * receiver acknowledges only what it holds, so waiting longer for them is pointless. Held
 * bytes inside the acknowledged range are delivered in their place. Decided when that side
 * sends data (which may depend on those bytes), not on a bare ACK, which a capture can show
 * before the segment it acknowledges. */
static void skip_acked_hole(struct reasm *r, int dir, uint32_t ack, uint64_t ts_us)
{
	struct reasm_half *h = &r->half[dir];
	uint32_t to = ack;
	if (!h->started || h->closed)
		return;
	if (h->fin_seen && SEQ_DIFF(to, h->fin_seq) > 0)
		to = h->fin_seq; /* the FIN takes a sequence number but is no byte */
	if (SEQ_DIFF(to, h->next) <= 0 || SEQ_DIFF(to, h->next) > REASM_WINDOW_MAX)
		return;
	skip_to(r, dir, to, ts_us);
	try_fin(r, dir);
	/* the ACK alone showed where dir ends: its last sequence number may be a lost FIN's */
	if (!h->fin_seen && !h->closed && !h->held) {
		h->tail_unsure = true;
		h->close_unsure = false;
		h->tail_end = to;
	}
}

/* A segment of dir that reaches past an unsure tail (data after it, or a FIN at or after it)
 * shows that the tail's last sequence number was a byte. */
static void settle_tail(struct reasm_half *h, uint32_t seq, uint32_t wire, bool fin)
{
	int32_t past = SEQ_DIFF(seq + wire, h->tail_end);
	if (h->tail_unsure && ((wire > 0 && past > 0) || (fin && past >= 0)))
		h->tail_unsure = h->close_unsure = false;
}

/* A RST from dir after its own FIN, when the capture holds no byte of the other direction
 * that dir had not acknowledged before: new data reached dir after its close (RFC 1122
 * 4.2.2.13), and the capture lacks it. Judged on the ACKs before this RST. */
static void note_unread_lost(struct reasm *r, int dir)
{
	const struct reasm_half *h = &r->half[dir];
	struct reasm_half *other = &r->half[1 - dir];
	if (h->fin_seen && h->ack_valid && other->started && !other->held &&
	    SEQ_DIFF(other->next, h->last_ack) <= 0)
		other->unread_lost = true;
}

static void note_ack(struct reasm_half *h, bool ack_valid, uint32_t ack)
{
	if (ack_valid && (!h->ack_valid || SEQ_DIFF(ack, h->last_ack) > 0)) {
		h->ack_valid = true;
		h->last_ack = ack;
	}
}

/* A RST closes dir at once; its sequence number says how far dir had sent: the bytes before
 * it that the capture lacks are a gap first (a FIN before it is no byte, and closes first). */
static void reset_half(struct reasm *r, int dir, uint32_t seq, uint64_t ts_us)
{
	struct reasm_half *h = &r->half[dir];
	uint32_t to = h->fin_seen && SEQ_DIFF(seq, h->fin_seq) > 0 ? h->fin_seq : seq;
	if (SEQ_DIFF(to, h->next) > 0 && SEQ_DIFF(to, h->next) <= REASM_WINDOW_MAX) {
		settle_tail(h, h->next, (uint32_t)SEQ_DIFF(to, h->next), false);
		skip_to(r, dir, to, ts_us);
		try_fin(r, dir);
	}
	if (h->closed)
		return;
	release_half(r, h); /* the receiver will never read what was held */
	h->closed = true;
	tell_close(r, dir, true, ts_us);
}

/* The snap length cut the segment at from; it went on to to on the wire. Once the stream has
 * reached from, [from, to) is a gap of known size; while the captured part is held, the held
 * piece that ends at from carries the cut until it is delivered. */
static void cut_tail(struct reasm *r, int dir, uint32_t from, uint32_t to, uint64_t ts_us)
{
	struct reasm_half *h = &r->half[dir];
	if (SEQ_DIFF(h->next, from) >= 0) {
		skip_to(r, dir, to, ts_us);
		return;
	}
	for (struct reasm_held *s = h->held; s; s = s->next) {
		if (s->seq + s->len == from) {
			if ((uint32_t)SEQ_DIFF(to, from) > s->cut)
				s->cut = (uint32_t)SEQ_DIFF(to, from);
			return;
		}
	}
}

void reasm_feed_wire(struct reasm *r, int dir, uint32_t seq, uint32_t ack, uint8_t flags,
                     const uint8_t *payload, uint32_t len, uint32_t wire_len, uint64_t ts_us)
{
	struct reasm_half *h = &r->half[dir];
	bool ack_valid = (flags & TCP_FLAG_ACK) != 0;
	if (flags & TCP_FLAG_RST) {
		note_unread_lost(r, dir);
		h->reset = true; /* after its own FIN too: nothing more of either side is read */
	}
	/* ACKs count after a close too: they still say how far the other direction was read */
	note_ack(h, ack_valid, ack);
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
		if (ack_valid)
			skip_acked_hole(r, 1 - dir, ack, ts_us);
		reset_half(r, dir, seq, ts_us);
		return;
	}
	if (SEQ_DIFF(seq, h->next) > REASM_WINDOW_MAX) {
		r->stats->out_of_window++;
		return;
	}
	uint32_t wire = before_fin(h, seq, wire_len > len ? wire_len : len);
	len = len < wire ? len : wire;
	if ((wire > 0 || (flags & TCP_FLAG_FIN)) && ack_valid)
		skip_acked_hole(r, 1 - dir, ack, ts_us);
	settle_tail(h, seq, wire, (flags & TCP_FLAG_FIN) != 0);
	if (len > 0)
		segment_data(r, dir, seq, ack, ack_valid, payload, len, ts_us);
	if (wire > len)
		cut_tail(r, dir, seq + len, seq + wire, ts_us);
	if ((flags & TCP_FLAG_FIN) && !h->fin_seen) {
		h->fin_seen = true;
		h->fin_seq = seq + wire;
		h->fin_ts_us = ts_us;
	}
	try_fin(r, dir);
}

void reasm_feed(struct reasm *r, int dir, uint32_t seq, uint32_t ack, uint8_t flags,
                const uint8_t *payload, uint32_t len, uint64_t ts_us)
{
	reasm_feed_wire(r, dir, seq, ack, flags, payload, len, len, ts_us);
}

void reasm_flush(struct reasm *r, uint64_t ts_us)
{
	for (int dir = 0; dir < 2; dir++) {
		struct reasm_half *h = &r->half[dir];
		if (h->closed)
			continue; /* after a RST the receiver never read what was held */
		const struct reasm_half *other = &r->half[1 - dir];
		if (other->ack_valid) /* nothing more is coming: an ACK says what was sent */
			skip_acked_hole(r, dir, other->last_ack, ts_us);
		if (h->closed)
			continue;
		while (h->held)
			skip_hole(r, dir, h->held->seq, ts_us);
		if (h->fin_seen)
			skip_hole(r, dir, h->fin_seq, ts_us);
		try_fin(r, dir);
	}
}

/* A direction's count is final once its end is seen: its FIN delivered, or a RST from either
 * side (after it nothing more is read). Without one, the capture (or the idle timeout, or a
 * new connection on the tuple) cut the connection short, and a lost last segment with nothing
 * after it would look the same as one never sent: the count is only a floor. */
bool reasm_count_unsure(const struct reasm *r, int dir)
{
	const struct reasm_half *h = &r->half[dir], *other = &r->half[1 - dir];
	bool end_seen = h->closed || other->reset;
	return h->tail_unsure || h->unread_lost || !end_seen;
}

bool reasm_close_unsure(const struct reasm *r)
{
	for (int dir = 0; dir < 2; dir++)
		if (r->half[dir].tail_unsure && r->half[dir].close_unsure)
			return true;
	return false;
}

void reasm_release(struct reasm *r)
{
	for (int dir = 0; dir < 2; dir++)
		release_half(r, &r->half[dir]);
}
