/* smtp_gap_reply: which command a reply after lost bytes answers, and what a lost reply
 * leaves unknown: DATA's and the end of data's replies, lost QUITs, transactions whose
 * boundaries lost commands blur (RFC 5321 4.2, 4.3.2; RFC 2920 3.1; DESIGN.md section 4). */
#include "smtp_int.h"

#include <string.h>

/* The run of lost commands g held two or more commands: a reply to it began before the
 * server had all its bytes (RFC 5321 4.1.1: a server answers a command once it has read
 * it), or a run merged into it did. */
static bool run_holds_two(const struct pending *g)
{
	return g->two_cmds || (g->reply_acked != UINT64_MAX && g->reply_acked < g->end_pos);
}

/* The held bytes were sent with lost server bytes in hand, before this reply: those bytes
 * held DATA's reply. */
static bool held_after_data_reply(const struct smtp_session *s)
{
	return s->hold_len && s->hold_acked != UINT64_MAX && s->hold_acked > s->last_reply_end &&
	       s->hold_acked <= s->reply.start_pos;
}

/* Client bytes held behind DATA were lost, and server bytes since the last reply, before
 * this one, too: the lost server bytes held DATA's reply, or its first lines (this one may
 * be its last line): a refusal makes the lost client bytes commands, a 354 text, and which
 * this reply answers nothing seen decides. Only a 354 is DATA's for certain. */
static bool data_reply_unsure(const struct smtp_session *s)
{
	return s->hold_gap && s->server_gap_end > s->last_reply_end &&
	       s->reply.start_pos >= s->server_gap_end && s->reply.first.code != 354;
}

/* A reply after lost server bytes while a DATA alone waits for its reply and client bytes
 * are held behind it (a refusal makes them commands, a 354 text), when the held bytes were
 * sent after receiving the lost bytes: those bytes were the reply to DATA (nothing else was
 * pending), and this reply answers something in the held bytes; or when held bytes were lost
 * too (data_reply_unsure), and this reply may be DATA's or theirs. Which reading the server
 * took, nothing seen decides (lost_354 and lost_data_refusal in smtp_reply.c take the cases
 * a reply does decide): the held bytes are unknown, as lost commands are, so a RCPT or MAIL
 * in message text is not read as one, and the transaction's end, size and recipients are
 * unknown (DESIGN.md section 4). */
void smtp_gap_data_reply_lost(struct smtp_session *s)
{
	const struct pending *h = s->pq_len == 1 ? smtp_pq_at(s, 0) : NULL;
	struct pending gone;
	if (!h || h->kind != PK_COMMAND || h->verb != SMTP_V_DATA || h->shadow ||
	    s->cmode != CM_HOLD || s->hold_verb != SMTP_V_DATA ||
	    !s->rec.gap_bytes[SMTP_TO_CLIENT] ||
	    (!held_after_data_reply(s) && !data_reply_unsure(s)))
		return;
	smtp_pq_pop(s, &gone);
	smtp_gap_reply_lost(s, &gone);
	struct smtp_tx *tx = smtp_tx_of(s, &gone);
	if (tx) {
		tx->size_unknown = true;
		tx->gap_hid_end = true;
	}
	if (s->hold_len) /* else cpos is past the lost bytes already (smtp_gap_client) */
		s->cpos = s->hold_pos + s->hold_len;
	smtp_drop_hold(s);
	smtp_set_mode(s, CM_COMMAND);
	s->gap_since_mail = true;
	smtp_gap_lost_commands(s, smtp_cur_tx(s));
}

/* A reply that cannot answer the command at the head of the queue while lost commands come
 * next (a 221 after an end of data): the head's reply was lost, and the lost commands take
 * this one (a QUIT among them). */
static void skip_unanswerable(struct smtp_session *s, uint16_t code)
{
	struct pending gone;
	if (s->pq_len < 2 || smtp_pq_at(s, 0)->kind == PK_GAP ||
	    smtp_pq_at(s, 0)->kind == PK_GREETING || smtp_pq_at(s, 1)->kind != PK_GAP ||
	    smtp_plausible(smtp_pq_at(s, 0)->kind, smtp_pq_at(s, 0)->verb, code))
		return;
	smtp_pq_pop(s, &gone);
	smtp_gap_reply_lost(s, &gone);
}

/* A reply after lost server bytes, sent with lost client bytes in hand (its ACK covers
 * some of them: a run of lost bytes may go on past what the server had), while a command
 * the client waits for (SMTP_VF_SYNC, RFC 2920 3.1) heads the queue and those lost bytes
 * come next: the client sent them only once it had the head's reply, which the server sent
 * before reading them, so that reply was in the server's gap and the lost bytes take this
 * one. */
static void waited_reply_lost(struct smtp_session *s)
{
	struct pending gone;
	if (s->pq_len < 2 || smtp_pq_at(s, 0)->kind != PK_COMMAND ||
	    !(smtp_verb_row(smtp_pq_at(s, 0)->verb)->flags & SMTP_VF_SYNC) ||
	    smtp_pq_at(s, 1)->kind != PK_GAP || s->server_gap_end <= s->last_reply_end ||
	    s->reply.start_pos < s->server_gap_end || s->reply.start_acked == UINT64_MAX ||
	    s->reply.start_acked <= smtp_pq_at(s, 0)->end_pos)
		return;
	smtp_pq_pop(s, &gone);
	smtp_gap_reply_lost(s, &gone);
	smtp_gap_helo_lost_reset(s, &gone);
}

/* A 221 that cannot answer the command at the head of the queue nor any later one, while
 * client bytes not read as commands may hold a QUIT (lost ones, quit_unknown, or bytes held
 * for a reply the capture lost) and server bytes were lost: it answers that QUIT
 * (inferred), and the head's reply was in the server's gap (an end of data's reply lost is
 * then unknown, never this 221). */
static bool lost_quit(struct smtp_session *s, const struct smtp_reply *r)
{
	struct pending gone;
	bool unread = s->rec.quit_unknown || (s->cmode == CM_HOLD && s->hold_len);
	if (!smtp_gap_answers_quit(r) || !unread || s->rec.quit_sent || !s->pq_len ||
	    !s->rec.gap_bytes[SMTP_TO_CLIENT] || smtp_pq_at(s, 0)->kind == PK_GAP)
		return false;
	for (uint32_t i = 0; i < s->pq_len; i++)
		if (smtp_plausible(smtp_pq_at(s, i)->kind, smtp_pq_at(s, i)->verb, r->code))
			return false;
	smtp_pq_pop(s, &gone);
	smtp_gap_reply_lost(s, &gone);
	smtp_gap_tx_touched(smtp_tx_of(s, &gone));
	smtp_gap_infer_from_code(s, r);
	return true;
}

/* STARTTLS was offered, or what was offered is unknown (no EHLO reply seen whole yet). */
static bool starttls_offered(const struct smtp_session *s)
{
	return s->starttls_offered || !s->ehlo_whole;
}

/* Lost commands (g) that took no seen reply, and the command after them (n) sent with server
 * bytes in hand that no seen reply accounts for: their replies were lost too, and a STARTTLS
 * answered 220, then read on in plaintext (a decrypted capture) or refused, would look the
 * same: whether STARTTLS was accepted is unknown. */
static void lost_unanswered(struct smtp_session *s, const struct pending *g,
                            const struct pending *n)
{
	if (g->answered || !s->rec.gap_bytes[SMTP_TO_CLIENT] ||
	    !smtp_gap_after_lost_reply(s, n->peer_acked))
		return;
	s->rec.helo_unknown = true; /* an EHLO or HELO may be among them too */
	if (!s->rec.starttls_accepted && starttls_offered(s))
		s->rec.starttls_unknown = true;
}

/* Lost commands may have ended the open transaction and begun another: which one tx is,
 * nothing seen decides (its envelope, method, size, reply and outcome are not known). */
static void tx_env_lost(struct smtp_tx *tx)
{
	tx->uncertain = true;
	tx->gap_hid_end = true;
	tx->rcpts_unknown = true;
	tx->env_unknown = true;
	smtp_bytes_free(&tx->mail_from);
	smtp_bytes_free(&tx->mail_params);
}

/* Two or more lost commands answered while a transaction was open, then the RCPT or DATA
 * that takes this reply: an RSET (or an end of data) and a MAIL may be among them, so it and
 * what follows may be a new transaction's, or the open one's (lost RCPTs): which, nothing
 * seen decides (gap-rset-lost.dlg with its MAIL lost too, gap-tx2-*.dlg). The transaction's
 * sender, recipients, method, size, reply and outcome are then not known (DESIGN.md section
 * 4); a single lost command cannot hold both, unless server bytes lost after the last reply
 * before them may have held more of their replies (srv_gap), or a reply to them began
 * before the server had all their bytes (run_holds_two: a cut one too,
 * gap-tail3-ehlo-mail-lost.dlg). Runs of lost commands with replies between count together
 * (ans_before). */
static void lost_tx_boundary(struct smtp_session *s, const struct pending *g)
{
	const struct pending *n = smtp_pq_at(s, 0);
	struct smtp_tx *tx = smtp_cur_tx(s);
	bool srv_lost = s->reply_gap_end > g->srv_gap; /* whole replies lost since the last */
	if ((g->answered + g->ans_before < 2 && !srv_lost && !run_holds_two(g)) || !tx ||
	    g->tx != s->cur_tx || tx->phase >= SMTP_PH_DATA || n->kind != PK_COMMAND ||
	    n->tx != s->cur_tx || (n->verb != SMTP_V_RCPT && n->verb != SMTP_V_DATA))
		return;
	tx_env_lost(tx);
}

/* The same when the lost commands end in the DATA that this 354 answers: two replies they
 * took before it (or whole replies lost since they began) may be an RSET's and a MAIL's. */
static void lost_tx_boundary_354(struct smtp_session *s, uint16_t code)
{
	const struct pending *g = smtp_pq_at(s, 0);
	struct smtp_tx *tx = smtp_cur_tx(s);
	if (code != 354 || (g->answered + g->ans_before < 2 && s->reply_gap_end <= g->srv_gap) ||
	    !tx || g->tx != s->cur_tx || tx->phase >= SMTP_PH_DATA)
		return;
	tx_env_lost(tx);
}

/* Lost commands (g) that took a second reply while their transaction was open before its
 * DATA: an RSET and a MAIL may be among them, and what they hold after those (RCPTs, DATA,
 * text and its end, answered by the replies they take) a new transaction's: the open one's
 * envelope and end are not known, nor the session's last sender (tx_env_lost), even when no
 * RCPT or DATA seen follows them (gap-tail3-rset-rcpt-data-lost.dlg with the 354 lost too:
 * they take the end of data's reply). */
static void lost_tx_two_replies(struct smtp_session *s, const struct pending *g, uint16_t code)
{
	struct smtp_tx *tx = smtp_cur_tx(s);
	/* a 354 is the DATA's: lost_tx_boundary_354 counts the replies before it */
	if (code != 354 && g->answered + g->ans_before >= 2 && tx && g->tx == s->cur_tx &&
	    tx->phase < SMTP_PH_DATA)
		tx_env_lost(tx);
}

/* Lost commands (gone) that left the queue with more right behind them: one run with them
 * (their replies count together). */
static void runs_merge(struct smtp_session *s, const struct pending *gone)
{
	struct pending *g = smtp_pq_at(s, 0);
	g->ans_before += gone->answered + gone->ans_before;
	g->two_cmds |= run_holds_two(gone);
	if (gone->srv_gap < g->srv_gap)
		g->srv_gap = gone->srv_gap;
	if (gone->run_from < g->run_from) /* one run from there on */
		g->run_from = gone->run_from;
}

/* A 354 (only DATA is answered so, RFC 5321 4.3.2) after server bytes lost since the last
 * reply, while lost commands head the queue: the client sends nothing after DATA before its
 * 354 (RFC 2920 3.1: no text, and DATA ends a pipelined group), so the DATA is the last
 * thing queued, a DATA seen or in lost bytes, and the server had read it when it began the
 * reply; all ahead of it were answered before. Lost commands leave as when the command
 * after them takes a reply (lost_tx_boundary), and the commands among them, whose replies
 * the server's gap held, lose theirs. */
static void lost_before_data(struct smtp_session *s, uint16_t code)
{
	const struct pending *t = s->pq_len ? smtp_pq_at(s, s->pq_len - 1) : NULL;
	struct pending gone;
	if (code != 354 || s->pq_len < 2 || smtp_pq_at(s, 0)->kind != PK_GAP ||
	    s->server_gap_end <= s->last_reply_end || s->reply.start_pos < s->server_gap_end ||
	    s->reply.start_acked == UINT64_MAX || s->reply.start_acked < t->end_pos || t->shadow ||
	    (t->kind != PK_GAP && (t->kind != PK_COMMAND || t->verb != SMTP_V_DATA)))
		return;
	for (uint32_t i = 1; i + 1 < s->pq_len; i++)
		if (smtp_pq_at(s, i)->shadow ||
		    (smtp_pq_at(s, i)->kind != PK_GAP && smtp_pq_at(s, i)->kind != PK_COMMAND))
			return;
	while (s->pq_len > 1) {
		if (smtp_pq_at(s, 0)->kind == PK_GAP)
			lost_unanswered(s, smtp_pq_at(s, 0), smtp_pq_at(s, 1));
		smtp_pq_pop(s, &gone);
		if (gone.kind == PK_GAP && smtp_pq_at(s, 0)->kind == PK_GAP)
			runs_merge(s, &gone);
		else if (gone.kind == PK_GAP)
			lost_tx_boundary(s, &gone);
		else
			smtp_gap_reply_lost(s, &gone);
	}
}

/* A reply while lost commands head the queue: it answers one of them unless it fits the
 * command after them, which the server had read when it replied. Returns true when the
 * gap took the reply. */
bool smtp_gap_reply(struct smtp_session *s, const struct smtp_reply *r)
{
	uint16_t code = r->code;
	if (lost_quit(s, r))
		return true;
	lost_before_data(s, code);
	skip_unanswerable(s, code);
	waited_reply_lost(s);
	while (s->pq_len && smtp_pq_at(s, 0)->kind == PK_GAP) {
		const struct pending *n = s->pq_len > 1 ? smtp_pq_at(s, 1) : NULL;
		if (!n || !smtp_plausible(n->kind, n->verb, code) ||
		    (s->server_acked != UINT64_MAX && s->server_acked < n->end_pos))
			break;
		struct pending gone;
		bool next_gap = n->kind == PK_GAP;
		lost_unanswered(s, smtp_pq_at(s, 0), n);
		smtp_pq_pop(s, &gone);
		if (!next_gap) { /* the command after the lost ones takes it, unless its own reply
			          */
			lost_tx_boundary(s, &gone);
			smtp_lost_replies(s, code); /* was lost before this one (a MAIL's) */
			smtp_gap_eod_reply_unsure(s, code);
			return false;
		}
		/* a later run of lost bytes, which the server had read too: it takes the reply */
		runs_merge(s, &gone);
	}
	if (!s->pq_len || smtp_pq_at(s, 0)->kind != PK_GAP)
		return false;
	lost_tx_boundary_354(s, code);
	smtp_pq_at(s, 0)->answered++;
	lost_tx_two_replies(s, smtp_pq_at(s, 0), code);
	smtp_gap_run_took_reply(s, r);
	smtp_gap_infer_from_code(s, r);
	return true;
}

/* After server bytes were lost: the client's ACK numbers show which replies were in the
 * gap. A command sent after receiving server bytes that no seen reply accounts for, and
 * before the reply now starting, came after the reply to the command before it: that
 * reply was lost (exact for clients that wait; pipelined commands acknowledge nothing
 * new and stop the search). */
/* After lost server bytes, a 500 or 502 (command not recognized, RFC 5321 4.2.2) while an
 * end of data heads the queue and a line the model cannot name (or lost client bytes) comes
 * next: the reply is that line's, and the end of data's reply was in the gap. */
static void lost_eod_reply(struct smtp_session *s, uint16_t code)
{
	struct pending gone;
	const struct pending *n = s->pq_len >= 2 ? smtp_pq_at(s, 1) : NULL;
	if (!n || smtp_pq_at(s, 0)->kind != PK_EOD || (code != 500 && code != 502) ||
	    !(n->kind == PK_GAP || (n->kind == PK_COMMAND && n->verb == SMTP_V_UNKNOWN)))
		return;
	smtp_pq_pop(s, &gone);
	smtp_gap_reply_lost(s, &gone);
}

/* The lost server bytes just before the reply now starting were all received before h was
 * sent: none of them is h's reply. */
static bool gap_before_sent(const struct smtp_session *s, const struct pending *h)
{
	return h->peer_acked != UINT64_MAX && h->peer_acked >= s->reply_gap_end;
}

/* The server had read n when it sent the reply now starting: the whole command line, or
 * some of the lost bytes (counted) that n stands for. */
static bool reply_after_read(const struct smtp_session *s, const struct pending *n)
{
	uint64_t acked = s->reply.start_acked;
	if (acked == UINT64_MAX)
		return false;
	if (n->kind == PK_GAP && n->lost && n->lost <= n->end_pos)
		return acked > n->end_pos - n->lost;
	return acked >= n->end_pos;
}

/* A reply that starts right where server bytes lost between replies end, while an end of
 * data (or BDAT LAST) heads the queue and the command after it, which the server had read
 * when it replied, could take it too: the lost bytes held the end of data's reply, or only
 * its first lines (this line its last). Which, nothing seen decides: the end of data's reply
 * is unknown (its transaction incomplete, its reply's text and time never those of a later
 * line), and this reply answers the command after it. */
void smtp_gap_eod_reply_unsure(struct smtp_session *s, uint16_t code)
{
	const struct pending *h = s->pq_len >= 2 ? smtp_pq_at(s, 0) : NULL;
	const struct pending *n = h ? smtp_pq_at(s, 1) : NULL;
	struct pending gone;
	if (!h || h->shadow || n->shadow ||
	    !(h->kind == PK_EOD || (h->kind == PK_COMMAND && h->verb == SMTP_V_BDAT && h->arg)) ||
	    s->reply_gap_end != s->reply.start_pos || s->reply_gap_end <= s->last_reply_end ||
	    gap_before_sent(s, h) || !reply_after_read(s, n) ||
	    !smtp_plausible(h->kind, h->verb, code) || !smtp_plausible(n->kind, n->verb, code))
		return;
	smtp_pq_pop(s, &gone);
	smtp_gap_reply_lost(s, &gone);
	smtp_gap_tx_touched(smtp_tx_of(s, &gone));
}

/* A reply that starts right where server bytes lost between replies end, while two or more
 * commands the server had read when it sent it wait for replies, and one after the head could
 * take it: the lost bytes held the head's reply (or its first lines) and perhaps the replies
 * of the commands after it, in any number, since no client ACK between them places them
 * (pipelined). Which of those commands this reply and the next answer, nothing decides:
 * each of them gets its reply from the queue as before, marked unsure (a RCPT's code is then
 * unknown, smtp_reply_rcpt). */
void smtp_gap_replies_unsure(struct smtp_session *s, uint16_t code)
{
	uint32_t first = 0, n;
	bool other = false;
	while (first < s->pq_len && smtp_pq_at(s, first)->kind == PK_GAP)
		first++; /* lost commands ahead may take it too */
	if (s->reply_gap_end != s->reply.start_pos || s->reply_gap_end <= s->last_reply_end ||
	    first == s->pq_len || gap_before_sent(s, smtp_pq_at(s, first)))
		return;
	for (n = first; n < s->pq_len && smtp_pq_at(s, n)->kind == PK_COMMAND &&
	                reply_after_read(s, smtp_pq_at(s, n));
	     n++)
		other |= n > 0 && smtp_plausible(PK_COMMAND, smtp_pq_at(s, n)->verb, code);
	for (uint32_t i = first; other && i < n; i++)
		smtp_pq_at(s, i)->reply_unsure = true;
}

void smtp_lost_replies(struct smtp_session *s, uint16_t code)
{
	if (!s->rec.gap_bytes[SMTP_TO_CLIENT])
		return;
	lost_eod_reply(s, code);
	while (s->pq_len >= 2) {
		const struct pending *h = smtp_pq_at(s, 0), *n = smtp_pq_at(s, 1);
		struct pending gone;
		/* bytes the head's sender had already received cannot be the head's reply */
		bool before_head = h->peer_acked != UINT64_MAX && n->peer_acked <= h->peer_acked;
		if (h->kind == PK_GAP || n->peer_acked == UINT64_MAX || before_head ||
		    n->peer_acked <= s->last_reply_end || n->peer_acked > s->reply.start_pos)
			return;
		uint64_t seen = n->peer_acked;
		smtp_pq_pop(s, &gone);
		smtp_gap_reply_lost(s, &gone);
		s->last_reply_end = seen;
	}
}

/* A message text line right after an end-of-data look-alike whose segment acknowledges
 * server bytes sent after the 354 that the capture lacks (lost after it was taken): the
 * server answered while the
 * strict reading is in text, which only the lenient reading explains (a seen reply there is
 * taken the same way, smtp_smuggle_adopt_now). The look-alike ended the data, its reply was
 * lost, and this line was sent after that reply: a command, and no text followed the
 * look-alike (DESIGN.md section 4: causality decides). Only the first line after the
 * look-alike: with lines before it the lost bytes may hold their replies too. Client bytes
 * lost in the text before the look-alike (text_gap) may have held the real end of data
 * that the lost bytes answer instead, and what came after it commands: this line was sent
 * after that reply all the same, so in neither reading does text follow the look-alike,
 * and the transaction's end is lost either way; only its size is unknown then. Client bytes
 * lost after the look-alike may have been text after it: then nothing is decided here. */
void smtp_gap_lookalike_reply(struct smtp_session *s, uint64_t acked)
{
	struct pending eod;
	bool text_gap = s->text_gap;
	if (s->cmode != CM_TEXT || !s->smug.active || s->smug.n || s->smug.followed ||
	    s->rec.gap_bytes[SMTP_TO_SERVER] != s->smug.cgap || s->pq_len || s->reply.active ||
	    acked == UINT64_MAX || s->rec.gap_bytes[SMTP_TO_CLIENT] <= s->text.gap_at_354 ||
	    acked <= s->text.reply354_end || acked <= s->last_reply_end)
		return;
	smtp_smuggle_adopt_now(s);
	s->text_gap = false;
	if (!s->pq_len || smtp_pq_at(s, 0)->kind != PK_EOD)
		return;
	smtp_pq_pop(s, &eod);
	smtp_gap_reply_lost(s, &eod);
	struct smtp_tx *tx = smtp_tx_of(s, &eod);
	smtp_gap_tx_touched(tx);
	if (tx && text_gap)
		tx->size_unknown = true;
}
