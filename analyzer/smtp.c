/* smtp: a passive model of the server's side of an SMTP session: the session and its
 * inputs from the reassembler: bytes of each direction, gaps, closes, the end (RFC 5321,
 * RFC 2920, RFC 3207; DESIGN.md sections 4 and 5). The client's bytes are read in
 * smtp_client.c, the server's in smtp_reply.c; the state they share is in smtp_state.c. */
#include "smtp_int.h"
#include "tls.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void smtp_limits_default(struct smtp_limits *lim)
{
	lim->max_line = 4096;
	lim->max_rcpts = 1000;
	lim->max_txs = 1000;
	lim->max_pending = 1000;
	lim->max_extensions = 64;
	lim->max_trace = 10000;
	lim->trace = false;
	lim->log_commands = false;
}

/* The pending queue's first size: a greeting, a command and its end of data fit. */
enum { SMTP_PQ_FIRST = 4 };

struct smtp_pool {
	struct smtp_session *kept[SMTP_POOL_MAX];
	size_t n;
	bool trace_modes; /* SMTPTRACE_TRACE, read once for the pool's sessions */
};

struct smtp_pool *smtp_pool_new(void)
{
	struct smtp_pool *pool = calloc(1, sizeof(struct smtp_pool));
	if (pool)
		pool->trace_modes = getenv("SMTPTRACE_TRACE") != NULL;
	return pool;
}

/* Frees what a session keeps for reuse: its struct, queue and text block. */
static void session_memory_free(struct smtp_session *s)
{
	free(s->text_block);
	free(s->pq);
	free(s);
}

void smtp_pool_free(struct smtp_pool *pool)
{
	if (!pool)
		return;
	for (size_t i = 0; i < pool->n; i++)
		session_memory_free(pool->kept[i]);
	free(pool);
}

size_t smtp_pool_kept(const struct smtp_pool *pool)
{
	return pool ? pool->n : 0;
}

/* A zeroed session with a zeroed queue of SMTP_PQ_FIRST, from the pool when it keeps one
 * (with the text block it had, empty). */
static struct smtp_session *session_memory(struct smtp_pool *pool)
{
	if (!pool || pool->n == 0) {
		struct smtp_session *s = smtp_xcalloc(1, sizeof(*s));
		s->pq = smtp_xcalloc(SMTP_PQ_FIRST, sizeof(*s->pq));
		return s;
	}
	struct smtp_session *s = pool->kept[--pool->n];
	struct pending *pq = s->pq;
	char *text_block = s->text_block;
	memset(s, 0, sizeof(*s));
	memset(pq, 0, SMTP_PQ_FIRST * sizeof(*pq));
	s->pq = pq;
	s->text_block = text_block; /* text_block_used is 0: nothing in it is kept */
	return s;
}

struct smtp_session *smtp_session_new_in(struct smtp_pool *pool, const struct smtp_limits *lim)
{
	struct smtp_session *s = session_memory(pool);
	s->lim = *lim;
	if (s->lim.max_line < SMTP_CMD_LINE_MAX)
		s->lim.max_line = SMTP_CMD_LINE_MAX;
	if (s->lim.max_pending < 2)
		s->lim.max_pending = 2;
	s->pq_cap = SMTP_PQ_FIRST;
	s->rec.traced = s->lim.trace;
	s->cur_tx = -1;
	s->eod_tx = -1;
	s->smug.tx = -1;
	s->text.prev_crlf = true;
	s->trace_modes = pool ? pool->trace_modes : getenv("SMTPTRACE_TRACE") != NULL;
	/* the greeting is the answer to the connection itself */
	s->pq[0] = (struct pending){.kind = PK_GREETING, .tx = -1};
	s->pq_len = 1;
	return s;
}

struct smtp_session *smtp_session_new(const struct smtp_limits *lim)
{
	return smtp_session_new_in(NULL, lim);
}

void smtp_set_midstream(struct smtp_session *s)
{
	s->rec.midstream = true;
	s->syncing = true;
	smtp_note(s, SMTP_AN_MIDSTREAM);
	/* the greeting, if any, went by before the capture started */
	struct pending greeting;
	if (s->pq_len && s->pq[s->pq_head].kind == PK_GREETING)
		smtp_pq_pop(s, &greeting);
	/* what the client sent before the capture began is as lost as a gap: a MAIL among it */
	s->gap_since_mail = true;
}

/* Frees what the session owns but its struct, queue and text block. */
static void session_release(struct smtp_session *s)
{
	struct smtp_record *r = &s->rec;
	smtp_bytes_free(&r->greeting.text);
	smtp_bytes_free(&r->helo);
	smtp_bytes_free(&r->auth_mechanism);
	smtp_bytes_free(&s->helo_pending);
	free(s->reply.text_buf); /* reply.first.text, if a reply never ended, is in it */
	smtp_smuggle_clear(&s->smug);
	for (uint32_t i = 0; i < r->n_extensions; i++)
		smtp_bytes_free(&r->extensions[i]);
	free(r->extensions);
	for (uint32_t i = 0; i < r->n_txs; i++)
		smtp_tx_free(&r->txs[i]);
	free(r->txs);
	smtp_cmdlog_free(r);
	free(r->trace_verbs);
	free(r->trace_codes);
	tls_free(r->tls);
	free(s->cline.buf);
	free(s->sline.buf);
	free(s->hold);
}

void smtp_session_free_to(struct smtp_pool *pool, struct smtp_session *s)
{
	if (!s)
		return;
	session_release(s);
	if (pool && pool->n < SMTP_POOL_MAX && s->pq_cap == SMTP_PQ_FIRST) {
		pool->kept[pool->n++] = s;
		return;
	}
	session_memory_free(s);
}

void smtp_session_free(struct smtp_session *s)
{
	smtp_session_free_to(NULL, s);
}

const struct smtp_record *smtp_get_record(const struct smtp_session *s)
{
	return &s->rec;
}

/* ---- the session's inputs ---- */

void smtp_feed(struct smtp_session *s, enum smtp_dir dir, const uint8_t *data, size_t len,
               uint64_t peer_acked, uint64_t ts_us)
{
	if (len == 0)
		return;
	starttls_feed(s, dir, data, len, peer_acked); /* implicit TLS, or after STARTTLS */
	if (dir == SMTP_TO_SERVER) {
		s->client_chunk_start = s->client_offset;
		s->client_offset += len;
		s->rec.seen_client_bytes = true;
		s->client_ts = ts_us;
		smtp_client_feed(s, data, len, peer_acked);
	} else {
		s->rec.seen_server_bytes = true;
		s->server_acked = peer_acked;
		smtp_server_feed(s, data, len, ts_us);
	}
}

void smtp_gap(struct smtp_session *s, enum smtp_dir dir, uint64_t len, uint64_t ts_us)
{
	s->rec.gap_bytes[dir] += len;
	smtp_note(s, SMTP_AN_TCP_GAP);
	smtp_lf_release(s); /* after the gap is counted: what it makes unknown is not raised */
	starttls_gap(s, dir, len);
	if (dir == SMTP_TO_CLIENT) {
		smtp_gap_server(s, len, ts_us);
	} else {
		smtp_gap_client(s, len);
		/* the client sent bytes after the 2xx to its end of data: it did not close right
		 * after it (rfc821), whatever the lost bytes were */
		s->eod_2xx_last = false;
	}
}

/* The client closed without having received the replies to the end of data that its
 * closing segment does not acknowledge (DESIGN.md section 4): for it, those transactions
 * are still in the RFC 1047 window, whatever the server answered. */
static void unsee_replies(struct smtp_session *s, uint64_t peer_acked)
{
	for (uint32_t i = s->rec.n_txs; i-- > 0;) {
		struct smtp_tx *tx = &s->rec.txs[i];
		if (!tx->eod_reply.code || tx->eod_reply_end <= peer_acked)
			break;
		if (tx->end != SMTP_TX_COMMITTED && tx->end != SMTP_TX_REJECTED)
			continue;
		tx->end = SMTP_TX_OPEN;
		tx->rejected_at = SMTP_REJ_NONE;
		tx->closed_while_open = true;
		tx->phase_at_close = SMTP_PH_EOD_SENT;
		tx->eod_reply_after_close = true;
		s->eod_2xx_last = false;
	}
}

/* A smuggled transaction the lenient reading opened but the server never answered a step
 * of, when the server closes: it never read those commands (its last reply came first). */
static void drop_unread_smuggled(struct smtp_session *s)
{
	struct smtp_record *r = &s->rec;
	while (r->n_txs > 0) {
		struct smtp_tx *tx = &r->txs[r->n_txs - 1];
		if (!tx->smuggled || tx->mail_code || tx->end != SMTP_TX_OPEN)
			return;
		for (uint32_t i = 0; i < tx->n_rcpts; i++)
			if (tx->rcpts[i].code)
				return;
		if (s->cur_tx == r->n_txs - 1)
			s->cur_tx = -1;
		smtp_tx_free(tx);
		r->n_txs--;
	}
}

/* Every transaction still open when the first side closed records how far it had come. */
static void close_open_txs(struct smtp_session *s)
{
	for (uint32_t i = 0; i < s->rec.n_txs; i++)
		smtp_tx_closed(&s->rec.txs[i]);
}

void smtp_close(struct smtp_session *s, enum smtp_dir dir, bool rst, uint64_t peer_acked,
                uint64_t ts_us)
{
	struct smtp_record *r = &s->rec;
	enum smtp_side side = dir == SMTP_TO_SERVER ? SMTP_SIDE_CLIENT : SMTP_SIDE_SERVER;
	(void)ts_us; /* nothing reads a close's time: the record keeps none */
	if (r->how[dir] != SMTP_HOW_NONE)
		return;
	r->how[dir] = rst ? SMTP_HOW_RST : SMTP_HOW_FIN;
	if (r->tls)
		tls_close(r->tls);
	if (r->closed_first == SMTP_SIDE_NONE)
		r->closed_first = side;
	if (side == SMTP_SIDE_CLIENT && peer_acked != UINT64_MAX)
		unsee_replies(s, peer_acked);
	close_open_txs(s);
	if (side == SMTP_SIDE_SERVER && s->hold_unread)
		smtp_drop_hold(s);
	if (side == SMTP_SIDE_SERVER) {
		drop_unread_smuggled(s);
		/* only a server that closed first left them unread: after the client's close it
		 * may have read them and had no one to answer (a BDAT chunk the close cut) */
		if (r->closed_first == SMTP_SIDE_SERVER)
			smtp_drop_unread_commands(s);
	}
	if (side == SMTP_SIDE_CLIENT) {
		s->client_closed = true;
		r->client_last = s->eod_2xx_last ? SMTP_LAST_EOD_2XX : SMTP_LAST_OTHER;
	} else {
		s->server_closed = true;
	}
}

static bool any_rcpt_accepted(const struct smtp_tx *tx)
{
	for (uint32_t i = 0; i < tx->n_rcpts; i++)
		if (tx->rcpts[i].code / 100 == 2)
			return true;
	return false;
}

static bool all_rcpts_refused(const struct smtp_tx *tx)
{
	for (uint32_t i = 0; i < tx->n_rcpts; i++)
		if (tx->rcpts[i].code < 400)
			return false;
	return tx->n_rcpts > 0;
}

/* A transaction that never got its message text in: whatever ended it afterwards (QUIT,
 * RSET, a close), the 4xx/5xx replies had already ended it (DESIGN.md 5): to every
 * recipient (rejected at rcpt), or to DATA (at data; at rcpt when no recipient was
 * accepted). */
static void settle_refused(struct smtp_tx *tx)
{
	if (tx->end == SMTP_TX_COMMITTED || tx->end == SMTP_TX_REJECTED)
		return;
	if (tx->end == SMTP_TX_OPEN && tx->phase >= SMTP_PH_DATA)
		return;
	if (all_rcpts_refused(tx) || (tx->data_refused && tx->n_rcpts && !any_rcpt_accepted(tx)))
		tx->rejected_at = SMTP_REJ_RCPT;
	else if (tx->data_refused)
		tx->rejected_at = SMTP_REJ_DATA;
	else
		return;
	tx->end = SMTP_TX_REJECTED;
	tx->phase = SMTP_PH_DONE;
}

void smtp_set_directions(struct smtp_session *s, bool client_seen, bool server_seen)
{
	s->rec.client_dir_seen = client_seen;
	s->rec.server_dir_seen = server_seen;
}

void smtp_set_tcp_unsure(struct smtp_session *s, bool close, const bool count[2])
{
	s->rec.close_unsure = close;
	s->rec.count_unsure[SMTP_TO_SERVER] = count[SMTP_TO_SERVER];
	s->rec.count_unsure[SMTP_TO_CLIENT] = count[SMTP_TO_CLIENT];
}

void smtp_finish(struct smtp_session *s, enum smtp_end_reason why, uint64_t ts_us)
{
	(void)ts_us;
	s->rec.end_reason = why;
	/* a line past its cap that never ended is as long as any (RFC 5321 4.5.3.1) */
	if ((s->cline.overflow && s->cmode != CM_TEXT) || s->sline.overflow ||
	    (s->cmode == CM_TEXT && s->cline.total > SMTP_TEXT_LINE_MAX))
		smtp_note_tx(s, SMTP_AN_LINE_TOO_LONG);
	if (s->hold_unread)
		smtp_drop_hold(s);
	/* the server's direction is missing: read what the client sent as a server that
	 * accepted it would have; the verdicts that need replies stay incomplete */
	while (!s->rec.seen_server_bytes && s->hold_len && s->cmode == CM_HOLD) {
		smtp_set_mode(s, s->hold_verb == SMTP_V_DATA ? CM_TEXT : CM_COMMAND);
		s->text.prev_crlf = true;
		if (s->hold_verb == SMTP_V_DATA && smtp_cur_tx(s))
			smtp_tx_data_start(smtp_cur_tx(s)); /* as if answered 354 */
		smtp_release_hold(s);
	}
	smtp_gap_drop_guessed_txs(s); /* smtp_gap.c: a RCPT alone after a gap proves none */
	for (uint32_t i = 0; i < s->rec.n_txs; i++)
		settle_refused(&s->rec.txs[i]);
	for (uint32_t i = 0; i < s->pq_len; i++) /* an EHLO never answered was not refused */
		if (smtp_pq_at(s, i)->verb == SMTP_V_EHLO || smtp_pq_at(s, i)->verb == SMTP_V_HELO)
			smtp_take_helo(s);
	for (int dir = 0; dir < 2; dir++) {
		bool seen = dir == SMTP_TO_SERVER ? s->rec.client_dir_seen : s->rec.server_dir_seen;
		for (int an = 0; seen && an < SMTP_AN_COUNT; an++)
			if ((s->inferred[dir] >> an) & 1)
				smtp_note(s, (enum smtp_anomaly)an);
	}
	smtp_gap_finish(s);
	if (why == SMTP_END_EVICTED)
		smtp_note(s, SMTP_AN_LIMIT_REACHED);
}
