/* smtp: a passive model of the server's side of an SMTP session: the session, its
 * pending-command queue, transactions, and its inputs from the reassembler (RFC 5321,
 * RFC 2920; DESIGN.md sections 4 and 5). Commands are in smtp_client.c, replies in
 * smtp_reply.c. */
#include "smtp_int.h"
#include "tls.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AN_NAME(name, str, survives_gap) str,
static const char *const anomaly_names[SMTP_AN_COUNT] = {SMTP_ANOMALY_LIST(AN_NAME)};
#undef AN_NAME
#define AN_GAP_BIT(name, str, survives_gap) | ((uint64_t)(survives_gap) << SMTP_AN_##name)
/* the anomalies a gap does not void (the list's survives_gap column) */
static const uint64_t survive_gap = 0 SMTP_ANOMALY_LIST(AN_GAP_BIT);
#undef AN_GAP_BIT

const char *smtp_lookalike_name(enum smtp_lookalike la)
{
	static const char *const names[] = {"", "<LF>.<LF>", "<CR><LF>.<LF>", "<LF>.<CR><LF>",
	                                    "<CR>.<CR>"};
	return (unsigned)la < sizeof(names) / sizeof(names[0]) ? names[la] : "";
}

const char *smtp_acted_name(enum smtp_acted a)
{
	static const char *const names[] = {"unknown", "yes", "no"};
	return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a] : "unknown";
}

const char *smtp_anomaly_name(enum smtp_anomaly an)
{
	return (unsigned)an < SMTP_AN_COUNT ? anomaly_names[an] : "unknown";
}

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

void *smtp_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);
	if (!p)
		abort(); /* out of memory is fatal (DESIGN.md section 3) */
	return p;
}

void *smtp_xrealloc(void *p, size_t size)
{
	p = realloc(p, size);
	if (!p)
		abort();
	return p;
}

/* Replaces b with a copy of at most SMTP_KEEP_TEXT bytes of p. */
void smtp_bytes_set(struct smtp_bytes *b, const uint8_t *p, size_t len)
{
	if (len > SMTP_KEEP_TEXT)
		len = SMTP_KEEP_TEXT;
	free(b->data);
	b->data = smtp_xcalloc(1, len + 1);
	if (len)
		memcpy(b->data, p, len);
	b->len = (uint32_t)len;
}

void smtp_bytes_free(struct smtp_bytes *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

struct smtp_tx *smtp_cur_tx(struct smtp_session *s)
{
	return s->cur_tx >= 0 ? &s->rec.txs[s->cur_tx] : NULL;
}

/* ---- the client's reading mode: one door (OpenSMTPD's smtp_enter_state) ---- */

#define CM_NAME(name, str) str,
static const char *const mode_names[CM_COUNT] = {SMTP_MODE_LIST(CM_NAME)};
#undef CM_NAME

#define M(m) (1u << CM_##m)
/* From each mode, the modes the model goes to (DESIGN.md section 4): commands start chunks
 * and holds, and text or an AUTH line only when a 354 or 334 answers a command the capture
 * lost; a hold ends by its reply; TLS ends only in a plaintext session. */
static const uint8_t mode_next[CM_COUNT] = {
    [CM_COMMAND] = M(BDAT) | M(HOLD) | M(OPAQUE) | M(TEXT) | M(AUTH_LINE),
    [CM_TEXT] = M(COMMAND),
    [CM_BDAT] = M(COMMAND),
    [CM_HOLD] = M(COMMAND) | M(TEXT) | M(AUTH_LINE) | M(OPAQUE),
    [CM_AUTH_LINE] = M(HOLD) | M(COMMAND),
    [CM_OPAQUE] = M(COMMAND),
};
#undef M

const char *smtp_mode_name(enum client_mode m)
{
	return (unsigned)m < CM_COUNT ? mode_names[m] : "?";
}

bool smtp_mode_allowed(enum client_mode from, enum client_mode to)
{
	if ((unsigned)from >= CM_COUNT || (unsigned)to >= CM_COUNT)
		return false;
	return from == to || ((mode_next[from] >> to) & 1);
}

void smtp_set_mode(struct smtp_session *s, enum client_mode m)
{
	if (s->trace_modes && m != s->cmode)
		fprintf(stderr, "smtptrace: client mode %s -> %s at client byte %llu%s\n",
		        smtp_mode_name(s->cmode), smtp_mode_name(m), (unsigned long long)s->cpos,
		        smtp_mode_allowed(s->cmode, m) ? "" : " (unexpected)");
	s->cmode = m;
}

/* Anomalies that rest on what the capture shows of both directions' bytes and timing:
 * not raised once bytes were lost (DESIGN.md section 4). */
static bool gap_voids(const struct smtp_session *s, enum smtp_anomaly an)
{
	return !((survive_gap >> an) & 1) && smtp_any_gap(s);
}

bool smtp_noted(struct smtp_session *s, enum smtp_anomaly an)
{
	if (gap_voids(s, an))
		return false;
	smtp_note(s, an);
	return true;
}

void smtp_note(struct smtp_session *s, enum smtp_anomaly an)
{
	if (gap_voids(s, an))
		return;
	s->rec.anomalies |= 1ULL << an;
	if (s->rec.anomaly_counts[an] < UINT32_MAX)
		s->rec.anomaly_counts[an]++;
}

/* Appends to the trace (--trace): the verbs of commands and the codes of replies. */
void smtp_trace_verb(struct smtp_session *s, enum smtp_verb v)
{
	struct smtp_record *r = &s->rec;
	if (!s->lim.trace)
		return;
	if (r->n_trace_verbs == s->lim.max_trace) {
		smtp_note(s, SMTP_AN_LIMIT_REACHED);
		return;
	}
	if (r->n_trace_verbs % 64 == 0)
		r->trace_verbs = smtp_xrealloc(r->trace_verbs, r->n_trace_verbs + 64);
	r->trace_verbs[r->n_trace_verbs++] = (uint8_t)v;
}

void smtp_trace_code(struct smtp_session *s, uint16_t code)
{
	struct smtp_record *r = &s->rec;
	if (!s->lim.trace)
		return;
	if (r->n_trace_codes == s->lim.max_trace) {
		smtp_note(s, SMTP_AN_LIMIT_REACHED);
		return;
	}
	if (r->n_trace_codes % 64 == 0)
		r->trace_codes =
		    smtp_xrealloc(r->trace_codes, (r->n_trace_codes + 64) * sizeof(uint16_t));
	r->trace_codes[r->n_trace_codes++] = code;
}

void smtp_note_inferred(struct smtp_session *s, enum smtp_anomaly an, enum smtp_dir rests_on)
{
	s->inferred[rests_on] |= 1ULL << an;
}

void smtp_note_tx(struct smtp_session *s, enum smtp_anomaly an)
{
	if (!smtp_noted(s, an))
		return;
	struct smtp_tx *tx = smtp_cur_tx(s);
	if (tx)
		tx->anomalies |= 1ULL << an;
}

struct smtp_session *smtp_session_new(const struct smtp_limits *lim)
{
	struct smtp_session *s = smtp_xcalloc(1, sizeof(*s));
	s->lim = *lim;
	if (s->lim.max_line < SMTP_CMD_LINE_MAX)
		s->lim.max_line = SMTP_CMD_LINE_MAX;
	if (s->lim.max_pending < 2)
		s->lim.max_pending = 2;
	s->pq_cap = 4;
	s->pq = smtp_xcalloc(s->pq_cap, sizeof(*s->pq));
	s->rec.traced = s->lim.trace;
	s->cur_tx = -1;
	s->eod_tx = -1;
	s->smug.tx = -1;
	s->text.prev_crlf = true;
	s->trace_modes = getenv("SMTPTRACE_TRACE") != NULL;
	/* the greeting is the answer to the connection itself */
	s->pq[0] = (struct pending){.kind = PK_GREETING, .tx = -1};
	s->pq_len = 1;
	return s;
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
}

static void tx_free(struct smtp_tx *tx)
{
	smtp_bytes_free(&tx->mail_from);
	smtp_bytes_free(&tx->mail_params);
	smtp_bytes_free(&tx->eod_reply.text);
	for (uint32_t i = 0; i < tx->n_rcpts; i++)
		smtp_bytes_free(&tx->rcpts[i].addr);
	free(tx->rcpts);
}

void smtp_session_free(struct smtp_session *s)
{
	if (!s)
		return;
	struct smtp_record *r = &s->rec;
	smtp_bytes_free(&r->greeting.text);
	smtp_bytes_free(&r->helo);
	smtp_bytes_free(&r->auth_mechanism);
	smtp_bytes_free(&s->helo_pending);
	smtp_bytes_free(&s->reply.first.text); /* a reply that never ended */
	smtp_smuggle_clear(&s->smug);
	for (uint32_t i = 0; i < r->n_extensions; i++)
		smtp_bytes_free(&r->extensions[i]);
	free(r->extensions);
	for (uint32_t i = 0; i < r->n_txs; i++)
		tx_free(&r->txs[i]);
	free(r->txs);
	smtp_cmdlog_free(r);
	free(r->trace_verbs);
	free(r->trace_codes);
	tls_free(r->tls);
	free(s->cline.buf);
	free(s->sline.buf);
	free(s->hold);
	free(s->pq);
	free(s);
}

const struct smtp_record *smtp_get_record(const struct smtp_session *s)
{
	return &s->rec;
}

/* ---- pending-command queue (RFC 2920 section 3: replies come in command order) ---- */

struct pending *smtp_pq_at(struct smtp_session *s, uint32_t i)
{
	return &s->pq[(s->pq_head + i) % s->pq_cap];
}

/* Makes room for one more entry; false at the cap. */
static bool pq_room(struct smtp_session *s)
{
	if (s->pq_len < s->pq_cap)
		return true;
	if (s->pq_cap >= s->lim.max_pending) {
		smtp_note(s, SMTP_AN_LIMIT_REACHED);
		return false;
	}
	uint32_t cap = s->pq_cap * 2 < s->lim.max_pending ? s->pq_cap * 2 : s->lim.max_pending;
	struct pending *q = smtp_xcalloc(cap, sizeof(*q));
	for (uint32_t i = 0; i < s->pq_len; i++)
		q[i] = *smtp_pq_at(s, i);
	free(s->pq);
	s->pq = q;
	s->pq_cap = cap;
	s->pq_head = 0;
	return true;
}

void smtp_pq_push(struct smtp_session *s, struct pending p)
{
	if (!pq_room(s))
		return;
	*smtp_pq_at(s, s->pq_len) = p;
	s->pq_len++;
	s->eod_pending += p.kind == PK_EOD;
}

/* Puts p back at the head: an AUTH answered 334 still awaits its final reply. */
void smtp_pq_push_front(struct smtp_session *s, struct pending p)
{
	if (!pq_room(s))
		return;
	s->pq_head = (s->pq_head + s->pq_cap - 1) % s->pq_cap;
	s->pq_len++;
	*smtp_pq_at(s, 0) = p;
	s->eod_pending += p.kind == PK_EOD;
}

bool smtp_pq_pop(struct smtp_session *s, struct pending *out)
{
	if (s->pq_len == 0)
		return false;
	*out = *smtp_pq_at(s, 0);
	s->pq_head = (s->pq_head + 1) % s->pq_cap;
	s->pq_len--;
	s->eod_pending -= out->kind == PK_EOD;
	return true;
}

/* ---- transactions ---- */

struct smtp_tx *smtp_tx_begin(struct smtp_session *s)
{
	struct smtp_record *r = &s->rec;
	if (r->n_txs == s->lim.max_txs) {
		/* keep the record bounded: the last slot is reused for every later transaction */
		smtp_note(s, SMTP_AN_LIMIT_REACHED);
		tx_free(&r->txs[r->n_txs - 1]);
		r->n_txs--;
	}
	if (r->n_txs == r->cap_txs) {
		r->cap_txs = r->cap_txs ? r->cap_txs * 2 : 4;
		r->txs = smtp_xrealloc(r->txs, r->cap_txs * sizeof(*r->txs));
	}
	struct smtp_tx *tx = &r->txs[r->n_txs];
	memset(tx, 0, sizeof(*tx));
	tx->id = r->n_txs;
	s->cur_tx = r->n_txs++;
	return tx;
}

void smtp_tx_end(struct smtp_session *s, struct smtp_tx *tx, enum smtp_tx_end end,
                 enum smtp_reject_at at)
{
	if (!tx)
		return;
	tx->end = end;
	tx->rejected_at = at;
	tx->phase = SMTP_PH_DONE;
	if (s->cur_tx >= 0 && tx == &s->rec.txs[s->cur_tx])
		s->cur_tx = -1;
}

void smtp_tx_data_start(struct smtp_tx *tx)
{
	tx->method = SMTP_METHOD_DATA;
	tx->phase = SMTP_PH_DATA;
}

void smtp_tx_eod_sent(struct smtp_tx *tx, uint64_t ts)
{
	tx->phase = SMTP_PH_EOD_SENT;
	if (ts != UINT64_MAX)
		tx->eod_ts_us = ts;
}

void smtp_tx_closed(struct smtp_tx *tx, bool by_client)
{
	if (tx->end != SMTP_TX_OPEN || tx->closed_while_open)
		return;
	tx->closed_while_open = true;
	tx->closed_by_client = by_client;
	tx->phase_at_close = tx->phase;
}

void smtp_tx_add_rcpt(struct smtp_session *s, struct smtp_tx *tx, const uint8_t *p, size_t n)
{
	if (tx->n_rcpts == s->lim.max_rcpts) {
		smtp_note_tx(s, SMTP_AN_LIMIT_REACHED);
		return;
	}
	if (tx->n_rcpts == tx->cap_rcpts) {
		tx->cap_rcpts = tx->cap_rcpts ? tx->cap_rcpts * 2 : 4;
		tx->rcpts = smtp_xrealloc(tx->rcpts, tx->cap_rcpts * sizeof(*tx->rcpts));
	}
	struct smtp_rcpt *rc = &tx->rcpts[tx->n_rcpts++];
	memset(rc, 0, sizeof(*rc));
	smtp_bytes_set(&rc->addr, p, n);
}

/* ---- line framing (both directions) ---- */

static void line_reserve(struct line_buf *lb, size_t need)
{
	if (need <= lb->cap)
		return;
	size_t cap = lb->cap ? lb->cap : 128;
	while (cap < need)
		cap *= 2;
	lb->buf = smtp_xrealloc(lb->buf, cap);
	lb->cap = (uint32_t)cap;
}

/* Takes bytes up to the next LF. A line that arrives whole is used in place; only a line
 * split across segments is copied, up to the cap. Returns the bytes consumed; *done tells
 * whether a line is complete in *out. */
size_t smtp_take_line(struct line_buf *lb, uint32_t cap, const uint8_t *p, size_t len,
                      struct line *out, bool *done)
{
	const uint8_t *lf = memchr(p, '\n', len);
	size_t n = lf ? (size_t)(lf - p) + 1 : len;
	*done = lf != NULL;
	if (lb->len == 0 && !lb->overflow && lf) {
		out->p = p;
		out->len = n - 1;
		out->total = n;
		out->crlf = out->len > 0 && p[out->len - 1] == '\r';
		out->len -= out->crlf;
		return n;
	}
	size_t room = cap - lb->len, copy = n < room ? n : room;
	line_reserve(lb, lb->len + copy);
	memcpy(lb->buf + lb->len, p, copy);
	lb->len += (uint32_t)copy;
	lb->overflow = lb->overflow || copy < n;
	lb->total += n;
	/* the byte before the LF, which may be past the cap or in an earlier segment */
	bool cr_before = n >= 2 ? p[n - 2] == '\r' : lb->last_cr;
	lb->last_cr = n >= 1 && p[n - 1] == '\r';
	if (!*done)
		return n;
	out->p = lb->buf;
	out->len = lb->len;
	out->total = lb->total;
	out->crlf = cr_before;
	if (out->len && lb->buf[out->len - 1] == '\n')
		out->len--;
	if (out->crlf && out->len && lb->buf[out->len - 1] == '\r')
		out->len--;
	return n;
}

void smtp_line_reset(struct line_buf *lb)
{
	lb->len = 0;
	lb->total = 0;
	lb->last_cr = false;
	lb->overflow = false;
}

/* ---- the session's inputs ---- */

/* A TLS handshake record (content type 22, version 3.x) where SMTP text should start. */
static bool looks_like_tls(const uint8_t *p, size_t len)
{
	/* 0x16 starts neither a command (letters) nor a reply (digits): one byte decides */
	return len >= 1 && p[0] == 0x16 && (len < 2 || p[1] == 0x03);
}

/* The client's bytes after the 220 to STARTTLS are not TLS but SMTP (a decrypted or
 * inspected capture): the session is read on as SMTP (RFC 3207 section 4.2: a new EHLO). */
static void starttls_plaintext(struct smtp_session *s)
{
	if (s->rec.implicit_tls)
		return;
	tls_free(s->rec.tls);
	s->rec.tls = NULL;
	smtp_note(s, SMTP_AN_STARTTLS_PLAINTEXT);
	smtp_set_mode(s, CM_COMMAND);
	s->server_opaque = false;
}

void smtp_feed(struct smtp_session *s, enum smtp_dir dir, const uint8_t *data, size_t len,
               uint64_t peer_acked, uint64_t ts_us)
{
	if (len == 0)
		return;
	if (!s->rec.seen_client_bytes && !s->rec.seen_server_bytes && looks_like_tls(data, len)) {
		/* implicit TLS (RFC 8314, port 465 and others): nothing of SMTP can be read */
		s->rec.implicit_tls = true;
		smtp_set_mode(s, CM_OPAQUE);
		s->server_opaque = true;
		s->rec.tls = tls_new();
	}
	if (s->rec.tls && /* what follows STARTTLS's 220, or implicit TLS: the handshake */
	    tls_feed(s->rec.tls, dir == SMTP_TO_SERVER ? TLS_TO_SERVER : TLS_TO_CLIENT, data,
	             len) == TLS_FEED_NOT_TLS)
		starttls_plaintext(s);
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
	if (dir == SMTP_TO_CLIENT)
		smtp_gap_server(s, len, ts_us);
	else
		smtp_gap_client(s, len);
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
		tx->closed_by_client = true;
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
		tx_free(tx);
		r->n_txs--;
	}
}

/* Every transaction still open when the first side closed records how far it had come. */
static void close_open_txs(struct smtp_session *s, bool by_client)
{
	for (uint32_t i = 0; i < s->rec.n_txs; i++)
		smtp_tx_closed(&s->rec.txs[i], by_client);
}

void smtp_close(struct smtp_session *s, enum smtp_dir dir, bool rst, uint64_t peer_acked,
                uint64_t ts_us)
{
	struct smtp_record *r = &s->rec;
	enum smtp_side side = dir == SMTP_TO_SERVER ? SMTP_SIDE_CLIENT : SMTP_SIDE_SERVER;
	if (r->how[dir] != SMTP_HOW_NONE)
		return;
	r->how[dir] = rst ? SMTP_HOW_RST : SMTP_HOW_FIN;
	r->close_ts_us[dir] = ts_us;
	if (r->tls)
		tls_close(r->tls);
	if (r->closed_first == SMTP_SIDE_NONE)
		r->closed_first = side;
	if (side == SMTP_SIDE_CLIENT && peer_acked != UINT64_MAX)
		unsee_replies(s, peer_acked);
	close_open_txs(s, side == SMTP_SIDE_CLIENT);
	if (side == SMTP_SIDE_SERVER && s->hold_unread)
		smtp_drop_hold(s);
	if (side == SMTP_SIDE_SERVER)
		drop_unread_smuggled(s);
	if (side == SMTP_SIDE_CLIENT) {
		s->client_closed = true;
		r->client_last = s->eod_2xx_last ? SMTP_LAST_EOD_2XX : SMTP_LAST_OTHER;
		r->client_closed_before_server = !s->server_closed;
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
