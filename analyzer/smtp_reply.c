/* smtp_reply: what the server answers: reply lines, multi-line replies, matching each
 * reply to the oldest pending command and acting on it as its verb's row says (RFC 5321
 * 4.2, RFC 3463, RFC 2920, RFC 3207). Its one call into the client side releases held
 * bytes (DESIGN.md section 4). */
#include "smtp_int.h"
#include "tls.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* ---- server side: replies ---- */

static void reply_greeting(struct smtp_session *s, const struct smtp_reply *r)
{
	/* the greeting is the server's first bytes (RFC 5321 3.1): a reply after a gap at the
	 * start is not it, and the greeting, lost, is left out */
	if (s->reply.start_pos > 0)
		return;
	s->rec.greeting_seen = true;
	smtp_bytes_free(&s->rec.greeting.text);
	s->rec.greeting = *r;
	s->rec.greeting.text = (struct smtp_bytes){0};
	if (r->text.data) /* none when the capture cut the line */
		smtp_bytes_keep(s, &s->rec.greeting.text, (const uint8_t *)r->text.data,
		                r->text.len);
}

/* The reply to the end of data (or to BDAT LAST): the commitment, RFC 5321 3.3. */
static void reply_eod(struct smtp_session *s, const struct pending *p, const struct smtp_reply *r)
{
	struct smtp_tx *tx = smtp_tx_of(s, p);
	if (!tx || tx->end != SMTP_TX_OPEN)
		return;
	smtp_bytes_free(&tx->eod_reply.text);
	tx->eod_reply = *r;
	tx->eod_reply.text = (struct smtp_bytes){0};
	if (r->text.data) /* none when the capture cut the line */
		smtp_bytes_keep(s, &tx->eod_reply.text, (const uint8_t *)r->text.data, r->text.len);
	tx->eod_reply_end = s->last_reply_end;
	if (s->client_closed) { /* too late: the RFC 1047 window; classify decides */
		tx->eod_reply_after_close = true;
		return;
	}
	if (r->code / 100 == 2) {
		smtp_tx_end(s, tx, SMTP_TX_COMMITTED, SMTP_REJ_NONE);
		s->eod_2xx_last = true;
	} else {
		smtp_tx_end(s, tx, SMTP_TX_REJECTED, SMTP_REJ_EOD);
	}
}

/* Where the held bytes hold an end of data (<CRLF>.<CRLF>, or "." first): the offset just
 * after it, 0 when none. */
static size_t held_eod_end(const struct smtp_session *s)
{
	if (s->hold_len >= 3 && memcmp(s->hold, ".\r\n", 3) == 0)
		return 3;
	const uint8_t *eod = s->hold_len >= 5 ? memmem(s->hold, s->hold_len, "\r\n.\r\n", 5) : NULL;
	return eod ? (size_t)(eod - s->hold) + 5 : 0;
}

/* Client bytes were lost inside the message text held behind a DATA (before its end of data,
 * or with none held): the text read from them lacks them. */
static bool held_text_gap(const struct smtp_session *s)
{
	size_t end = held_eod_end(s);
	return s->hold_gap && (end == 0 || s->hold_gap - 1 < end);
}

void smtp_reply_data(struct smtp_session *s, const struct pending *p, const struct smtp_reply *r)
{
	struct smtp_tx *tx = smtp_tx_of(s, p);
	if (p->shadow) { /* a smuggled DATA: its text was read already, as the outer message's */
		const struct pending *text = s->pq_len ? smtp_pq_at(s, 0) : NULL;
		if (tx && r->code >= 400 && tx->end == SMTP_TX_OPEN) {
			tx->end = SMTP_TX_REJECTED;
			tx->rejected_at = SMTP_REJ_DATA;
		} else if (tx && r->code == 354 && text && text->kind == PK_EOD &&
		           text->peer_acked != UINT64_MAX && text->peer_acked < s->last_reply_end &&
		           smtp_noted(s, SMTP_AN_DATA_BEFORE_354)) {
			tx->anomalies |= 1ULL << SMTP_AN_DATA_BEFORE_354;
		}
		return;
	}
	if (r->code == 354) {
		if (!tx) /* a 354 proves a transaction: one whose MAIL a gap hid */
			tx = smtp_tx_after_gap(s);
		smtp_set_mode(s, CM_TEXT);
		s->text_gap = false;
		s->text.prev_crlf = true;
		s->text.start_lost = false;
		if (tx)
			smtp_tx_data_start(tx);
		if (tx && held_text_gap(s)) /* the text lacks lost bytes: its size is unknown */
			tx->size_unknown = true;
		s->text.reply354_end = s->last_reply_end;
		s->text.gap_at_354 = s->rec.gap_bytes[SMTP_TO_CLIENT];
		s->text.first_line = true;
		if (s->hold_len &&
		    (s->hold_acked == UINT64_MAX || s->hold_acked < s->last_reply_end)) {
			smtp_note_tx(s, SMTP_AN_DATA_BEFORE_354);
			s->text.first_line = false;
		}
	} else {
		/* a refused DATA leaves the transaction open (the client may add recipients and
		 * try again, RFC 5321 3.3); if nothing better follows, it ended rejected here */
		if (tx && tx->end == SMTP_TX_OPEN && r->code >= 400)
			tx->data_refused = r->code;
		if (s->hold_len &&
		    (s->hold_acked == UINT64_MAX || s->hold_acked < s->last_reply_end)) {
			/* text sent before any reply to DATA: the client's timing, whatever the
			 * reply; whether the server read it as commands, its next act says */
			smtp_note_tx(s, SMTP_AN_DATA_BEFORE_354);
			s->hold_unread = true;
			return;
		}
		smtp_set_mode(s, CM_COMMAND); /* what the client sent next is read as commands */
	}
	smtp_release_hold(s);
}

/* MAIL's reply: its code is recorded even after a pipelined QUIT or RSET ended the
 * transaction; a refusal ends it (RFC 5321 3.3). */
void smtp_reply_mail(struct smtp_session *s, const struct pending *p, const struct smtp_reply *r)
{
	struct smtp_tx *tx = smtp_tx_of(s, p);
	if (!tx)
		return;
	tx->mail_code = r->code;
	if (tx->end == SMTP_TX_OPEN && r->code / 100 != 2 && s->cur_tx == p->tx)
		smtp_tx_end(s, tx, SMTP_TX_REJECTED, SMTP_REJ_MAIL);
}

void smtp_reply_rcpt(struct smtp_session *s, const struct pending *p, const struct smtp_reply *r)
{
	struct smtp_tx *tx = smtp_tx_of(s, p);
	if (!tx)
		return;
	if (p->reply_unsure) { /* smtp_gap_reply.c: this reply may be another command's */
		tx->uncertain = true;
		return;
	}
	if (p->arg < tx->n_rcpts)
		tx->rcpts[p->arg].code = r->code;
	if (r->code / 10 != 50) /* accepted, or refused on its merits: a transaction was open */
		tx->from_rcpt = false;
	if (r->code == 503) { /* smtp_gap.c: the server had none for it */
		smtp_rcpt_without_mail(s, p);
		return;
	}
	if (tx->end == SMTP_TX_OPEN && r->code / 100 == 2 && tx->phase < SMTP_PH_RCPT)
		tx->phase = SMTP_PH_RCPT;
}

/* A chunk's reply; the one to BDAT LAST is the reply to the end of data (RFC 3030). */
void smtp_reply_bdat(struct smtp_session *s, const struct pending *p, const struct smtp_reply *r)
{
	struct smtp_tx *tx = smtp_tx_of(s, p);
	if (!tx || tx->end != SMTP_TX_OPEN)
		return;
	if (p->arg)
		reply_eod(s, p, r);
	else if (r->code / 100 != 2 && s->cur_tx == p->tx)
		smtp_tx_end(s, tx, SMTP_TX_REJECTED, SMTP_REJ_DATA);
}

/* The pending EHLO/HELO argument becomes the session's helo (accepted, or never answered). */
void smtp_take_helo(struct smtp_session *s)
{
	if (s->helo_pending.len) {
		smtp_bytes_free(&s->rec.helo);
		s->rec.helo = s->helo_pending;
		s->helo_pending = (struct smtp_bytes){0};
	}
}

/* An accepted EHLO/HELO: its argument is the session's helo, and it resets the transaction
 * that was open when it was sent (RFC 5321 4.1.4). */
static void accept_helo(struct smtp_session *s, const struct pending *p)
{
	struct smtp_tx *tx = smtp_tx_of(s, p);
	s->rec.ehlo = p->verb == SMTP_V_EHLO;
	s->rec.helo_unknown = smtp_gap_helo_run_queued(s); /* seen, unless lost ones follow */
	smtp_take_helo(s);
	if (tx && tx->end == SMTP_TX_OPEN && tx->phase < SMTP_PH_EOD_SENT)
		smtp_tx_end(s, tx, SMTP_TX_RESET, SMTP_REJ_NONE);
}

void smtp_reply_helo(struct smtp_session *s, const struct pending *p, const struct smtp_reply *r)
{
	if (r->code / 100 == 2 && s->reply.is_ehlo)
		s->ehlo_whole = !s->rec.extensions_unknown;
	if (r->code / 100 == 2)
		accept_helo(s, p);
	else if (s->helo_first) /* the first one refused: nothing better to show */
		smtp_bytes_free(&s->helo_pending);
	s->helo_first = false;
}

void smtp_reply_starttls(struct smtp_session *s, const struct pending *p,
                         const struct smtp_reply *r)
{
	(void)p;
	if (r->code == 220) { /* RFC 3207: both sides speak TLS from here */
		starttls_accepted(s);
	} else {
		smtp_set_mode(s, CM_COMMAND);
		smtp_release_hold(s);
	}
}

void smtp_reply_auth(struct smtp_session *s, const struct pending *p, const struct smtp_reply *r)
{
	if (r->code == 334) { /* a challenge: the client's next line answers it */
		smtp_set_mode(s, CM_AUTH_LINE);
		smtp_pq_push_front(s, *p);
	} else {
		s->rec.auth_result = r->code;
		s->rec.auth_failures += r->code >= 400;
		smtp_set_mode(s, CM_COMMAND);
	}
	smtp_release_hold(s);
}

/* The reply acts as its command's row says; a command read in smuggled text changes only
 * the transaction it steps, never the client's reading. */
static void dispatch_reply(struct smtp_session *s, const struct pending *p,
                           const struct smtp_reply *r)
{
	if (p->kind == PK_GREETING) {
		/* a code no greeting has (RFC 5321 4.3.2) after lost server bytes: the greeting
		 * was among them, and this reply answers something the capture does not show */
		if (s->rec.gap_bytes[SMTP_TO_CLIENT] &&
		    !smtp_plausible(PK_GREETING, p->verb, r->code))
			return;
		reply_greeting(s, r);
		return;
	}
	if (p->kind == PK_EOD) {
		reply_eod(s, p, r);
		s->smug.deciding = p->decide_smuggle;
		return;
	}
	const struct smtp_verb_row *row = smtp_verb_row(p->verb);
	if (p->shadow && !(row->flags & SMTP_VF_TX_STEP))
		return;
	if (row->reply)
		row->reply(s, p, r);
}

static void count_errors(struct smtp_session *s, uint16_t code)
{
	if (code / 100 != 5) {
		s->error_run = 0;
		return;
	}
	if (++s->error_run == SMTP_ERROR_RUN)
		smtp_note(s, SMTP_AN_REPEATED_ERRORS);
}

/* A reply while the client is still in message text, after bytes of that text were lost:
 * the end of data was in the gap (the server answers nothing else there). The lost bytes
 * after it may have held commands too (a QUIT): a PK_GAP after the end of data takes their
 * replies, so that a 221 after the end of data's reply is a QUIT's (DESIGN.md section 4). */
static void eod_in_gap(struct smtp_session *s)
{
	struct smtp_tx *tx = smtp_cur_tx(s);
	smtp_pq_push(s,
	             (struct pending){.kind = PK_EOD, .tx = s->cur_tx, .peer_acked = UINT64_MAX});
	/* the gap may hold commands after the end of data too (a QUIT): later replies are theirs */
	smtp_pq_push_gap(s, -1);
	if (tx) {
		smtp_tx_eod_sent(tx, UINT64_MAX);
		tx->size_unknown = true;
		tx->inferred |= SMTP_INF_TX_OUTCOME;
	}
	smtp_set_mode(s, CM_COMMAND);
	s->text_gap = false;
	smtp_line_reset(&s->cline);
	smtp_smuggle_clear(&s->smug); /* which reading the reply fits is not known */
}

/* A reply that cannot answer the oldest pending command but can answer one a little later
 * (a 334 while an EHLO waits, a 250 after commands a proxy swallowed): the server never
 * answered those in between. Without this one missing reply would shift every later one. */
static void resync(struct smtp_session *s, uint16_t code)
{
	enum { LOOKAHEAD = 8 };
	if (!s->pq_len || smtp_plausible(smtp_pq_at(s, 0)->kind, smtp_pq_at(s, 0)->verb, code))
		return;
	for (uint32_t k = 1; k < s->pq_len && k <= LOOKAHEAD; k++) {
		const struct pending *p = smtp_pq_at(s, k);
		if (!p->shadow && smtp_plausible(p->kind, p->verb, code)) {
			struct pending skipped;
			while (k-- > 0) {
				smtp_pq_pop(s, &skipped);
				if (skipped.verb == SMTP_V_EHLO || skipped.verb == SMTP_V_HELO)
					smtp_take_helo(s); /* unanswered, not refused */
			}
			return;
		}
	}
}

/* The held bytes were sent once DATA's reply had come (their ACK covers server bytes no seen
 * reply accounts for), and this reply starts past those bytes: the server sent more after
 * DATA's reply, and before this one (replies to held lines read as commands, or the end of
 * data's), so this one need not be the first after DATA's and does not show which it was. */
static bool reply_after_held_replies(const struct smtp_session *s)
{
	return s->hold_acked != UINT64_MAX && s->hold_acked > s->last_reply_end &&
	       s->reply.start_pos > s->hold_acked;
}

/* After lost server bytes, a reply that cannot answer the DATA at the head of the queue,
 * while the held client bytes read as text hold an end of data that the reply's segment
 * acknowledges: the 354 was in the gap, and this reply answers that end of data. */
static void lost_354(struct smtp_session *s, uint16_t code)
{
	const struct pending *h = s->pq_len ? smtp_pq_at(s, 0) : NULL;
	if (!s->rec.gap_bytes[SMTP_TO_CLIENT] || !h || h->kind != PK_COMMAND ||
	    h->verb != SMTP_V_DATA || h->shadow || smtp_plausible(h->kind, h->verb, code) ||
	    s->cmode != CM_HOLD || s->server_acked == UINT64_MAX || s->hold_len < 3 ||
	    reply_after_held_replies(s))
		return;
	size_t eod = held_eod_end(s);
	if (!eod || s->server_acked < s->hold_pos + eod)
		return;
	struct pending data;
	struct smtp_reply r354 = {.code = 354};
	smtp_pq_pop(s, &data);
	smtp_reply_data(s, &data, &r354);
	struct smtp_tx *tx = smtp_tx_of(s, &data);
	if (tx)
		tx->inferred |= SMTP_INF_TX_METHOD;
}

/* After lost server bytes, a reply while a pipelined DATA ends the queue behind commands
 * still unanswered (an end of data, MAIL, RCPT), with message text held behind it that the
 * client sent after receiving server bytes the capture lacks, sent after the DATA and all
 * before this reply: a client sends text only after the 354 (RFC 2920 3.1: DATA ends a
 * group), so the replies to those commands and the 354 were all in the gap, and this reply
 * answers the held end of data. The commands' replies are lost (an end of data's: its
 * transaction incomplete). */
static void lost_354_pipelined(struct smtp_session *s, uint16_t code)
{
	const struct pending *t = s->pq_len > 1 ? smtp_pq_at(s, s->pq_len - 1) : NULL;
	if (!t || t->kind != PK_COMMAND || t->verb != SMTP_V_DATA || t->shadow ||
	    !s->rec.gap_bytes[SMTP_TO_CLIENT] || smtp_plausible(t->kind, t->verb, code) ||
	    s->cmode != CM_HOLD || s->hold_acked == UINT64_MAX || t->peer_acked == UINT64_MAX ||
	    s->hold_acked <= t->peer_acked || s->hold_acked <= s->last_reply_end ||
	    s->hold_acked > s->reply.start_pos || reply_after_held_replies(s) || !held_eod_end(s))
		return;
	for (uint32_t i = 0; i + 1 < s->pq_len; i++)
		if (smtp_pq_at(s, i)->kind == PK_GAP || smtp_pq_at(s, i)->shadow)
			return;
	while (s->pq_len > 1) {
		struct pending gone;
		smtp_pq_pop(s, &gone);
		struct smtp_tx *tx = smtp_tx_of(s, &gone);
		if (tx) {
			tx->uncertain = true;
			tx->gap_hid_end = true;
		}
	}
	s->last_reply_end = s->hold_acked; /* the 354 ended there, or before */
	lost_354(s, code);
}

/* After lost server bytes, a reply that cannot answer the DATA at the head of the queue but
 * fits the first command line of the client bytes held behind it, whose end the reply's
 * segment acknowledges: the server read that line as a command, so the DATA was refused in
 * the gap (a 354 would have made it text). The held bytes are read as commands, and this
 * reply answers the first of them (a 221 to a held QUIT). */
static void lost_data_refusal(struct smtp_session *s, uint16_t code)
{
	const struct pending *h = s->pq_len ? smtp_pq_at(s, 0) : NULL;
	struct smtp_command c;
	struct pending data;
	if (!s->rec.gap_bytes[SMTP_TO_CLIENT] || !h || h->kind != PK_COMMAND ||
	    h->verb != SMTP_V_DATA || h->shadow || smtp_plausible(h->kind, h->verb, code) ||
	    s->cmode != CM_HOLD || s->server_acked == UINT64_MAX || s->pq_len != 1 || !s->hold_len)
		return;
	if (s->hold_gap) /* client bytes lost behind the DATA may hold text and its end */
		return;
	const uint8_t *eol = memmem(s->hold, s->hold_len, "\r\n", 2);
	if (!eol || s->server_acked < s->hold_pos + (uint64_t)(eol - s->hold) + 2)
		return;
	smtp_parse_command(s->hold, (size_t)(eol - s->hold), &c);
	if (c.verb == SMTP_V_UNKNOWN || !smtp_plausible(PK_COMMAND, c.verb, code))
		return;
	smtp_pq_pop(s, &data);
	struct smtp_tx *tx = smtp_tx_of(s, &data);
	if (tx)
		tx->uncertain = true;
	smtp_set_mode(s, CM_COMMAND);
	smtp_release_hold(s);
}

/* A whole reply has arrived; end is the server offset just after it. */
static void match_reply(struct smtp_session *s, uint64_t end)
{
	struct smtp_reply r = s->reply.first;
	struct pending p;
	s->reply.active = false;
	s->rec.replies++;
	smtp_trace_code(s, r.code);
	if (s->rec.midstream &&
	    (s->syncing || (s->server_acked != UINT64_MAX && s->server_acked < s->sync_offset))) {
		smtp_reply_text_clear(s);
		return; /* the answer to a command sent before the capture began */
	}
	count_errors(s, r.code);
	smtp_smuggle_by_causality(s);
	if (s->smug.deciding)
		smtp_smuggle_decide(s, r.code);
	else if (!s->pq_len && s->cmode == CM_TEXT && s->smug.active && !s->text_gap)
		smtp_smuggle_adopt_mid_text(s); /* after a gap the real end may have been in it */
	else if (!s->pq_len && s->cmode == CM_TEXT && s->text_gap && r.code == 221)
		smtp_gap_text_quit(s); /* smtp_gap.c: no answer to an end of data */
	else if (!s->pq_len && s->cmode == CM_TEXT && s->text_gap && r.code != 354 &&
	         r.code != 421) /* a 421 may come at any time (RFC 5321 3.8): no end of data */
		eod_in_gap(s);
	smtp_gap_greeting_lost(s);
	lost_354(s, r.code);
	lost_354_pipelined(s, r.code);
	lost_data_refusal(s, r.code);
	smtp_gap_data_reply_lost(s); /* smtp_gap_reply.c: what is left when neither decides */
	smtp_lost_replies(s, r.code);
	smtp_gap_eod_reply_unsure(s, r.code); /* smtp_gap_reply.c: lost bytes may hold it */
	smtp_gap_replies_unsure(s, r.code);   /* or the replies of several commands */
	lost_data_refusal(s, r.code); /* once more: the lost replies may have led up to the DATA */
	smtp_gap_data_reply_lost(s);  /* so too when neither decides (a lost 250 to RCPT first) */
	if (smtp_gap_reply(s, &r)) {
		s->last_reply_end = end;
		smtp_reply_text_clear(s);
		return;
	}
	if (smtp_gap_starttls_reply(s, r.code)) { /* smtp_gap_tls.c: STARTTLS's reply was lost */
		smtp_reply_text_clear(s);
		return;
	}
	resync(s, r.code);
	bool popped = smtp_pq_pop(s, &p);
	if (popped)
		smtp_cmdlog_reply(s, p.log, &r);
	if (!popped) {
		if (r.code != 421) /* 421 may come at any time (RFC 5321 3.8) */
			smtp_note_inferred(s, SMTP_AN_REPLY_WITHOUT_COMMAND, SMTP_TO_SERVER);
		smtp_reply_text_clear(s);
		return;
	}
	s->last_reply_end = end;
	s->last_done = p;
	if (s->pq_len && smtp_pq_at(s, 0)->kind != PK_EOD &&
	    smtp_pq_at(s, 0)->peer_acked != UINT64_MAX && smtp_pq_at(s, 0)->peer_acked < end)
		smtp_note_overtook(s, p.kind, p.verb, false);
	dispatch_reply(s, &p, &r);
	smtp_reply_text_clear(s);
}

/* The command whose line ended in a bare LF has had its reply (nothing is pending: what the
 * client sent after it is held). Bytes it sent after that line before the reply are commands
 * only if the server answers again: a server that takes LF as a line end (Postfix by
 * default) does; one that refuses bare LF answers once and closes (Postfix's
 * smtpd_forbid_bare_newline), and never read them (DESIGN.md section 4). */
static void lf_hold_decide(struct smtp_session *s)
{
	if (!s->lf_hold || s->pq_len > 0)
		return;
	s->lf_hold = false;
	if (s->cmode != CM_HOLD)
		return;
	if (s->hold_len && (s->hold_acked == UINT64_MAX || s->hold_acked < s->last_reply_end)) {
		s->hold_unread = true; /* the next reply reads them, a close drops them */
		s->lf_by_order = s->hold_acked == UINT64_MAX;
		return;
	}
	smtp_set_mode(s, CM_COMMAND);
	smtp_release_hold(s);
}

static void reply_done(struct smtp_session *s, uint64_t end)
{
	match_reply(s, end);
	lf_hold_decide(s);
}

static void add_extension(struct smtp_session *s, const uint8_t *p, size_t len)
{
	struct smtp_record *rec = &s->rec;
	if (rec->n_extensions == s->lim.max_extensions) {
		smtp_note(s, SMTP_AN_LIMIT_REACHED);
		return;
	}
	if (rec->n_extensions == rec->cap_extensions) { /* doubled, not grown one at a time */
		uint32_t cap = rec->cap_extensions ? rec->cap_extensions * 2 : 4;
		rec->cap_extensions = cap < s->lim.max_extensions ? cap : s->lim.max_extensions;
		rec->extensions =
		    smtp_xrealloc(rec->extensions, rec->cap_extensions * sizeof(*rec->extensions));
	}
	rec->extensions[rec->n_extensions] = (struct smtp_bytes){0};
	smtp_bytes_keep(s, &rec->extensions[rec->n_extensions++], p, len);
	if (smtp_first_word_len(p, len) == 10 &&
	    strncasecmp((const char *)p, "PIPELINING", 10) == 0)
		rec->pipelining_advertised = true;
	if (smtp_first_word_len(p, len) == 8 && strncasecmp((const char *)p, "STARTTLS", 8) == 0)
		s->starttls_offered = true;
}

void smtp_clear_extensions(struct smtp_record *rec)
{
	for (uint32_t i = 0; i < rec->n_extensions; i++)
		smtp_bytes_free(&rec->extensions[i]);
	rec->n_extensions = 0;
	rec->pipelining_advertised = false;
}

/* Whether a 250 now starting answers an EHLO: the one at the head of the queue; the one
 * right after a greeting the capture lost (a 250 cannot answer the greeting, so resync takes
 * the EHLO for it); or the one after lost commands that the server had read when it replied
 * (smtp_gap_reply gives it the reply). Its extension lines are that EHLO's. */
static bool answers_ehlo(struct smtp_session *s)
{
	uint32_t i = s->pq_len > 1 && smtp_pq_at(s, 0)->kind == PK_GREETING ? 1 : 0;
	while (i < s->pq_len && smtp_pq_at(s, i)->kind == PK_GAP)
		i++;
	if (i >= s->pq_len || smtp_pq_at(s, i)->kind != PK_COMMAND ||
	    smtp_pq_at(s, i)->verb != SMTP_V_EHLO)
		return false;
	return i == 0 || smtp_pq_at(s, 0)->kind == PK_GREETING ||
	       (s->server_acked != UINT64_MAX && s->server_acked >= smtp_pq_at(s, i)->end_pos);
}

static void reply_first_line(struct smtp_session *s, const struct smtp_reply_line *rl,
                             uint64_t start, uint64_t ts)
{
	struct smtp_reply *f = &s->reply.first;
	s->reply.active = true;
	s->reply.start_pos = start;
	s->reply.start_acked = s->server_acked;
	f->code = rl->code;
	f->ts_us = ts;
	f->enhanced[0] = '\0';
	smtp_reply_text_clear(s);
	if (!s->reply_text_cut) {
		size_t skip = smtp_parse_enhanced(rl->text, rl->text_len, f->enhanced);
		if (rl->last) /* its only line: reply_line ends it (reply_done) while the line lasts
		               */
			smtp_reply_text_borrow(s, rl->text + skip, rl->text_len - skip);
		else
			smtp_reply_text_set(s, rl->text + skip, rl->text_len - skip);
	} else if (s->sline.len > 4) {
		/* a cut line's text is unknown: left out, not shortened; its enhanced code is kept
		 * when a space shows it whole */
		const uint8_t *t = s->sline.buf + 4;
		size_t n = s->sline.len - 4, skip = smtp_parse_enhanced(t, n, f->enhanced);
		if (skip == 0 || t[skip - 1] != ' ')
			f->enhanced[0] = '\0';
	}
	s->reply.is_ehlo = rl->code == 250 && answers_ehlo(s);
	if (s->reply.is_ehlo) { /* the last EHLO's reply is the one that holds */
		smtp_clear_extensions(&s->rec);
		s->rec.extensions_unknown = false;
	}
}

/* The server answers again after refusing DATA: it read the bytes sent before that
 * refusal, as commands (RFC 5321 4.1.1.4: after a 5xx to DATA the client's bytes are
 * commands). */
static void read_unread(struct smtp_session *s)
{
	if (!s->hold_unread)
		return;
	s->hold_unread = false;
	if (s->lf_by_order) /* without ACKs, capture order showed them sent before that reply */
		smtp_note_overtook(s, PK_COMMAND, s->hold_verb, true);
	s->lf_by_order = false;
	smtp_set_mode(s, CM_COMMAND);
	smtp_release_hold(s);
}

/* A multi-line reply left open ("250-..." and no last line) by a broken server: a later
 * line whose segment acknowledges the next command, when the reply's first line did not,
 * answers that command; the open reply ended before it. */
static bool continuation_abandoned(const struct smtp_session *s)
{
	if (s->pq_len < 2 || s->server_acked == UINT64_MAX || s->reply.start_acked == UINT64_MAX)
		return false;
	uint64_t next_end = smtp_pq_at((struct smtp_session *)s, 1)->end_pos;
	return s->reply.start_acked < next_end && s->server_acked >= next_end;
}

/* A command read while a gap cut a multi-line reply before its last line: the cut reply
 * ended in the gap when it answers a command the client waits for (SMTP_VF_SYNC, RFC 2920
 * 3.1) and this command was sent with the gap's bytes received (acked): the client had the
 * whole reply then. The head takes it before the command acts (its code and first line's
 * enhanced code; its text is unknown). */
void smtp_reply_cut_ended(struct smtp_session *s, uint64_t acked)
{
	/* commands ahead of the one the cut reply answers, sent before it, whose replies the
	 * gap took first (a lost 250 to RCPT before the EHLO's cut reply) */
	if (s->reply.cut)
		smtp_lost_replies(s, s->reply.first.code);
	const struct pending *h = s->pq_len ? smtp_pq_at(s, 0) : NULL;
	if (!s->reply.cut || !h || h->kind != PK_COMMAND ||
	    !(smtp_verb_row(h->verb)->flags & SMTP_VF_SYNC) || acked == UINT64_MAX ||
	    acked < s->reply.cut_end)
		return;
	s->reply.cut = false;
	s->reply.active = true;
	if (h->verb == SMTP_V_EHLO) { /* an EHLO's cut reply: its extensions are unknown, also */
		smtp_clear_extensions(&s->rec); /* when its first line was not known as its */
		s->rec.extensions_unknown = true;
		s->ehlo_whole = false;
	}
	s->reply.is_ehlo = false; /* no extension lines from here */
	reply_done(s, s->reply.cut_end);
}

static void reply_line(struct smtp_session *s, const struct line *l, uint64_t end, uint64_t ts)
{
	struct smtp_reply_line rl;
	if (l->total > SMTP_REPLY_LINE_MAX)
		smtp_note(s, SMTP_AN_LINE_TOO_LONG);
	if (!smtp_parse_reply_line(l->p, l->len, &rl))
		return; /* not a reply line: a broken server or not SMTP */
	if (s->reply.active && continuation_abandoned(s))
		reply_done(s, end - l->total);
	s->reply.cut = false; /* a line after the gap: the cut reply's end is past deciding */
	if (!s->reply.active) {
		read_unread(s);
		reply_first_line(s, &rl, end - l->total, ts);
	} else if (s->reply.is_ehlo)
		add_extension(s, rl.text, rl.text_len);
	if (rl.last)
		reply_done(s, end);
}

/* The server line being framed when a gap began: when it shows a code and the space of a
 * last line (RFC 5321 4.2), its reply ended within the gap; the code is certain, the text
 * is not. A line that shows less, or "ddd-", says nothing of where its reply ended. */
void smtp_reply_cut(struct smtp_session *s, uint64_t ts)
{
	struct smtp_reply_line rl;
	struct line l = {.p = s->sline.buf, .len = 4, .total = s->sline.total, .crlf = true};
	if (s->sline.len < 4 || s->sline.overflow || s->server_opaque ||
	    !smtp_parse_reply_line(s->sline.buf, 4, &rl) || !rl.last)
		return;
	s->reply_text_cut = true;
	reply_line(s, &l, s->server_offset, ts);
	s->reply_text_cut = false;
}

void smtp_server_feed(struct smtp_session *s, const uint8_t *p, size_t len, uint64_t ts)
{
	while (len > 0 && !s->server_opaque) {
		struct line l;
		bool done;
		size_t n = smtp_take_line(&s->sline, s->lim.max_line, p, len, &l, &done);
		s->server_offset += n;
		p += n;
		len -= n;
		if (done) {
			reply_line(s, &l, s->server_offset, ts);
			smtp_line_reset(&s->sline);
			if (s->server_opaque) /* the 220 to STARTTLS: the rest is not SMTP */
				starttls_server_rest(s, p, len);
		}
	}
}
