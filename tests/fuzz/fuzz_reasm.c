/* fuzz_reasm: TCP stream reassembly (RFC 9293 sequence space, modulo 2^32) fed segments of
 * both directions in any order, with a sink that checks what comes out.
 *
 * Input: isn0 u32, isn1 u32 (little-endian: the initial sequence numbers, so that any run
 * can straddle 2^32), a byte choosing the held-bytes caps (bits 0-2 the cap per flow, bits 3-4
 * the cap for all flows), then records of 9 bytes:
 *   flags u8   bit 7 direction, bit 6 "dirty" (payload differs from every other copy),
 *              bits 0-5 the TCP flags FIN SYN RST PSH ACK URG
 *   seq u32    offset from the direction's isn
 *   ack u16    ack number = the other direction's isn + 1 + this
 *   len u16    payload length, its low 11 bits only unless URG is set (a segment over 2 KiB
 *              costs time on every run; URG itself means nothing to the reassembler); without
 *              URG the top 5 bits times 97 are wire bytes past the captured ones (a snap cut)
 * A payload is not in the input: the byte at sequence number n is pattern(n), the same in
 * every copy (a dirty one is inverted), in a buffer of exactly len bytes. So the sink can
 * check every byte it is handed against the sequence number it must have come from. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "decode.h"
#include "fuzz.h"
#include "reasm.h"

enum { REC_DIR = 0x80, REC_DIRTY = 0x40, REC_TCP_FLAGS = 0x3f };

static const size_t held_caps[8] = {0, 1, 64, 1000, 4096, 65536, 1 << 20, 3 * 1024 + 7};
static const size_t total_caps[4] = {(size_t)256 << 20, 0, 100, 5000};

struct check {
	struct reasm r;
	struct reasm_limits lim;
	struct reasm_stats stats;
	uint64_t fed[2];       /* payload bytes fed per direction */
	uint64_t delivered[2]; /* data bytes the sink was handed */
	uint64_t offset[2];    /* data and gap bytes the sink was told of: the stream offset */
	bool dirty[2];         /* a dirty copy was fed: the bytes may differ from pattern() */
	bool closed[2];
};

static uint8_t pattern(uint32_t seq)
{
	uint32_t x = seq * 2654435761u;
	return (uint8_t)(x >> 24 ^ x >> 11 ^ seq);
}

/* What must hold whenever the reassembler has handed control back or out. */
static void check_held(const struct check *c)
{
	const struct reasm_half *h = c->r.half;
	FUZZ_CHECK(c->stats.held_bytes == h[0].held_bytes + h[1].held_bytes);
	FUZZ_CHECK(c->stats.held_bytes <= c->lim.max_held_per_flow);
	FUZZ_CHECK(c->stats.held_bytes <= c->lim.max_held_total);
	FUZZ_CHECK(h[0].held_segs + h[1].held_segs <= REASM_MAX_HELD_SEGS);
	FUZZ_CHECK(c->stats.held_bytes_max >= c->stats.held_bytes);
}

static void sink_data(void *ctx, int dir, const uint8_t *data, size_t len, uint64_t peer_acked,
                      uint64_t ts_us)
{
	struct check *c = ctx;
	(void)peer_acked;
	(void)ts_us;
	FUZZ_CHECK(dir == 0 || dir == 1);
	FUZZ_CHECK(!c->closed[dir]);
	FUZZ_CHECK(c->r.half[dir].started);
	uint32_t seq = c->r.half[dir].base + (uint32_t)c->offset[dir];
	for (size_t i = 0; i < len; i++) /* every byte read: ASan checks the length too */
		FUZZ_CHECK(c->dirty[dir] || data[i] == pattern(seq + (uint32_t)i));
	c->delivered[dir] += len;
	c->offset[dir] += len;
	FUZZ_CHECK(c->delivered[dir] <= c->fed[dir]);
	check_held(c);
}

static void sink_gap(void *ctx, int dir, uint64_t len, uint64_t ts_us)
{
	struct check *c = ctx;
	(void)ts_us;
	FUZZ_CHECK(dir == 0 || dir == 1);
	FUZZ_CHECK(!c->closed[dir]);
	FUZZ_CHECK(len > 0);
	c->offset[dir] += len;
}

static void sink_close(void *ctx, int dir, bool rst, uint64_t ts_us)
{
	struct check *c = ctx;
	(void)rst;
	(void)ts_us;
	FUZZ_CHECK(dir == 0 || dir == 1);
	FUZZ_CHECK(!c->closed[dir]);
	c->closed[dir] = true;
}

static void sink_overlap(void *ctx, int dir)
{
	struct check *c = ctx;
	FUZZ_CHECK(dir == 0 || dir == 1);
	FUZZ_CHECK(c->dirty[dir]); /* clean copies of a place never differ */
}

/* After a call returns: the stream offset the sink saw is the reassembler's. */
static void check_offsets(const struct check *c)
{
	for (int dir = 0; dir < 2; dir++) {
		const struct reasm_half *h = &c->r.half[dir];
		FUZZ_CHECK(c->offset[dir] == h->delivered);
		FUZZ_CHECK(!h->started || (uint32_t)(h->next - h->base) == (uint32_t)h->delivered);
	}
	check_held(c);
}

static void feed_record(struct check *c, const uint32_t isn[2], struct fuzz_in *in, uint64_t ts)
{
	uint8_t f = fuzz_u8(in);
	uint32_t off = fuzz_u32(in);
	uint16_t ack16 = fuzz_u16(in);
	uint16_t len = fuzz_u16(in);
	int dir = (f & REC_DIR) != 0;
	uint8_t flags = f & REC_TCP_FLAGS;
	uint32_t cut = 0; /* bytes on the wire past the captured ones (a snap length's cut) */
	if (!(flags & TCP_FLAG_URG)) {
		cut = (uint32_t)(len >> 11) * 97;
		len &= 0x7ff;
	}
	uint32_t seq = isn[dir] + off;
	uint32_t first = seq + ((flags & TCP_FLAG_SYN) ? 1 : 0); /* data follows a SYN */
	uint8_t *payload = malloc(len ? len : 1);
	if (!payload)
		abort();
	for (uint32_t i = 0; i < len; i++)
		payload[i] = (uint8_t)(pattern(first + i) ^ ((f & REC_DIRTY) ? 0xff : 0));
	if (f & REC_DIRTY)
		c->dirty[dir] = true;
	c->fed[dir] += len;
	reasm_feed_wire(&c->r, dir, seq, isn[1 - dir] + 1 + ack16, flags, payload, len, len + cut,
	                ts);
	free(payload);
	check_offsets(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct reasm_sink sink_fns = {sink_data, sink_gap, sink_close, sink_overlap,
	                                           NULL};
	struct fuzz_in in = {data, size};
	struct check *c = calloc(1, sizeof(*c));
	if (!c)
		abort();
	struct reasm_sink sink = sink_fns;
	sink.ctx = c;
	uint32_t isn[2];
	isn[0] = fuzz_u32(&in);
	isn[1] = fuzz_u32(&in);
	uint8_t caps = fuzz_u8(&in);
	c->lim.max_held_per_flow = held_caps[caps & 7];
	c->lim.max_held_total = total_caps[(caps >> 3) & 3];
	reasm_init(&c->r, &sink, &c->lim, &c->stats);
	uint64_t ts = 1000000;
	while (in.left > 0)
		feed_record(c, isn, &in, ts++);
	reasm_flush(&c->r, ts);
	check_offsets(c);
	reasm_release(&c->r);
	FUZZ_CHECK(c->stats.held_bytes == 0);
	FUZZ_CHECK(c->r.half[0].held == NULL && c->r.half[1].held == NULL);
	free(c);
	return 0;
}
