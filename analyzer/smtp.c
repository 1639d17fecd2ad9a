/* smtp: a passive model of the server's side of an SMTP session: line framing, the
 * pending-command queue, DATA/BDAT/STARTTLS/AUTH modes, transactions and anomalies
 * (RFC 5321, RFC 2920, RFC 3030, RFC 3207, RFC 4954; DESIGN.md sections 4 and 5). */
#include "smtp.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define SMTP_CMD_LINE_MAX 512  /* RFC 5321 4.5.3.1.4, including CRLF */
#define SMTP_TEXT_LINE_MAX 1000 /* RFC 5321 4.5.3.1.6, including CRLF */
#define SMTP_REPLY_LINE_MAX 512 /* RFC 5321 4.5.3.1.5, including CRLF */
#define SMTP_KEEP_TEXT 512     /* bytes of any wire text kept in the record */
#define SMTP_HOLD_MAX (256 * 1024) /* client bytes held while a reply decides their meaning */
#define SMTP_ERROR_RUN 3       /* 5xx replies in a row that make repeated_errors */

enum client_mode {
	CM_COMMAND,   /* command lines */
	CM_TEXT,      /* DATA message text, until <CRLF>.<CRLF> */
	CM_BDAT,      /* a BDAT chunk: bdat_left octets */
	CM_HOLD,      /* waiting for the reply to DATA, STARTTLS or AUTH */
	CM_AUTH_LINE, /* the next line answers a 334: credentials, never kept */
	CM_OPAQUE,    /* after STARTTLS: TLS */
};

/* A command awaiting its reply. The greeting and the end of data take a place too. */
enum pending_kind { PK_COMMAND = 0, PK_GREETING, PK_EOD };

struct pending {
	enum pending_kind kind;
	enum smtp_verb verb;
	uint32_t arg;        /* recipient index for RCPT; 1 for BDAT LAST */
	int64_t tx;          /* the transaction it belongs to, -1 for none */
	uint64_t peer_acked; /* server bytes the client had when it sent this */
};

struct line_buf {
	uint8_t *buf; /* grown on demand up to the line cap: most lines never need it */
	uint32_t len, cap;
	bool overflow; /* the line passed the cap: the rest up to LF is dropped */
	uint64_t peer_acked; /* of the line's first byte */
};

/* The reply being assembled from its lines. */
struct reply_acc {
	bool active;
	uint16_t code;
	struct smtp_reply first;
	bool is_ehlo;
};

/* Scanner state inside DATA message text. */
struct text_state {
	uint32_t line_len;
	uint8_t head[3];      /* first bytes of the current line */
	bool prev_crlf;       /* the previous line ended in CRLF (true at the start) */
	bool last_was_cr;     /* last byte seen was CR */
};

struct smtp_session {
	struct smtp_limits lim;
	struct smtp_record rec;
	enum client_mode cmode;
	bool server_opaque;
	struct line_buf cline, sline;
	struct text_state text;
	uint64_t bdat_left;
	bool bdat_last;
	uint8_t *hold;
	size_t hold_len;
	uint64_t hold_acked;
	struct pending *pq; /* a ring of pq_cap entries, grown up to lim.max_pending */
	uint32_t pq_head, pq_len, pq_cap;
	struct reply_acc reply;
	int64_t cur_tx; /* index of the open transaction, -1 when none */
	uint32_t error_run;
	bool client_closed, server_closed;
	bool eod_2xx_last; /* the last thing the client received was the 2xx to EOD */
	uint64_t server_offset; /* server bytes processed */
	uint64_t last_reply_end; /* server offset at the end of the last complete reply */
	struct pending last_done; /* the command the last complete reply answered */
	uint64_t client_ts;
};

static const char *const anomaly_names[SMTP_AN_COUNT] = {
	"early_talker", "pipelining_unadvertised", "data_before_354", "residue_after_eod",
	"unstuffed_dot", "bare_lf", "bare_cr", "smuggling_eod", "repeated_errors",
	"unknown_command", "line_too_long", "auth_attempt", "bdat", "midstream", "tcp_gap",
	"overlap_mismatch", "reply_without_command", "limit_reached",
};

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
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);
	if (!p)
		abort(); /* out of memory is fatal (DESIGN.md section 3) */
	return p;
}

static void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size);
	if (!p)
		abort();
	return p;
}

/* Replaces b with a copy of at most SMTP_KEEP_TEXT bytes of p. */
static void bytes_set(struct smtp_bytes *b, const uint8_t *p, size_t len)
{
	if (len > SMTP_KEEP_TEXT)
		len = SMTP_KEEP_TEXT;
	free(b->data);
	b->data = xcalloc(1, len + 1);
	memcpy(b->data, p, len);
	b->len = (uint32_t)len;
}

static void bytes_free(struct smtp_bytes *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

static struct smtp_tx *cur_tx(struct smtp_session *s)
{
	return s->cur_tx >= 0 ? &s->rec.txs[s->cur_tx] : NULL;
}

static void note(struct smtp_session *s, enum smtp_anomaly an)
{
	s->rec.anomalies |= 1ULL << an;
	if (s->rec.anomaly_counts[an] < UINT32_MAX)
		s->rec.anomaly_counts[an]++;
}

static void note_tx(struct smtp_session *s, enum smtp_anomaly an)
{
	note(s, an);
	struct smtp_tx *tx = cur_tx(s);
	if (tx)
		tx->anomalies |= 1ULL << an;
}

void smtp_note(struct smtp_session *s, enum smtp_anomaly an)
{
	note(s, an);
}

struct smtp_session *smtp_session_new(const struct smtp_limits *lim)
{
	struct smtp_session *s = xcalloc(1, sizeof(*s));
	s->lim = *lim;
	if (s->lim.max_line < SMTP_CMD_LINE_MAX)
		s->lim.max_line = SMTP_CMD_LINE_MAX;
	if (s->lim.max_pending < 2)
		s->lim.max_pending = 2;
	s->pq_cap = 4;
	s->pq = xcalloc(s->pq_cap, sizeof(*s->pq));
	s->cur_tx = -1;
	s->text.prev_crlf = true;
	/* the greeting is the answer to the connection itself */
	s->pq[0] = (struct pending){.kind = PK_GREETING, .tx = -1};
	s->pq_len = 1;
	return s;
}

static bool pq_pop(struct smtp_session *s, struct pending *out);

void smtp_set_midstream(struct smtp_session *s)
{
	s->rec.midstream = true;
	note(s, SMTP_AN_MIDSTREAM);
	/* the greeting, if any, went by before the capture started */
	struct pending greeting;
	if (s->pq_len && s->pq[s->pq_head].kind == PK_GREETING)
		pq_pop(s, &greeting);
}

static void tx_free(struct smtp_tx *tx)
{
	bytes_free(&tx->mail_from);
	bytes_free(&tx->mail_params);
	bytes_free(&tx->eod_reply.text);
	for (uint32_t i = 0; i < tx->n_rcpts; i++)
		bytes_free(&tx->rcpts[i].addr);
	free(tx->rcpts);
}

void smtp_session_free(struct smtp_session *s)
{
	if (!s)
		return;
	struct smtp_record *r = &s->rec;
	bytes_free(&r->greeting.text);
	bytes_free(&r->helo);
	bytes_free(&r->auth_mechanism);
	for (uint32_t i = 0; i < r->n_extensions; i++)
		bytes_free(&r->extensions[i]);
	free(r->extensions);
	for (uint32_t i = 0; i < r->n_txs; i++)
		tx_free(&r->txs[i]);
	free(r->txs);
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

static struct pending *pq_at(struct smtp_session *s, uint32_t i)
{
	return &s->pq[(s->pq_head + i) % s->pq_cap];
}

/* Makes room for one more entry; false at the cap. */
static bool pq_room(struct smtp_session *s)
{
	if (s->pq_len < s->pq_cap)
		return true;
	if (s->pq_cap >= s->lim.max_pending) {
		note(s, SMTP_AN_LIMIT_REACHED);
		return false;
	}
	uint32_t cap = s->pq_cap * 2 < s->lim.max_pending ? s->pq_cap * 2 : s->lim.max_pending;
	struct pending *q = xcalloc(cap, sizeof(*q));
	for (uint32_t i = 0; i < s->pq_len; i++)
		q[i] = *pq_at(s, i);
	free(s->pq);
	s->pq = q;
	s->pq_cap = cap;
	s->pq_head = 0;
	return true;
}

static void pq_push(struct smtp_session *s, struct pending p)
{
	if (!pq_room(s))
		return;
	*pq_at(s, s->pq_len) = p;
	s->pq_len++;
}

/* Puts p back at the head: an AUTH answered 334 still awaits its final reply. */
static void pq_push_front(struct smtp_session *s, struct pending p)
{
	if (!pq_room(s))
		return;
	s->pq_head = (s->pq_head + s->pq_cap - 1) % s->pq_cap;
	s->pq_len++;
	*pq_at(s, 0) = p;
}

static bool pq_pop(struct smtp_session *s, struct pending *out)
{
	if (s->pq_len == 0)
		return false;
	*out = *pq_at(s, 0);
	s->pq_head = (s->pq_head + 1) % s->pq_cap;
	s->pq_len--;
	return true;
}

/* ---- transactions ---- */

static struct smtp_tx *tx_open(struct smtp_session *s)
{
	struct smtp_record *r = &s->rec;
	if (r->n_txs == s->lim.max_txs) {
		/* keep the record bounded: the last slot is reused for every later transaction */
		note(s, SMTP_AN_LIMIT_REACHED);
		tx_free(&r->txs[r->n_txs - 1]);
		r->n_txs--;
	}
	if (r->n_txs == r->cap_txs) {
		r->cap_txs = r->cap_txs ? r->cap_txs * 2 : 4;
		r->txs = xrealloc(r->txs, r->cap_txs * sizeof(*r->txs));
	}
	struct smtp_tx *tx = &r->txs[r->n_txs];
	memset(tx, 0, sizeof(*tx));
	tx->id = r->n_txs;
	s->cur_tx = r->n_txs++;
	return tx;
}

static void tx_end(struct smtp_session *s, enum smtp_tx_end end, enum smtp_reject_at at)
{
	struct smtp_tx *tx = cur_tx(s);
	if (!tx)
		return;
	tx->end = end;
	tx->rejected_at = at;
	tx->phase = SMTP_PH_DONE;
	s->cur_tx = -1;
}

static void add_rcpt(struct smtp_session *s, struct smtp_tx *tx, const uint8_t *p, size_t n)
{
	if (tx->n_rcpts == s->lim.max_rcpts) {
		note_tx(s, SMTP_AN_LIMIT_REACHED);
		return;
	}
	if (tx->n_rcpts == tx->cap_rcpts) {
		tx->cap_rcpts = tx->cap_rcpts ? tx->cap_rcpts * 2 : 4;
		tx->rcpts = xrealloc(tx->rcpts, tx->cap_rcpts * sizeof(*tx->rcpts));
	}
	struct smtp_rcpt *rc = &tx->rcpts[tx->n_rcpts++];
	memset(rc, 0, sizeof(*rc));
	bytes_set(&rc->addr, p, n);
}

/* ---- client side: commands ---- */

/* A client act overtook the reply to (kind, verb): the client sent it before that reply
 * reached it. After the greeting that is talking early; after any other reply it is
 * pipelining, legal only once an EHLO reply advertised PIPELINING (RFC 2920). */
static void note_overtook(struct smtp_session *s, enum pending_kind kind, enum smtp_verb verb)
{
	if (kind == PK_GREETING)
		note(s, SMTP_AN_EARLY_TALKER);
	else if (!s->rec.pipelining_advertised || verb == SMTP_V_EHLO || verb == SMTP_V_HELO)
		note(s, SMTP_AN_PIPELINING_UNADVERTISED);
}

/* DESIGN.md section 4: with the ACK number, a command is early when it does not
 * acknowledge the end of the previous reply; while that reply is still to come the test
 * waits for it (reply_done). Without ACKs, capture order decides. */
static void check_pipelined(struct smtp_session *s, uint64_t acked)
{
	if (s->pq_len > 0) {
		if (acked == UINT64_MAX)
			note_overtook(s, pq_at(s, s->pq_len - 1)->kind, pq_at(s, s->pq_len - 1)->verb);
		return;
	}
	if (acked != UINT64_MAX && acked < s->last_reply_end)
		note_overtook(s, s->last_done.kind, s->last_done.verb);
}

static size_t first_word_len(const uint8_t *p, size_t len)
{
	const uint8_t *sp = memchr(p, ' ', len);
	return sp ? (size_t)(sp - p) : len;
}

static void cmd_helo(struct smtp_session *s, const struct smtp_command *c)
{
	bytes_set(&s->rec.helo, c->arg, c->arg_len);
	s->rec.ehlo = c->verb == SMTP_V_EHLO;
}

/* Opens a transaction; returns its index, or -1 when one is open already (the server
 * answers 503 and the open one goes on). */
static int64_t cmd_mail(struct smtp_session *s, const struct smtp_command *c)
{
	const uint8_t *path, *params;
	size_t path_len, params_len;
	if (cur_tx(s))
		return -1;
	struct smtp_tx *tx = tx_open(s);
	if (smtp_parse_path(c->arg, c->arg_len, "FROM:", &path, &path_len, &params, &params_len)) {
		bytes_set(&tx->mail_from, path, path_len);
		if (params_len)
			bytes_set(&tx->mail_params, params, params_len);
	} else {
		bytes_set(&tx->mail_from, c->arg, c->arg_len);
	}
	return s->cur_tx;
}

static uint32_t cmd_rcpt(struct smtp_session *s, const struct smtp_command *c)
{
	const uint8_t *path, *params;
	size_t path_len, params_len;
	struct smtp_tx *tx = cur_tx(s);
	if (!tx)
		return UINT32_MAX;
	if (!smtp_parse_path(c->arg, c->arg_len, "TO:", &path, &path_len, &params, &params_len)) {
		path = c->arg;
		path_len = c->arg_len;
	}
	add_rcpt(s, tx, path, path_len);
	return tx->n_rcpts - 1;
}

static void cmd_bdat(struct smtp_session *s, const struct smtp_command *c, struct pending *p)
{
	uint64_t size = 0;
	bool last = false;
	note(s, SMTP_AN_BDAT);
	if (!smtp_parse_bdat(c->arg, c->arg_len, &size, &last)) {
		p->verb = SMTP_V_UNKNOWN; /* the server answers 501 and reads no octets */
		return;
	}
	struct smtp_tx *tx = cur_tx(s);
	if (tx) {
		tx->method = SMTP_METHOD_BDAT;
		tx->anomalies |= 1ULL << SMTP_AN_BDAT;
	}
	p->arg = last;
	s->bdat_left = size;
	s->bdat_last = last;
	s->cmode = CM_BDAT;
}

/* Acts on a command line as the server would read it. */
static void on_command(struct smtp_session *s, const uint8_t *line, size_t len, uint64_t acked)
{
	struct smtp_command c;
	struct pending p = {.kind = PK_COMMAND, .peer_acked = acked};
	smtp_parse_command(line, len, &c);
	p.verb = c.verb;
	p.tx = s->cur_tx;
	s->rec.commands++;
	s->eod_2xx_last = false;
	check_pipelined(s, acked);
	switch (c.verb) {
	case SMTP_V_EHLO:
	case SMTP_V_HELO:
		cmd_helo(s, &c);
		/* a new EHLO/HELO resets the transaction like RSET (RFC 5321 4.1.4) */
		__attribute__((fallthrough));
	case SMTP_V_RSET:
		/* the server ends the transaction when it reads the command: a MAIL pipelined
		 * after it opens a new one (RSET is always answered 250, 4.1.1.5) */
		if (cur_tx(s) && cur_tx(s)->phase < SMTP_PH_EOD_SENT)
			tx_end(s, SMTP_TX_RESET, SMTP_REJ_NONE);
		break;
	case SMTP_V_MAIL:
		p.tx = cmd_mail(s, &c);
		break;
	case SMTP_V_RCPT:
		p.arg = cmd_rcpt(s, &c);
		break;
	case SMTP_V_DATA:
	case SMTP_V_STARTTLS:
		s->cmode = CM_HOLD;
		break;
	case SMTP_V_AUTH:
		note(s, SMTP_AN_AUTH_ATTEMPT);
		/* the mechanism only: an initial response after it is a credential */
		bytes_set(&s->rec.auth_mechanism, c.arg, first_word_len(c.arg, c.arg_len));
		s->cmode = CM_HOLD;
		break;
	case SMTP_V_BDAT:
		cmd_bdat(s, &c, &p);
		break;
	case SMTP_V_QUIT:
		s->rec.quit_sent = true;
		if (cur_tx(s) && cur_tx(s)->phase < SMTP_PH_EOD_SENT)
			tx_end(s, SMTP_TX_ABORTED_BY_QUIT, SMTP_REJ_NONE);
		break;
	case SMTP_V_UNKNOWN:
		note(s, SMTP_AN_UNKNOWN_COMMAND);
		break;
	default:
		break;
	}
	pq_push(s, p);
}

/* ---- line framing (both directions) ---- */

struct line {
	const uint8_t *p; /* the line without its end, borrowed from the input or the buffer */
	size_t len;
	uint64_t total; /* its full length on the wire, including the line end */
	bool crlf;      /* ended in CRLF (else a bare LF) */
};

static void line_reserve(struct line_buf *lb, size_t need)
{
	if (need <= lb->cap)
		return;
	size_t cap = lb->cap ? lb->cap : 128;
	while (cap < need)
		cap *= 2;
	lb->buf = xrealloc(lb->buf, cap);
	lb->cap = (uint32_t)cap;
}

/* Takes bytes up to the next LF. A line that arrives whole is used in place; only a line
 * split across segments is copied, up to the cap. Returns the bytes consumed; *done tells
 * whether a line is complete in *out. */
static size_t take_line(struct line_buf *lb, uint32_t cap, const uint8_t *p, size_t len,
			struct line *out, bool *done)
{
	const uint8_t *lf = memchr(p, '\n', len);
	size_t n = lf ? (size_t)(lf - p) + 1 : len;
	*done = lf != NULL;
	if (lb->len == 0 && !lb->overflow && lf) {
		out->p = p;
		out->len = n - 1;
		out->total = n;
	} else {
		size_t room = cap - lb->len, copy = n < room ? n : room;
		line_reserve(lb, lb->len + copy);
		memcpy(lb->buf + lb->len, p, copy);
		lb->len += (uint32_t)copy;
		lb->overflow = lb->overflow || copy < n;
		out->total = lb->len + (lb->overflow ? (uint64_t)cap : 0);
		if (!*done)
			return n;
		out->p = lb->buf;
		out->len = lb->len && lb->buf[lb->len - 1] == '\n' ? lb->len - 1 : lb->len;
		out->total = lb->overflow ? (uint64_t)cap + 1 : lb->len;
	}
	out->crlf = out->len > 0 && out->p[out->len - 1] == '\r';
	if (out->crlf)
		out->len--;
	return n;
}

static void line_reset(struct line_buf *lb)
{
	lb->len = 0;
	lb->overflow = false;
}

/* ---- client side: framing by mode ---- */

static void client_feed(struct smtp_session *s, const uint8_t *p, size_t len, uint64_t acked);

static void hold_append(struct smtp_session *s, const uint8_t *p, size_t len, uint64_t acked)
{
	if (s->hold_len == 0)
		s->hold_acked = acked;
	if (s->hold_len + len > SMTP_HOLD_MAX) {
		note(s, SMTP_AN_LIMIT_REACHED);
		len = SMTP_HOLD_MAX - s->hold_len;
	}
	s->hold = xrealloc(s->hold, s->hold_len + len + 1);
	memcpy(s->hold + s->hold_len, p, len);
	s->hold_len += len;
}

/* The reply that decides how held bytes read has come: read them now. */
static void release_hold(struct smtp_session *s)
{
	uint8_t *buf = s->hold;
	size_t n = s->hold_len;
	if (n == 0)
		return;
	s->hold = NULL;
	s->hold_len = 0;
	client_feed(s, buf, n, s->hold_acked);
	free(buf);
}

static size_t bdat_take(struct smtp_session *s, size_t len, uint64_t ts)
{
	size_t n = len < s->bdat_left ? len : (size_t)s->bdat_left;
	struct smtp_tx *tx = cur_tx(s);
	s->bdat_left -= n;
	if (tx)
		tx->size += n;
	if (s->bdat_left == 0) {
		s->cmode = CM_COMMAND;
		if (tx && s->bdat_last) {
			tx->phase = SMTP_PH_EOD_SENT;
			tx->eod_ts_us = ts;
		}
	}
	return n;
}

/* An end-of-data look-alike (SMTP smuggling, 2023): a "." line that a strict server
 * reads as text because a bare LF is involved. */
static void text_lookalike(struct smtp_session *s, const struct line *l, bool prev_crlf)
{
	if (l->len != 1 || l->p[0] != '.')
		return;
	if (!l->crlf || !prev_crlf)
		note_tx(s, SMTP_AN_SMUGGLING_EOD);
}

static void text_line(struct smtp_session *s, const struct line *l, uint64_t acked, uint64_t ts)
{
	struct smtp_tx *tx = cur_tx(s);
	bool prev_crlf = s->text.prev_crlf;
	s->text.prev_crlf = l->crlf;
	if (l->len == 1 && l->p[0] == '.' && l->crlf && prev_crlf) {
		s->cmode = CM_COMMAND;
		pq_push(s, (struct pending){.kind = PK_EOD, .tx = s->cur_tx, .peer_acked = acked});
		if (tx) {
			tx->phase = SMTP_PH_EOD_SENT;
			tx->eod_ts_us = ts;
		}
		return;
	}
	if (l->total > SMTP_TEXT_LINE_MAX)
		note_tx(s, SMTP_AN_LINE_TOO_LONG);
	if (!l->crlf)
		note_tx(s, SMTP_AN_BARE_LF);
	if (memchr(l->p, '\r', l->len))
		note_tx(s, SMTP_AN_BARE_CR);
	text_lookalike(s, l, prev_crlf);
	if (tx)
		tx->size += l->total;
}

static void command_line(struct smtp_session *s, const struct line *l, uint64_t acked)
{
	if (l->total > SMTP_CMD_LINE_MAX)
		note(s, SMTP_AN_LINE_TOO_LONG);
	if (!l->crlf)
		note(s, SMTP_AN_BARE_LF);
	if (s->cmode == CM_AUTH_LINE) {
		/* an answer to a 334: a credential, counted but never kept */
		s->cmode = CM_HOLD;
		return;
	}
	on_command(s, l->p, l->len, acked);
}

/* Text lines in message text can be long and are never kept: the line buffer is used
 * only to see the line's first bytes and its end. */
static size_t line_take(struct smtp_session *s, const uint8_t *p, size_t len, uint64_t acked,
			uint64_t ts)
{
	struct line l;
	bool done;
	if (s->cline.len == 0 && !s->cline.overflow)
		s->cline.peer_acked = acked;
	size_t n = take_line(&s->cline, s->lim.max_line, p, len, &l, &done);
	if (!done)
		return n;
	if (l.total > s->lim.max_line && s->cmode != CM_TEXT)
		note(s, SMTP_AN_LINE_TOO_LONG);
	uint64_t line_acked = s->cline.len ? s->cline.peer_acked : acked;
	if (s->cmode == CM_TEXT)
		text_line(s, &l, line_acked, ts);
	else
		command_line(s, &l, line_acked);
	if (s->cmode == CM_HOLD || s->cmode == CM_AUTH_LINE)
		memset(s->cline.buf, 0, s->cline.len); /* may have held a credential */
	line_reset(&s->cline);
	return n;
}

static void client_feed(struct smtp_session *s, const uint8_t *p, size_t len, uint64_t acked)
{
	while (len > 0) {
		size_t n;
		switch (s->cmode) {
		case CM_OPAQUE:
			return;
		case CM_HOLD:
			hold_append(s, p, len, acked);
			return;
		case CM_BDAT:
			n = bdat_take(s, len, s->client_ts);
			break;
		default:
			n = line_take(s, p, len, acked, s->client_ts);
			break;
		}
		p += n;
		len -= n;
	}
}

/* ---- server side: replies ---- */

static void reply_greeting(struct smtp_session *s, const struct smtp_reply *r)
{
	s->rec.greeting_seen = true;
	bytes_free(&s->rec.greeting.text);
	s->rec.greeting = *r;
	s->rec.greeting.text = (struct smtp_bytes){0};
	bytes_set(&s->rec.greeting.text, (const uint8_t *)r->text.data, r->text.len);
}

static struct smtp_tx *tx_of(struct smtp_session *s, const struct pending *p)
{
	return p->tx >= 0 && p->tx < s->rec.n_txs ? &s->rec.txs[p->tx] : NULL;
}

/* The reply to the end of data (or to BDAT LAST): the commitment, RFC 5321 3.3. */
static void reply_eod(struct smtp_session *s, const struct pending *p, const struct smtp_reply *r)
{
	struct smtp_tx *tx = tx_of(s, p);
	if (!tx || tx->end != SMTP_TX_OPEN)
		return;
	bytes_free(&tx->eod_reply.text);
	tx->eod_reply = *r;
	tx->eod_reply.text = (struct smtp_bytes){0};
	bytes_set(&tx->eod_reply.text, (const uint8_t *)r->text.data, r->text.len);
	if (s->client_closed) { /* too late: the RFC 1047 window; classify decides */
		tx->eod_reply_after_close = true;
		return;
	}
	if (s->cur_tx == p->tx)
		s->cur_tx = -1;
	tx->phase = SMTP_PH_DONE;
	if (r->code / 100 == 2) {
		tx->end = SMTP_TX_COMMITTED;
		s->eod_2xx_last = true;
	} else {
		tx->end = SMTP_TX_REJECTED;
		tx->rejected_at = SMTP_REJ_EOD;
	}
}

static bool any_rcpt_accepted(const struct smtp_tx *tx)
{
	for (uint32_t i = 0; i < tx->n_rcpts; i++)
		if (tx->rcpts[i].code / 100 == 2)
			return true;
	return false;
}

static void reply_data(struct smtp_session *s, const struct pending *p, const struct smtp_reply *r)
{
	struct smtp_tx *tx = tx_of(s, p);
	if (r->code == 354) {
		s->cmode = CM_TEXT;
		s->text.prev_crlf = true;
		if (tx) {
			tx->method = SMTP_METHOD_DATA;
			tx->phase = SMTP_PH_DATA;
		}
		if (s->hold_len && (s->hold_acked == UINT64_MAX || s->hold_acked < s->last_reply_end))
			note_tx(s, SMTP_AN_DATA_BEFORE_354);
	} else {
		s->cmode = CM_COMMAND; /* what the client sent next is read as commands */
		if (tx && tx->end == SMTP_TX_OPEN && r->code >= 400) {
			s->cur_tx = p->tx;
			tx_end(s, SMTP_TX_REJECTED,
			       tx->n_rcpts && !any_rcpt_accepted(tx) ? SMTP_REJ_RCPT : SMTP_REJ_DATA);
		}
	}
	release_hold(s);
}

static void reply_tx_step(struct smtp_session *s, const struct pending *p, const struct smtp_reply *r)
{
	struct smtp_tx *tx = tx_of(s, p);
	bool ok = r->code / 100 == 2;
	/* codes are recorded even after a pipelined QUIT or RSET ended the transaction */
	if (tx && p->verb == SMTP_V_RCPT && p->arg < tx->n_rcpts)
		tx->rcpts[p->arg].code = r->code;
	if (tx && p->verb == SMTP_V_MAIL)
		tx->mail_code = r->code;
	if (!tx || tx->end != SMTP_TX_OPEN)
		return;
	switch (p->verb) {
	case SMTP_V_MAIL:
		if (!ok && s->cur_tx == p->tx)
			tx_end(s, SMTP_TX_REJECTED, SMTP_REJ_MAIL);
		break;
	case SMTP_V_RCPT:
		if (ok && tx->phase < SMTP_PH_RCPT)
			tx->phase = SMTP_PH_RCPT;
		break;
	case SMTP_V_BDAT:
		if (p->arg)
			reply_eod(s, p, r);
		else if (!ok && s->cur_tx == p->tx)
			tx_end(s, SMTP_TX_REJECTED, SMTP_REJ_DATA);
		break;
	default:
		break;
	}
}

static void reply_session(struct smtp_session *s, const struct pending *p, const struct smtp_reply *r)
{
	switch (p->verb) {
	case SMTP_V_QUIT:
		s->rec.quit_replied = true;
		break;
	case SMTP_V_STARTTLS:
		if (r->code == 220) { /* RFC 3207: both sides speak TLS from here */
			s->rec.starttls_accepted = true;
			s->cmode = CM_OPAQUE;
			s->server_opaque = true;
			free(s->hold);
			s->hold = NULL;
			s->hold_len = 0;
		} else {
			s->cmode = CM_COMMAND;
			release_hold(s);
		}
		break;
	case SMTP_V_AUTH:
		if (r->code == 334) { /* a challenge: the client's next line answers it */
			s->cmode = CM_AUTH_LINE;
			pq_push_front(s, *p);
		} else {
			s->rec.auth_result = r->code;
			s->cmode = CM_COMMAND;
		}
		release_hold(s);
		break;
	default:
		break;
	}
}

static void dispatch_reply(struct smtp_session *s, const struct pending *p, const struct smtp_reply *r)
{
	if (p->kind == PK_GREETING)
		reply_greeting(s, r);
	else if (p->kind == PK_EOD)
		reply_eod(s, p, r);
	else if (p->verb == SMTP_V_DATA)
		reply_data(s, p, r);
	else if (p->verb == SMTP_V_MAIL || p->verb == SMTP_V_RCPT || p->verb == SMTP_V_BDAT)
		reply_tx_step(s, p, r);
	else
		reply_session(s, p, r);
}

static void count_errors(struct smtp_session *s, uint16_t code)
{
	if (code / 100 != 5) {
		s->error_run = 0;
		return;
	}
	if (++s->error_run == SMTP_ERROR_RUN)
		note(s, SMTP_AN_REPEATED_ERRORS);
}

/* A whole reply has arrived; end is the server offset just after it. */
static void reply_done(struct smtp_session *s, uint64_t end)
{
	struct smtp_reply r = s->reply.first;
	struct pending p;
	s->reply.active = false;
	s->rec.replies++;
	count_errors(s, r.code);
	if (!pq_pop(s, &p)) {
		if (r.code != 421) /* 421 may come at any time (RFC 5321 3.8) */
			note(s, SMTP_AN_REPLY_WITHOUT_COMMAND);
		bytes_free(&s->reply.first.text);
		return;
	}
	s->last_reply_end = end;
	s->last_done = p;
	if (s->pq_len && pq_at(s, 0)->kind != PK_EOD && pq_at(s, 0)->peer_acked != UINT64_MAX &&
	    pq_at(s, 0)->peer_acked < end)
		note_overtook(s, p.kind, p.verb);
	dispatch_reply(s, &p, &r);
	bytes_free(&s->reply.first.text);
}

static void add_extension(struct smtp_session *s, const uint8_t *p, size_t len)
{
	struct smtp_record *rec = &s->rec;
	if (rec->n_extensions == s->lim.max_extensions) {
		note(s, SMTP_AN_LIMIT_REACHED);
		return;
	}
	rec->extensions = xrealloc(rec->extensions, (rec->n_extensions + 1) * sizeof(*rec->extensions));
	rec->extensions[rec->n_extensions] = (struct smtp_bytes){0};
	bytes_set(&rec->extensions[rec->n_extensions++], p, len);
	if (first_word_len(p, len) == 10 && strncasecmp((const char *)p, "PIPELINING", 10) == 0)
		rec->pipelining_advertised = true;
}

static void clear_extensions(struct smtp_record *rec)
{
	for (uint32_t i = 0; i < rec->n_extensions; i++)
		bytes_free(&rec->extensions[i]);
	rec->n_extensions = 0;
	rec->pipelining_advertised = false;
}

static void reply_first_line(struct smtp_session *s, const struct smtp_reply_line *rl, uint64_t ts)
{
	struct smtp_reply *f = &s->reply.first;
	s->reply.active = true;
	f->code = rl->code;
	f->ts_us = ts;
	size_t skip = smtp_parse_enhanced(rl->text, rl->text_len, f->enhanced);
	bytes_set(&f->text, rl->text + skip, rl->text_len - skip);
	s->reply.is_ehlo = s->pq_len && pq_at(s, 0)->kind == PK_COMMAND &&
			   pq_at(s, 0)->verb == SMTP_V_EHLO && rl->code == 250;
	if (s->reply.is_ehlo)
		clear_extensions(&s->rec);
}

static void reply_line(struct smtp_session *s, const struct line *l, uint64_t end, uint64_t ts)
{
	struct smtp_reply_line rl;
	if (l->total > SMTP_REPLY_LINE_MAX)
		note(s, SMTP_AN_LINE_TOO_LONG);
	if (!smtp_parse_reply_line(l->p, l->len, &rl))
		return; /* not a reply line: a broken server or not SMTP */
	if (!s->reply.active)
		reply_first_line(s, &rl, ts);
	else if (s->reply.is_ehlo)
		add_extension(s, rl.text, rl.text_len);
	if (rl.last)
		reply_done(s, end);
}

static void server_feed(struct smtp_session *s, const uint8_t *p, size_t len, uint64_t ts)
{
	while (len > 0 && !s->server_opaque) {
		struct line l;
		bool done;
		size_t n = take_line(&s->sline, s->lim.max_line, p, len, &l, &done);
		s->server_offset += n;
		p += n;
		len -= n;
		if (done) {
			reply_line(s, &l, s->server_offset, ts);
			line_reset(&s->sline);
		}
	}
}

/* ---- the session's inputs ---- */

void smtp_feed(struct smtp_session *s, enum smtp_dir dir, const uint8_t *data, size_t len,
	       uint64_t peer_acked, uint64_t ts_us)
{
	if (len == 0)
		return;
	if (dir == SMTP_TO_SERVER) {
		s->rec.seen_client_bytes = true;
		s->client_ts = ts_us;
		client_feed(s, data, len, peer_acked);
	} else {
		s->rec.seen_server_bytes = true;
		server_feed(s, data, len, ts_us);
	}
}

void smtp_gap(struct smtp_session *s, enum smtp_dir dir, uint64_t len, uint64_t ts_us)
{
	(void)ts_us;
	note(s, SMTP_AN_TCP_GAP);
	s->rec.gap_bytes[dir] += len;
	struct smtp_tx *tx = cur_tx(s);
	if (tx)
		tx->gap_hid_end = true;
	if (dir == SMTP_TO_CLIENT) {
		line_reset(&s->sline);
		s->reply.active = false;
		s->server_offset += len;
		s->rec.gap_hid_end = true; /* replies may be lost: the queue cannot be trusted */
		return;
	}
	line_reset(&s->cline);
	if (s->cmode == CM_BDAT) {
		uint64_t n = len < s->bdat_left ? len : s->bdat_left;
		s->bdat_left -= n;
		if (s->bdat_left == 0)
			s->cmode = CM_COMMAND;
	}
}

void smtp_close(struct smtp_session *s, enum smtp_dir dir, bool rst, uint64_t ts_us)
{
	struct smtp_record *r = &s->rec;
	enum smtp_side side = dir == SMTP_TO_SERVER ? SMTP_SIDE_CLIENT : SMTP_SIDE_SERVER;
	if (r->how[dir] != SMTP_HOW_NONE)
		return;
	r->how[dir] = rst ? SMTP_HOW_RST : SMTP_HOW_FIN;
	r->close_ts_us[dir] = ts_us;
	if (r->closed_first == SMTP_SIDE_NONE)
		r->closed_first = side;
	struct smtp_tx *tx = cur_tx(s);
	if (tx && tx->end == SMTP_TX_OPEN && !tx->closed_while_open) {
		tx->closed_while_open = true;
		tx->closed_by_client = side == SMTP_SIDE_CLIENT;
		tx->phase_at_close = tx->phase;
	}
	if (side == SMTP_SIDE_CLIENT) {
		s->client_closed = true;
		r->client_last = s->eod_2xx_last ? SMTP_LAST_EOD_2XX : SMTP_LAST_OTHER;
		r->client_closed_before_server = !s->server_closed;
	} else {
		s->server_closed = true;
	}
}

/* Every recipient answered and refused: whatever ended the transaction afterwards (QUIT,
 * RSET, a close), the 4xx/5xx replies to RCPT had already ended it (DESIGN.md 5). */
static void settle_refused(struct smtp_tx *tx)
{
	if (tx->end == SMTP_TX_COMMITTED || tx->end == SMTP_TX_REJECTED || tx->n_rcpts == 0)
		return;
	if (tx->end == SMTP_TX_OPEN && tx->phase >= SMTP_PH_DATA)
		return;
	for (uint32_t i = 0; i < tx->n_rcpts; i++)
		if (tx->rcpts[i].code < 400)
			return;
	tx->end = SMTP_TX_REJECTED;
	tx->rejected_at = SMTP_REJ_RCPT;
	tx->phase = SMTP_PH_DONE;
}

void smtp_finish(struct smtp_session *s, enum smtp_end_reason why, uint64_t ts_us)
{
	(void)ts_us;
	s->rec.end_reason = why;
	for (uint32_t i = 0; i < s->rec.n_txs; i++)
		settle_refused(&s->rec.txs[i]);
	if (why == SMTP_END_EVICTED)
		note(s, SMTP_AN_LIMIT_REACHED);
}
