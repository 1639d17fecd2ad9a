/* smtp_gap: what a capture that lost bytes still makes certain: the commands and replies a
 * gap hid, and what the other direction proves about them (RFC 5321 4.2, 4.3.2; RFC 2920;
 * DESIGN.md section 4, "What the capture lacks"). */
#include "smtp_int.h"
#include "tls.h"

#include <string.h>

bool smtp_any_gap(const struct smtp_session *s)
{
	return s->rec.gap_bytes[SMTP_TO_SERVER] || s->rec.gap_bytes[SMTP_TO_CLIENT];
}

/* A transaction open while bytes were lost: a step of it may be in the gap. */
void smtp_gap_tx_touched(struct smtp_tx *tx)
{
	if (!tx)
		return;
	tx->uncertain = true;
	tx->gap_hid_end = true;
}

/* Lost commands right after lost commands no reply answered yet are one run of them: the
 * queue's last pending gap takes them too. */
static bool extend_gap(struct smtp_session *s)
{
	struct pending *last = s->pq_len ? smtp_pq_at(s, s->pq_len - 1) : NULL;
	if (!last || last->kind != PK_GAP || last->answered)
		return false;
	last->end_pos = s->cpos;
	return true;
}

/* The extensions no longer known: the last EHLO's reply is the one that holds (RFC 5321
 * 4.1.1.1), and one may be among lost bytes. */
static void extensions_lost(struct smtp_session *s)
{
	smtp_clear_extensions(&s->rec);
	s->rec.extensions_unknown = true;
	s->ehlo_whole = false;
	s->ext_by_run = false;
}

/* Lost client bytes (lost: the bytes of their run, 0 when not counted) whose replies may be
 * in lost server bytes: an EHLO among them makes the extensions unknown, and a STARTTLS among them
 * answered 220 and read on in plaintext (a decrypted capture) or refused looks the same:
 * whether it was accepted is unknown (judged on what was offered before the loss, or by
 * an EHLO among them). */
static void lost_both_ways(struct smtp_session *s, uint64_t lost)
{
	/* the offer may also come from an EHLO among these bytes (a client may send one again,
	 * RFC 5321 4.1.4) whose reply the lost server bytes held, when they have room for both */
	bool offer = s->starttls_offered || !s->ehlo_whole || lost >= EHLO_MIN + STARTTLS_LEN;
	if (!s->rec.starttls_accepted && offer && (!lost || lost >= STARTTLS_LEN))
		s->rec.starttls_unknown = true;
	if (lost && lost < EHLO_MIN)
		return;
	/* an EHLO or HELO among them: which one was sent last is unknown */
	s->helo_by_run = !s->rec.helo_unknown;
	s->rec.helo_unknown = true;
	if (s->rec.extensions_unknown) { /* unknown before this run: it proves nothing back */
		s->ext_by_run = false;
		return;
	}
	s->rec.extensions_unknown = true; /* the list is kept: the run may prove a STARTTLS */
	s->ext_by_run = true;
	s->ext_by_run_whole = s->ehlo_whole;
	s->ehlo_whole = false;
}

/* Client bytes read as zero or more commands nobody can name: a PK_GAP entry takes their
 * replies, and a RCPT may be among them. */
void smtp_gap_lost_commands(struct smtp_session *s, struct smtp_tx *tx)
{
	if (tx && tx->phase < SMTP_PH_EOD_SENT) /* after its end of data, no RCPT of it */
		tx->rcpts_unknown = true;
	s->gap_sync = true;
	if (extend_gap(s))
		return;
	smtp_pq_push_gap(s, s->cur_tx);
}

/* lost_commands for len lost client bytes, counted on their run: when server bytes were lost
 * since the last reply, their replies may be in them. */
static void lost_commands_counted(struct smtp_session *s, struct smtp_tx *tx, uint64_t len)
{
	uint32_t n = s->pq_len;
	smtp_gap_lost_commands(s, tx);
	struct pending *g = smtp_pq_at(s, s->pq_len - 1);
	if (s->pq_len > n) { /* a new run: from the end of the last whole line, or a cut command */
		g->lost = len;
		g->run_from = s->line_end_pos;
		s->helo_by_run = false; /* only the new run may set it again */
	} else if (g->lost) {           /* a run counted so far */
		g->lost += len;
	}
	if (s->server_gap_end > s->last_reply_end)
		lost_both_ways(s, g->lost);
}

/* Client bytes lost: in command mode they are zero or more commands (a PK_GAP entry takes
 * their replies); in message text they are text, or the end of data (a reply will say). */
void smtp_gap_client(struct smtp_session *s, uint64_t len)
{
	smtp_cut_command(s);       /* a MAIL or RCPT the gap cut was sent all the same */
	smtp_smuggle_gap_after(s); /* the strict text of a message the lenient reading ended */
	s->gap_since_mail = true;
	struct smtp_tx *tx = smtp_cur_tx(s);
	uint64_t partial = s->cline.total; /* the bytes of a line the gap cut, before it */
	smtp_gap_tx_touched(tx);
	smtp_line_reset(&s->cline);
	s->cpos += len;
	s->client_offset += len;
	switch (s->cmode) {
	case CM_TEXT:
		s->text_gap = true; /* a reply while still in text: the end was in the gap */
		s->text.prev_crlf = true;
		s->text.start_lost = true;
		if (tx) /* text, unless the end of data was in it (size_unknown) */
			tx->size += partial + len;
		break;
	case CM_BDAT: {
		uint64_t n = len < s->bdat_left ? len : s->bdat_left;
		s->bdat_left -= n;
		if (tx)
			tx->size += n;
		if (s->bdat_left == 0)
			smtp_set_mode(s, CM_COMMAND);
		break;
	}
	case CM_AUTH_LINE:
		/* the answer to the 334 was lost: AUTH's reply comes next */
		smtp_set_mode(s, CM_HOLD);
		break;
	case CM_HOLD: /* bytes waiting for a reply, lost: a QUIT may be among them */
		s->rec.quit_unknown = true;
		if (!s->hold_gap) /* and text read from them may lack the lost part */
			s->hold_gap = s->hold_len + 1;
		break;
	case CM_COMMAND:
		lost_commands_counted(s, tx, len);
		break;
	default:
		break;
	}
}

/* Runs of lost client bytes in the queue: their replies may be in lost server bytes. */
static void lost_runs_answered_here(struct smtp_session *s)
{
	for (uint32_t i = 0; i < s->pq_len; i++)
		if (smtp_pq_at(s, i)->kind == PK_GAP)
			lost_both_ways(s, smtp_pq_at(s, i)->lost);
}

/* An EHLO still waiting for its reply: lost server bytes may hold it. */
static bool ehlo_queued(struct smtp_session *s)
{
	for (uint32_t i = 0; i < s->pq_len; i++)
		if (smtp_pq_at(s, i)->kind == PK_COMMAND && smtp_pq_at(s, i)->verb == SMTP_V_EHLO)
			return true;
	return false;
}

/* The server had some of the bytes of the run of lost commands g (counted) in hand, having
 * acknowledged client bytes up to acked. */
static bool run_begun_by(const struct pending *g, uint64_t acked)
{
	return g->lost && g->lost <= g->end_pos && acked != UINT64_MAX &&
	       acked > g->end_pos - g->lost;
}

/* A reply that lost commands (g, their run counted) took, begun when the server had acked
 * client bytes up to acked: past the run's start, it answers a command of the run that ended
 * there, so bytes of the run after acked are one more command at least (run_holds_two). */
static void note_run_reply(struct pending *g, uint64_t acked)
{
	if (run_begun_by(g, acked) && acked < g->reply_acked)
		g->reply_acked = acked;
}

/* A reply to lost commands, whole or cut: a 250 without an enhanced code (none answers EHLO
 * or HELO, RFC 2034 3) means an EHLO or HELO may be among them. */
static void helo_among_run(struct smtp_session *s, const struct smtp_reply *r)
{
	if (r->code == 250 && r->enhanced[0] == '\0')
		s->rec.helo_unknown = true;
}

/* A reply (r, begun at s->reply) that the lost commands heading the queue took. */
void smtp_gap_run_took_reply(struct smtp_session *s, const struct smtp_reply *r)
{
	note_run_reply(smtp_pq_at(s, 0), s->reply.start_acked);
	helo_among_run(s, r);
}

/* A reply that server bytes lost cut before its last line (gone with them), begun while lost
 * commands head the queue and before the server had read the command after them: it
 * answered one of those lost commands, and the ACK it began with still counts. Begun after
 * server bytes lost since the last reply, which may hold the replies of the commands ahead
 * of a later run, with bytes of that run in the server's hands: it may be that run's. */
static void cut_reply_to_run(struct smtp_session *s)
{
	const struct pending *n = s->pq_len > 1 ? smtp_pq_at(s, 1) : NULL;
	uint64_t at = s->reply.start_acked;
	if (!s->reply.active || !s->pq_len)
		return;
	if (smtp_pq_at(s, 0)->kind == PK_GAP) {
		if (!n || at == UINT64_MAX || at < n->end_pos)
			smtp_gap_run_took_reply(s, &s->reply.first);
		return;
	}
	if (s->reply_gap_end <= s->last_reply_end || s->reply.start_pos < s->reply_gap_end)
		return;
	for (uint32_t i = 1; i < s->pq_len; i++) {
		const struct pending *g = smtp_pq_at(s, i);
		if (g->kind == PK_GAP && run_begun_by(g, at)) {
			helo_among_run(s, &s->reply.first);
			return;
		}
	}
}

/* Server bytes lost: replies, perhaps half of one (an EHLO reply's extensions). */
void smtp_gap_server(struct smtp_session *s, uint64_t len, uint64_t ts)
{
	bool ehlo = (s->reply.active && s->reply.is_ehlo) || ehlo_queued(s);
	lost_runs_answered_here(s);
	if (!s->reply.active && !s->sline.total) /* between replies: whole ones may be in it */
		s->reply_gap_end = s->server_offset + len;
	smtp_reply_cut(s, ts);          /* a last reply line cut by the gap still ends its reply */
	s->reply.cut = s->reply.active; /* cut before its last line: the next line decides */
	s->reply.cut_end = s->server_offset + len;
	if (ehlo)
		extensions_lost(s);
	cut_reply_to_run(s);
	smtp_gap_tx_touched(smtp_cur_tx(s));
	smtp_line_reset(&s->sline);
	s->reply.active = false;
	smtp_reply_text_clear(s);
	s->server_offset += len;
	s->server_gap_end = s->server_offset;
	s->rec.gap_hid_end = true; /* replies may be lost: the queue cannot be trusted */
	smtp_gap_starttls_hold(s);
}

/* The transaction a command or reply after a client gap belongs to: the open one, or one
 * whose MAIL the gap hid (a 354 proves the server had one open; a RCPT that a MAIL was sent,
 * when bytes were lost since the last MAIL seen; a DATA alone proves nothing). */
struct smtp_tx *smtp_tx_after_gap(struct smtp_session *s)
{
	struct smtp_tx *tx = smtp_cur_tx(s);
	/* one whose end of data was sent (its reply unknown) is over, whatever that reply
	 * (RFC 5321 3.3): what follows is another's */
	if (tx && tx->phase >= SMTP_PH_EOD_SENT)
		tx = NULL;
	/* a mid-stream pickup lost what came before it: its MAIL may be there */
	if (tx || (!s->rec.gap_bytes[SMTP_TO_SERVER] && !s->rec.midstream))
		return tx;
	tx = smtp_tx_begin(s);
	tx->uncertain = true;
	tx->gap_hid_end = true;
	tx->rcpts_unknown = true; /* its MAIL and perhaps some RCPTs were lost */
	return tx;
}

/* Pending commands that refer to transaction tx refer to none (a DATA: only its 354 would
 * prove one, smtp_reply_data). */
static void tx_forget(struct smtp_session *s, int64_t tx)
{
	for (uint32_t i = 0; i < s->pq_len; i++)
		if (smtp_pq_at(s, i)->tx == tx)
			smtp_pq_at(s, i)->tx = -1;
}

/* A RCPT answered 503 (bad sequence of commands, RFC 5321 4.2.4): the server had no
 * transaction open for it, so it is no recipient (the later RCPTs' indices move down). A
 * transaction that a RCPT after a client gap opened (smtp_tx_after_gap: the gap may have
 * held its MAIL) was a guess the 503 refutes once it has no recipient left: some clients
 * send RCPT with no MAIL at all (exim-too-many-errors.pcap). Its end is unknown, and the
 * gap still makes the list of transactions unknown when none is left (classify). */
void smtp_rcpt_without_mail(struct smtp_session *s, const struct pending *p)
{
	struct smtp_tx *tx = smtp_tx_of(s, p);
	if (!tx || p->arg >= tx->n_rcpts)
		return;
	smtp_bytes_free(&tx->rcpts[p->arg].addr);
	memmove(&tx->rcpts[p->arg], &tx->rcpts[p->arg + 1],
	        (tx->n_rcpts - p->arg - 1) * sizeof(*tx->rcpts));
	tx->n_rcpts--;
	for (uint32_t i = 0; i < s->pq_len; i++) {
		struct pending *q = smtp_pq_at(s, i);
		if (q->tx == p->tx && q->verb == SMTP_V_RCPT && q->arg != UINT32_MAX &&
		    q->arg > p->arg)
			q->arg--;
	}
	if (!tx->from_rcpt || tx->n_rcpts || p->tx != s->rec.n_txs - 1)
		return;
	if (s->cur_tx == p->tx)
		s->cur_tx = -1;
	tx_forget(s, p->tx);
	smtp_tx_free(tx);
	s->rec.n_txs--;
}

/* At the end: transactions, last in the list, that only a RCPT after a client gap opened
 * and that nothing since showed the server had (no reply to a RCPT but a 50x, no 354, no
 * BDAT) were guesses: gone, they leave the list unknown while the gap may hide one. */
void smtp_gap_drop_guessed_txs(struct smtp_session *s)
{
	struct smtp_record *r = &s->rec;
	while (r->n_txs > 0) {
		struct smtp_tx *tx = &r->txs[r->n_txs - 1];
		if (!tx->from_rcpt || tx->method != SMTP_METHOD_NONE || tx->mail_from.len)
			return;
		if (s->cur_tx == r->n_txs - 1)
			s->cur_tx = -1;
		tx_forget(s, r->n_txs - 1);
		smtp_tx_free(tx);
		r->n_txs--;
	}
}

/* A 221 while in message text after a gap: it cannot answer an end of data, so the end
 * of data, its reply and a QUIT were in the gap (or the client's later bytes, read as text,
 * held them). The lost commands take the 221 (smtp_gap_reply): the close is inferred and
 * the transaction, whose end is unknown, stays incomplete. */
void smtp_gap_text_quit(struct smtp_session *s)
{
	struct smtp_tx *tx = smtp_cur_tx(s);
	if (tx)
		tx->size_unknown = true;
	smtp_set_mode(s, CM_COMMAND);
	s->text_gap = false;
	smtp_line_reset(&s->cline);
	smtp_smuggle_clear(&s->smug);
	smtp_pq_push_gap(s, s->cur_tx);
}

/* A MAIL while a transaction is open some of whose commands were lost: an RSET, or a DATA
 * and its end of data, may be among them (a client sends MAIL only after one). The open
 * transaction ends with its end unknown (incomplete), and the MAIL opens its own. Returns
 * whether it ended one. */
bool smtp_gap_ended_tx(struct smtp_session *s)
{
	struct smtp_tx *tx = smtp_cur_tx(s);
	if (!tx || (!tx->rcpts_unknown && !tx->mail_reply_lost))
		return false;
	tx->uncertain = true;
	tx->gap_hid_end = true;
	smtp_tx_end(s, tx, SMTP_TX_RESET, SMTP_REJ_NONE);
	return true;
}

/* The shortest DATA line, "DATA" LF (a bare LF ends a line to Postfix; RFC 5321 4.1.1.4). */
#define DATA_MIN 5

/* Whether the lost client bytes g stands for, whose DATA a 354 answers, may hold message
 * text after that DATA line: not when, counted from the line start their run began at, they
 * have no room for more than the shortest DATA line, which is then all they held (a bare-LF
 * client's lost "DATA" LF: the text after the 354 is seen whole,
 * gap-look-data-and-eod-reply-lost.dlg).
 * A mid-stream pickup's first bytes need not start a line. */
static bool gap_may_hold_text(const struct smtp_session *s, const struct pending *g)
{
	return s->rec.midstream || g->run_from == 0 || g->end_pos - g->run_from > DATA_MIN;
}

/* A reply to a command the capture lost: what its code alone makes certain. */
/* A 221 answers a QUIT, but servers also say 221 when they drop a client on their own
 * (Postfix after too many errors: "221 2.7.0 Error: I can break rules, too"): only a 221
 * without an enhanced code, or with 2.0.0, is taken as the answer to a lost QUIT. */
bool smtp_gap_answers_quit(const struct smtp_reply *r)
{
	return r->code == 221 && (r->enhanced[0] == '\0' || strcmp(r->enhanced, "2.0.0") == 0);
}

/* The greeting's place in the queue is behind us: it was seen, or a later reply took its
 * place after it was lost (a 250 to EHLO comes only after a greeting, RFC 5321 3.1). A 220
 * from then on answers only STARTTLS (RFC 3207). */
static bool greeting_past(struct smtp_session *s)
{
	if (s->rec.greeting_seen)
		return true;
	for (uint32_t i = 0; i < s->pq_len; i++)
		if (smtp_pq_at(s, i)->kind == PK_GREETING)
			return false;
	return s->rec.replies > 1; /* this 220 is not the first reply seen */
}

void smtp_gap_infer_from_code(struct smtp_session *s, const struct smtp_reply *r)
{
	uint16_t code = r->code;
	struct smtp_tx *tx;
	if (smtp_gap_answers_quit(r)) {
		s->rec.quit_sent = true;
		s->rec.inferred |= SMTP_INF_CLOSE;
		tx = smtp_cur_tx(s);
		if (tx && tx->phase < SMTP_PH_EOD_SENT)
			smtp_tx_end(s, tx, SMTP_TX_ABORTED_BY_QUIT, SMTP_REJ_NONE);
	} else if (code == 354) {      /* only DATA is answered 354 */
		struct pending gone;   /* the DATA was the gap's last command: what the gap held */
		smtp_pq_pop(s, &gone); /* after it was text, and owes no reply */
		tx = smtp_tx_after_gap(s);
		if (tx) {
			smtp_tx_data_start(tx);
			if (!tx->env_unknown) /* else left out, as lost commands blurred which tx */
				tx->inferred |= SMTP_INF_TX_METHOD;
		}
		smtp_set_mode(s, CM_TEXT);
		/* nothing seen after the gap yet: its bytes after the DATA were text, and may have
		 * held the end of data too (a reply in text then answers it, eod_in_gap) */
		s->text_gap = s->cpos == gone.end_pos && gap_may_hold_text(s, &gone);
		s->text.prev_crlf = true;
		s->text.start_lost = s->text_gap; /* the text may have begun in the gap */
		s->text.first_line = false;
		s->text.gap_at_354 = s->rec.gap_bytes[SMTP_TO_CLIENT];
		s->gap_sync = false;
	} else if (code == 220 && greeting_past(s)) { /* after it, only STARTTLS (RFC 3207) */
		struct pending gone;   /* STARTTLS ends a pipelined group (RFC 3207 4): the gap */
		smtp_pq_pop(s, &gone); /* holds nothing more waiting for a reply */
		s->rec.inferred |= SMTP_INF_STARTTLS;
		starttls_accepted(s); /* as a seen STARTTLS's 220: injection is judged the same */
		s->gap_sync = false;
	} else if (code == 334) { /* only AUTH is answered 334: the next line answers it */
		smtp_pq_push_front(s, (struct pending){.kind = PK_COMMAND,
		                                       .verb = SMTP_V_AUTH,
		                                       .tx = -1,
		                                       .peer_acked = UINT64_MAX});
		smtp_set_mode(s, CM_AUTH_LINE);
	}
}

/* Client bytes held behind a DATA whose reply is not known: a refusal makes them commands,
 * so when some were lost, or a line of them reads as a RCPT, a recipient may be among them. */
static bool held_may_hold_rcpt(const struct smtp_session *s)
{
	const uint8_t *p = s->hold, *end = s->hold + s->hold_len, *eol;
	if (s->cmode != CM_HOLD || s->hold_verb != SMTP_V_DATA)
		return false;
	if (s->hold_gap)
		return true;
	for (; p && p < end; p = eol + 1) {
		struct smtp_command c;
		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			return false;
		smtp_parse_command(p, (size_t)(eol - p), &c);
		if (c.verb == SMTP_V_RCPT)
			return true;
	}
	return false;
}

/* A run of lost commands still queued (sent after the entries ahead of it) with room for an
 * EHLO, and server bytes lost since it began that may hold its replies (lost_both_ways). */
bool smtp_gap_helo_run_queued(struct smtp_session *s)
{
	for (uint32_t i = 0; i < s->pq_len; i++) {
		const struct pending *g = smtp_pq_at(s, i);
		if (g->kind == PK_GAP && (!g->lost || g->lost >= EHLO_MIN) &&
		    s->server_gap_end > g->srv_gap)
			return true;
	}
	return false;
}

/* The recipients of tx (the DATA's) are unknown when the held bytes may hold a RCPT. */
static void held_rcpts_unknown(struct smtp_session *s, struct smtp_tx *tx)
{
	if (tx && tx->phase < SMTP_PH_EOD_SENT && held_may_hold_rcpt(s))
		tx->rcpts_unknown = true;
}

/* A command whose reply the capture lost. */
void smtp_gap_reply_lost(struct smtp_session *s, const struct pending *p)
{
	struct smtp_tx *tx = smtp_tx_of(s, p);
	if (tx)
		tx->uncertain = true;
	if (p->verb == SMTP_V_DATA) /* a refusal made the bytes held behind it commands */
		held_rcpts_unknown(s, tx);
	if (tx && p->verb == SMTP_V_MAIL) { /* refused, the RCPTs after it were in none; */
		tx->mail_reply_lost = true; /* with none sent, none either way */
		if (tx->n_rcpts)
			tx->rcpts_unknown = true;
	}
	if (p->verb == SMTP_V_EHLO || p->verb == SMTP_V_HELO) {
		smtp_take_helo(s);
		s->rec.ehlo = p->verb == SMTP_V_EHLO; /* the last one sent, whatever its reply */
		s->rec.helo_unknown =
		    smtp_gap_helo_run_queued(s); /* unless lost ones came after it */
	}
	if (p->verb == SMTP_V_EHLO) { /* a HELO's reply lists none: the EHLO's still hold */
		s->rec.extensions_unknown = true;
		s->ehlo_whole = false;
	}
}

/* A lost reply to EHLO or HELO may have reset the open transaction (RFC 5321 4.1.4): it
 * ends there, its end unknown. */
void smtp_gap_helo_lost_reset(struct smtp_session *s, const struct pending *gone)
{
	struct smtp_tx *tx = smtp_cur_tx(s);
	if ((gone->verb == SMTP_V_EHLO || gone->verb == SMTP_V_HELO) && tx &&
	    tx->phase < SMTP_PH_EOD_SENT) {
		smtp_gap_tx_touched(tx);
		smtp_tx_end(s, tx, SMTP_TX_RESET, SMTP_REJ_NONE);
	}
}

/* A command sent after server bytes no seen reply accounts for (lost, or acknowledged before
 * the capture shows them), while the head of the queue is a command the client waits for
 * (SMTP_VF_SYNC, RFC 2920 3.1), or the greeting and then such a command (an early talker):
 * the head's whole reply was in the gap, before this command. A lost reply to EHLO or HELO may have
 * reset the open transaction (RFC 5321 4.1.4): it ends there, its end unknown. */
/* Commands from k on, none the client waits for, each followed by one sent with server
 * bytes in hand that came since it and no seen reply accounts for (RFC 2920: replies come
 * in order): their replies were lost. Returns the index of the first entry not so. */
static uint32_t skip_answered_unseen(struct smtp_session *s, uint32_t k)
{
	while (k + 1 < s->pq_len) {
		const struct pending *e = smtp_pq_at(s, k), *n = smtp_pq_at(s, k + 1);
		if (e->kind != PK_COMMAND || (smtp_verb_row(e->verb)->flags & SMTP_VF_SYNC) ||
		    n->peer_acked == UINT64_MAX || n->peer_acked <= s->last_reply_end ||
		    (e->peer_acked != UINT64_MAX && n->peer_acked <= e->peer_acked))
			break;
		k++;
	}
	return k;
}

void smtp_sync_reply_lost(struct smtp_session *s, uint64_t acked)
{
	struct pending gone;
	uint32_t k = s->pq_len > 1 && smtp_pq_at(s, 0)->kind == PK_GREETING; /* early talker */
	k = skip_answered_unseen(s, k);
	const struct pending *h = k < s->pq_len ? smtp_pq_at(s, k) : NULL;
	if (!h || h->kind != PK_COMMAND || !(smtp_verb_row(h->verb)->flags & SMTP_VF_SYNC) ||
	    s->reply.active || s->reply.cut || acked == UINT64_MAX || acked <= s->last_reply_end ||
	    (h->peer_acked != UINT64_MAX && acked <= h->peer_acked) || /* none came since it */
	    (!s->rec.gap_bytes[SMTP_TO_CLIENT] && acked <= s->server_offset))
		return;
	/* the EHLO's reply comes after the greeting: a greeting still awaited was lost too, and
	 * so were the replies to the commands before it */
	for (uint32_t i = 0; i < k; i++) {
		smtp_pq_pop(s, &gone);
		if (gone.kind == PK_COMMAND)
			smtp_gap_reply_lost(s, &gone);
	}
	smtp_pq_pop(s, &gone);
	smtp_gap_reply_lost(s, &gone);
	smtp_gap_helo_lost_reset(s, &gone);
}

/* Client bytes held behind a DATA whose reply was lost, read either way: as text they end
 * at the first "." line, and as commands they are commands throughout, so a QUIT line after
 * that "." line with no DATA or BDAT between (which would start text again) is a command
 * in both readings: the client sent QUIT (gap-held-quit.dlg). */
static bool held_quit_either_way(const struct smtp_session *s)
{
	const uint8_t *p = s->hold, *end = s->hold + s->hold_len, *eol;
	if (s->hold_verb != SMTP_V_DATA || s->hold_len < 3)
		return false;
	if (memcmp(p, ".\r\n", 3) == 0) {
		p += 3;
	} else {
		p = memmem(p, s->hold_len, "\r\n.\r\n", 5);
		if (!p)
			return false;
		p += 5;
	}
	for (; p < end; p = eol + 2) {
		struct smtp_command c;
		eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (!eol)
			return false;
		smtp_parse_command(p, (size_t)(eol - p), &c);
		if (c.verb == SMTP_V_DATA || c.verb == SMTP_V_BDAT)
			return false;
		if (c.verb == SMTP_V_QUIT)
			return true;
	}
	return false;
}

/* Lost client bytes that no reply accounts for may have held a QUIT; so may client bytes
 * still held for a reply the capture lost (they were never read), unless they hold one in
 * either reading. */
void smtp_gap_finish(struct smtp_session *s)
{
	/* a DATA no seen reply answered, server bytes lost since the last reply: its reply may
	 * be among them */
	const struct pending *h = s->pq_len ? smtp_pq_at(s, 0) : NULL;
	if (h && h->kind == PK_COMMAND && h->verb == SMTP_V_DATA &&
	    s->server_gap_end > s->last_reply_end)
		held_rcpts_unknown(s, smtp_tx_of(s, h));
	if (s->cmode == CM_HOLD && s->hold_len && s->rec.gap_bytes[SMTP_TO_CLIENT] &&
	    !s->rec.quit_sent) {
		/* unless the server closed first: it may have refused the DATA and closed without
		 * reading them (an Exim synchronization error), and the QUIT was never its */
		if (held_quit_either_way(s) && s->rec.closed_first != SMTP_SIDE_SERVER)
			s->rec.quit_sent = true;
		else
			s->rec.quit_unknown = true;
	}
	/* still in message text after text bytes were lost: the end of data may have been in
	 * the gap, and the lines read as text after it commands (a QUIT) */
	if (s->cmode == CM_TEXT && s->text_gap && !s->rec.quit_sent)
		s->rec.quit_unknown = true;
	for (uint32_t i = 0; i < s->pq_len; i++)
		if (smtp_pq_at(s, i)->kind == PK_GAP && !smtp_pq_at(s, i)->answered &&
		    !s->rec.quit_sent)
			s->rec.quit_unknown = true;
}
