/* fuzz_smtp: the passive SMTP model (RFC 5321, RFC 2920, RFC 3030, RFC 3207, RFC 4954) fed
 * both directions of a session as the reassembler would, then classified.
 *
 * Input (tests/fuzz/README.md has the details; tests/fuzz/mkseeds.py writes it):
 *   config byte: bit 0 mid-stream; bits 1-2 limits preset; bits 3-4 directions seen
 *                (0 as fed, 1 client only, 2 server only, 3 both); bits 5-6 end reason;
 *                bit 7 the trace of verbs and codes kept
 *   then chunks: H L [len16] [acked32] [bytes]
 *     H bit 7: direction (0 client to server, 1 server to client)
 *     H bits 5-6: 0 data, peer_acked unknown; 1 data, peer_acked = all the other direction
 *                 fed so far; 2 data, peer_acked = acked32 (0xffffffff: unknown); 3 an event
 *     H bits 0-4: data: time step in ms; event: 0-9 FIN, 10-15 RST, 16-31 a gap of L bytes
 *     L: length, 255 meaning a 16-bit little-endian length follows; for a FIN or RST it gives
 *        the close's peer_acked instead: 0 unknown, else all the other direction fed so far
 *        less L - 1 (at least 0)
 * Each chunk's bytes are copied into a buffer of exactly their size. As the reassembler
 * does, nothing of a direction is fed after its close, and gaps are never empty. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "fuzz.h"
#include "smtp.h"

enum { H_DIR = 0x80, H_MODE_SHIFT = 5, H_LOW = 0x1f };
enum { MODE_UNKNOWN = 0, MODE_ALL_FED, MODE_EXPLICIT, MODE_EVENT };

struct feed_state {
	struct smtp_session *s;
	uint64_t fed[2];
	bool seen[2];
	bool closed[2];
	uint64_t ts_us;
};

static void limits_preset(unsigned preset, struct smtp_limits *lim)
{
	smtp_limits_default(lim);
	switch (preset) {
	case 1: /* the smallest the command line allows */
		*lim = (struct smtp_limits){.max_line = 512,
		                            .max_rcpts = 1,
		                            .max_txs = 1,
		                            .max_pending = 2,
		                            .max_extensions = 1,
		                            .max_trace = 1};
		break;
	case 2:
		*lim = (struct smtp_limits){.max_line = 700,
		                            .max_rcpts = 3,
		                            .max_txs = 2,
		                            .max_pending = 4,
		                            .max_extensions = 4,
		                            .max_trace = 5};
		break;
	case 3:
		lim->max_line = 1 << 16;
		break;
	default:
		break;
	}
}

static void feed_event(struct feed_state *st, int dir, unsigned low, uint64_t len)
{
	if (st->closed[dir])
		return;
	st->seen[dir] = true;
	if (low < 16) {
		uint64_t other = st->fed[1 - dir], acked = UINT64_MAX;
		if (len > 0)
			acked = len - 1 < other ? other - (len - 1) : 0;
		st->closed[dir] = true;
		smtp_close(st->s, (enum smtp_dir)dir, low >= 10, acked, st->ts_us);
	} else if (len > 0) {
		smtp_gap(st->s, (enum smtp_dir)dir, len, st->ts_us);
	}
}

/* Reads and feeds one chunk. */
static void feed_chunk(struct feed_state *st, struct fuzz_in *in)
{
	uint8_t h = fuzz_u8(in);
	int dir = (h & H_DIR) != 0;
	unsigned mode = (h >> H_MODE_SHIFT) & 3, low = h & H_LOW;
	size_t len = fuzz_u8(in);
	if (len == 255)
		len = fuzz_u16(in);
	if (mode == MODE_EVENT) {
		feed_event(st, dir, low, len);
		return;
	}
	uint64_t acked = UINT64_MAX;
	if (mode == MODE_ALL_FED) {
		acked = st->fed[1 - dir];
	} else if (mode == MODE_EXPLICIT) {
		uint32_t a = fuzz_u32(in);
		acked = a == UINT32_MAX ? UINT64_MAX : a;
	}
	st->ts_us += (uint64_t)low * 1000;
	size_t n;
	uint8_t *bytes = fuzz_take(in, len, &n);
	if (!st->closed[dir]) {
		st->seen[dir] = true;
		st->fed[dir] += n;
		smtp_feed(st->s, (enum smtp_dir)dir, bytes, n, acked, st->ts_us);
	}
	free(bytes);
}

/* A name that classify.c has for the value: "unknown" is what it gives one out of range. */
static bool named(const char *name)
{
	return name && strcmp(name, "unknown") != 0;
}

/* The verdicts of rec, every value of them and of the record's enums in range. */
static void check_verdicts(const struct smtp_record *rec)
{
	struct cls_verdict v;
	classify_session(rec, &v);
	FUZZ_CHECK(named(classify_outcome_name(v.outcome)));
	FUZZ_CHECK(v.close <= CLS_CLOSE_UNKNOWN && v.client_style <= CLS_STYLE_RFC5321);
	FUZZ_CHECK(named(classify_side_name(v.close_by)));
	FUZZ_CHECK(named(classify_how_name(v.close_how)));
	FUZZ_CHECK(v.strict_quit_delivered <= v.rfc5321_delivered);
	FUZZ_CHECK(v.rfc5321_delivered <= rec->n_txs);
	FUZZ_CHECK(v.n_txs == rec->n_txs);
	for (uint32_t i = 0; i < rec->n_txs; i++) {
		FUZZ_CHECK(named(classify_tx_outcome_name(v.txs[i].outcome)));
		FUZZ_CHECK(v.txs[i].outcome == classify_tx(rec, &rec->txs[i]));
		FUZZ_CHECK(named(classify_reject_at_name(rec->txs[i].rejected_at)));
	}
	classify_free(&v);
	FUZZ_CHECK(smtp_lookalike_name(rec->lookalike) != NULL);
	FUZZ_CHECK(named(smtp_acted_name(rec->lookalike_acted)) ||
	           rec->lookalike_acted == SMTP_ACTED_UNKNOWN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	uint8_t cfg = fuzz_u8(&in);
	struct smtp_limits lim;
	limits_preset((cfg >> 1) & 3, &lim);
	lim.trace = (cfg & 0x80) != 0;
	lim.log_commands = lim.trace; /* the command log rides with the trace */
	struct feed_state st = {.s = smtp_session_new(&lim), .ts_us = 1700000000000000ULL};
	FUZZ_CHECK(st.s != NULL);
	if (cfg & 1)
		smtp_set_midstream(st.s);
	while (in.left > 0)
		feed_chunk(&st, &in);
	unsigned dirs = (cfg >> 3) & 3;
	if (dirs == 0)
		smtp_set_directions(st.s, st.seen[0], st.seen[1]);
	else
		smtp_set_directions(st.s, dirs != 2, dirs != 1);
	smtp_finish(st.s, (enum smtp_end_reason)((cfg >> 5) & 3), st.ts_us);
	const struct smtp_record *rec = smtp_get_record(st.s);
	fuzz_check_record(rec, &lim);
	check_verdicts(rec);
	smtp_session_free(st.s);
	return 0;
}
