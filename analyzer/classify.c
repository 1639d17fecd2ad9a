/* classify: verdicts from a finished session record, pure functions (RFC 5321 3.3, 3.8,
 * 4.1.1.10; RFC 1047; DESIGN.md section 5). */
#include "classify.h"

#include <stdbool.h>
#include <stdlib.h>

#define NAME(table, i) ((unsigned)(i) < sizeof(table) / sizeof(table[0]) ? table[i] : "unknown")

#define OUTCOME_NAME(name, str) str,
static const char *const tx_outcome_names[] = {CLS_TX_OUTCOME_LIST(OUTCOME_NAME)};
static const char *const outcome_names[] = {CLS_OUTCOME_LIST(OUTCOME_NAME)};
#undef OUTCOME_NAME
static const char *const close_names[] = {
    "quit",          "client_closed_without_quit",
    "server_closed", "idle_timeout",
    "capture_ended", "unknown",
    "reused",
};
static const char *const style_names[] = {"unknown", "rfc821", "rfc5321"};
static const char *const side_names[] = {"none", "client", "server", "unknown"};
static const char *const how_names[] = {"none", "fin", "rst", "unknown"};
static const char *const reject_names[] = {"none", "mail", "rcpt", "data", "eod"};

const char *classify_tx_outcome_name(enum cls_tx_outcome o)
{
	return NAME(tx_outcome_names, o);
}
const char *classify_outcome_name(enum cls_outcome o)
{
	return NAME(outcome_names, o);
}
const char *classify_close_name(enum cls_close c)
{
	return NAME(close_names, c);
}
const char *classify_style_name(enum cls_style s)
{
	return NAME(style_names, s);
}
const char *classify_side_name(enum smtp_side s)
{
	return NAME(side_names, s);
}
const char *classify_how_name(enum smtp_close_how h)
{
	return NAME(how_names, h);
}
const char *classify_reject_at_name(enum smtp_reject_at r)
{
	return NAME(reject_names, r);
}

static bool is_tls(const struct smtp_record *rec)
{
	return (rec->starttls_accepted && !rec->starttls_plaintext) || rec->implicit_tls;
}

/* Where a gap hid a step of the transaction, only a seen reply to its end of data decides
 * it: the lost step may have been a refusal, an RSET or a QUIT (DESIGN.md section 4). */
static bool gap_undecided(const struct smtp_tx *tx)
{
	return tx->uncertain && tx->end != SMTP_TX_COMMITTED &&
	       !(tx->end == SMTP_TX_REJECTED && tx->rejected_at == SMTP_REJ_EOD);
}

enum cls_tx_outcome classify_tx(const struct smtp_record *rec, const struct smtp_tx *tx)
{
	if (gap_undecided(tx) || tx->env_unknown) /* or lost commands blurred which it was */
		return CLS_TX_INCOMPLETE;
	switch (tx->end) {
	case SMTP_TX_COMMITTED:
		return CLS_TX_COMMITTED;
	case SMTP_TX_REJECTED:
		return CLS_TX_REJECTED;
	case SMTP_TX_RESET:
		return CLS_TX_RESET;
	case SMTP_TX_ABORTED_BY_QUIT:
		return CLS_TX_ABORTED_BY_QUIT;
	case SMTP_TX_OPEN:
		break;
	}
	/* open when the connection ended: the close decides, unless the capture hid it */
	if (!tx->closed_while_open || tx->gap_hid_end || is_tls(rec) || !rec->server_dir_seen)
		return CLS_TX_INCOMPLETE;
	if (tx->phase_at_close ==
	    SMTP_PH_EOD_SENT) /* RFC 1047: the reply never reached the client */
		return CLS_TX_EOD_UNACKNOWLEDGED;
	return CLS_TX_ABANDONED_BEFORE_EOD;
}

static enum cls_close session_close(const struct smtp_record *rec)
{
	if (is_tls(rec) || !rec->client_dir_seen)
		return CLS_CLOSE_UNKNOWN;
	if (rec->quit_sent)
		return CLS_CLOSE_QUIT;
	if (rec->quit_unknown || rec->close_unsure)
		return CLS_CLOSE_UNKNOWN;
	if (rec->closed_first == SMTP_SIDE_CLIENT)
		return CLS_CLOSE_CLIENT_WITHOUT_QUIT;
	if (rec->closed_first == SMTP_SIDE_SERVER)
		return CLS_CLOSE_SERVER_CLOSED;
	if (rec->end_reason == SMTP_END_IDLE_TIMEOUT)
		return CLS_CLOSE_IDLE_TIMEOUT;
	if (rec->end_reason == SMTP_END_CAPTURE_ENDED)
		return CLS_CLOSE_CAPTURE_ENDED;
	if (rec->end_reason == SMTP_END_REUSED)
		return CLS_CLOSE_REUSED;
	return CLS_CLOSE_UNKNOWN;
}

static enum cls_style client_style(const struct smtp_record *rec, enum cls_close close)
{
	if (close == CLS_CLOSE_QUIT)
		return CLS_STYLE_RFC5321;
	if (close == CLS_CLOSE_CLIENT_WITHOUT_QUIT && rec->client_last == SMTP_LAST_EOD_2XX)
		return CLS_STYLE_RFC821;
	return CLS_STYLE_UNKNOWN;
}

/* Text under way when the capture ended (or the idle timeout), no end of data seen and no
 * close by either side: the message went on past the capture, its size is not known (a
 * close mid-text does end it: abandoned_before_eod keeps its size). */
static bool text_never_ended(const struct smtp_tx *tx, enum cls_tx_outcome out)
{
	return out == CLS_TX_INCOMPLETE && tx->end == SMTP_TX_OPEN && tx->phase == SMTP_PH_DATA &&
	       !tx->eod_ts_us && !tx->closed_while_open;
}

/* The size counts what was sent only where the capture bounds the text: not when the end
 * of data was in a gap, nor when a gap left the transaction undecided with no end of data
 * seen (the text may have begun, or gone on, in it), nor for BDAT when commands were lost
 * (a BDAT among them: its chunk was read as commands). */
static bool size_known(const struct smtp_tx *tx, enum cls_tx_outcome out)
{
	if (tx->size_unknown || tx->env_unknown || text_never_ended(tx, out))
		return false;
	if (out == CLS_TX_INCOMPLETE && (tx->uncertain || tx->gap_hid_end) && !tx->eod_ts_us)
		return false;
	return !(tx->rcpts_unknown && tx->method == SMTP_METHOD_BDAT);
}

/* A RCPT without a reply in a transaction a gap touched: its reply may have been a refusal
 * the gap hid, so the list of refused recipients is not known (DESIGN.md section 4). */
static bool refused_known(const struct smtp_tx *tx)
{
	if (tx->rcpts_unknown)
		return false;
	for (uint32_t i = 0; tx->uncertain && i < tx->n_rcpts; i++)
		if (tx->rcpts[i].code == 0)
			return false;
	return true;
}

static void judge_txs(const struct smtp_record *rec, struct cls_verdict *out)
{
	out->n_txs = rec->n_txs;
	out->txs = out->inline_txs;
	if (rec->n_txs > CLS_TX_INLINE) {
		out->txs = malloc(rec->n_txs * sizeof(*out->txs));
		if (!out->txs)
			abort();
	}
	for (uint32_t i = 0; i < rec->n_txs; i++) {
		const struct smtp_tx *tx = &rec->txs[i];
		struct cls_tx_verdict *t = &out->txs[i];
		t->outcome = classify_tx(rec, tx);
		t->size_known = size_known(tx, t->outcome);
		t->rcpts_known = !tx->rcpts_unknown;
		t->refused_known = refused_known(tx);
	}
}

void classify_free(struct cls_verdict *v)
{
	if (v->txs != v->inline_txs)
		free(v->txs);
	v->txs = v->inline_txs;
	v->n_txs = 0;
}

struct tx_tally {
	uint32_t committed, abandoned, unacknowledged, incomplete;
};

static struct tx_tally tally(const struct cls_verdict *v)
{
	struct tx_tally t = {0};
	for (uint32_t i = 0; i < v->n_txs; i++) {
		switch (v->txs[i].outcome) {
		case CLS_TX_COMMITTED:
			t.committed++;
			break;
		case CLS_TX_ABANDONED_BEFORE_EOD:
			t.abandoned++;
			break;
		case CLS_TX_EOD_UNACKNOWLEDGED:
			t.unacknowledged++;
			break;
		case CLS_TX_INCOMPLETE:
			t.incomplete++;
			break;
		default:
			break;
		}
	}
	return t;
}

/* The headline, the first of DESIGN.md section 5's list that applies. */
static enum cls_outcome headline(const struct smtp_record *rec, const struct cls_verdict *v,
                                 const struct tx_tally *t)
{
	bool ended = v->close == CLS_CLOSE_QUIT || v->close == CLS_CLOSE_CLIENT_WITHOUT_QUIT ||
	             v->close == CLS_CLOSE_SERVER_CLOSED;
	if (is_tls(rec))
		return CLS_OUT_TLS;
	if (!ended || t->incomplete || !v->txs_known || !rec->server_dir_seen ||
	    (rec->gap_hid_end && !rec->quit_sent))
		return CLS_OUT_INCOMPLETE;
	if (t->abandoned)
		return CLS_OUT_ABANDONED_BEFORE_EOD;
	if (t->unacknowledged)
		return CLS_OUT_EOD_UNACKNOWLEDGED;
	if (t->committed && v->client_style == CLS_STYLE_RFC821)
		return CLS_OUT_RFC821_DROP;
	if (v->close == CLS_CLOSE_CLIENT_WITHOUT_QUIT)
		return CLS_OUT_CLOSED_WITHOUT_QUIT;
	if (v->close == CLS_CLOSE_SERVER_CLOSED)
		return CLS_OUT_SERVER_CLOSED;
	return t->committed ? CLS_OUT_COMMITTED : CLS_OUT_NO_MAIL;
}

/* close_by and close_how. When a lost FIN may have come first (close_unsure), either side
 * may have closed first: the how is still known when the seen close was a FIN too. */
static void close_side(const struct smtp_record *rec, struct cls_verdict *out)
{
	enum smtp_close_how how = SMTP_HOW_NONE;
	if (rec->closed_first == SMTP_SIDE_CLIENT)
		how = rec->how[SMTP_TO_SERVER];
	else if (rec->closed_first == SMTP_SIDE_SERVER)
		how = rec->how[SMTP_TO_CLIENT];
	out->close_by = rec->closed_first;
	out->close_how = how;
	if (rec->close_unsure) {
		out->close_by = SMTP_SIDE_UNKNOWN;
		out->close_how = how == SMTP_HOW_FIN ? SMTP_HOW_FIN : SMTP_HOW_UNKNOWN;
	}
}

void classify_session(const struct smtp_record *rec, struct cls_verdict *out)
{
	judge_txs(rec, out);
	struct tx_tally t = tally(out);
	out->close = session_close(rec);
	close_side(rec, out);
	out->client_style = client_style(rec, out->close);
	/* every verdict after `incomplete` in the headline's list turns on the transactions;
	 * after TLS the list holds those seen in the clear, as the outcome `tls` says */
	out->txs_known = rec->n_txs > 0 || !rec->gap_bytes[SMTP_TO_SERVER] || is_tls(rec);
	out->outcome = headline(rec, out, &t);
	out->rfc5321_delivered = t.committed;
	out->strict_quit_delivered = out->close == CLS_CLOSE_QUIT ? t.committed : 0;
	/* lost client bytes may hide a whole transaction (a smuggled one, or MAIL to EOD) */
	out->rfc5321_known = t.incomplete == 0 && !rec->gap_bytes[SMTP_TO_SERVER];
	/* after TLS both count the transactions seen in the clear, as the outcome `tls` says */
	out->strict_known =
	    is_tls(rec) ||
	    (out->close == CLS_CLOSE_QUIT ? out->rfc5321_known : out->close != CLS_CLOSE_UNKNOWN);
}
