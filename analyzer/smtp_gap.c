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
static void tx_touched(struct smtp_tx *tx)
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

/* The shortest EHLO a server accepts, "EHLO x" CRLF (RFC 5321 4.1.1.1; a refused one leaves
 * the state as it was, 4.1.4), and the STARTTLS command with its CRLF (RFC 3207 4). */
#define EHLO_MIN     8
#define STARTTLS_LEN 10

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

/* The lost client bytes that a TLS record after them proves a STARTTLS were just that
 * command (its length) and no EHLO or HELO: the extensions and helo_command hold again. */
static void run_was_starttls(struct smtp_session *s, uint64_t lost)
{
	if (lost == STARTTLS_LEN && s->helo_by_run) /* no HELO either */
		s->rec.helo_unknown = false;
	if (lost != STARTTLS_LEN || !s->ext_by_run || !s->rec.extensions_unknown)
		return;
	s->rec.extensions_unknown = false;
	s->ehlo_whole = s->ext_by_run_whole;
	s->ext_by_run = false;
}

/* Client bytes read as zero or more commands nobody can name: a PK_GAP entry takes their
 * replies, and a RCPT may be among them. */
static void lost_commands(struct smtp_session *s, struct smtp_tx *tx)
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
	lost_commands(s, tx);
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
	tx_touched(tx);
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
static void run_took_reply(struct smtp_session *s, const struct smtp_reply *r)
{
	note_run_reply(smtp_pq_at(s, 0), s->reply.start_acked);
	helo_among_run(s, r);
}

/* The run of lost commands g held two or more commands: a reply to it began before the
 * server had all its bytes (RFC 5321 4.1.1: a server answers a command once it has read
 * it), or a run merged into it did. */
static bool run_holds_two(const struct pending *g)
{
	return g->two_cmds || (g->reply_acked != UINT64_MAX && g->reply_acked < g->end_pos);
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
			run_took_reply(s, &s->reply.first);
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
	tx_touched(smtp_cur_tx(s));
	smtp_line_reset(&s->sline);
	s->reply.active = false;
	smtp_bytes_free(&s->reply.first.text);
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
static bool answers_quit(const struct smtp_reply *r)
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

static void infer_from_code(struct smtp_session *s, const struct smtp_reply *r)
{
	uint16_t code = r->code;
	struct smtp_tx *tx;
	if (answers_quit(r)) {
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
static void reply_lost(struct smtp_session *s, const struct pending *p)
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
static void helo_lost_reset(struct smtp_session *s, const struct pending *gone)
{
	struct smtp_tx *tx = smtp_cur_tx(s);
	if ((gone->verb == SMTP_V_EHLO || gone->verb == SMTP_V_HELO) && tx &&
	    tx->phase < SMTP_PH_EOD_SENT) {
		tx_touched(tx);
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
			reply_lost(s, &gone);
	}
	smtp_pq_pop(s, &gone);
	reply_lost(s, &gone);
	helo_lost_reset(s, &gone);
}

/* A TLS record's first bytes: ChangeCipherSpec, alert, handshake or application data (20..23)
 * and version 3.x (when the second byte is there). No SMTP command starts so. */
static bool tls_record_start(const uint8_t *p, size_t len)
{
	return len >= 1 && p[0] >= 0x14 && p[0] <= 0x17 && (len < 2 || p[1] == 0x03);
}

/* The STARTTLS that heads the queue, behind lost commands only: its index, or pq_len. */
static uint32_t starttls_behind_gaps(struct smtp_session *s)
{
	uint32_t i = 0;
	while (i < s->pq_len && smtp_pq_at(s, i)->kind == PK_GAP)
		i++;
	if (i < s->pq_len && smtp_pq_at(s, i)->kind == PK_COMMAND &&
	    smtp_pq_at(s, i)->verb == SMTP_V_STARTTLS && !smtp_pq_at(s, i)->shadow)
		return i;
	return s->pq_len;
}

/* The entries up to and including i leave the queue: their replies came before the one
 * the client acted on (it waits for STARTTLS's, RFC 3207 4). */
static void pop_through(struct smtp_session *s, uint32_t i)
{
	struct pending gone;
	for (uint32_t k = 0; k <= i; k++)
		smtp_pq_pop(s, &gone);
}

/* Client bytes sent with server bytes in hand that no seen reply accounts for. */
static bool after_lost_reply(const struct smtp_session *s, uint64_t acked)
{
	return acked != UINT64_MAX && acked > s->last_reply_end;
}

/* Held bytes sent with server bytes in hand that came after the STARTTLS at i was sent (its
 * reply: the client waits for it) and that no seen reply accounts for. */
static bool after_starttls_reply(struct smtp_session *s, uint32_t i, uint64_t acked)
{
	uint64_t sent = smtp_pq_at(s, i)->peer_acked;
	return after_lost_reply(s, acked) && (sent == UINT64_MAX || acked > sent);
}

/* STARTTLS at the head of the queue (behind lost commands only), its reply not seen, server
 * bytes lost, and client bytes held behind it that acknowledge the lost bytes: the client
 * waits for STARTTLS's reply (RFC 3207 4), so the lost bytes held it. When the bytes sent
 * with them in hand start a TLS record, it was a 220: STARTTLS accepted (inferred), and
 * they are the handshake (bytes held before them, sent before the 220, are injected). When
 * they are plaintext commands, a refusal and a 220 in a decrypted capture both make them
 * commands: they are read so, and whether STARTTLS was accepted is unknown. */
void smtp_gap_starttls_hold(struct smtp_session *s)
{
	uint32_t i = starttls_behind_gaps(s);
	if (i == s->pq_len || s->cmode != CM_HOLD || s->reply.active ||
	    !s->rec.gap_bytes[SMTP_TO_CLIENT] || !s->hold_len)
		return;
	size_t at = after_starttls_reply(s, i, s->hold_acked)        ? 0
	            : after_starttls_reply(s, i, s->hold_tail_acked) ? s->hold_tail
	                                                             : s->hold_len;
	if (at < s->hold_len && tls_record_start(s->hold + at, s->hold_len - at)) {
		pop_through(s, i);
		s->rec.inferred |= SMTP_INF_STARTTLS;
		starttls_accepted(s);
		return;
	}
	uint8_t lower = (uint8_t)(s->hold[0] | 0x20);
	if (at != 0 || lower < 'a' || lower > 'z')
		return;
	pop_through(s, i);
	s->rec.starttls_unknown = true;
	smtp_set_mode(s, CM_COMMAND);
	smtp_release_hold(s);
}

/* A TLS record where a command line should start, after lost client bytes (only they, and
 * EHLOs the client waited for, await replies) and lost server bytes (or acknowledged before
 * the capture shows them): a client starts TLS only after a 220 to its STARTTLS (RFC 3207
 * 4), so both were lost. STARTTLS accepted (inferred); the server bytes the client had
 * acknowledged were the 220, not the handshake's. */
bool smtp_gap_tls_command(struct smtp_session *s, const uint8_t *p, size_t len, uint64_t acked)
{
	if (s->cline.len || s->cline.overflow || !tls_record_start(p, len) || !s->pq_len ||
	    s->reply.active || s->rec.tls || smtp_pq_at(s, s->pq_len - 1)->kind != PK_GAP ||
	    (!s->rec.gap_bytes[SMTP_TO_CLIENT] &&
	     (acked == UINT64_MAX || acked <= s->server_offset)))
		return false;
	for (uint32_t i = 0; i < s->pq_len; i++) { /* lost commands, and EHLOs waited for */
		const struct pending *e = smtp_pq_at(s, i);
		if (e->kind != PK_GAP &&
		    (e->kind != PK_COMMAND || !(smtp_verb_row(e->verb)->flags & SMTP_VF_SYNC)))
			return false;
	}
	uint64_t lost = 0;
	while (s->pq_len) {
		struct pending gone;
		smtp_pq_pop(s, &gone);
		if (gone.kind == PK_COMMAND) /* its reply came before the lost bytes were sent */
			reply_lost(s, &gone);
		lost = gone.kind == PK_GAP && gone.lost && lost != UINT64_MAX ? lost + gone.lost
		                                                              : UINT64_MAX;
	}
	run_was_starttls(s, lost);
	s->rec.inferred |= SMTP_INF_STARTTLS;
	s->gap_sync = false;
	starttls_accepted(s);
	if (acked > s->st.reply_end)
		s->st.reply_end = acked;
	starttls_feed(s, SMTP_TO_SERVER, p, len, acked);
	return true;
}

/* A reply that cannot answer the STARTTLS at the head of the queue (a 250), after server
 * bytes were lost since the last reply, while the client waits: STARTTLS's reply was in
 * the gap, 220 or a refusal, and this one answers nothing the client sent (the server's
 * own bytes after a 220, or the like). STARTTLS stays at the head for what the client does
 * next to decide (smtp_gap_starttls_hold); until then, whether it was accepted is unknown. */
bool smtp_gap_starttls_reply(struct smtp_session *s, uint16_t code)
{
	if (!s->rec.gap_bytes[SMTP_TO_CLIENT] || s->cmode != CM_HOLD ||
	    starttls_behind_gaps(s) != 0 || smtp_plausible(PK_COMMAND, SMTP_V_STARTTLS, code) ||
	    s->reply.start_pos <= s->last_reply_end)
		return false;
	const struct pending *h = smtp_pq_at(s, 0);
	if (h->peer_acked != UINT64_MAX && s->reply.start_pos <= h->peer_acked)
		return false; /* the lost server bytes came before STARTTLS */
	s->rec.starttls_unknown = true;
	if (s->cpos > h->end_pos + s->hold_len) { /* client bytes lost after it: a new EHLO */
		smtp_clear_extensions(&s->rec);   /* (RFC 3207 4.2) may be among them, and this */
		s->rec.extensions_unknown = true; /* reply its */
		s->ehlo_whole = false;
		s->rec.helo_unknown = true;
	}
	return true;
}

/* A reply while the greeting is still awaited, after lost server bytes, that starts where a
 * queued command's sender already had server bytes: the greeting is the server's first
 * reply (RFC 5321 3.1) and the client had it before that command, so it was in the gap and
 * this reply is a later one. */
void smtp_gap_greeting_lost(struct smtp_session *s)
{
	struct pending gone;
	if (!s->pq_len || smtp_pq_at(s, 0)->kind != PK_GREETING || s->rec.greeting_seen ||
	    !s->rec.gap_bytes[SMTP_TO_CLIENT])
		return;
	/* a reply no greeting can be (a 250, RFC 5321 4.3.2) after lost server bytes: the
	 * greeting came first (RFC 5321 3.1), in the gap, even when no command shows when the
	 * client had it (lost ones ahead of this reply) */
	if (!smtp_plausible(PK_GREETING, SMTP_V_UNKNOWN, s->reply.first.code) &&
	    s->server_gap_end > 0 && s->reply.start_pos >= s->server_gap_end) {
		smtp_pq_pop(s, &gone);
		return;
	}
	for (uint32_t i = 1; i < s->pq_len; i++) {
		uint64_t had = smtp_pq_at(s, i)->peer_acked;
		if (had != UINT64_MAX && had > 0 && s->reply.start_pos >= had) {
			smtp_pq_pop(s, &gone);
			return;
		}
	}
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
	reply_lost(s, &gone);
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
	lost_commands(s, smtp_cur_tx(s));
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
	reply_lost(s, &gone);
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
	reply_lost(s, &gone);
	helo_lost_reset(s, &gone);
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
	if (!answers_quit(r) || !unread || s->rec.quit_sent || !s->pq_len ||
	    !s->rec.gap_bytes[SMTP_TO_CLIENT] || smtp_pq_at(s, 0)->kind == PK_GAP)
		return false;
	for (uint32_t i = 0; i < s->pq_len; i++)
		if (smtp_plausible(smtp_pq_at(s, i)->kind, smtp_pq_at(s, i)->verb, r->code))
			return false;
	smtp_pq_pop(s, &gone);
	reply_lost(s, &gone);
	tx_touched(smtp_tx_of(s, &gone));
	infer_from_code(s, r);
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
	if (g->answered || !s->rec.gap_bytes[SMTP_TO_CLIENT] || !after_lost_reply(s, n->peer_acked))
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
			reply_lost(s, &gone);
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
	run_took_reply(s, r);
	infer_from_code(s, r);
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
	reply_lost(s, &gone);
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
	reply_lost(s, &gone);
	tx_touched(smtp_tx_of(s, &gone));
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
		reply_lost(s, &gone);
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
	reply_lost(s, &eod);
	struct smtp_tx *tx = smtp_tx_of(s, &eod);
	tx_touched(tx);
	if (tx && text_gap)
		tx->size_unknown = true;
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
