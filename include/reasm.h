/* reasm: per-direction TCP stream reassembly (RFC 9293 sequence space, RFC 1982-style
 * modulo-2^32 comparison): in-order bytes handed on without a copy, out-of-order segments
 * held within caps, retransmissions dropped, overlaps resolved first-copy-wins, bytes the
 * capture lacks told as gaps of known size. */
#ifndef SMTPTRACE_REASM_H
#define SMTPTRACE_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where reassembled bytes go. The flow table sets these; the reassembler never names the
 * layer above it. dir is 0 (client to server) or 1 (server to client). data is borrowed
 * for the call. peer_acked: bytes of the other direction that the sender had acknowledged
 * when it sent these bytes, UINT64_MAX when unknown. */
struct reasm_sink {
	void (*data)(void *ctx, int dir, const uint8_t *data, size_t len, uint64_t peer_acked,
	             uint64_t ts_us);
	void (*gap)(void *ctx, int dir, uint64_t len, uint64_t ts_us);
	void (*close)(void *ctx, int dir, bool rst, uint64_t ts_us);
	void (*overlap_mismatch)(void *ctx, int dir);
	void *ctx;
};

struct reasm_limits {
	size_t max_held_per_flow; /* out-of-order bytes held per flow (both directions), default 1
	                             MiB */
	size_t max_held_total; /* out-of-order bytes held by all flows together, default 256 MiB */
};

/* Out-of-order segments held per flow (both directions), whatever their size: bounds the walk
 * of a held list and the bookkeeping per segment, which one-byte segments would otherwise make
 * far larger than the bytes themselves. Reaching it is handled like reaching the byte cap. */
enum { REASM_MAX_HELD_SEGS = 4096 };

struct reasm_stats {
	uint64_t held_bytes;                   /* now held across all flows */
	uint64_t held_bytes_max;               /* the most ever held at once */
	uint64_t retransmitted;                /* segments that brought no new byte */
	uint64_t overlaps, overlap_mismatches; /* later copies compared with held ones, differing */
	uint64_t gaps, gap_bytes;
	uint64_t held_dropped;  /* holes given up because a cap was reached */
	uint64_t out_of_window; /* segments too far ahead to be of the stream, ignored */
};

struct reasm_held; /* an out-of-order segment copy */

struct reasm_half {
	bool started; /* the stream's first sequence number is known */
	bool closed;  /* FIN delivered or RST seen */
	bool fin_seen;
	uint32_t base; /* sequence number of stream offset 0 */
	uint32_t next; /* next expected sequence number */
	uint32_t fin_seq;
	uint64_t delivered; /* stream offset of next */
	bool ack_valid;
	uint32_t last_ack; /* latest ACK this direction sent (for the other direction's bytes) */
	struct reasm_held *held; /* sorted by sequence, never overlapping, all after next */
	size_t held_bytes;
	size_t held_segs;
	uint64_t fin_ts_us;
	/* What TCP leaves unsure of this direction's end (RFC 9293 3.4: a FIN takes a sequence
	 * number): tail_unsure when its last sequence number, tail_end - 1, is known only from the
	 * other side's ACK, so it may be a FIN as well as a byte; close_unsure when the other side
	 * closed after acknowledging it, so either side may have closed first; unread_lost when
	 * the other side reset after its own FIN with no byte of this direction captured that it
	 * had not acknowledged: new data reached it after its close (RFC 1122 4.2.2.13), data the
	 * capture lacks, of unknown size. */
	bool tail_unsure, close_unsure, unread_lost;
	uint32_t tail_end;
	bool reset; /* a RST from this direction was seen: the connection is torn down */
};

struct reasm {
	struct reasm_half half[2];
	const struct reasm_sink *sink;
	const struct reasm_limits *lim;
	struct reasm_stats *stats; /* shared by all flows */
};

/* Sets r up; sink, lim and stats are borrowed and must outlive r. */
void reasm_init(struct reasm *r, const struct reasm_sink *sink, const struct reasm_limits *lim,
                struct reasm_stats *stats);

/* Feeds one segment of direction dir. payload is borrowed for the call. A RST closes dir at
 * once (close with rst set), after a gap for the bytes before its sequence number that the
 * capture lacks (held bytes before it delivered in their places); what was held past it is
 * dropped. An ACK of bytes never captured makes them a gap
 * when its sender sends data, a FIN or a RST, or at the flush; so does a FIN past them, once
 * acknowledged or at the flush. */
void reasm_feed(struct reasm *r, int dir, uint32_t seq, uint32_t ack, uint8_t flags,
                const uint8_t *payload, uint32_t len, uint64_t ts_us);

/* The same for a segment of which the snap length kept only len of its wire_len payload bytes
 * (wire_len <= len: it was captured whole). The missing wire_len - len bytes after the
 * captured ones are a gap of known size, told once the stream reaches them. */
void reasm_feed_wire(struct reasm *r, int dir, uint32_t seq, uint32_t ack, uint8_t flags,
                     const uint8_t *payload, uint32_t len, uint32_t wire_len, uint64_t ts_us);

/* Delivers whatever is held, skipping holes as gaps, then a FIN seen (the bytes missing before
 * it are a gap too). Used when the flow ends; a half closed by RST keeps its held bytes. */
void reasm_flush(struct reasm *r, uint64_t ts_us);

/* Frees held segments; r may be flushed or released again afterwards. */
void reasm_release(struct reasm *r);

/* Whether dir's byte count is unsure: its end was never seen (no FIN of its own delivered, no
 * RST from either side), its last sequence number may be a lost FIN's, or the other side's
 * reset shows lost bytes of unknown size (struct reasm_half). */
bool reasm_count_unsure(const struct reasm *r, int dir);

/* Whether the first close is unsure: a lost FIN of one direction may have come before the
 * other's close, which acknowledged it. */
bool reasm_close_unsure(const struct reasm *r);

/* Bytes of the other direction that dir has acknowledged, UINT64_MAX when unknown. */
uint64_t reasm_peer_acked(const struct reasm *r, int dir);

#endif
