/* test_classify: classify.c against DESIGN.md section 5, one table row per rule: a record
 * built by hand, the transaction outcome, the session's outcome, close, client style and
 * policy it must give (RFC 5321 3.3, 3.8, 4.1.1.10; RFC 1047; DESIGN.md section 4 for gaps). */
#include <string.h>

#include "classify.h"
#include "tap.h"

/* The base: one transaction committed, QUIT, the client's FIN first, both directions seen. */
static void base(struct smtp_record *r, struct smtp_tx *tx)
{
	memset(r, 0, sizeof(*r));
	memset(tx, 0, sizeof(*tx));
	tx->end = SMTP_TX_COMMITTED;
	tx->phase = SMTP_PH_DONE;
	tx->method = SMTP_METHOD_DATA;
	r->txs = tx;
	r->n_txs = 1;
	r->client_dir_seen = r->server_dir_seen = true;
	r->seen_client_bytes = r->seen_server_bytes = true;
	r->quit_sent = true;
	r->closed_first = SMTP_SIDE_CLIENT;
	r->how[SMTP_TO_SERVER] = r->how[SMTP_TO_CLIENT] = SMTP_HOW_FIN;
	r->end_reason = SMTP_END_CLOSED;
}

/* The client closed without QUIT while tx was still open at phase ph. */
static void closed_open(struct smtp_record *r, struct smtp_tx *tx, enum smtp_tx_phase ph)
{
	r->quit_sent = false;
	tx->end = SMTP_TX_OPEN;
	tx->phase = ph;
	tx->closed_while_open = true;
	tx->phase_at_close = ph;
}

static void s_committed(struct smtp_record *r, struct smtp_tx *tx)
{
	(void)r;
	(void)tx;
}
static void s_rejected(struct smtp_record *r, struct smtp_tx *tx)
{
	(void)r;
	tx->end = SMTP_TX_REJECTED;
	tx->rejected_at = SMTP_REJ_RCPT;
}
static void s_reset(struct smtp_record *r, struct smtp_tx *tx)
{
	(void)r;
	tx->end = SMTP_TX_RESET;
}
static void s_aborted(struct smtp_record *r, struct smtp_tx *tx)
{
	(void)r;
	tx->end = SMTP_TX_ABORTED_BY_QUIT;
}
static void s_abandoned(struct smtp_record *r, struct smtp_tx *tx)
{
	closed_open(r, tx, SMTP_PH_DATA);
}
static void s_eod_unack(struct smtp_record *r, struct smtp_tx *tx)
{
	closed_open(r, tx, SMTP_PH_EOD_SENT);
}
static void s_capture_ended(struct smtp_record *r, struct smtp_tx *tx)
{
	r->quit_sent = false;
	r->closed_first = SMTP_SIDE_NONE;
	r->how[SMTP_TO_SERVER] = r->how[SMTP_TO_CLIENT] = SMTP_HOW_NONE;
	r->end_reason = SMTP_END_CAPTURE_ENDED;
	tx->end = SMTP_TX_OPEN;
	tx->phase = SMTP_PH_RCPT;
}
static void s_idle(struct smtp_record *r, struct smtp_tx *tx)
{
	s_capture_ended(r, tx);
	r->end_reason = SMTP_END_IDLE_TIMEOUT;
}
static void s_gap_hid_end(struct smtp_record *r, struct smtp_tx *tx)
{
	closed_open(r, tx, SMTP_PH_DATA);
	tx->gap_hid_end = true;
}
static void s_gap_reset(struct smtp_record *r, struct smtp_tx *tx)
{
	(void)r;
	tx->end = SMTP_TX_RESET;
	tx->uncertain = true;
}
static void s_gap_committed(struct smtp_record *r, struct smtp_tx *tx)
{
	(void)r;
	tx->uncertain = true;
}
static void s_gap_rejected_eod(struct smtp_record *r, struct smtp_tx *tx)
{
	tx->end = SMTP_TX_REJECTED;
	tx->rejected_at = SMTP_REJ_EOD;
	tx->uncertain = true;
	(void)r;
}
static void s_gap_rejected_rcpt(struct smtp_record *r, struct smtp_tx *tx)
{
	s_rejected(r, tx);
	tx->uncertain = true;
}
static void s_tls(struct smtp_record *r, struct smtp_tx *tx)
{
	r->starttls_accepted = true;
	r->n_txs = 0;
	(void)tx;
}
static void s_starttls_plaintext(struct smtp_record *r, struct smtp_tx *tx)
{
	(void)tx; /* SMTP after the 220, read on as SMTP: its anomaly may be left out (a gap) */
	r->starttls_accepted = true;
	r->starttls_plaintext = true;
}
static void s_rfc821(struct smtp_record *r, struct smtp_tx *tx)
{
	(void)tx;
	r->quit_sent = false;
	r->client_last = SMTP_LAST_EOD_2XX;
}
static void s_closed_without_quit(struct smtp_record *r, struct smtp_tx *tx)
{
	(void)tx;
	r->quit_sent = false;
	r->n_txs = 0;
}
static void s_server_closed(struct smtp_record *r, struct smtp_tx *tx)
{
	(void)tx;
	r->quit_sent = false;
	r->closed_first = SMTP_SIDE_SERVER;
	r->n_txs = 0;
}
static void s_no_mail(struct smtp_record *r, struct smtp_tx *tx)
{
	(void)tx;
	r->n_txs = 0;
}
static void s_no_client_dir(struct smtp_record *r, struct smtp_tx *tx)
{
	(void)tx;
	r->client_dir_seen = false;
}
static void s_no_server_dir(struct smtp_record *r, struct smtp_tx *tx)
{
	closed_open(r, tx, SMTP_PH_EOD_SENT);
	r->server_dir_seen = false;
}
static void s_quit_unknown(struct smtp_record *r, struct smtp_tx *tx)
{
	(void)tx;
	r->quit_sent = false;
	r->quit_unknown = true;
	r->closed_first = SMTP_SIDE_SERVER;
}
static void s_quit_inferred(struct smtp_record *r, struct smtp_tx *tx)
{
	(void)tx;
	r->inferred = SMTP_INF_CLOSE;
	r->gap_bytes[SMTP_TO_SERVER] = 6;
	r->closed_first = SMTP_SIDE_SERVER;
}
static void s_gap_server_no_quit(struct smtp_record *r, struct smtp_tx *tx)
{
	(void)tx;
	r->quit_sent = false;
	r->gap_hid_end = true;
}

static void s_size_eod_in_gap(struct smtp_record *r, struct smtp_tx *tx)
{
	(void)r;
	tx->uncertain = true;
	tx->size_unknown = true;
}
static void s_rcpts_lost(struct smtp_record *r, struct smtp_tx *tx)
{
	(void)r;
	tx->uncertain = true;
	tx->rcpts_unknown = true;
}
static void s_bdat_lost(struct smtp_record *r, struct smtp_tx *tx)
{
	s_rcpts_lost(r, tx);
	tx->method = SMTP_METHOD_BDAT;
}
static void s_gap_after_eod_seen(struct smtp_record *r, struct smtp_tx *tx)
{
	closed_open(r, tx, SMTP_PH_EOD_SENT);
	tx->uncertain = tx->gap_hid_end = true;
	tx->eod_ts_us = 1;
}

enum { NO_TX = -1 };
/* known: which policy counts are certain; SIZE_UNKNOWN, RCPTS_UNKNOWN: which fields of the
 * transaction are not */
enum { RFC_KNOWN = 1, STRICT_KNOWN = 2, SIZE_UNKNOWN = 4, RCPTS_UNKNOWN = 8 };

struct row {
	const char *rule; /* DESIGN.md section 5 (or 4) */
	void (*setup)(struct smtp_record *, struct smtp_tx *);
	int tx; /* enum cls_tx_outcome of the one transaction, NO_TX when none */
	enum cls_outcome outcome;
	enum cls_close close;
	enum cls_style style;
	uint32_t rfc5321, strict;
	unsigned known; /* RFC_KNOWN, STRICT_KNOWN, SIZE_UNKNOWN, RCPTS_UNKNOWN */
};

static const struct row rows[] = {
    {"tx committed: EOD answered 2xx", s_committed, CLS_TX_COMMITTED, CLS_OUT_COMMITTED,
     CLS_CLOSE_QUIT, CLS_STYLE_RFC5321, 1, 1, RFC_KNOWN | STRICT_KNOWN},
    {"tx rejected: ended by a 4xx/5xx", s_rejected, CLS_TX_REJECTED, CLS_OUT_NO_MAIL,
     CLS_CLOSE_QUIT, CLS_STYLE_RFC5321, 0, 0, RFC_KNOWN | STRICT_KNOWN},
    {"tx reset: RSET or a new EHLO", s_reset, CLS_TX_RESET, CLS_OUT_NO_MAIL, CLS_CLOSE_QUIT,
     CLS_STYLE_RFC5321, 0, 0, RFC_KNOWN | STRICT_KNOWN},
    {"tx aborted_by_quit", s_aborted, CLS_TX_ABORTED_BY_QUIT, CLS_OUT_NO_MAIL, CLS_CLOSE_QUIT,
     CLS_STYLE_RFC5321, 0, 0, RFC_KNOWN | STRICT_KNOWN},
    {"tx abandoned_before_eod; outcome 3", s_abandoned, CLS_TX_ABANDONED_BEFORE_EOD,
     CLS_OUT_ABANDONED_BEFORE_EOD, CLS_CLOSE_CLIENT_WITHOUT_QUIT, CLS_STYLE_UNKNOWN, 0, 0,
     RFC_KNOWN | STRICT_KNOWN},
    {"tx eod_unacknowledged; outcome 4", s_eod_unack, CLS_TX_EOD_UNACKNOWLEDGED,
     CLS_OUT_EOD_UNACKNOWLEDGED, CLS_CLOSE_CLIENT_WITHOUT_QUIT, CLS_STYLE_UNKNOWN, 0, 0,
     RFC_KNOWN | STRICT_KNOWN},
    {"tx incomplete: the capture ended; close capture_ended", s_capture_ended, CLS_TX_INCOMPLETE,
     CLS_OUT_INCOMPLETE, CLS_CLOSE_CAPTURE_ENDED, CLS_STYLE_UNKNOWN, 0, 0, STRICT_KNOWN},
    {"close idle_timeout", s_idle, CLS_TX_INCOMPLETE, CLS_OUT_INCOMPLETE, CLS_CLOSE_IDLE_TIMEOUT,
     CLS_STYLE_UNKNOWN, 0, 0, STRICT_KNOWN},
    {"tx incomplete: a gap hid the end", s_gap_hid_end, CLS_TX_INCOMPLETE, CLS_OUT_INCOMPLETE,
     CLS_CLOSE_CLIENT_WITHOUT_QUIT, CLS_STYLE_UNKNOWN, 0, 0, STRICT_KNOWN | SIZE_UNKNOWN},
    {"gap: a reset after a hidden step is incomplete", s_gap_reset, CLS_TX_INCOMPLETE,
     CLS_OUT_INCOMPLETE, CLS_CLOSE_QUIT, CLS_STYLE_RFC5321, 0, 0, SIZE_UNKNOWN},
    {"gap: a rejection at rcpt after a hidden step is incomplete", s_gap_rejected_rcpt,
     CLS_TX_INCOMPLETE, CLS_OUT_INCOMPLETE, CLS_CLOSE_QUIT, CLS_STYLE_RFC5321, 0, 0, SIZE_UNKNOWN},
    {"gap: a seen 2xx to EOD still commits", s_gap_committed, CLS_TX_COMMITTED, CLS_OUT_COMMITTED,
     CLS_CLOSE_QUIT, CLS_STYLE_RFC5321, 1, 1, RFC_KNOWN | STRICT_KNOWN},
    {"gap: a seen refusal of EOD still rejects", s_gap_rejected_eod, CLS_TX_REJECTED,
     CLS_OUT_NO_MAIL, CLS_CLOSE_QUIT, CLS_STYLE_RFC5321, 0, 0, RFC_KNOWN | STRICT_KNOWN},
    {"outcome 1 tls; close unknown", s_tls, NO_TX, CLS_OUT_TLS, CLS_CLOSE_UNKNOWN,
     CLS_STYLE_UNKNOWN, 0, 0, RFC_KNOWN | STRICT_KNOWN},
    {"starttls plaintext: read on as SMTP, not tls", s_starttls_plaintext, CLS_TX_COMMITTED,
     CLS_OUT_COMMITTED, CLS_CLOSE_QUIT, CLS_STYLE_RFC5321, 1, 1, RFC_KNOWN | STRICT_KNOWN},
    {"outcome 5 rfc821_drop; style rfc821", s_rfc821, CLS_TX_COMMITTED, CLS_OUT_RFC821_DROP,
     CLS_CLOSE_CLIENT_WITHOUT_QUIT, CLS_STYLE_RFC821, 1, 0, RFC_KNOWN | STRICT_KNOWN},
    {"outcome 6 closed_without_quit", s_closed_without_quit, NO_TX, CLS_OUT_CLOSED_WITHOUT_QUIT,
     CLS_CLOSE_CLIENT_WITHOUT_QUIT, CLS_STYLE_UNKNOWN, 0, 0, RFC_KNOWN | STRICT_KNOWN},
    {"outcome 7 server_closed", s_server_closed, NO_TX, CLS_OUT_SERVER_CLOSED,
     CLS_CLOSE_SERVER_CLOSED, CLS_STYLE_UNKNOWN, 0, 0, RFC_KNOWN | STRICT_KNOWN},
    {"outcome 9 no_mail", s_no_mail, NO_TX, CLS_OUT_NO_MAIL, CLS_CLOSE_QUIT, CLS_STYLE_RFC5321, 0,
     0, RFC_KNOWN | STRICT_KNOWN},
    {"close unknown without the client's direction", s_no_client_dir, CLS_TX_COMMITTED,
     CLS_OUT_INCOMPLETE, CLS_CLOSE_UNKNOWN, CLS_STYLE_UNKNOWN, 1, 0, RFC_KNOWN},
    {"outcome incomplete without the server's direction", s_no_server_dir, CLS_TX_INCOMPLETE,
     CLS_OUT_INCOMPLETE, CLS_CLOSE_CLIENT_WITHOUT_QUIT, CLS_STYLE_UNKNOWN, 0, 0, STRICT_KNOWN},
    {"gap: lost bytes may hold a QUIT: close unknown", s_quit_unknown, CLS_TX_COMMITTED,
     CLS_OUT_INCOMPLETE, CLS_CLOSE_UNKNOWN, CLS_STYLE_UNKNOWN, 1, 0, RFC_KNOWN},
    {"gap: a 221 answered a lost QUIT: close quit; lost client bytes may hide a whole "
     "transaction: policy counts unknown",
     s_quit_inferred, CLS_TX_COMMITTED, CLS_OUT_COMMITTED, CLS_CLOSE_QUIT, CLS_STYLE_RFC5321, 1, 1,
     0},
    {"gap in the server's direction, no QUIT: incomplete", s_gap_server_no_quit, CLS_TX_COMMITTED,
     CLS_OUT_INCOMPLETE, CLS_CLOSE_CLIENT_WITHOUT_QUIT, CLS_STYLE_UNKNOWN, 1, 0,
     RFC_KNOWN | STRICT_KNOWN},
    {"size unknown: the end of data was in a gap", s_size_eod_in_gap, CLS_TX_COMMITTED,
     CLS_OUT_COMMITTED, CLS_CLOSE_QUIT, CLS_STYLE_RFC5321, 1, 1,
     RFC_KNOWN | STRICT_KNOWN | SIZE_UNKNOWN},
    {"rcpt_to unknown: commands lost while the transaction was open", s_rcpts_lost,
     CLS_TX_COMMITTED, CLS_OUT_COMMITTED, CLS_CLOSE_QUIT, CLS_STYLE_RFC5321, 1, 1,
     RFC_KNOWN | STRICT_KNOWN | RCPTS_UNKNOWN},
    {"size unknown: a BDAT may have been among the lost commands", s_bdat_lost, CLS_TX_COMMITTED,
     CLS_OUT_COMMITTED, CLS_CLOSE_QUIT, CLS_STYLE_RFC5321, 1, 1,
     RFC_KNOWN | STRICT_KNOWN | SIZE_UNKNOWN | RCPTS_UNKNOWN},
    {"gap: an incomplete transaction whose end of data was seen keeps its size",
     s_gap_after_eod_seen, CLS_TX_INCOMPLETE, CLS_OUT_INCOMPLETE, CLS_CLOSE_CLIENT_WITHOUT_QUIT,
     CLS_STYLE_UNKNOWN, 0, 0, STRICT_KNOWN},
};

static void classify_rules(void)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *w = &rows[i];
		struct smtp_record r;
		struct smtp_tx tx;
		struct cls_verdict v;
		int before = tap_failed_checks;
		base(&r, &tx);
		w->setup(&r, &tx);
		classify_session(&r, &v);
		CHECK_EQ_INT(r.n_txs, w->tx == NO_TX ? 0 : 1);
		if (r.n_txs)
			CHECK_EQ_STR(classify_tx_outcome_name(classify_tx(&r, &tx)),
			             classify_tx_outcome_name((enum cls_tx_outcome)w->tx));
		CHECK_EQ_STR(classify_outcome_name(v.outcome), classify_outcome_name(w->outcome));
		CHECK_EQ_STR(classify_close_name(v.close), classify_close_name(w->close));
		CHECK_EQ_STR(classify_style_name(v.client_style), classify_style_name(w->style));
		CHECK_EQ_INT(v.rfc5321_delivered, w->rfc5321);
		CHECK_EQ_INT(v.strict_quit_delivered, w->strict);
		CHECK_EQ_INT(v.rfc5321_known, (w->known & RFC_KNOWN) != 0);
		CHECK_EQ_INT(v.strict_known, (w->known & STRICT_KNOWN) != 0);
		CHECK_EQ_INT(v.n_txs, r.n_txs); /* each transaction judged once, here */
		if (v.n_txs) {
			CHECK_EQ_STR(classify_tx_outcome_name(v.txs[0].outcome),
			             classify_tx_outcome_name((enum cls_tx_outcome)w->tx));
			CHECK_EQ_INT(v.txs[0].size_known, (w->known & SIZE_UNKNOWN) == 0);
			CHECK_EQ_INT(v.txs[0].rcpts_known, (w->known & RCPTS_UNKNOWN) == 0);
		}
		classify_free(&v);
		if (tap_failed_checks != before)
			fprintf(stderr, "  in row %zu: %s\n", i, w->rule);
	}
}

/* Past CLS_TX_INLINE transactions the verdicts are allocated: each one judged, then freed. */
static void classify_many(void)
{
	struct smtp_tx txs[3 * CLS_TX_INLINE];
	struct smtp_record r;
	struct cls_verdict v;
	base(&r, &txs[0]);
	for (uint32_t i = 1; i < 3 * CLS_TX_INLINE; i++)
		txs[i] = txs[0];
	txs[5].end = SMTP_TX_RESET;
	r.txs = txs;
	r.n_txs = 3 * CLS_TX_INLINE;
	classify_session(&r, &v);
	CHECK_EQ_INT(v.n_txs, 3 * CLS_TX_INLINE);
	CHECK(v.txs != v.inline_txs);
	CHECK_EQ_STR(classify_tx_outcome_name(v.txs[5].outcome), "reset");
	CHECK_EQ_STR(classify_tx_outcome_name(v.txs[3 * CLS_TX_INLINE - 1].outcome), "committed");
	CHECK_EQ_INT(v.rfc5321_delivered, 3 * CLS_TX_INLINE - 1);
	classify_free(&v);
	CHECK_EQ_INT(v.n_txs, 0);
}

/* DESIGN.md section 4: when a lost FIN may have come before the close seen (close_unsure),
 * who closed first is unknown, and so is the close without a QUIT; the how is known only
 * when the close seen was a FIN too. */
static void classify_close_unsure(void)
{
	struct smtp_record r;
	struct smtp_tx tx;
	struct cls_verdict v;
	base(&r, &tx);
	r.close_unsure = true;
	classify_session(&r, &v);
	CHECK_EQ_STR(classify_close_name(v.close), "quit");
	CHECK_EQ_STR(classify_side_name(v.close_by), "unknown");
	CHECK_EQ_STR(classify_how_name(v.close_how), "fin");
	classify_free(&v);
	r.quit_sent = false;
	r.how[SMTP_TO_SERVER] = SMTP_HOW_RST;
	classify_session(&r, &v);
	CHECK_EQ_STR(classify_close_name(v.close), "unknown");
	CHECK_EQ_STR(classify_side_name(v.close_by), "unknown");
	CHECK_EQ_STR(classify_how_name(v.close_how), "unknown");
	CHECK_EQ_STR(classify_style_name(v.client_style), "unknown");
	classify_free(&v);
	r.close_unsure = false;
	classify_session(&r, &v);
	CHECK_EQ_STR(classify_side_name(v.close_by), "client");
	CHECK_EQ_STR(classify_how_name(v.close_how), "rst");
	classify_free(&v);
}

/* A test that checked nothing would pass: the table must hold every rule. */
static void classify_table_size(void)
{
	CHECK(sizeof(rows) / sizeof(rows[0]) >= 27);
}

int main(void)
{
	RUN_TEST(classify_rules);
	RUN_TEST(classify_many);
	RUN_TEST(classify_close_unsure);
	RUN_TEST(classify_table_size);
	TAP_EXIT();
}
