/* smtp_state: the SMTP stage's shared state and the only doors to it: the names of the
 * record, anomalies and the trace, the client's reading mode, the pending-command queue
 * (RFC 2920 section 3), the steps of a transaction (RFC 5321 3.3) and held client bytes
 * (DESIGN.md section 4). Every other smtp_* file calls it; it calls none of them. */
#include "smtp_int.h"

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
	smtp_bytes_free(b);
	b->data = malloc(len + 1);
	if (!b->data)
		abort(); /* out of memory is fatal (DESIGN.md section 3) */
	if (len)
		memcpy(b->data, p, len);
	b->data[len] = '\0';
	b->len = (uint32_t)len;
}

void smtp_bytes_keep(struct smtp_session *s, struct smtp_bytes *b, const uint8_t *p, size_t len)
{
	if (len > SMTP_KEEP_TEXT)
		len = SMTP_KEEP_TEXT;
	if (len + 1 > SMTP_TEXT_BLOCK - s->text_block_used) {
		smtp_bytes_set(b, p, len);
		return;
	}
	if (!s->text_block)
		s->text_block = smtp_xcalloc(1, SMTP_TEXT_BLOCK);
	smtp_bytes_free(b);
	char *d = s->text_block + s->text_block_used;
	if (len)
		memcpy(d, p, len);
	d[len] = '\0';
	s->text_block_used += (uint32_t)len + 1;
	*b = (struct smtp_bytes){.data = d, .len = (uint32_t)len, .in_block = true};
}

void smtp_reply_text_set(struct smtp_session *s, const uint8_t *p, size_t len)
{
	struct reply_acc *r = &s->reply;
	if (len > SMTP_KEEP_TEXT)
		len = SMTP_KEEP_TEXT;
	if (len + 1 > r->text_cap) {
		uint32_t cap = r->text_cap ? r->text_cap : 64;
		while (cap < len + 1)
			cap *= 2;
		if (cap > SMTP_KEEP_TEXT + 1)
			cap = SMTP_KEEP_TEXT + 1;
		free(r->text_buf); /* nothing in it is kept: a new reply's text replaces it */
		r->text_buf = smtp_xcalloc(1, cap);
		r->text_cap = cap;
	}
	if (len)
		memcpy(r->text_buf, p, len);
	r->text_buf[len] = '\0';
	r->first.text = (struct smtp_bytes){.data = r->text_buf, .len = (uint32_t)len};
}

void smtp_reply_text_borrow(struct smtp_session *s, const uint8_t *p, size_t len)
{
	if (len > SMTP_KEEP_TEXT)
		len = SMTP_KEEP_TEXT;
	s->reply.first.text = (struct smtp_bytes){.data = (char *)p, .len = (uint32_t)len};
}

void smtp_reply_text_clear(struct smtp_session *s)
{
	s->reply.first.text = (struct smtp_bytes){0};
}

void smtp_bytes_free(struct smtp_bytes *b)
{
	if (!b->in_block)
		free(b->data);
	*b = (struct smtp_bytes){0};
}

struct smtp_tx *smtp_cur_tx(struct smtp_session *s)
{
	return s->cur_tx >= 0 ? &s->rec.txs[s->cur_tx] : NULL;
}

struct smtp_tx *smtp_tx_of(struct smtp_session *s, const struct pending *p)
{
	return p->tx >= 0 && p->tx < s->rec.n_txs ? &s->rec.txs[p->tx] : NULL;
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

/* ---- anomalies and the trace ---- */

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

/* A client act overtook the reply to (kind, verb): the client sent it before that reply
 * reached it. After the greeting that is talking early; after any other reply it is
 * pipelining, legal only once an EHLO reply advertised PIPELINING (RFC 2920). */
void smtp_note_overtook(struct smtp_session *s, enum pending_kind kind, enum smtp_verb verb,
                        bool by_order)
{
	enum smtp_anomaly an;
	if (kind == PK_GREETING)
		an = SMTP_AN_EARLY_TALKER;
	else if (!s->rec.pipelining_advertised || (smtp_verb_row(verb)->flags & SMTP_VF_SYNC))
		an = SMTP_AN_PIPELINING_UNADVERTISED;
	else
		return;
	if (by_order && s->rec.midstream && !s->rec.seen_server_bytes)
		return; /* picked up mid-stream: replies before the first one captured are unseen */
	if (by_order)   /* a missing server direction would make every command look early */
		smtp_note_inferred(s, an, SMTP_TO_CLIENT);
	else
		smtp_note(s, an);
}

size_t smtp_first_word_len(const uint8_t *p, size_t len)
{
	const uint8_t *sp = memchr(p, ' ', len);
	return sp ? (size_t)(sp - p) : len;
}

/* ---- pending-command queue (RFC 2920 section 3: replies come in command order) ---- */

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

/* Queues an entry for client bytes lost up to the current offset, read as zero or more
 * commands nobody can name (tx: the transaction they may belong to, -1 for none); it takes
 * their replies, and notes where the server's bytes stood when it began. */
void smtp_pq_push_gap(struct smtp_session *s, int64_t tx)
{
	smtp_pq_push(s, (struct pending){.kind = PK_GAP,
	                                 .tx = tx,
	                                 .end_pos = s->cpos,
	                                 .peer_acked = UINT64_MAX,
	                                 .srv_gap = s->last_reply_end,
	                                 .reply_acked = UINT64_MAX});
}

/* Puts p back at the head: an AUTH answered 334 still awaits its final reply. */
void smtp_pq_push_front(struct smtp_session *s, struct pending p)
{
	if (!pq_room(s))
		return;
	s->pq_head = s->pq_head ? s->pq_head - 1 : s->pq_cap - 1;
	s->pq_len++;
	*smtp_pq_at(s, 0) = p;
	s->eod_pending += p.kind == PK_EOD;
}

bool smtp_pq_pop(struct smtp_session *s, struct pending *out)
{
	if (s->pq_len == 0)
		return false;
	*out = *smtp_pq_at(s, 0);
	s->pq_head = s->pq_head + 1 < s->pq_cap ? s->pq_head + 1 : 0;
	s->pq_len--;
	s->eod_pending -= out->kind == PK_EOD;
	return true;
}

/* ---- transactions ---- */

void smtp_tx_free(struct smtp_tx *tx)
{
	smtp_bytes_free(&tx->mail_from);
	smtp_bytes_free(&tx->mail_params);
	smtp_bytes_free(&tx->eod_reply.text);
	for (uint32_t i = 0; i < tx->n_rcpts; i++)
		smtp_bytes_free(&tx->rcpts[i].addr);
	free(tx->rcpts);
}

struct smtp_tx *smtp_tx_begin(struct smtp_session *s)
{
	struct smtp_record *r = &s->rec;
	if (r->n_txs == s->lim.max_txs) {
		/* keep the record bounded: the last slot is reused for every later transaction */
		smtp_note(s, SMTP_AN_LIMIT_REACHED);
		smtp_tx_free(&r->txs[r->n_txs - 1]);
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

void smtp_tx_closed(struct smtp_tx *tx)
{
	if (tx->end != SMTP_TX_OPEN || tx->closed_while_open)
		return;
	tx->closed_while_open = true;
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
	smtp_bytes_keep(s, &rc->addr, p, n);
}

/* ---- held client bytes (DESIGN.md section 4) ---- */

/* Held bytes the server never read (it closed first): not commands, never kept. */
void smtp_drop_hold(struct smtp_session *s)
{
	if (s->hold_len)
		memset(s->hold, 0, s->hold_len);
	free(s->hold);
	s->hold = NULL;
	s->hold_len = 0;
	s->hold_unread = false;
	s->hold_gap = 0;
	s->lf_by_order = false;
}
