/* smtp_client: what the client sends, read as the server reads it: commands, DATA text up
 * to <CRLF>.<CRLF>, BDAT chunks by their size, bytes held while a reply decides their
 * meaning (RFC 5321 4.1, 4.5.2; RFC 2920; RFC 3030; RFC 4954; DESIGN.md section 4). */
#include "smtp_int.h"

#include "scan.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* ---- client side: commands ---- */

/* A client act overtook the reply to (kind, verb): the client sent it before that reply
 * reached it. After the greeting that is talking early; after any other reply it is
 * pipelining, legal only once an EHLO reply advertised PIPELINING (RFC 2920). */
void smtp_note_overtook(struct smtp_session *s, enum pending_kind kind, enum smtp_verb verb,
                        bool by_order)
{
	enum smtp_anomaly an;
	if (kind == PK_GREETING)
		an = SMTP_AN_EARLY_TALKER;
	else if (!s->rec.pipelining_advertised || verb == SMTP_V_EHLO || verb == SMTP_V_HELO)
		an = SMTP_AN_PIPELINING_UNADVERTISED;
	else
		return;
	if (by_order) /* a missing server direction would make every command look early */
		smtp_note_inferred(s, an, SMTP_TO_CLIENT);
	else
		smtp_note(s, an);
}

/* DESIGN.md section 4: with the ACK number, a command is early when it does not
 * acknowledge the end of the previous reply; while that reply is still to come the test
 * waits for it (reply_done). Without ACKs, capture order decides. */
/* Whether a command was sent before the reply to the one before it had arrived. */
static bool sent_early(const struct smtp_session *s, uint64_t acked)
{
	return s->pq_len > 0 || (acked != UINT64_MAX && acked < s->last_reply_end);
}

static void check_pipelined(struct smtp_session *s, uint64_t acked)
{
	if (s->pq_len > 0) {
		if (acked == UINT64_MAX)
			smtp_note_overtook(s, smtp_pq_at(s, s->pq_len - 1)->kind,
			                   smtp_pq_at(s, s->pq_len - 1)->verb, true);
		return;
	}
	if (acked != UINT64_MAX && acked < s->last_reply_end)
		smtp_note_overtook(s, s->last_done.kind, s->last_done.verb, false);
}

size_t smtp_first_word_len(const uint8_t *p, size_t len)
{
	const uint8_t *sp = memchr(p, ' ', len);
	return sp ? (size_t)(sp - p) : len;
}

/* A later EHLO/HELO replaces the session's helo only once the server accepts it (a
 * refused one changes nothing, RFC 5321 4.1.4); the first is the client's claim at once. */
static void claim_helo(struct smtp_session *s, const struct smtp_command *c)
{
	if (!s->rec.helo.data && c->arg_len) {
		smtp_bytes_set(&s->rec.helo, c->arg, c->arg_len);
		s->rec.ehlo = c->verb == SMTP_V_EHLO;
		s->helo_first = true;
	}
	smtp_bytes_set(&s->helo_pending, c->arg, c->arg_len);
}

/* Opens a transaction; returns its index, or -1 when one is open already (the server
 * answers 503 and the open one goes on). */
static int64_t open_mail_tx(struct smtp_session *s, const struct smtp_command *c)
{
	const uint8_t *path, *params;
	size_t path_len, params_len;
	if (smtp_cur_tx(s) && smtp_cur_tx(s)->phase != SMTP_PH_EOD_SENT)
		return -1; /* after the end of data the next MAIL is legal (RFC 2920) */
	struct smtp_tx *tx = smtp_tx_open(s);
	if (smtp_parse_path(c->arg, c->arg_len, "FROM:", &path, &path_len, &params, &params_len)) {
		smtp_bytes_set(&tx->mail_from, path, path_len);
		if (params_len)
			smtp_bytes_set(&tx->mail_params, params, params_len);
	} else {
		smtp_bytes_set(&tx->mail_from, c->arg, c->arg_len);
	}
	return s->cur_tx;
}

static uint32_t add_rcpt_of(struct smtp_session *s, const struct smtp_command *c)
{
	const uint8_t *path, *params;
	size_t path_len, params_len;
	struct smtp_tx *tx = smtp_tx_after_gap(s);
	if (!tx)
		return UINT32_MAX;
	if (!smtp_parse_path(c->arg, c->arg_len, "TO:", &path, &path_len, &params, &params_len)) {
		path = c->arg;
		path_len = c->arg_len;
	}
	smtp_add_rcpt(s, tx, path, path_len);
	return tx->n_rcpts - 1;
}

static void cmd_bdat(struct smtp_session *s, const struct smtp_command *c, struct pending *p)
{
	uint64_t size = 0;
	bool last = false;
	smtp_note(s, SMTP_AN_BDAT);
	if (!smtp_parse_bdat(c->arg, c->arg_len, &size, &last)) {
		p->verb = SMTP_V_UNKNOWN; /* the server answers 501 and reads no octets */
		return;
	}
	struct smtp_tx *tx = smtp_cur_tx(s);
	if (tx) {
		tx->method = SMTP_METHOD_BDAT;
		tx->anomalies |= 1ULL << SMTP_AN_BDAT;
	}
	p->arg = last;
	s->bdat_left = size;
	s->bdat_last = last;
	s->cmode = CM_BDAT;
}

/* Lines after an end of data. Text the client meant as message text but that followed a
 * "." line of its own (an unstuffed dot, RFC 5321 4.5.2) reads as unknown commands; when it
 * ends in a "." line too, the message was cut short at the first. Lines sent before the
 * reply to the end of data are residue when they are not commands, or when PIPELINING
 * was not advertised (RFC 2920 allows pipelined commands only then). */
static void check_residue(struct smtp_session *s, const uint8_t *line, size_t len,
                          enum smtp_verb verb, uint64_t acked)
{
	if (s->eod_tx < 0)
		return;
	if (verb != SMTP_V_UNKNOWN) {
		/* a real command: whatever follows is no longer the rest of that message */
		s->residue = 0;
		s->unstuffed_open = false;
	} else if (!s->unstuffed_open) {
		/* nothing to do: the lines after the end of data were not all text */
	} else if (len == 1 && line[0] == '.') {
		if (s->residue > 0 && s->eod_tx < s->rec.n_txs &&
		    smtp_noted(s, SMTP_AN_UNSTUFFED_DOT))
			s->rec.txs[s->eod_tx].anomalies |= 1ULL << SMTP_AN_UNSTUFFED_DOT;
	} else {
		s->residue++;
	}
	bool by_ack =
	    acked != UINT64_MAX && acked < s->last_reply_end && s->last_done.kind == PK_EOD;
	bool by_order = s->eod_pending > 0;
	if (!(by_ack || by_order) || (verb != SMTP_V_UNKNOWN && s->rec.pipelining_advertised))
		return;
	if (by_ack)
		smtp_note(s, SMTP_AN_RESIDUE_AFTER_EOD);
	else
		smtp_note_inferred(s, SMTP_AN_RESIDUE_AFTER_EOD, SMTP_TO_CLIENT);
}

/* ---- the command table: what the server does when it reads each verb ---- */

typedef void (*cmd_fn)(struct smtp_session *s, const struct smtp_command *c, struct pending *p);

/* The reply to this command decides how the bytes after it read (DESIGN.md section 4). */
static void hold_for(struct smtp_session *s, enum smtp_verb v)
{
	s->cmode = CM_HOLD;
	s->hold_verb = v;
}

static void cmd_ehlo(struct smtp_session *s, const struct smtp_command *c, struct pending *p)
{
	(void)p;
	claim_helo(s, c); /* its 2xx resets the transaction (smtp_reply.c) */
}

static void cmd_rset(struct smtp_session *s, const struct smtp_command *c, struct pending *p)
{
	(void)c;
	(void)p;
	/* the server ends the transaction when it reads the command: a MAIL pipelined after it
	 * opens a new one (RSET is always answered 250, RFC 5321 4.1.1.5) */
	if (smtp_cur_tx(s) && smtp_cur_tx(s)->phase < SMTP_PH_EOD_SENT)
		smtp_tx_end(s, SMTP_TX_RESET, SMTP_REJ_NONE);
}

static void cmd_mail(struct smtp_session *s, const struct smtp_command *c, struct pending *p)
{
	p->tx = open_mail_tx(s, c);
}

static void cmd_rcpt(struct smtp_session *s, const struct smtp_command *c, struct pending *p)
{
	p->arg = add_rcpt_of(s, c);
}

static void cmd_data(struct smtp_session *s, const struct smtp_command *c, struct pending *p)
{
	p->tx = smtp_tx_after_gap(s) ? s->cur_tx : -1;
	if (smtp_cur_tx(s) && smtp_cur_tx(s)->method == SMTP_METHOD_NONE)
		smtp_cur_tx(s)->method = SMTP_METHOD_DATA;
	hold_for(s, c->verb);
}

static void cmd_starttls(struct smtp_session *s, const struct smtp_command *c, struct pending *p)
{
	(void)p;
	hold_for(s, c->verb);
}

static void cmd_auth(struct smtp_session *s, const struct smtp_command *c, struct pending *p)
{
	(void)p;
	smtp_note(s, SMTP_AN_AUTH_ATTEMPT);
	s->rec.auth_attempts++;
	/* the mechanism only: an initial response after it is a credential (RFC 4954) */
	smtp_bytes_set(&s->rec.auth_mechanism, c->arg, smtp_first_word_len(c->arg, c->arg_len));
	hold_for(s, c->verb);
}

static void cmd_quit(struct smtp_session *s, const struct smtp_command *c, struct pending *p)
{
	(void)c;
	(void)p;
	s->rec.quit_sent = true;
	if (smtp_cur_tx(s) && smtp_cur_tx(s)->phase < SMTP_PH_EOD_SENT)
		smtp_tx_end(s, SMTP_TX_ABORTED_BY_QUIT, SMTP_REJ_NONE);
}

static void cmd_unknown(struct smtp_session *s, const struct smtp_command *c, struct pending *p)
{
	(void)c;
	(void)p;
	smtp_note(s, SMTP_AN_UNKNOWN_COMMAND);
}

/* NOOP, VRFY, EXPN and HELP change nothing; their reply is matched like any other. */
static const cmd_fn cmd_handlers[SMTP_V_COUNT] = {
    [SMTP_V_UNKNOWN] = cmd_unknown, [SMTP_V_EHLO] = cmd_ehlo,         [SMTP_V_HELO] = cmd_ehlo,
    [SMTP_V_MAIL] = cmd_mail,       [SMTP_V_RCPT] = cmd_rcpt,         [SMTP_V_DATA] = cmd_data,
    [SMTP_V_BDAT] = cmd_bdat,       [SMTP_V_RSET] = cmd_rset,         [SMTP_V_QUIT] = cmd_quit,
    [SMTP_V_AUTH] = cmd_auth,       [SMTP_V_STARTTLS] = cmd_starttls,
};

/* Acts on a command line as the server would read it. */
static void on_command(struct smtp_session *s, const uint8_t *line, size_t len, uint64_t acked)
{
	struct smtp_command c;
	struct pending p = {.kind = PK_COMMAND, .peer_acked = acked};
	smtp_parse_command(line, len, &c);
	p.verb = c.verb;
	p.log = smtp_cmdlog_command(s, &c, sent_early(s, acked));
	p.tx = s->cur_tx;
	p.end_pos = s->line_end_pos;
	s->rec.commands++;
	smtp_trace_verb(s, c.verb);
	s->eod_2xx_last = false;
	check_pipelined(s, acked);
	check_residue(s, line, len, c.verb, acked);
	if (cmd_handlers[c.verb])
		cmd_handlers[c.verb](s, &c, &p);
	smtp_pq_push(s, p);
}

/* ---- client side: framing by mode ---- */

static void hold_append(struct smtp_session *s, const uint8_t *p, size_t len, uint64_t acked)
{
	if (s->hold_len == 0) {
		s->hold_acked = acked;
		s->hold_pos = s->cpos;
	}
	if (s->hold_len + len > SMTP_HOLD_MAX) {
		smtp_note(s, SMTP_AN_LIMIT_REACHED);
		len = SMTP_HOLD_MAX - s->hold_len;
	}
	s->hold = smtp_xrealloc(s->hold, s->hold_len + len + 1);
	memcpy(s->hold + s->hold_len, p, len);
	s->hold_len += len;
}

/* The reply that decides how held bytes read has come: read them now. */
void smtp_release_hold(struct smtp_session *s)
{
	uint8_t *buf = s->hold;
	size_t n = s->hold_len;
	if (n == 0)
		return;
	s->hold = NULL;
	s->hold_len = 0;
	s->cpos = s->hold_pos;
	smtp_client_feed(s, buf, n, s->hold_acked);
	free(buf);
}

/* Held bytes the server never read (it closed first): not commands, never kept. */
void smtp_drop_hold(struct smtp_session *s)
{
	if (s->hold_len)
		memset(s->hold, 0, s->hold_len);
	free(s->hold);
	s->hold = NULL;
	s->hold_len = 0;
	s->hold_unread = false;
}

/* The server answers again after refusing DATA: it read the bytes sent before that
 * refusal, as commands (RFC 5321 4.1.1.4: after a 5xx to DATA the client's bytes are
 * commands). */
void smtp_read_unread(struct smtp_session *s)
{
	if (!s->hold_unread)
		return;
	s->hold_unread = false;
	s->cmode = CM_COMMAND;
	smtp_release_hold(s);
}

static size_t bdat_take(struct smtp_session *s, size_t len, uint64_t ts)
{
	size_t n = len < s->bdat_left ? len : (size_t)s->bdat_left;
	struct smtp_tx *tx = smtp_cur_tx(s);
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

static bool is_dot_line(const struct line *l)
{
	return l->len == 1 && l->p[0] == '.';
}

void smtp_smuggle_clear(struct smuggle *sm)
{
	for (uint32_t i = 0; i < sm->n; i++)
		smtp_bytes_free(&sm->cmds[i].arg);
	*sm = (struct smuggle){.tx = -1};
}

static void shadow_add(struct smtp_session *s, enum pending_kind kind, enum smtp_verb verb,
                       const uint8_t *arg, size_t len)
{
	struct smuggle *sm = &s->smug;
	if (sm->n == SMTP_SHADOW_MAX)
		return; /* enough to decide: the first replies after the look-alike's own */
	struct shadow_cmd *c = &sm->cmds[sm->n++];
	*c = (struct shadow_cmd){.kind = kind, .verb = verb};
	if (kind == PK_EOD) {
		c->size = sm->text_size;
		c->text_acked = sm->text_acked;
		sm->text_size = 0;
	}
	if (len)
		smtp_bytes_set(&c->arg, arg, len);
}

/* One text line as a server that took the look-alike as the end of data reads it. */
static void shadow_line(struct smtp_session *s, const struct line *l, uint64_t acked)
{
	struct smuggle *sm = &s->smug;
	struct smtp_command c;
	const uint8_t *path = NULL, *params;
	size_t path_len = 0, params_len;
	if (sm->in_text) {
		if (is_dot_line(l)) {
			shadow_add(s, PK_EOD, SMTP_V_UNKNOWN, NULL, 0);
			sm->in_text = false;
		} else {
			if (sm->text_size == 0)
				sm->text_acked = acked;
			sm->text_size += l->total;
		}
		return;
	}
	smtp_parse_command(l->p, l->len, &c);
	if (c.verb == SMTP_V_MAIL)
		smtp_parse_path(c.arg, c.arg_len, "FROM:", &path, &path_len, &params, &params_len);
	else if (c.verb == SMTP_V_RCPT)
		smtp_parse_path(c.arg, c.arg_len, "TO:", &path, &path_len, &params, &params_len);
	shadow_add(s, PK_COMMAND, c.verb, path, path_len);
	sm->in_text = c.verb == SMTP_V_DATA;
	sm->text_size = 0;
	sm->text_acked = UINT64_MAX;
}

/* Text came after a look-alike: only now is it smuggling (DESIGN.md section 5); a
 * look-alike that nothing follows is a bare-LF client's own end of data. */
static void lookalike_followed(struct smtp_session *s)
{
	if (s->smug.followed)
		return;
	s->smug.followed = true;
	smtp_note_tx(s, SMTP_AN_SMUGGLING_EOD);
	if (s->rec.lookalike == SMTP_LA_NONE)
		s->rec.lookalike = s->smug.kind;
}

/* cr: the first CR inside the line, NULL when none (most lines: then no search). For
 * <CR>.<CR>, *rest gets the bytes after it: a lenient server reads them as a command. */
static enum smtp_lookalike lookalike_kind(const struct line *l, bool prev_crlf, const uint8_t *cr,
                                          struct line *rest)
{
	if (is_dot_line(l) && !l->crlf)
		return prev_crlf ? SMTP_LA_CRLF_DOT_LF : SMTP_LA_LF_DOT_LF;
	if (is_dot_line(l) && !prev_crlf)
		return SMTP_LA_LF_DOT_CRLF;
	const uint8_t *at = cr ? memmem(cr, l->len - (size_t)(cr - l->p), "\r.\r", 3) : NULL;
	if (at) {
		*rest = *l;
		rest->p = at + 3;
		rest->len = l->len - (size_t)(at + 3 - l->p);
		return SMTP_LA_CR_DOT_CR;
	}
	return SMTP_LA_NONE;
}

/* An end-of-data look-alike (SMTP smuggling, 2023): text to a strict server, the end of
 * data to a lenient one. The first starts the lenient reading of what follows. */
static void text_lookalike(struct smtp_session *s, const struct line *l, bool prev_crlf,
                           const uint8_t *cr, uint64_t acked)
{
	struct line rest = {0};
	enum smtp_lookalike kind = lookalike_kind(l, prev_crlf, cr, &rest);
	if (s->smug.active) {
		lookalike_followed(s);
		shadow_line(s, l, acked);
	}
	if (kind == SMTP_LA_NONE || s->smug.active)
		return;
	smtp_smuggle_clear(&s->smug);
	s->smug.active = true;
	s->smug.tx = s->cur_tx;
	s->smug.kind = kind;
	s->smug.la_total = kind == SMTP_LA_CR_DOT_CR ? 0 : l->total;
	if (kind == SMTP_LA_CR_DOT_CR && rest.len) {
		lookalike_followed(s);
		shadow_line(s, &rest, acked);
	}
}

/* The strict end of data: the lenient reading ends here too, with "." either ending a
 * smuggled message or read as a command of its own. */
static bool end_shadow(struct smtp_session *s)
{
	struct smuggle *sm = &s->smug;
	if (!sm->active)
		return false;
	if (sm->in_text)
		shadow_add(s, PK_EOD, SMTP_V_UNKNOWN, NULL, 0);
	else
		shadow_add(s, PK_COMMAND, SMTP_V_UNKNOWN, NULL, 0);
	sm->active = false;
	return true;
}

static void text_line(struct smtp_session *s, const struct line *l, uint64_t acked, uint64_t ts)
{
	struct smtp_tx *tx = smtp_cur_tx(s);
	if (s->text.first_line) { /* sent before the 354 reached the client? (DESIGN.md 4) */
		s->text.first_line = false;
		if (acked != UINT64_MAX && acked < s->text.reply354_end)
			smtp_note_tx(s, SMTP_AN_DATA_BEFORE_354);
	}
	bool prev_crlf = s->text.prev_crlf;
	s->text.prev_crlf = l->crlf;
	if (is_dot_line(l) && l->crlf && prev_crlf) {
		bool decide = end_shadow(s);
		s->cmode = CM_COMMAND;
		s->eod_tx = s->cur_tx;
		s->residue = 0;
		s->unstuffed_open = true;
		smtp_pq_push(s, (struct pending){.kind = PK_EOD,
		                                 .tx = s->cur_tx,
		                                 .end_pos = s->line_end_pos,
		                                 .peer_acked = acked,
		                                 .decide_smuggle = decide});
		if (tx) {
			tx->phase = SMTP_PH_EOD_SENT;
			tx->eod_ts_us = ts;
		}
		return;
	}
	if (l->total > SMTP_TEXT_LINE_MAX)
		smtp_note_tx(s, SMTP_AN_LINE_TOO_LONG);
	if (!l->crlf)
		smtp_note_tx(s, SMTP_AN_BARE_LF);
	const uint8_t *cr = memchr(l->p, '\r', l->len);
	if (cr)
		smtp_note_tx(s, SMTP_AN_BARE_CR);
	if (cr || l->len <= 1 || s->smug.active) /* a look-alike needs a CR or a "." line */
		text_lookalike(s, l, prev_crlf, cr, acked);
	if (tx)
		tx->size += l->total;
}

static void command_line(struct smtp_session *s, const struct line *l, uint64_t acked)
{
	if (l->total > SMTP_CMD_LINE_MAX)
		smtp_note(s, SMTP_AN_LINE_TOO_LONG);
	if (!l->crlf)
		smtp_note(s, SMTP_AN_BARE_LF);
	if (s->cmode == CM_AUTH_LINE) {
		/* an answer to a 334: a credential, counted but never kept */
		s->cmode = CM_HOLD;
		return;
	}
	if (s->gap_sync) {
		struct smtp_command c;
		smtp_parse_command(l->p, l->len, &c);
		if (c.verb == SMTP_V_UNKNOWN)
			return;
		s->gap_sync = false;
	}
	if (s->syncing) {
		/* picked up mid-stream: lines before the first command are the tail of
		 * something unseen (message text, a credential); replies that acknowledge only
		 * bytes before this chunk answer commands sent before the capture began */
		struct smtp_command c;
		smtp_parse_command(l->p, l->len, &c);
		if (c.verb == SMTP_V_UNKNOWN)
			return;
		s->syncing = false;
		s->sync_offset = s->client_chunk_start + 1;
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
	size_t n = smtp_take_line(&s->cline, s->lim.max_line, p, len, &l, &done);
	if (!done)
		return n;
	s->line_end_pos = s->cpos + n;
	if (l.total > s->lim.max_line && s->cmode != CM_TEXT)
		smtp_note(s, SMTP_AN_LINE_TOO_LONG);
	uint64_t line_acked = s->cline.len ? s->cline.peer_acked : acked;
	if (s->cmode == CM_TEXT)
		text_line(s, &l, line_acked, ts);
	else
		command_line(s, &l, line_acked);
	if ((s->cmode == CM_HOLD || s->cmode == CM_AUTH_LINE) && s->cline.len)
		memset(s->cline.buf, 0, s->cline.len); /* may have held a credential */
	smtp_line_reset(&s->cline);
	return n;
}

/* A run of plain message text lines (CRLF-ended, no other CR or LF, two bytes or more, within
 * the text line limit), found by the line-end scan (scan.h): text_line would note nothing for
 * them but their size. Returns the bytes taken, 0 when the next line needs text_line. */
static size_t text_run(struct smtp_session *s, const uint8_t *p, size_t len)
{
	if (s->cline.len || s->cline.overflow || s->smug.active || s->text.first_line ||
	    !s->text.prev_crlf)
		return 0;
	size_t n = scan_plain_lines(p, len, 2, SMTP_TEXT_LINE_MAX);
	struct smtp_tx *tx = smtp_cur_tx(s);
	if (tx)
		tx->size += n;
	if (n)
		s->line_end_pos = s->cpos + n;
	return n;
}

void smtp_client_feed(struct smtp_session *s, const uint8_t *p, size_t len, uint64_t acked)
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
			n = s->cmode == CM_TEXT ? text_run(s, p, len) : 0;
			if (n == 0)
				n = line_take(s, p, len, acked, s->client_ts);
			break;
		}
		s->cpos += n;
		p += n;
		len -= n;
	}
}
