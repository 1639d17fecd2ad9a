/* smtp_client: what the client sends, read as the server reads it: commands (each acted on
 * as its verb's row says), DATA text up to <CRLF>.<CRLF>, BDAT chunks by their size, bytes
 * held while a reply decides their meaning (RFC 5321 4.1, 4.5.2; RFC 2920; RFC 3030;
 * RFC 4954; DESIGN.md section 4). Look-alikes in the text go to smtp_lenient.c. */
#include "smtp_int.h"

#include "scan.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* ---- client side: commands ---- */

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

/* A later EHLO/HELO replaces the session's helo only once the server accepts it (a
 * refused one changes nothing, RFC 5321 4.1.4); the first is the client's claim at once. */
static void claim_helo(struct smtp_session *s, const struct smtp_command *c)
{
	if (!s->rec.helo.data && c->arg_len) {
		smtp_bytes_keep(s, &s->rec.helo, c->arg, c->arg_len);
		s->rec.ehlo = c->verb == SMTP_V_EHLO;
		s->helo_first = true;
	}
	smtp_bytes_keep(s, &s->helo_pending, c->arg, c->arg_len);
}

/* Opens a transaction; returns its index, or -1 when one is open already (the server
 * answers 503 and the open one goes on). */
static int64_t open_mail_tx(struct smtp_session *s, const struct smtp_command *c)
{
	const uint8_t *path, *params;
	size_t path_len, params_len;
	if (smtp_cur_tx(s) && smtp_cur_tx(s)->phase != SMTP_PH_EOD_SENT && !smtp_gap_ended_tx(s))
		return -1; /* after the end of data the next MAIL is legal (RFC 2920) */
	struct smtp_tx *tx = smtp_tx_begin(s);
	if (smtp_parse_path(c->arg, c->arg_len, "FROM:", &path, &path_len, &params, &params_len)) {
		smtp_bytes_keep(s, &tx->mail_from, path, path_len);
		if (params_len)
			smtp_bytes_keep(s, &tx->mail_params, params, params_len);
	} else {
		smtp_bytes_keep(s, &tx->mail_from, c->arg, c->arg_len);
	}
	return s->cur_tx;
}

static uint32_t add_rcpt_of(struct smtp_session *s, const struct smtp_command *c)
{
	const uint8_t *path, *params;
	size_t path_len, params_len;
	/* a RCPT proves its MAIL was sent: one the gap hid when bytes were lost since the last
	 * MAIL seen; else it is that MAIL's (none when it was refused) */
	struct smtp_tx *tx = s->gap_since_mail ? smtp_tx_after_gap(s) : smtp_cur_tx(s);
	if (!tx)
		return UINT32_MAX;
	if (!smtp_parse_path(c->arg, c->arg_len, "TO:", &path, &path_len, &params, &params_len)) {
		path = c->arg;
		path_len = c->arg_len;
	}
	smtp_tx_add_rcpt(s, tx, path, path_len);
	return tx->n_rcpts - 1;
}

/* The transaction a BDAT steps: the open one, unless its end of data was sent (its reply
 * unknown: it is over all the same, RFC 5321 3.3); then one whose MAIL lost client bytes may
 * hold (smtp_tx_after_gap), or none. */
static struct smtp_tx *bdat_tx(struct smtp_session *s)
{
	struct smtp_tx *tx = smtp_cur_tx(s);
	if (!tx || tx->phase < SMTP_PH_EOD_SENT)
		return tx;
	return s->gap_since_mail ? smtp_tx_after_gap(s) : NULL;
}

void smtp_cmd_bdat(struct smtp_session *s, const struct smtp_command *c, struct pending *p)
{
	uint64_t size = 0;
	bool last = false;
	smtp_note(s, SMTP_AN_BDAT);
	if (!smtp_parse_bdat(c->arg, c->arg_len, &size, &last)) {
		p->verb = SMTP_V_UNKNOWN; /* the server answers 501 and reads no octets */
		return;
	}
	struct smtp_tx *tx = bdat_tx(s);
	p->tx = tx ? s->cur_tx : -1;
	if (tx) {
		tx->method = SMTP_METHOD_BDAT;
		tx->anomalies |= 1ULL << SMTP_AN_BDAT;
	}
	p->arg = last;
	s->bdat_left = size;
	s->bdat_last = last;
	if (size == 0) { /* an empty chunk (BDAT 0 LAST, RFC 3030 2): complete at once, and the */
		if (tx && last) /* bytes after it are commands, a gap among them too */
			smtp_tx_eod_sent(tx, s->client_ts);
		return;
	}
	smtp_set_mode(s, CM_BDAT);
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

/* ---- the command halves of the verb table (smtp_verb.c) ---- */

/* The reply to this command decides how the bytes after it read (DESIGN.md section 4). */
static void hold_for(struct smtp_session *s, enum smtp_verb v)
{
	smtp_set_mode(s, CM_HOLD);
	s->hold_verb = v;
}

void smtp_cmd_helo(struct smtp_session *s, const struct smtp_command *c, struct pending *p)
{
	(void)p;
	claim_helo(s, c); /* its 2xx resets the transaction (smtp_reply.c) */
}

void smtp_cmd_mail(struct smtp_session *s, const struct smtp_command *c, struct pending *p)
{
	s->gap_since_mail = false;
	p->tx = open_mail_tx(s, c);
}

void smtp_cmd_rcpt(struct smtp_session *s, const struct smtp_command *c, struct pending *p)
{
	uint32_t n_txs = s->rec.n_txs;
	p->arg = add_rcpt_of(s, c);
	if (p->arg == UINT32_MAX)
		return;
	p->tx = s->cur_tx; /* its reply steps the transaction it was added to */
	if (s->rec.n_txs > n_txs)
		smtp_cur_tx(s)->from_rcpt = true;
	if (smtp_cur_tx(s)->mail_reply_lost) /* a RCPT after a MAIL refused, perhaps */
		smtp_cur_tx(s)->rcpts_unknown = true;
}

void smtp_cmd_data(struct smtp_session *s, const struct smtp_command *c, struct pending *p)
{
	(void)c;
	p->tx = smtp_cur_tx(s) ? s->cur_tx : -1; /* only its 354 proves a lost MAIL's */
	/* a transaction a gap touched may have ended unseen (its MAIL refused): only a 354
	 * then says the DATA was its */
	struct smtp_tx *tx = smtp_cur_tx(s);
	if (tx && tx->method == SMTP_METHOD_NONE && !tx->uncertain)
		tx->method = SMTP_METHOD_DATA;
}

void smtp_cmd_auth(struct smtp_session *s, const struct smtp_command *c, struct pending *p)
{
	(void)p;
	smtp_note(s, SMTP_AN_AUTH_ATTEMPT);
	s->rec.auth_attempts++;
	/* the mechanism only: an initial response after it is a credential (RFC 4954) */
	smtp_bytes_set(&s->rec.auth_mechanism, c->arg, smtp_first_word_len(c->arg, c->arg_len));
}

void smtp_cmd_quit(struct smtp_session *s, const struct smtp_command *c, struct pending *p)
{
	(void)c;
	(void)p;
	s->rec.quit_sent = true;
}

void smtp_cmd_unknown(struct smtp_session *s, const struct smtp_command *c, struct pending *p)
{
	(void)c;
	(void)p;
	smtp_note(s, SMTP_AN_UNKNOWN_COMMAND);
}

/* The server acts on the command as its row says: RSET and QUIT end the transaction, DATA,
 * STARTTLS and AUTH hold what follows until their reply. */
static void act_on(struct smtp_session *s, const struct smtp_command *c, struct pending *p)
{
	const struct smtp_verb_row *row = smtp_verb_row(c->verb);
	if ((row->flags & SMTP_VF_ENDS_TX) && smtp_cur_tx(s) &&
	    smtp_cur_tx(s)->phase < SMTP_PH_EOD_SENT)
		smtp_tx_end(s, smtp_cur_tx(s), row->ends_tx, SMTP_REJ_NONE);
	if (row->cmd)
		row->cmd(s, c, p);
	if (row->flags & SMTP_VF_HOLD)
		hold_for(s, c->verb);
}

/* Acts on a command line as the server would read it. */
static void on_command(struct smtp_session *s, const uint8_t *line, size_t len, bool crlf,
                       uint64_t acked)
{
	struct smtp_command c;
	struct pending p = {.kind = PK_COMMAND, .peer_acked = acked};
	smtp_reply_cut_ended(s, acked); /* the client had a cut reply whole when it sent this */
	smtp_sync_reply_lost(s, acked); /* or the whole reply it waited for, lost */
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
	act_on(s, &c, &p);
	/* how the bytes after a bare LF read, its reply says; after a gap the queue cannot say
	 * which reply is its, and the bytes read as they come */
	if (!crlf && s->cmode == CM_COMMAND && !smtp_any_gap(s)) {
		hold_for(s, c.verb);
		s->lf_hold = true;
	}
	smtp_pq_push(s, p);
}

/* One command the server never read: not counted, no command record (its entry is the
 * last logged when the queue is walked from its tail), and a RCPT no recipient. */
static void unread_command(struct smtp_session *s, const struct pending *p)
{
	struct smtp_tx *tx = p->verb == SMTP_V_RCPT ? smtp_tx_of(s, p) : NULL;
	if (tx && p->arg < tx->n_rcpts && p->arg + 1 == tx->n_rcpts && !tx->rcpts[p->arg].code) {
		smtp_bytes_free(&tx->rcpts[p->arg].addr);
		tx->n_rcpts--;
	}
	if (s->rec.commands)
		s->rec.commands--;
	if (p->log && p->log == s->rec.n_cmds) {
		smtp_bytes_free(&s->rec.cmds[p->log - 1].arg);
		s->rec.n_cmds--;
	}
}

/* A RCPT still unanswered when the server closed after losing bytes: the lost bytes may
 * hold its reply (read) or not (never read), so the recipients are not known. */
static void rcpt_maybe_unread(struct smtp_session *s, const struct pending *p)
{
	struct smtp_tx *tx = p->verb == SMTP_V_RCPT ? smtp_tx_of(s, p) : NULL;
	if (tx && p->arg < tx->n_rcpts && !tx->rcpts[p->arg].code)
		tx->rcpts_unknown = true;
}

/* The server closed with commands still unanswered, and every server byte seen: it never
 * read them (Exim closes after a 554 to MAIL without reading the RCPT pipelined behind it).
 * Bytes the server never read are not commands (DESIGN.md section 4); a QUIT still says
 * the client sent it (close), and anomalies of the client's timing stay. Server bytes
 * after the last reply that are not SMTP may answer them: then nothing changes. */
void smtp_drop_unread_commands(struct smtp_session *s)
{
	uint64_t known =
	    s->server_gap_end > s->last_reply_end ? s->server_gap_end : s->last_reply_end;
	if (s->reply.active || s->server_offset > known)
		return;
	bool seen = !s->rec.gap_bytes[SMTP_TO_CLIENT]; /* after a gap the queue is not trusted */
	for (uint32_t i = s->pq_len; i-- > 0;) {
		const struct pending *p = smtp_pq_at(s, i);
		if (p->kind != PK_COMMAND || p->shadow || p->verb == SMTP_V_QUIT)
			continue;
		if (seen)
			unread_command(s, p);
		else
			rcpt_maybe_unread(s, p);
	}
}

/* ---- client side: framing by mode ---- */

static void hold_append(struct smtp_session *s, const uint8_t *p, size_t len, uint64_t acked)
{
	if (s->hold_len == 0) {
		s->hold_acked = acked;
		s->hold_pos = s->cpos;
	}
	if (s->hold_len == 0 || acked != s->hold_tail_acked) { /* a later ACK starts a new run */
		s->hold_tail = s->hold_len;
		s->hold_tail_acked = acked;
	}
	if (s->hold_len + len > SMTP_HOLD_MAX) {
		smtp_note(s, SMTP_AN_LIMIT_REACHED);
		len = SMTP_HOLD_MAX - s->hold_len;
	}
	s->hold = smtp_xrealloc(s->hold, s->hold_len + len + 1);
	memcpy(s->hold + s->hold_len, p, len);
	s->hold_len += len;
}

/* Bytes were lost while the bytes after a bare-LF command were held: read them now, as
 * commands, so that what the gap hid is judged with them in the queue (DESIGN.md 4). */
void smtp_lf_release(struct smtp_session *s)
{
	if (!s->lf_hold)
		return;
	s->lf_hold = false;
	if (s->cmode != CM_HOLD)
		return;
	smtp_set_mode(s, CM_COMMAND);
	smtp_release_hold(s);
}

/* Held bytes read as message text reach the place where client bytes were lost while they
 * were held: the line there does not start where the held bytes say, as after a gap in text
 * (smtp_gap_client): the line cut there is dropped, and the next one's start is unknown. */
static void held_text_lost_here(struct smtp_session *s)
{
	if (s->cmode != CM_TEXT)
		return;
	smtp_line_reset(&s->cline);
	s->text.prev_crlf = true;
	s->text.start_lost = true;
}

/* The reply that decides how held bytes read has come: read them now. */
void smtp_release_hold(struct smtp_session *s)
{
	uint8_t *buf = s->hold;
	size_t n = s->hold_len, at = s->hold_gap ? s->hold_gap - 1 : n;
	s->hold_gap = 0; /* its reply has come: what it decided is decided */
	if (n == 0)
		return;
	s->hold = NULL;
	s->hold_len = 0;
	s->cpos = s->hold_pos;
	smtp_client_feed(s, buf, at, s->hold_acked);
	if (at < n) {
		held_text_lost_here(s);
		smtp_client_feed(s, buf + at, n - at, s->hold_acked);
	}
	free(buf);
}

static size_t bdat_take(struct smtp_session *s, size_t len, uint64_t ts)
{
	size_t n = len < s->bdat_left ? len : (size_t)s->bdat_left;
	struct smtp_tx *tx = smtp_cur_tx(s);
	if (tx && tx->phase >= SMTP_PH_EOD_SENT)
		tx = NULL; /* a chunk after its end of data is none of its (bdat_tx) */
	s->bdat_left -= n;
	if (tx)
		tx->size += n;
	if (s->bdat_left == 0) {
		smtp_set_mode(s, CM_COMMAND);
		if (tx && s->bdat_last)
			smtp_tx_eod_sent(tx, ts);
	}
	return n;
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
	if (smtp_is_dot_line(l) && l->crlf && prev_crlf) {
		bool decide = smtp_smuggle_end(s);
		smtp_set_mode(s, CM_COMMAND);
		s->eod_tx = s->cur_tx;
		s->residue = 0;
		s->unstuffed_open = true;
		smtp_pq_push(s, (struct pending){.kind = PK_EOD,
		                                 .tx = s->cur_tx,
		                                 .end_pos = s->line_end_pos,
		                                 .peer_acked = acked,
		                                 .decide_smuggle = decide});
		if (tx)
			smtp_tx_eod_sent(tx, ts);
		s->text.start_lost = false;
		return;
	}
	if (l->total > SMTP_TEXT_LINE_MAX)
		smtp_note_tx(s, SMTP_AN_LINE_TOO_LONG);
	if (!l->crlf)
		smtp_note_tx(s, SMTP_AN_BARE_LF);
	const uint8_t *cr = l->cr;
	if (cr)
		smtp_note_tx(s, SMTP_AN_BARE_CR);
	if (cr || l->len <= 1 || s->smug.active) /* a look-alike needs a CR or a "." line */
		smtp_text_lookalike(s, l, prev_crlf, cr, acked);
	s->text.start_lost = false;
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
		smtp_set_mode(s, CM_HOLD);
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
	on_command(s, l->p, l->len, l->crlf, acked);
}

/* A cut argument's keyword ("FROM:", "TO:") was captured; *whole: and its "<...>" path. */
static bool cut_path(const struct smtp_command *c, const char *keyword, bool *whole)
{
	const uint8_t *path, *params;
	size_t path_len, params_len;
	if (!smtp_parse_path(c->arg, c->arg_len, keyword, &path, &path_len, &params, &params_len))
		return false;
	*whole = path_len >= 2 && path[0] == '<' && path[path_len - 1] == '>';
	return true;
}

/* A command line a gap cut (a snap length, a lost segment; DESIGN.md section 4): a MAIL or
 * RCPT whose captured part holds its keyword was sent, whatever its tail. MAIL opens its
 * transaction (its reverse-path kept only when whole, its parameters unknown); RCPT is read
 * only when its path is whole, in an open transaction. Anything else is left to the gap. */
void smtp_cut_command(struct smtp_session *s)
{
	struct smtp_command c;
	bool whole = false;
	if (s->cmode != CM_COMMAND || s->cline.len == 0 || s->cline.overflow || s->syncing)
		return; /* after a gap a known verb ends the lines that may be a tail, as here */
	smtp_parse_command(s->cline.buf, s->cline.len, &c);
	bool mail = c.verb == SMTP_V_MAIL && cut_path(&c, "FROM:", &whole);
	bool rcpt = c.verb == SMTP_V_RCPT && smtp_cur_tx(s) && cut_path(&c, "TO:", &whole) && whole;
	if (!mail && !rcpt) /* a RCPT outside a transaction: the gap after it opens none */
		return;
	s->gap_sync = false;
	s->line_end_pos = s->cpos;
	on_command(s, s->cline.buf, s->cline.len, true, s->cline.peer_acked);
	struct smtp_tx *tx = smtp_cur_tx(s);
	if (!mail || !tx)
		return;
	smtp_bytes_free(&tx->mail_params);
	if (!whole)
		smtp_bytes_free(&tx->mail_from);
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
	smtp_gap_lookalike_reply(s, line_acked); /* sent after a lost reply: not text */
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
	    !s->text.prev_crlf || s->text.start_lost)
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
			smtp_gap_starttls_hold(s); /* a handshake after a lost 220 */
			return;
		case CM_BDAT:
			n = bdat_take(s, len, s->client_ts);
			break;
		default:
			if (s->cmode == CM_COMMAND && smtp_gap_tls_command(s, p, len, acked))
				return; /* a handshake where a lost STARTTLS and 220 were */
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
