/* smtp_lenient: the lenient reading of message text after an end-of-data look-alike (SMTP
 * smuggling, 2023: CVE-2023-51764/5/6): what a server that took the look-alike as the end of
 * data would have read as commands, and which reading the server's replies fit (DESIGN.md
 * section 5, smuggling_eod; RFC 5321 4.1.1.4, 4.5.2). */
#include "smtp_int.h"

#include <string.h>

bool smtp_is_dot_line(const struct line *l)
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
		if (smtp_is_dot_line(l)) {
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
	if (s->rec.lookalike == SMTP_LA_NONE && !s->smug.unsure)
		s->rec.lookalike = s->smug.kind;
}

/* cr: the first CR inside the line, NULL when none (most lines: then no search). For
 * <CR>.<CR>, *rest gets the bytes after it: a lenient server reads them as a command. */
static enum smtp_lookalike lookalike_kind(const struct line *l, bool prev_crlf, const uint8_t *cr,
                                          struct line *rest)
{
	if (smtp_is_dot_line(l) && !l->crlf)
		return prev_crlf ? SMTP_LA_CRLF_DOT_LF : SMTP_LA_LF_DOT_LF;
	if (smtp_is_dot_line(l) && !prev_crlf)
		return SMTP_LA_LF_DOT_CRLF;
	const uint8_t *at = cr ? memmem(cr, l->len - (size_t)(cr - l->p), "\r.\r", 3) : NULL;
	if (at) {
		*rest = *l;
		rest->p = at + 3;
		rest->len = l->len - (size_t)(at + 3 - l->p);
		rest->cr = memchr(rest->p, '\r', rest->len);
		return SMTP_LA_CR_DOT_CR;
	}
	return SMTP_LA_NONE;
}

/* The first text seen after a look-alike comes after client bytes lost since it, in a
 * segment sent after server bytes that no seen reply accounts for (acked): the lost bytes
 * may have been sent before the look-alike's reply (text after it) or after it (commands),
 * so whether text followed the look-alike is not known (DESIGN.md section 4). */
static bool followed_unsure(const struct smtp_session *s, uint64_t acked)
{
	const struct smuggle *sm = &s->smug;
	return !sm->followed && s->rec.gap_bytes[SMTP_TO_SERVER] != sm->cgap &&
	       acked != UINT64_MAX && sm->la_acked != UINT64_MAX && acked > sm->la_acked &&
	       acked > s->last_reply_end;
}

/* An end-of-data look-alike (SMTP smuggling, 2023): text to a strict server, the end of
 * data to a lenient one. The first starts the lenient reading of what follows. */
void smtp_text_lookalike(struct smtp_session *s, const struct line *l, bool prev_crlf,
                         const uint8_t *cr, uint64_t acked)
{
	struct line rest = {0};
	enum smtp_lookalike kind = lookalike_kind(l, prev_crlf, cr, &rest);
	if (s->smug.active) {
		s->smug.unsure = s->smug.unsure || followed_unsure(s, acked);
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
	s->smug.cgap = s->rec.gap_bytes[SMTP_TO_SERVER];
	s->smug.la_acked = acked;
	/* a "." line's kind is how the line before it ended; lost, it is not known (nor whether
	 * the "." began a line), and the record leaves it out rather than guess (DESIGN.md 4) */
	s->smug.unsure = s->text.start_lost && kind != SMTP_LA_CR_DOT_CR;
	if (kind == SMTP_LA_CR_DOT_CR && rest.len) {
		lookalike_followed(s);
		shadow_line(s, &rest, acked);
	}
}

/* The strict end of data: the lenient reading ends here too, with "." either ending a
 * smuggled message or read as a command of its own. */
bool smtp_smuggle_end(struct smtp_session *s)
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

/* The lenient reading was right: the commands it read become real pending entries, ahead
 * of the strict ones, and a smuggled MAIL opens a transaction of its own. */
static int64_t adopt_shadow(struct smtp_session *s)
{
	struct smuggle *sm = &s->smug;
	struct pending q[SMTP_SHADOW_MAX];
	int64_t saved = s->cur_tx, tx = -1;
	s->cur_tx = -1;
	for (uint32_t i = 0; i < sm->n; i++) {
		const struct shadow_cmd *c = &sm->cmds[i];
		q[i] = (struct pending){.kind = c->kind,
		                        .verb = c->verb,
		                        .shadow = true,
		                        .peer_acked = UINT64_MAX,
		                        .tx = tx};
		if (c->kind == PK_COMMAND && c->verb == SMTP_V_MAIL && s->cur_tx < 0) {
			struct smtp_tx *t = smtp_tx_begin(s);
			t->smuggled = true;
			t->mail_from = c->arg;
			sm->cmds[i].arg = (struct smtp_bytes){0};
			q[i].tx = tx = s->cur_tx;
		} else if (c->verb == SMTP_V_RCPT && tx >= 0) {
			smtp_tx_add_rcpt(s, &s->rec.txs[tx], (const uint8_t *)c->arg.data,
			                 c->arg.len);
			q[i].arg = s->rec.txs[tx].n_rcpts - 1;
		} else if (c->kind == PK_EOD && tx >= 0) {
			s->rec.txs[tx].method = SMTP_METHOD_DATA;
			smtp_tx_eod_sent(&s->rec.txs[tx], UINT64_MAX);
			s->rec.txs[tx].size = c->size;
			q[i].peer_acked = c->text_acked;
		}
	}
	for (uint32_t i = sm->n; i-- > 0;)
		smtp_pq_push_front(s, q[i]);
	s->cur_tx = saved >= 0 ? saved : s->cur_tx;
	return tx;
}

/* A reply came while the strict reading is still inside message text with nothing left
 * to answer: only the lenient reading explains it. The look-alike ended the data; what
 * followed it was read as commands (or is the text of a smuggled message still going). */
void smtp_smuggle_adopt_now(struct smtp_session *s)
{
	struct smuggle *sm = &s->smug;
	struct pending eod = {.kind = PK_EOD, .tx = sm->tx, .peer_acked = UINT64_MAX};
	bool in_text = sm->in_text;
	if (sm->tx >= 0 && sm->tx < s->rec.n_txs) {
		smtp_tx_eod_sent(&s->rec.txs[sm->tx], UINT64_MAX);
		if (!sm->followed) /* a bare-LF client's own end: its line is not text */
			s->rec.txs[sm->tx].size -= sm->la_total;
	}
	int64_t smuggled = adopt_shadow(s);
	smtp_pq_push_front(s, eod);
	if (sm->followed)
		s->rec.lookalike_acted = SMTP_ACTED_YES;
	smtp_smuggle_clear(sm);
	smtp_set_mode(s, in_text ? CM_TEXT : CM_COMMAND);
	if (in_text && smuggled >= 0)
		s->cur_tx = smuggled;
}

/* A reply while the strict reading is in text (smtp_smuggle_adopt_now): the transaction's
 * size counts the text seen so far, which client bytes lost right after may continue. */
void smtp_smuggle_adopt_mid_text(struct smtp_session *s)
{
	int64_t tx = s->smug.tx;
	smtp_smuggle_adopt_now(s); /* clears the smuggling state: marked after it */
	s->smug.mid_tx1 = tx >= 0 ? (uint32_t)tx + 1 : 0;
	s->smug.mid_cpos = s->cpos;
}

/* Client bytes lost right after a reply adopted the lenient reading mid-text, before any
 * client byte since: the strict text may have gone on in them, so its size is unknown. */
void smtp_smuggle_gap_after(struct smtp_session *s)
{
	uint32_t t = s->smug.mid_tx1;
	s->smug.mid_tx1 = 0;
	if (t && t <= s->rec.n_txs && s->cpos == s->smug.mid_cpos)
		s->rec.txs[t - 1].size_unknown = true;
}

/* A reply to an end of data that followed a look-alike, sent before that end of data
 * reached the server (its segment does not acknowledge it): it cannot answer the strict
 * reading, only the lenient one, in which the look-alike ended the data (DESIGN.md
 * section 4: causality decides what reply codes alone do not). */
void smtp_smuggle_by_causality(struct smtp_session *s)
{
	const struct pending *h = s->pq_len ? smtp_pq_at(s, 0) : NULL;
	struct pending strict;
	if (!h || h->kind != PK_EOD || !h->decide_smuggle || s->server_acked == UINT64_MAX ||
	    s->server_acked >= h->end_pos || s->smug.n == 0)
		return;
	smtp_pq_pop(s, &strict);
	s->smug.in_text = false; /* the strict end closed any smuggled text already */
	smtp_smuggle_adopt_now(s);
	smtp_set_mode(s, CM_COMMAND);
}

/* The reply after the one to an end of data that followed a look-alike: the strict
 * reading expects it to answer the next command the client sent; the lenient one, the
 * first command it read in the text. Where both fit, the strict reading stands. */
bool smtp_smuggle_decide(struct smtp_session *s, uint16_t code)
{
	struct smuggle *sm = &s->smug;
	const struct pending *next = s->pq_len ? smtp_pq_at(s, 0) : NULL;
	bool lenient = sm->n > 0 && smtp_plausible(sm->cmds[0].kind, sm->cmds[0].verb, code) &&
	               (!next || !smtp_plausible(next->kind, next->verb, code));
	s->rec.lookalike_acted = lenient ? SMTP_ACTED_YES : SMTP_ACTED_NO;
	if (lenient)
		adopt_shadow(s);
	smtp_smuggle_clear(sm);
	return lenient;
}
