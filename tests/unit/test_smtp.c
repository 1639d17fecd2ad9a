/* test_smtp: the command and reply parsers, and the session model fed dialogues directly,
 * whole, cut at every byte boundary, and one byte at a time. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "../../analyzer/smtp_int.h"
#include "smtp.h"
#include "tap.h"

#define S(lit) (const uint8_t *)(lit), sizeof(lit) - 1

static void test_parse_command_verbs(void)
{
	struct smtp_command c;
	smtp_parse_command(S("ehlo client.example"), &c);
	CHECK_EQ_INT(c.verb, SMTP_V_EHLO);
	CHECK_EQ_INT(c.arg_len, 14);
	CHECK(memcmp(c.arg, "client.example", 14) == 0);
	smtp_parse_command(S("MaIl FROM:<a@b>  "), &c);
	CHECK_EQ_INT(c.verb, SMTP_V_MAIL);
	CHECK_EQ_INT(c.arg_len, 10);
	smtp_parse_command(S("STARTTLS"), &c);
	CHECK_EQ_INT(c.verb, SMTP_V_STARTTLS);
	CHECK_EQ_INT(c.arg_len, 0);
	smtp_parse_command(S("QUITX"), &c);
	CHECK_EQ_INT(c.verb, SMTP_V_UNKNOWN);
	smtp_parse_command(S(""), &c);
	CHECK_EQ_INT(c.verb, SMTP_V_UNKNOWN);
	smtp_parse_command(S("DATA\t"), &c);
	CHECK_EQ_INT(c.verb, SMTP_V_DATA);
	smtp_parse_command(S("BDAT 10 LAST"), &c);
	CHECK_EQ_INT(c.verb, SMTP_V_BDAT);
	smtp_parse_command(S("auth PLAIN AGFsaWNlAHNlY3JldA=="), &c);
	CHECK_EQ_INT(c.verb, SMTP_V_AUTH);
}

/* The harness itself: a test that makes no check fails (and one that does, passes). */
static void makes_no_check(void)
{
}

static void makes_one_check(void)
{
	CHECK(1);
}

static void test_tap_no_check_fails(void)
{
	FILE *sink = fopen("/dev/null", "w");
	int failed_checks = tap_failed_checks, tests_failed = tap_tests_failed;
	int no_check = tap_run("makes_no_check", makes_no_check, sink ? sink : stderr);
	int one_check = tap_run("makes_one_check", makes_one_check, sink ? sink : stderr);
	tap_failed_checks = failed_checks; /* the inner failure is the expected result */
	tap_tests_failed = tests_failed;
	if (sink)
		fclose(sink);
	CHECK_EQ_INT(no_check, 0);
	CHECK_EQ_INT(one_check, 1);
}

/* The lists (include/smtp_lists.h): every name present, distinct, and as the record spells
 * it; every verb's name parses back to the verb. */
static bool snake_case(const char *n)
{
	if (!n || !*n)
		return false;
	for (; *n; n++)
		if (!((*n >= 'a' && *n <= 'z') || (*n >= '0' && *n <= '9') || *n == '_'))
			return false;
	return true;
}

static void test_lists_named_once(void)
{
	CHECK_EQ_STR(smtp_anomaly_name(SMTP_AN_EARLY_TALKER), "early_talker");
	CHECK_EQ_STR(smtp_anomaly_name(SMTP_AN_STARTTLS_PLAINTEXT), "starttls_plaintext");
	CHECK_EQ_STR(smtp_anomaly_name(SMTP_AN_COUNT), "unknown");
	for (int i = 0; i < SMTP_AN_COUNT; i++) {
		CHECK(snake_case(smtp_anomaly_name((enum smtp_anomaly)i)));
		for (int j = 0; j < i; j++)
			CHECK(strcmp(smtp_anomaly_name((enum smtp_anomaly)i),
			             smtp_anomaly_name((enum smtp_anomaly)j)) != 0);
	}
	CHECK_EQ_STR(smtp_verb_name(SMTP_V_UNKNOWN), "?");
	CHECK_EQ_STR(smtp_verb_name(SMTP_V_COUNT), "?");
	for (int v = SMTP_V_UNKNOWN + 1; v < SMTP_V_COUNT; v++) {
		struct smtp_command c;
		const char *name = smtp_verb_name((enum smtp_verb)v);
		smtp_parse_command((const uint8_t *)name, strlen(name), &c);
		CHECK_EQ_INT(c.verb, v);
	}
	CHECK_EQ_STR(classify_outcome_name(CLS_OUT_TLS), "tls");
	CHECK_EQ_STR(classify_outcome_name(CLS_OUT_NO_MAIL), "no_mail");
	CHECK_EQ_STR(classify_outcome_name(CLS_OUT_COUNT), "unknown");
	CHECK_EQ_STR(classify_tx_outcome_name(CLS_TX_INCOMPLETE), "incomplete");
	CHECK_EQ_STR(classify_tx_outcome_name(CLS_TX_COUNT), "unknown");
	for (int i = 0; i < CLS_OUT_COUNT; i++)
		CHECK(snake_case(classify_outcome_name((enum cls_outcome)i)));
	for (int i = 0; i < CLS_TX_COUNT; i++)
		CHECK(snake_case(classify_tx_outcome_name((enum cls_tx_outcome)i)));
}

/* The verb table's reply-code fit: which of a few codes can answer each command, as
 * RFC 5321 4.3.2 pairs them (loosely: any final reply fits most commands). */
static void fits(char *out, size_t cap, enum pending_kind kind, enum smtp_verb verb)
{
	static const uint16_t codes[] = {220, 221, 235, 250, 334, 354, 421, 554};
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (smtp_plausible(kind, verb, codes[i]) && n + 5 < cap)
			n += (size_t)snprintf(out + n, cap - n, "%s%u", n ? " " : "", codes[i]);
}

static void test_verb_table_fit(void)
{
	static const struct {
		enum pending_kind kind;
		enum smtp_verb verb;
		const char *fit;
	} rows[] = {
	    {PK_COMMAND, SMTP_V_EHLO, "235 250 421 554"},
	    {PK_COMMAND, SMTP_V_MAIL, "235 250 421 554"},
	    {PK_COMMAND, SMTP_V_RCPT, "235 250 421 554"},
	    {PK_COMMAND, SMTP_V_VRFY, "235 250 421 554"},
	    {PK_COMMAND, SMTP_V_DATA, "354 421 554"},
	    {PK_COMMAND, SMTP_V_QUIT, "221"},
	    {PK_COMMAND, SMTP_V_STARTTLS, "220 421 554"},
	    {PK_COMMAND, SMTP_V_AUTH, "235 334 421 554"},
	    {PK_COMMAND, SMTP_V_UNKNOWN, "554"},
	    {PK_EOD, SMTP_V_UNKNOWN, "235 250 421 554"},
	    {PK_GAP, SMTP_V_UNKNOWN, "220 221 235 250 334 354 421 554"},
	};
	char got[64];
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		fits(got, sizeof(got), rows[i].kind, rows[i].verb);
		CHECK_EQ_STR(got, rows[i].fit);
	}
	/* every verb has a row that something can answer, and only RSET and QUIT end a
	 * transaction when read */
	for (int v = 0; v < SMTP_V_COUNT; v++) {
		const struct smtp_verb_row *row = smtp_verb_row((enum smtp_verb)v);
		CHECK(row->fit != 0);
		CHECK_EQ_INT((row->flags & SMTP_VF_ENDS_TX) != 0,
		             v == SMTP_V_RSET || v == SMTP_V_QUIT);
	}
	CHECK(smtp_verb_row(SMTP_V_COUNT) == smtp_verb_row(SMTP_V_UNKNOWN));
	CHECK_EQ_INT(smtp_verb_row(SMTP_V_QUIT)->ends_tx, SMTP_TX_ABORTED_BY_QUIT);
	CHECK_EQ_INT(smtp_verb_row(SMTP_V_RSET)->ends_tx, SMTP_TX_RESET);
	CHECK(smtp_verb_row(SMTP_V_DATA)->flags & SMTP_VF_HOLD);
	CHECK(!(smtp_verb_row(SMTP_V_MAIL)->flags & SMTP_VF_HOLD));
}

/* The reading-mode door: the changes the model makes are allowed, others are not. */
static void test_mode_transitions(void)
{
	static const struct {
		enum client_mode from, to;
		bool ok;
	} rows[] = {
	    {CM_COMMAND, CM_HOLD, true},   /* DATA, STARTTLS, AUTH */
	    {CM_COMMAND, CM_BDAT, true},   /* BDAT n */
	    {CM_COMMAND, CM_OPAQUE, true}, /* implicit TLS */
	    {CM_COMMAND, CM_TEXT, true},   /* a 354 to a DATA the capture lost */
	    {CM_HOLD, CM_TEXT, true},      /* 354 */
	    {CM_HOLD, CM_COMMAND, true},   /* a refused DATA, STARTTLS or AUTH */
	    {CM_HOLD, CM_AUTH_LINE, true}, /* 334 */
	    {CM_HOLD, CM_OPAQUE, true},    /* STARTTLS's 220 */
	    {CM_AUTH_LINE, CM_HOLD, true}, /* the answer to the 334 */
	    {CM_TEXT, CM_COMMAND, true},   /* the end of data */
	    {CM_BDAT, CM_COMMAND, true},   /* the chunk's last octet */
	    {CM_OPAQUE, CM_COMMAND, true}, /* plaintext after STARTTLS */
	    {CM_TEXT, CM_TEXT, true},
	    {CM_TEXT, CM_HOLD, false}, /* text never holds: only a command does */
	    {CM_TEXT, CM_BDAT, false},
	    {CM_BDAT, CM_TEXT, false},
	    {CM_BDAT, CM_HOLD, false},
	    {CM_OPAQUE, CM_TEXT, false},
	    {CM_AUTH_LINE, CM_TEXT, false},
	    {CM_COUNT, CM_COMMAND, false},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (smtp_mode_allowed(rows[i].from, rows[i].to) != rows[i].ok)
			fprintf(stderr, "  mode %s -> %s\n", smtp_mode_name(rows[i].from),
			        smtp_mode_name(rows[i].to));
		CHECK_EQ_INT(smtp_mode_allowed(rows[i].from, rows[i].to), rows[i].ok);
	}
	CHECK_EQ_STR(smtp_mode_name(CM_AUTH_LINE), "auth_line");
	CHECK_EQ_STR(smtp_mode_name(CM_COUNT), "?");
}

/* The line scan: the bytes up to the first LF and the first CR inside the line; a line
 * split across segments gives the same line and CR as one that came whole. */
static void test_frame_scan(void)
{
	const uint8_t *cr;
	CHECK_EQ_INT(smtp_scan_line(S("ab\r\ncd"), &cr), 4);
	CHECK(cr != NULL && *cr == '\r' && cr[1] == '\n');
	CHECK_EQ_INT(smtp_scan_line(S("abcd"), &cr), 4);
	CHECK(cr == NULL);
	static const char text[] = "a\rb.\r\n";
	for (size_t cut = 0; cut < sizeof(text) - 1; cut++) {
		struct line_buf lb = {0};
		struct line l = {0};
		bool done = false;
		size_t n = cut ? smtp_take_line(&lb, 64, (const uint8_t *)text, cut, &l, &done) : 0;
		CHECK(!done);
		n += smtp_take_line(&lb, 64, (const uint8_t *)text + n, sizeof(text) - 1 - n, &l,
		                    &done);
		CHECK(done);
		CHECK_EQ_INT(n, sizeof(text) - 1);
		CHECK_EQ_INT(l.len, 4);
		CHECK(l.crlf);
		CHECK(l.cr == l.p + 1); /* the bare CR, not the line end's */
		free(lb.buf);
	}
}

static void test_parse_path(void)
{
	const uint8_t *path, *params;
	size_t pl, ql;
	CHECK(smtp_parse_path(S("FROM:<a@b.example> SIZE=100 BODY=8BITMIME"), "FROM:", &path, &pl,
	                      &params, &ql));
	CHECK_EQ_INT(pl, 13);
	CHECK(memcmp(path, "<a@b.example>", 13) == 0);
	CHECK_EQ_INT(ql, 22);
	CHECK(memcmp(params, "SIZE=100 BODY=8BITMIME", 22) == 0);
	CHECK(smtp_parse_path(S("from: <>"), "FROM:", &path, &pl, &params, &ql));
	CHECK_EQ_INT(pl, 2);
	CHECK_EQ_INT(ql, 0);
	CHECK(smtp_parse_path(S("To:<x@y>"), "TO:", &path, &pl, &params, &ql));
	CHECK_EQ_INT(pl, 5);
	CHECK(smtp_parse_path(S("TO : bare@host"), "TO:", &path, &pl, &params, &ql));
	CHECK_EQ_INT(pl, 9);
	CHECK(!smtp_parse_path(S("FRM:<a@b>"), "FROM:", &path, &pl, &params, &ql));
	CHECK(!smtp_parse_path(S("FROM"), "FROM:", &path, &pl, &params, &ql));
	CHECK(smtp_parse_path(S("FROM:<unterminated"), "FROM:", &path, &pl, &params, &ql));
	CHECK_EQ_INT(pl, 13);
}

static void test_parse_bdat(void)
{
	uint64_t n;
	bool last;
	CHECK(smtp_parse_bdat(S("100"), &n, &last));
	CHECK_EQ_INT(n, 100);
	CHECK(!last);
	CHECK(smtp_parse_bdat(S("0 LAST"), &n, &last));
	CHECK_EQ_INT(n, 0);
	CHECK(last);
	CHECK(smtp_parse_bdat(S("7 last"), &n, &last));
	CHECK(last);
	CHECK(!smtp_parse_bdat(S("-5"), &n, &last));
	CHECK(!smtp_parse_bdat(S("abc"), &n, &last));
	CHECK(!smtp_parse_bdat(S(""), &n, &last));
	CHECK(!smtp_parse_bdat(S("10 FIRST"), &n, &last));
	CHECK(!smtp_parse_bdat(S("10x"), &n, &last));
	CHECK(!smtp_parse_bdat(S("99999999999999999999999"), &n, &last));
}

static void test_parse_reply_line(void)
{
	struct smtp_reply_line r;
	CHECK(smtp_parse_reply_line(S("250 2.0.0 Ok"), &r));
	CHECK_EQ_INT(r.code, 250);
	CHECK(r.last);
	CHECK_EQ_INT(r.text_len, 8);
	CHECK(smtp_parse_reply_line(S("250-PIPELINING"), &r));
	CHECK(!r.last);
	CHECK(smtp_parse_reply_line(S("354"), &r));
	CHECK_EQ_INT(r.code, 354);
	CHECK(r.last);
	CHECK(!smtp_parse_reply_line(S("25"), &r));
	CHECK(!smtp_parse_reply_line(S("650 x"), &r));
	CHECK(!smtp_parse_reply_line(S("1xx x"), &r));
	CHECK(!smtp_parse_reply_line(S("250x"), &r));
	CHECK(!smtp_parse_reply_line(S("MAIL FROM:<a@b>"), &r));
}

static void test_parse_enhanced(void)
{
	char e[16];
	CHECK_EQ_INT(smtp_parse_enhanced(S("2.0.0 Ok: queued"), e), 6);
	CHECK_EQ_STR(e, "2.0.0");
	CHECK_EQ_INT(smtp_parse_enhanced(S("5.7.1"), e), 5);
	CHECK_EQ_STR(e, "5.7.1");
	CHECK_EQ_INT(smtp_parse_enhanced(S("4.123.456 x"), e), 10);
	CHECK_EQ_INT(smtp_parse_enhanced(S("2.0 Ok"), e), 0);
	CHECK_EQ_STR(e, "");
	CHECK_EQ_INT(smtp_parse_enhanced(S("3.0.0 x"), e), 0);
	CHECK_EQ_INT(smtp_parse_enhanced(S("2.0.0x"), e), 0);
	CHECK_EQ_INT(smtp_parse_enhanced(S("2.1234.0 x"), e), 0);
}

/* ---- dialogues ---- */

struct step {
	char who; /* 'C' client bytes, 'S' server bytes, 'c' client FIN, 'r' client RST, 's' server
	             FIN */
	const char *bytes;
};

/* Feeds steps; cut > 0 splits every step's bytes into pieces of cut bytes, cut < 0 splits
 * each at -cut into two. */
static struct smtp_session *play_in(struct smtp_pool *pool, const struct step *steps, int cut)
{
	struct smtp_limits lim;
	smtp_limits_default(&lim);
	struct smtp_session *s = smtp_session_new_in(pool, &lim);
	uint64_t ts = 1000;
	for (const struct step *st = steps; st->who; st++, ts += 1000) {
		enum smtp_dir dir = (st->who == 'C' || st->who == 'c' || st->who == 'r')
		                        ? SMTP_TO_SERVER
		                        : SMTP_TO_CLIENT;
		if (st->who == 'c' || st->who == 'r' || st->who == 's') {
			smtp_close(s, dir, st->who == 'r', UINT64_MAX, ts);
			continue;
		}
		size_t len = strlen(st->bytes), off = 0;
		while (off < len) {
			size_t n = len - off;
			if (cut > 0 && (size_t)cut < n)
				n = (size_t)cut;
			else if (cut < 0 && off == 0 && (size_t)-cut < len)
				n = (size_t)-cut;
			smtp_feed(s, dir, (const uint8_t *)st->bytes + off, n, UINT64_MAX, ts);
			off += n;
		}
	}
	bool dirs[2] = {false, false};
	for (const struct step *st = steps; st->who; st++)
		dirs[(st->who == 'C' || st->who == 'c' || st->who == 'r') ? 0 : 1] = true;
	smtp_set_directions(s, dirs[0], dirs[1]);
	smtp_finish(s, SMTP_END_CLOSED, ts);
	return s;
}

static struct smtp_session *play(const struct step *steps, int cut)
{
	return play_in(NULL, steps, cut);
}

/* A compact summary of the verdicts, compared across cuttings. */
static void summary(const struct smtp_session *s, char *out, size_t cap)
{
	const struct smtp_record *r = smtp_get_record(s);
	struct cls_verdict v;
	classify_session(r, &v);
	int n = snprintf(out, cap, "%s %s %s %s/%llx", classify_outcome_name(v.outcome),
	                 classify_close_name(v.close), classify_style_name(v.client_style),
	                 r->pipelining_advertised ? "pipe" : "nopipe",
	                 (unsigned long long)r->anomalies);
	for (uint32_t i = 0; i < r->n_txs && n > 0 && (size_t)n < cap; i++)
		n += snprintf(out + n, cap - (size_t)n, " tx%u=%s/%llu", i,
		              classify_tx_outcome_name(classify_tx(r, &r->txs[i])),
		              (unsigned long long)r->txs[i].size);
}

/* Replays steps whole, one byte at a time and split at every offset up to 64: the same
 * verdicts each time, and the expected one. */
static void check_dialogue(const struct step *steps, const char *expected)
{
	char whole[512], other[512];
	struct smtp_session *s = play(steps, 0);
	summary(s, whole, sizeof(whole));
	smtp_session_free(s);
	CHECK_EQ_STR(whole, expected);
	for (int cut = -64; cut <= 1; cut++) {
		if (cut == 0)
			continue;
		s = play(steps, cut);
		summary(s, other, sizeof(other));
		smtp_session_free(s);
		if (strcmp(whole, other) != 0) {
			fprintf(stderr, "cut %d: %s\n  whole: %s\n", cut, other, whole);
			tap_failed_checks++;
			return;
		}
	}
}

#define GREETING   "220 mx.example ESMTP\r\n"
#define EHLO_REPLY "250-mx.example\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 CHUNKING\r\n"

static void test_dialogue_committed(void)
{
	const struct step steps[] = {{'S', GREETING},
	                             {'C', "EHLO c.example\r\n"},
	                             {'S', EHLO_REPLY},
	                             {'C', "MAIL FROM:<a@x>\r\n"},
	                             {'S', "250 2.1.0 Ok\r\n"},
	                             {'C', "RCPT TO:<b@y>\r\n"},
	                             {'S', "250 2.1.5 Ok\r\n"},
	                             {'C', "DATA\r\n"},
	                             {'S', "354 End data with <CR><LF>.<CR><LF>\r\n"},
	                             {'C', "Subject: t\r\n\r\nhello\r\n..stuffed\r\n.\r\n"},
	                             {'S', "250 2.0.0 Ok: queued\r\n"},
	                             {'C', "QUIT\r\n"},
	                             {'S', "221 2.0.0 Bye\r\n"},
	                             {'s', ""},
	                             {'c', ""},
	                             {0, NULL}};
	check_dialogue(steps, "committed quit rfc5321 pipe/0 tx0=committed/32");
	struct smtp_session *s = play(steps, 0);
	const struct smtp_record *r = smtp_get_record(s);
	CHECK_EQ_INT(r->greeting.code, 220);
	CHECK_EQ_INT(r->n_extensions, 3);
	CHECK_EQ_INT(r->txs[0].eod_reply.code, 250);
	CHECK_EQ_STR(r->txs[0].eod_reply.enhanced, "2.0.0");
	CHECK_EQ_STR(r->txs[0].eod_reply.text.data, "Ok: queued");
	CHECK_EQ_STR(r->txs[0].mail_from.data, "<a@x>");
	CHECK_EQ_INT(r->txs[0].n_rcpts, 1);
	CHECK_EQ_INT(r->txs[0].rcpts[0].code, 250);
	CHECK_EQ_INT(r->commands, 5);
	CHECK_EQ_INT(r->replies, 7);
	smtp_session_free(s);
}

/* A session made from a pool's memory starts as a new one, whatever the session before it
 * held (texts, transactions, a hold, a lenient reading): the same record, field by field that
 * the summary does not cover. The pool keeps at most SMTP_POOL_MAX, and not a session whose
 * queue grew. */
static void test_pool_reuse(void)
{
	const struct step busy[] = {{'S', GREETING},
	                            {'C', "EHLO big.example\r\n"},
	                            {'S', EHLO_REPLY},
	                            {'C', "MAIL FROM:<x@x>\r\nRCPT TO:<y@y>\r\nDATA\r\n"},
	                            {'S', "250 Ok\r\n250 Ok\r\n354 Go\r\n"},
	                            {'C', "text\n.\nMAIL FROM:<s@s>\r\n.\r\n"},
	                            {'S', "250 2.0.0 queued as 1\r\n"},
	                            {'C', "MAIL FROM:<z@z>\r\nDATA\r\nmore"},
	                            {0, NULL}};
	const struct step plain[] = {{'S', "220 other.example\r\n"},
	                             {'C', "HELO c.example\r\n"},
	                             {'S', "250 other.example\r\n"},
	                             {'C', "QUIT\r\n"},
	                             {'S', "221 Bye\r\n"},
	                             {'c', ""},
	                             {0, NULL}};
	char fresh[512], reused[512];
	struct smtp_session *s = play(plain, 0);
	summary(s, fresh, sizeof(fresh));
	smtp_session_free(s);
	struct smtp_pool *pool = smtp_pool_new();
	CHECK(pool != NULL);
	struct smtp_session *a = play_in(pool, busy, 0);
	CHECK(smtp_get_record(a)->n_txs >= 2);
	smtp_session_free_to(pool, a);
	CHECK_EQ_INT(smtp_pool_kept(pool), 1);
	struct smtp_session *b = play_in(pool, plain, 0);
	CHECK(b == a); /* the same memory, taken from the pool */
	CHECK_EQ_INT(smtp_pool_kept(pool), 0);
	summary(b, reused, sizeof(reused));
	CHECK_EQ_STR(reused, fresh);
	const struct smtp_record *r = smtp_get_record(b);
	CHECK_EQ_STR(r->greeting.text.data, "other.example");
	CHECK_EQ_STR(r->helo.data, "c.example");
	CHECK_EQ_INT(r->ehlo, 0);
	CHECK_EQ_INT(r->n_extensions, 0);
	CHECK_EQ_INT(r->n_txs, 0);
	CHECK_EQ_INT(r->commands, 2);
	CHECK_EQ_INT(r->replies, 3);
	CHECK_EQ_INT(r->lookalike, SMTP_LA_NONE);
	smtp_session_free_to(pool, b);
	/* a queue grown past its first size is not kept */
	const struct step piped[] = {
	    {'S', GREETING}, {'C', "NOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\n"}, {0, NULL}};
	smtp_session_free_to(pool, play_in(pool, piped, 0));
	CHECK_EQ_INT(smtp_pool_kept(pool), 0);
	struct smtp_session *many[SMTP_POOL_MAX + 3];
	for (size_t i = 0; i < SMTP_POOL_MAX + 3; i++)
		many[i] = play_in(pool, plain, 0);
	for (size_t i = 0; i < SMTP_POOL_MAX + 3; i++)
		smtp_session_free_to(pool, many[i]);
	CHECK_EQ_INT(smtp_pool_kept(pool), SMTP_POOL_MAX);
	smtp_pool_free(pool);
}

/* The reply being read keeps its text in one buffer of the session, reused from reply to
 * reply: each reply's text comes out whole, a short one after a long one with nothing of
 * it, and over SMTP_KEEP_TEXT cut there; the texts kept (greeting, end of data, the command
 * log) are copies that later replies leave as they were. */
static void test_reply_text_reuse(void)
{
	struct smtp_limits lim;
	smtp_limits_default(&lim);
	lim.log_commands = true;
	struct smtp_session *s = smtp_session_new(&lim);
	char longer[700], line[800];
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	snprintf(line, sizeof(line), "220 %s\r\n", longer);
	const char *client[] = {"HELO c\r\n",        "NOOP\r\n", "MAIL FROM:<a@x>\r\n",
	                        "RCPT TO:<b@y>\r\n", "DATA\r\n", "t\r\n.\r\n"};
	const char *server[] = {"250 a much longer text than the one after it, past 64 bytes\r\n",
	                        "250 ok\r\n",
	                        "250-2.1.0 first\r\n250 second line\r\n",
	                        "550 5.1.1 no\r\n",
	                        "354 go\r\n",
	                        "250 2.0.0 queued as ABC\r\n"};
	smtp_feed(s, SMTP_TO_CLIENT, (const uint8_t *)line, strlen(line), UINT64_MAX, 1);
	for (int i = 0; i < 6; i++) {
		smtp_feed(s, SMTP_TO_SERVER, (const uint8_t *)client[i], strlen(client[i]),
		          UINT64_MAX, 2 + i);
		smtp_feed(s, SMTP_TO_CLIENT, (const uint8_t *)server[i], strlen(server[i]),
		          UINT64_MAX, 2 + i);
	}
	smtp_finish(s, SMTP_END_CLOSED, 10);
	const struct smtp_record *r = smtp_get_record(s);
	CHECK_EQ_INT(r->greeting.text.len, SMTP_KEEP_TEXT);
	CHECK(r->greeting.text.data && strlen(r->greeting.text.data) == SMTP_KEEP_TEXT);
	CHECK(r->greeting.text.data && memcmp(r->greeting.text.data, longer, SMTP_KEEP_TEXT) == 0);
	CHECK_EQ_INT(r->n_cmds, 5); /* the end of data is no command */
	const char *want[] = {"a much longer text than the one after it, past 64 bytes", "ok",
	                      "first", "no", "go"};
	for (uint32_t i = 0; i < 5 && i < r->n_cmds; i++)
		CHECK_EQ_STR(r->cmds[i].reply.text.data, want[i]);
	CHECK_EQ_INT(r->n_txs, 1);
	CHECK_EQ_STR(r->txs[0].eod_reply.text.data, "queued as ABC");
	CHECK_EQ_STR(r->txs[0].eod_reply.enhanced, "2.0.0");
	smtp_session_free(s);
}

/* The record's texts go into the session's text block while they fit, and are allocated
 * alone after that; a text replaced in the block (a second EHLO) is right, and so is every
 * text after the block is full. A pooled session's block starts empty. */
static void test_text_block(void)
{
	char ehlo[2048], *e = ehlo;
	e += sprintf(e, "250-mx.example\r\n");
	for (int i = 0; i < 20; i++) /* 20 keywords of 30 bytes: more than the block holds */
		e += sprintf(e, "250-X-KEYWORD-NUMBER-%02d-PADDING\r\n", i);
	sprintf(e, "250 PIPELINING\r\n");
	const struct step steps[] = {{'S', GREETING},
	                             {'C', "EHLO first.example\r\n"},
	                             {'S', "250 mx.example\r\n"},
	                             {'C', "EHLO second.example\r\n"},
	                             {'S', ehlo},
	                             {'C', "MAIL FROM:<a@x> SIZE=10\r\n"},
	                             {'S', "250 Ok\r\n"},
	                             {'C', "RCPT TO:<b@y>\r\n"},
	                             {'S', "250 Ok\r\n"},
	                             {0, NULL}};
	struct smtp_pool *pool = smtp_pool_new();
	for (int round = 0; round < 2; round++) { /* fresh, then from the pool */
		struct smtp_session *s = play_in(pool, steps, 0);
		const struct smtp_record *r = smtp_get_record(s);
		CHECK_EQ_STR(r->greeting.text.data, "mx.example ESMTP");
		CHECK(r->greeting.text.in_block);
		CHECK_EQ_STR(r->helo.data, "second.example");
		CHECK_EQ_INT(r->n_extensions, 21);
		char want[64];
		for (uint32_t i = 0; i < 20 && i < r->n_extensions; i++) {
			snprintf(want, sizeof(want), "X-KEYWORD-NUMBER-%02u-PADDING", i);
			CHECK_EQ_STR(r->extensions[i].data, want);
		}
		CHECK(r->n_extensions == 21 && r->extensions[0].in_block);
		CHECK(r->n_extensions == 21 &&
		      !r->extensions[19].in_block); /* the block was full */
		CHECK(r->n_extensions == 21 && strcmp(r->extensions[20].data, "PIPELINING") == 0);
		CHECK_EQ_INT(r->pipelining_advertised, 1);
		CHECK_EQ_INT(r->n_txs, 1);
		CHECK_EQ_STR(r->txs[0].mail_from.data, "<a@x>");
		CHECK_EQ_STR(r->txs[0].mail_params.data, "SIZE=10");
		CHECK(r->n_txs == 1 && r->txs[0].n_rcpts == 1 &&
		      strcmp(r->txs[0].rcpts[0].addr.data, "<b@y>") == 0);
		smtp_session_free_to(pool, s);
		CHECK_EQ_INT(smtp_pool_kept(pool), 1);
	}
	smtp_pool_free(pool);
}

static void test_dialogue_rfc821_drop(void)
{
	const struct step steps[] = {{'S', GREETING},
	                             {'C', "HELO c\r\n"},
	                             {'S', "250 mx\r\n"},
	                             {'C', "MAIL FROM:<a@x>\r\n"},
	                             {'S', "250 Ok\r\n"},
	                             {'C', "RCPT TO:<b@y>\r\n"},
	                             {'S', "250 Ok\r\n"},
	                             {'C', "DATA\r\n"},
	                             {'S', "354 go\r\n"},
	                             {'C', "hi\r\n.\r\n"},
	                             {'S', "250 queued\r\n"},
	                             {'c', ""},
	                             {'s', ""},
	                             {0, NULL}};
	check_dialogue(steps,
	               "rfc821_drop client_closed_without_quit rfc821 nopipe/0 tx0=committed/4");
}

static void test_dialogue_abandoned(void)
{
	const struct step steps[] = {{'S', GREETING},
	                             {'C', "EHLO c\r\n"},
	                             {'S', EHLO_REPLY},
	                             {'C', "MAIL FROM:<a@x>\r\n"},
	                             {'S', "250 Ok\r\n"},
	                             {'C', "RCPT TO:<b@y>\r\n"},
	                             {'S', "250 Ok\r\n"},
	                             {'C', "DATA\r\n"},
	                             {'S', "354 go\r\n"},
	                             {'C', "part of a message\r\nand more"},
	                             {'c', ""},
	                             {'s', ""},
	                             {0, NULL}};
	check_dialogue(steps, "abandoned_before_eod client_closed_without_quit unknown pipe/0 "
	                      "tx0=abandoned_before_eod/19");
}

static void test_dialogue_rejected_data_then_text(void)
{
	/* a 554 to DATA: what the client sent next is read as commands (Suricata once stayed
	 * in data mode here) */
	const struct step steps[] = {
	    {'S', GREETING},
	    {'C', "EHLO c\r\n"},
	    {'S', EHLO_REPLY},
	    {'C',
	     "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n"},
	    {'S', "250 Ok\r\n554 5.7.1 no\r\n554 5.5.1 no valid recipients\r\n"},
	    {'S',
	     "500 5.5.2 Error: command not recognized\r\n502 x\r\n500 x\r\n500 x\r\n221 Bye\r\n"},
	    {'s', ""},
	    {'c', ""},
	    {0, NULL}};
	/* 0x304: data_before_354 (the text went out before any reply to DATA, whatever that
	 * reply), unknown_command, repeated_errors */
	check_dialogue(steps, "no_mail quit rfc5321 pipe/304 tx0=rejected/0");
	struct smtp_session *s = play(steps, 0);
	CHECK_EQ_INT(smtp_get_record(s)->txs[0].rejected_at, SMTP_REJ_RCPT);
	smtp_session_free(s);
}

/* Feeds one direction's bytes whole. */
static void feed(struct smtp_session *s, enum smtp_dir dir, const char *bytes, uint64_t ts)
{
	smtp_feed(s, dir, (const uint8_t *)bytes, strlen(bytes), UINT64_MAX, ts);
}

/* A snap length cut the message text (its end of data in the gap) and the reply to it
 * ("250 " and part of its text seen): the cut line still ends its reply, a 2xx while in text
 * after a gap answers the end of data (inferred, size unknown), the reply's text is left out,
 * and QUIT then closes (DESIGN.md section 4). */
static void test_gap_cut_reply(void)
{
	struct smtp_limits lim;
	smtp_limits_default(&lim);
	struct smtp_session *s = smtp_session_new(&lim);
	feed(s, SMTP_TO_CLIENT, GREETING, 1);
	feed(s, SMTP_TO_SERVER, "EHLO c\r\n", 2);
	feed(s, SMTP_TO_CLIENT, EHLO_REPLY, 3);
	feed(s, SMTP_TO_SERVER, "MAIL FROM:<a@x>\r\n", 4);
	feed(s, SMTP_TO_CLIENT, "250 Ok\r\n", 5);
	feed(s, SMTP_TO_SERVER, "RCPT TO:<b@y>\r\n", 6);
	feed(s, SMTP_TO_CLIENT, "250 Ok\r\n", 7);
	feed(s, SMTP_TO_SERVER, "DATA\r\n", 8);
	feed(s, SMTP_TO_CLIENT, "354 go\r\n", 9);
	feed(s, SMTP_TO_SERVER, "Subject: x\r\n\r\nbo", 10);
	smtp_gap(s, SMTP_TO_SERVER, 7, 10); /* "dy\r\n.\r\n" */
	feed(s, SMTP_TO_CLIENT, "250 2.0.0 Ok: que", 11);
	smtp_gap(s, SMTP_TO_CLIENT, 12, 11); /* "ued as 4F3\r\n" */
	feed(s, SMTP_TO_SERVER, "QUIT\r\n", 12);
	feed(s, SMTP_TO_CLIENT, "221 Bye\r\n", 13);
	smtp_close(s, SMTP_TO_CLIENT, false, UINT64_MAX, 14);
	smtp_close(s, SMTP_TO_SERVER, false, UINT64_MAX, 15);
	smtp_set_directions(s, true, true);
	smtp_finish(s, SMTP_END_CLOSED, 16);
	const struct smtp_record *r = smtp_get_record(s);
	struct cls_verdict v;
	classify_session(r, &v);
	CHECK_EQ_INT(r->n_txs, 1);
	CHECK_EQ_STR(classify_tx_outcome_name(classify_tx(r, &r->txs[0])), "committed");
	CHECK_EQ_INT(r->txs[0].eod_reply.code, 250);
	CHECK(r->txs[0].eod_reply.text.data == NULL);
	CHECK(r->txs[0].size_unknown);
	CHECK(r->txs[0].inferred & SMTP_INF_TX_OUTCOME);
	CHECK_EQ_STR(classify_close_name(v.close), "quit");
	CHECK_EQ_STR(classify_outcome_name(v.outcome), "committed");
	CHECK_EQ_INT(r->anomalies, 1ULL << SMTP_AN_TCP_GAP);
	smtp_session_free(s);
}

/* Postfix drops a client after too many errors with "221 2.7.0 ...": after a client gap that
 * 221 is no answer to a lost QUIT; only a 221 with no enhanced code or 2.0.0 is. */
static void test_gap_221_not_quit(void)
{
	struct smtp_limits lim;
	smtp_limits_default(&lim);
	const char *bye[] = {"221 2.7.0 Error: I can break rules, too. Goodbye.\r\n",
	                     "221 2.0.0 Bye\r\n"};
	for (int i = 0; i < 2; i++) {
		struct smtp_session *s = smtp_session_new(&lim);
		struct cls_verdict v;
		feed(s, SMTP_TO_CLIENT, GREETING, 1);
		feed(s, SMTP_TO_SERVER, "EHLO c\r\n", 2);
		feed(s, SMTP_TO_CLIENT, EHLO_REPLY, 3);
		smtp_gap(s, SMTP_TO_SERVER, 6, 4);
		feed(s, SMTP_TO_CLIENT, bye[i], 5);
		smtp_close(s, SMTP_TO_CLIENT, false, UINT64_MAX, 6);
		smtp_close(s, SMTP_TO_SERVER, false, UINT64_MAX, 7);
		smtp_set_directions(s, true, true);
		smtp_finish(s, SMTP_END_CLOSED, 8);
		classify_session(smtp_get_record(s), &v);
		CHECK_EQ_STR(classify_close_name(v.close), i == 0 ? "server_closed" : "quit");
		CHECK_EQ_INT(smtp_get_record(s)->inferred, i == 0 ? 0 : SMTP_INF_CLOSE);
		smtp_session_free(s);
	}
}

/* The bytes each side has sent, for ACK numbers: feeds bytes of one direction acknowledging
 * what the other had sent so far; gap_to_client counts server bytes the capture lost. */
struct wire {
	struct smtp_session *s;
	uint64_t sent[2]; /* [SMTP_TO_SERVER]: client bytes, [SMTP_TO_CLIENT]: server bytes */
	uint64_t ts;
};

static void wire_feed(struct wire *w, enum smtp_dir dir, const char *bytes)
{
	size_t n = strlen(bytes);
	smtp_feed(w->s, dir, (const uint8_t *)bytes, n, w->sent[1 - dir], ++w->ts);
	w->sent[dir] += n;
}

static void gap_to_client(struct wire *w, const char *bytes)
{
	smtp_gap(w->s, SMTP_TO_CLIENT, strlen(bytes), ++w->ts);
	w->sent[SMTP_TO_CLIENT] += strlen(bytes);
}

/* A session with default limits, its greeting and an EHLO sent. */
static void wire_begin(struct wire *w)
{
	struct smtp_limits lim;
	smtp_limits_default(&lim);
	*w = (struct wire){.s = smtp_session_new(&lim)};
	wire_feed(w, SMTP_TO_CLIENT, GREETING);
	wire_feed(w, SMTP_TO_SERVER, "EHLO c\r\n");
}

static const struct smtp_record *wire_end(struct wire *w, struct cls_verdict *v)
{
	smtp_close(w->s, SMTP_TO_CLIENT, false, w->sent[SMTP_TO_SERVER], ++w->ts);
	smtp_close(w->s, SMTP_TO_SERVER, false, w->sent[SMTP_TO_CLIENT], ++w->ts);
	smtp_set_directions(w->s, true, true);
	smtp_finish(w->s, SMTP_END_CLOSED, ++w->ts);
	classify_session(smtp_get_record(w->s), v);
	return smtp_get_record(w->s);
}

/* Two messages pipelined; the replies to the first end of data, the second MAIL and RCPT and
 * the 354 lost. The second text was sent after the client had received those lost bytes
 * (its ACK), and a client sends text only after the 354 (RFC 2920): all four replies were
 * in the gap, and the 250 after it answers the second end of data, not the first. */
static void test_gap_pipelined_354_lost(void)
{
	struct cls_verdict v;
	struct wire w;
	wire_begin(&w);
	wire_feed(&w, SMTP_TO_CLIENT, EHLO_REPLY);
	wire_feed(&w, SMTP_TO_SERVER, "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n");
	wire_feed(&w, SMTP_TO_CLIENT, "250 Ok\r\n250 Ok\r\n354 go\r\n");
	wire_feed(
	    &w, SMTP_TO_SERVER,
	    "Subject: one\r\n\r\nFirst.\r\n.\r\nMAIL FROM:<a@x>\r\nRCPT TO:<c@y>\r\nDATA\r\n");
	gap_to_client(&w, "250 Ok: 1A\r\n250 Ok\r\n250 Ok\r\n354 go\r\n");
	wire_feed(&w, SMTP_TO_SERVER, "Subject: two\r\n\r\nSecond.\r\n.\r\nQUIT\r\n");
	wire_feed(&w, SMTP_TO_CLIENT, "250 Ok: 2B\r\n221 Bye\r\n");
	const struct smtp_record *r = wire_end(&w, &v);
	CHECK_EQ_INT(r->n_txs, 2);
	CHECK_EQ_STR(classify_tx_outcome_name(classify_tx(r, &r->txs[0])), "incomplete");
	CHECK_EQ_INT(r->txs[0].eod_reply.code, 0);
	CHECK_EQ_STR(classify_tx_outcome_name(classify_tx(r, &r->txs[1])), "committed");
	CHECK_EQ_INT(r->txs[1].eod_reply.code, 250);
	CHECK_EQ_INT(r->txs[1].size, 25);
	CHECK_EQ_STR(classify_close_name(v.close), "quit");
	smtp_session_free(w.s);
}

/* Client bytes the capture lost: the server's ACKs still count them. */
static void gap_to_server(struct wire *w, const char *bytes)
{
	smtp_gap(w->s, SMTP_TO_SERVER, strlen(bytes), ++w->ts);
	w->sent[SMTP_TO_SERVER] += strlen(bytes);
}

/* A bare-LF client's session up to its accepted RCPT. */
static void bare_lf_rcpt(struct wire *w)
{
	wire_begin(w);
	wire_feed(w, SMTP_TO_CLIENT, EHLO_REPLY);
	wire_feed(w, SMTP_TO_SERVER, "MAIL FROM:<a@x>\n");
	wire_feed(w, SMTP_TO_CLIENT, "250 Ok\r\n");
	wire_feed(w, SMTP_TO_SERVER, "RCPT TO:<b@y>\n");
	wire_feed(w, SMTP_TO_CLIENT, "250 Ok\r\n");
}

/* A bare-LF client's transaction up to its lost DATA line (lost) and the 354 to it, then
 * its text, ended by <LF>.<LF>. */
static void lost_data_line(struct wire *w, const char *lost)
{
	bare_lf_rcpt(w);
	gap_to_server(w, lost);
	wire_feed(w, SMTP_TO_CLIENT, "354 go\r\n");
	wire_feed(w, SMTP_TO_SERVER, "Subject: t\n\nLF only.\n.\n");
}

/* Lost client bytes whose DATA a 354 answers hold text only if they have room for more than
 * the shortest DATA line ("DATA" LF, 5 octets from a line start): with none, the text after
 * the 354 is seen whole, and a reply while in it answers the end of data its <LF>.<LF> made,
 * its size known (a seen 250), or, lost, makes the QUIT sent after it a command, not text
 * after the look-alike (gap-look-data-and-eod-reply-lost.dlg). With room for one text octet
 * the end of data may have been in the gap: the 250 answers it, inferred, size unknown. */
static void test_gap_lost_data_line(void)
{
	struct cls_verdict v;
	struct wire w;
	const struct smtp_record *r;
	for (int room = 0; room < 2; room++) {
		lost_data_line(&w, room ? "DATA\nX" : "DATA\n");
		wire_feed(&w, SMTP_TO_CLIENT, "250 Ok: queued\r\n");
		wire_feed(&w, SMTP_TO_SERVER, "QUIT\n");
		wire_feed(&w, SMTP_TO_CLIENT, "221 Bye\r\n");
		r = wire_end(&w, &v);
		CHECK_EQ_INT(r->n_txs, 1);
		CHECK_EQ_STR(classify_tx_outcome_name(classify_tx(r, &r->txs[0])), "committed");
		CHECK_EQ_INT(r->txs[0].size_unknown, room);
		CHECK_EQ_INT((r->txs[0].inferred & SMTP_INF_TX_OUTCOME) != 0, room);
		if (!room)
			CHECK_EQ_INT(r->txs[0].size, 21);
		CHECK_EQ_INT(r->lookalike, SMTP_LA_NONE);
		smtp_session_free(w.s);
	}
	lost_data_line(&w, "DATA\n");
	gap_to_client(&w, "250 Ok: queued\r\n");
	wire_feed(&w, SMTP_TO_SERVER, "QUIT\n");
	wire_feed(&w, SMTP_TO_CLIENT, "221 Bye\r\n");
	r = wire_end(&w, &v);
	CHECK_EQ_INT(r->n_txs, 1);
	CHECK_EQ_STR(classify_tx_outcome_name(classify_tx(r, &r->txs[0])), "incomplete");
	CHECK_EQ_INT(r->txs[0].eod_reply.code, 0);
	CHECK_EQ_INT(r->lookalike, SMTP_LA_NONE);
	CHECK_EQ_INT(r->commands, 4); /* EHLO, MAIL, RCPT, QUIT */
	CHECK_EQ_STR(classify_close_name(v.close), "quit");
	CHECK_EQ_INT(r->inferred & SMTP_INF_CLOSE, 0);
	smtp_session_free(w.s);
}

/* A bare-LF client's text loses bytes before its <LF>.<LF>, and the reply to that end of data
 * is lost: the QUIT sent after those lost server bytes is a command whether they answered the
 * look-alike or an end of data in the lost text (gap-look-text-lost-eod-reply-lost.dlg): no
 * text followed the look-alike, the transaction is incomplete and its size unknown. */
static void test_gap_text_lost_before_lookalike(void)
{
	struct cls_verdict v;
	struct wire w;
	bare_lf_rcpt(&w);
	wire_feed(&w, SMTP_TO_SERVER, "DATA\n");
	wire_feed(&w, SMTP_TO_CLIENT, "354 go\r\n");
	wire_feed(&w, SMTP_TO_SERVER, "Subject: t\n\n");
	gap_to_server(&w, "First part.\n");
	wire_feed(&w, SMTP_TO_SERVER, "LF only.\n.\n");
	gap_to_client(&w, "250 Ok: queued\r\n");
	wire_feed(&w, SMTP_TO_SERVER, "QUIT\n");
	wire_feed(&w, SMTP_TO_CLIENT, "221 Bye\r\n");
	const struct smtp_record *r = wire_end(&w, &v);
	CHECK_EQ_INT(r->n_txs, 1);
	CHECK_EQ_STR(classify_tx_outcome_name(classify_tx(r, &r->txs[0])), "incomplete");
	CHECK_EQ_INT(r->txs[0].eod_reply.code, 0);
	CHECK(r->txs[0].size_unknown);
	CHECK_EQ_INT(r->lookalike, SMTP_LA_NONE);
	CHECK_EQ_INT(r->commands, 5); /* EHLO, MAIL, RCPT, DATA, QUIT */
	CHECK_EQ_STR(classify_close_name(v.close), "quit");
	CHECK_EQ_INT(r->inferred & SMTP_INF_CLOSE, 0);
	smtp_session_free(w.s);
}

/* A smuggled message whose look-alike line follows lost message text: the byte before its
 * "." decides its kind (here a bare LF: <LF>.<LF>), so after the gap the kind is unknown and
 * left out, while the replies still make the smuggled transaction (lost: 0 none lost, 1 the
 * text before the look-alike, 2 that and the 354, the text then held behind the DATA;
 * gap-look-lookalike-after-text-gap.dlg, gap-look-354-and-text-lost.dlg). */
static void test_gap_lookalike_kind_lost(void)
{
	struct cls_verdict v;
	struct wire w;
	for (int lost = 0; lost < 3; lost++) {
		wire_begin(&w);
		wire_feed(&w, SMTP_TO_CLIENT, EHLO_REPLY);
		wire_feed(&w, SMTP_TO_SERVER, "MAIL FROM:<a@x>\r\n");
		wire_feed(&w, SMTP_TO_CLIENT, "250 Ok\r\n");
		wire_feed(&w, SMTP_TO_SERVER, "RCPT TO:<b@y>\r\n");
		wire_feed(&w, SMTP_TO_CLIENT, "250 Ok\r\n");
		wire_feed(&w, SMTP_TO_SERVER, "DATA\r\n");
		if (lost == 2)
			gap_to_client(&w, "354 go\r\n");
		else
			wire_feed(&w, SMTP_TO_CLIENT, "354 go\r\n");
		if (lost)
			gap_to_server(&w, "Subject: one\r\n\r\nFirst.\n");
		else
			wire_feed(&w, SMTP_TO_SERVER, "Subject: one\r\n\r\nFirst.\n");
		wire_feed(&w, SMTP_TO_SERVER,
		          ".\nMAIL FROM:<a@x>\r\nRCPT TO:<c@y>\r\nDATA\r\nSmuggled.\r\n.\r\n");
		wire_feed(&w, SMTP_TO_CLIENT,
		          "250 Ok: 1A\r\n250 Ok\r\n250 Ok\r\n354 go\r\n250 Ok: 2B\r\n");
		wire_feed(&w, SMTP_TO_SERVER, "QUIT\r\n");
		wire_feed(&w, SMTP_TO_CLIENT, "221 Bye\r\n");
		const struct smtp_record *r = wire_end(&w, &v);
		CHECK_EQ_INT(r->lookalike, lost ? SMTP_LA_NONE : SMTP_LA_LF_DOT_LF);
		CHECK_EQ_INT(r->n_txs, 2);
		if (r->n_txs == 2) {
			CHECK(r->txs[1].smuggled);
			CHECK_EQ_STR(classify_tx_outcome_name(classify_tx(r, &r->txs[1])),
			             "committed");
		}
		smtp_session_free(w.s);
	}
}

/* A bare-LF client's <LF>.<LF>, then client bytes lost ("NOOP" LF), then a QUIT. Sent after
 * lost server bytes (the 250 to the end of data and to the NOOP), the QUIT says nothing of
 * when the lost bytes went out: whether text followed the look-alike is not known, and the
 * look-alike is left out (gap-look-lost-after-lookalike.dlg). Sent before any server byte
 * came, the QUIT shows that the lost bytes too went out before the reply: text after the
 * look-alike, recorded. */
static void test_gap_lost_after_lookalike(void)
{
	struct cls_verdict v;
	struct wire w;
	for (int replied = 0; replied < 2; replied++) {
		bare_lf_rcpt(&w);
		wire_feed(&w, SMTP_TO_SERVER, "DATA\n");
		wire_feed(&w, SMTP_TO_CLIENT, "354 go\r\n");
		wire_feed(&w, SMTP_TO_SERVER, "Subject: t\n\nLF only.\n.\n");
		if (replied)
			gap_to_client(&w, "250 Ok: queued\r\n");
		gap_to_server(&w, "NOOP\n");
		if (replied)
			gap_to_client(&w, "250 Ok\r\n");
		wire_feed(&w, SMTP_TO_SERVER, "QUIT\n");
		if (!replied)
			wire_feed(&w, SMTP_TO_CLIENT, "250 Ok: queued\r\n250 Ok\r\n");
		wire_feed(&w, SMTP_TO_CLIENT, "221 Bye\r\n");
		const struct smtp_record *r = wire_end(&w, &v);
		CHECK_EQ_INT(r->lookalike, replied ? SMTP_LA_NONE : SMTP_LA_LF_DOT_LF);
		CHECK_EQ_INT(r->n_txs, 1);
		CHECK_EQ_STR(classify_close_name(v.close), "quit");
		smtp_session_free(w.s);
	}
}

/* The EHLO reply lost, then MAIL, RCPT, DATA and text pipelined before any reply: the text
 * acknowledges the lost bytes but no more than the DATA did, so it says nothing of a 354:
 * the 554 refuses the DATA, as on the full capture (trap-rejected-data-pipelined-text.dlg). */
static void test_gap_text_before_354(void)
{
	struct cls_verdict v;
	struct wire w;
	wire_begin(&w);
	gap_to_client(&w, EHLO_REPLY);
	wire_feed(&w, SMTP_TO_SERVER, "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n");
	wire_feed(&w, SMTP_TO_SERVER, "Subject: x\r\n\r\nHello.\r\n.\r\n");
	wire_feed(&w, SMTP_TO_CLIENT, "250 Ok\r\n250 Ok\r\n554 no\r\n");
	const struct smtp_record *r = wire_end(&w, &v);
	CHECK_EQ_INT(r->n_txs, 1);
	CHECK_EQ_STR(classify_tx_outcome_name(classify_tx(r, &r->txs[0])), "rejected");
	CHECK_EQ_STR(classify_reject_at_name(r->txs[0].rejected_at), "data");
	CHECK_EQ_INT(r->txs[0].eod_reply.code, 0);
	smtp_session_free(w.s);
}

/* MAIL and RCPT answered, DATA sent: the start of a session whose DATA's reply is lost. */
static void wire_to_data(struct wire *w)
{
	wire_begin(w);
	wire_feed(w, SMTP_TO_CLIENT, EHLO_REPLY);
	wire_feed(w, SMTP_TO_SERVER, "MAIL FROM:<a@x>\r\n");
	wire_feed(w, SMTP_TO_CLIENT, "250 Ok\r\n");
	wire_feed(w, SMTP_TO_SERVER, "RCPT TO:<b@y>\r\n");
}

/* A message sent whole after its 354: its end of data awaits its reply. */
static void wire_to_eod(struct wire *w)
{
	wire_to_data(w);
	wire_feed(w, SMTP_TO_CLIENT, "250 Ok\r\n");
	wire_feed(w, SMTP_TO_SERVER, "DATA\r\n");
	wire_feed(w, SMTP_TO_CLIENT, "354 go\r\n");
	wire_feed(w, SMTP_TO_SERVER, "Subject: x\r\n\r\nHello.\r\n.\r\n");
}

/* The transaction's recipients, size and outcome are unknown (DESIGN.md section 4). */
static void check_tx_unknown(struct wire *w)
{
	struct cls_verdict v;
	const struct smtp_record *r = wire_end(w, &v);
	CHECK_EQ_INT(r->n_txs, 1);
	CHECK_EQ_STR(classify_tx_outcome_name(v.txs[0].outcome), "incomplete");
	CHECK(!v.txs[0].rcpts_known);
	CHECK(!v.txs[0].size_known);
	classify_free(&v);
	smtp_session_free(w->s);
}

/* The RCPT's 250 and DATA's reply lost; the DATA acknowledges the first, the held text the
 * second: DATA's reply was in the gap once the RCPT's is known lost (smtp_lost_replies), and
 * which it was nothing decides: the text's RCPT line is no recipient. */
static void test_gap_rcpt_and_data_reply_lost(void)
{
	struct wire w;
	wire_to_data(&w);
	gap_to_client(&w, "250 Ok\r\n");
	wire_feed(&w, SMTP_TO_SERVER, "DATA\r\n");
	gap_to_client(&w, "354 go\r\n");
	wire_feed(&w, SMTP_TO_SERVER, "Subject: x\r\n\r\nRCPT TO:<c@y>\r\n.\r\n");
	wire_feed(&w, SMTP_TO_CLIENT, "554 no\r\n");
	wire_feed(&w, SMTP_TO_SERVER, "QUIT\r\n");
	wire_feed(&w, SMTP_TO_CLIENT, "221 Bye\r\n");
	check_tx_unknown(&w);
}

/* DATA's reply lost and the client's bytes after it lost, then a 554: DATA's reply, or its
 * first lines, were in the server's gap; the lost client bytes may be commands (a RCPT). */
static void test_gap_data_reply_and_text_lost(void)
{
	struct wire w;
	wire_to_data(&w);
	wire_feed(&w, SMTP_TO_CLIENT, "250 Ok\r\n");
	wire_feed(&w, SMTP_TO_SERVER, "DATA\r\n");
	gap_to_client(&w, "354 go\r\n");
	gap_to_server(&w, "Subject: x\r\n\r\nRCPT TO:<c@y>\r\n.\r\n");
	wire_feed(&w, SMTP_TO_CLIENT, "554 no\r\n");
	wire_feed(&w, SMTP_TO_SERVER, "QUIT\r\n");
	wire_feed(&w, SMTP_TO_CLIENT, "221 Bye\r\n");
	check_tx_unknown(&w);
}

/* DATA's reply and the reply after it lost, the text and a QUIT held: the 221 starts past the
 * server bytes the text acknowledged, so it is no first reply after DATA's and shows no 354
 * (lost_354). */
static void test_gap_354_not_from_later_reply(void)
{
	struct wire w;
	wire_to_data(&w);
	wire_feed(&w, SMTP_TO_CLIENT, "250 Ok\r\n");
	wire_feed(&w, SMTP_TO_SERVER, "DATA\r\n");
	gap_to_client(&w, "354 go\r\n");
	wire_feed(&w, SMTP_TO_SERVER, "Subject: x\r\n\r\nRCPT TO:<c@y>\r\n.\r\n");
	gap_to_client(&w, "554 no\r\n");
	wire_feed(&w, SMTP_TO_SERVER, "QUIT\r\n");
	wire_feed(&w, SMTP_TO_CLIENT, "221 Bye\r\n");
	check_tx_unknown(&w);
}

/* Text held behind a DATA whose reply never came, with client bytes lost after it: a refusal
 * makes them commands, a RCPT among them (smtp_gap_finish). */
static void test_gap_held_text_gap_unanswered(void)
{
	struct wire w;
	wire_to_data(&w);
	wire_feed(&w, SMTP_TO_CLIENT, "250 Ok\r\n");
	wire_feed(&w, SMTP_TO_SERVER, "DATA\r\n");
	gap_to_client(&w, "354 go\r\n");
	wire_feed(&w, SMTP_TO_SERVER, "Subject: x\r\n\r\nHello.\r\n.\r\n");
	gap_to_server(&w, "RCPT TO:<c@y>\r\n");
	check_tx_unknown(&w);
}

/* MAIL's reply lost, the QUIT acknowledging it: no RCPT was sent, so the recipients are
 * known (none) whether the MAIL was accepted or refused; a RCPT sent after such a MAIL
 * leaves them unknown. */
static void test_gap_mail_reply_lost_recipients(void)
{
	for (int rcpt = 0; rcpt < 2; rcpt++) {
		struct cls_verdict v;
		struct wire w;
		wire_begin(&w);
		wire_feed(&w, SMTP_TO_CLIENT, EHLO_REPLY);
		wire_feed(&w, SMTP_TO_SERVER, "MAIL FROM:<a@x>\r\n");
		gap_to_client(&w, "250 Ok\r\n");
		wire_feed(&w, SMTP_TO_SERVER, "NOOP\r\n");
		wire_feed(&w, SMTP_TO_CLIENT, "250 Ok\r\n");
		if (rcpt) {
			wire_feed(&w, SMTP_TO_SERVER, "RCPT TO:<b@y>\r\n");
			gap_to_client(&w, "250 Ok\r\n");
		}
		wire_feed(&w, SMTP_TO_SERVER, "QUIT\r\n");
		wire_feed(&w, SMTP_TO_CLIENT, "221 Bye\r\n");
		const struct smtp_record *r = wire_end(&w, &v);
		CHECK_EQ_INT(r->n_txs, 1);
		CHECK_EQ_INT(r->txs[0].n_rcpts, (int64_t)rcpt);
		CHECK_EQ_INT(v.txs[0].rcpts_known, !rcpt);
		CHECK_EQ_STR(classify_tx_outcome_name(v.txs[0].outcome), "incomplete");
		classify_free(&v);
		smtp_session_free(w.s);
	}
}

/* The reply to an end of data lost, then a 250 that starts where the lost bytes end: with a
 * lost NOOP after the end of data that the 250's segment acknowledges, the lost bytes held
 * the end of data's reply or its first lines, and the 250 may be the NOOP's: the end of
 * data's reply is unknown (smtp_gap_eod_reply_unsure). With nothing after the end of data,
 * the 250 can only be its reply (its last line). */
static void test_gap_eod_reply_unsure(void)
{
	for (int noop = 0; noop < 2; noop++) {
		struct cls_verdict v;
		struct wire w;
		wire_to_eod(&w);
		gap_to_client(&w, "250 2.0.0 Ok: queued as 4F3\r\n");
		if (noop)
			gap_to_server(&w, "NOOP\r\n");
		wire_feed(&w, SMTP_TO_CLIENT, "250 2.0.0 Ok\r\n");
		const struct smtp_record *r = wire_end(&w, &v);
		CHECK_EQ_INT(r->n_txs, 1);
		CHECK_EQ_INT(r->txs[0].eod_reply.code, noop ? 0 : 250);
		CHECK_EQ_STR(classify_tx_outcome_name(v.txs[0].outcome),
		             noop ? "incomplete" : "committed");
		classify_free(&v);
		smtp_session_free(w.s);
	}
}

/* An end of data whose reply is unknown ends its transaction all the same (RFC 5321 3.3): a
 * RCPT after lost client bytes (a MAIL) opens another (smtp_tx_after_gap). */
static void test_gap_rcpt_after_eod_reply_lost(void)
{
	struct cls_verdict v;
	struct wire w;
	wire_to_eod(&w);
	gap_to_server(&w, "MAIL FROM:<a@x>\r\n");
	gap_to_client(&w, "250 2.0.0 Ok: queued as 4F3\r\n");
	wire_feed(&w, SMTP_TO_CLIENT, "250 2.1.0 Ok\r\n");
	wire_feed(&w, SMTP_TO_SERVER, "RCPT TO:<c@y>\r\n");
	wire_feed(&w, SMTP_TO_CLIENT, "250 2.1.5 Ok\r\n");
	const struct smtp_record *r = wire_end(&w, &v);
	CHECK_EQ_INT(r->n_txs, 2);
	CHECK_EQ_INT(r->txs[0].n_rcpts, 1);
	CHECK_EQ_INT(r->txs[0].eod_reply.code, 0);
	CHECK_EQ_INT(r->txs[1].n_rcpts, 1);
	classify_free(&v);
	smtp_session_free(w.s);
}

/* BDAT LAST, then its reply and the next MAIL and RCPT lost: the next BDAT's chunk is the
 * transaction the lost MAIL opened, not more octets of the first, whose end of data ended it
 * (bdat_tx in smtp_client.c). */
static void test_gap_bdat_after_eod_reply_lost(void)
{
	struct cls_verdict v;
	struct wire w;
	wire_to_data(&w);
	wire_feed(&w, SMTP_TO_CLIENT, "250 Ok\r\n");
	wire_feed(&w, SMTP_TO_SERVER, "BDAT 7 LAST\r\nHello\r\n");
	gap_to_server(&w, "MAIL FROM:<a@x>\r\nRCPT TO:<c@y>\r\n");
	gap_to_client(&w, "250 2.0.0 Ok: 7 bytes queued as 1A\r\n");
	wire_feed(&w, SMTP_TO_CLIENT, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n");
	wire_feed(&w, SMTP_TO_SERVER, "BDAT 3 LAST\r\nab\n");
	wire_feed(&w, SMTP_TO_CLIENT, "250 2.0.0 Ok: 3 bytes queued as 2B\r\n");
	const struct smtp_record *r = wire_end(&w, &v);
	CHECK_EQ_INT(r->n_txs, 2);
	CHECK_EQ_INT(r->txs[0].size, 7);
	CHECK_EQ_INT(r->txs[0].eod_reply.code, 0);
	CHECK_EQ_INT(r->txs[1].size, 3);
	CHECK_EQ_INT(r->txs[1].eod_reply.code, 250);
	classify_free(&v);
	smtp_session_free(w.s);
}

/* MAIL, RCPT, DATA and text pipelined, the server's three replies to them lost: the 500s
 * after the gap may answer any of them or the text's lines, so the RCPT's code is unknown
 * (smtp_gap_replies_unsure), not a refusal; the EHLO-reply gap of test_gap_text_before_354,
 * acknowledged before the MAIL was sent, marks nothing. */
static void test_gap_pipelined_replies_lost(void)
{
	struct cls_verdict v;
	struct wire w;
	wire_begin(&w);
	wire_feed(&w, SMTP_TO_CLIENT, EHLO_REPLY);
	wire_feed(&w, SMTP_TO_SERVER, "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n");
	wire_feed(&w, SMTP_TO_SERVER, "Subject: x\r\n\r\nHello.\r\n.\r\n");
	gap_to_client(&w, "250 Ok\r\n250 Ok\r\n554 no\r\n");
	wire_feed(&w, SMTP_TO_CLIENT, "500 a\r\n500 b\r\n500 c\r\n500 d\r\n");
	const struct smtp_record *r = wire_end(&w, &v);
	CHECK_EQ_INT(r->n_txs, 1);
	CHECK_EQ_INT(r->txs[0].n_rcpts, 1);
	CHECK_EQ_INT(r->txs[0].rcpts[0].code, 0);
	CHECK(!v.txs[0].refused_known);
	classify_free(&v);
	smtp_session_free(w.s);
}

/* STARTTLS accepted, then the client's first bytes after the 220 lost (its new EHLO): when
 * the server's next bytes start a reply (no TLS record starts with a digit), or, its reply
 * lost too, the client's next bytes are a command line, the session went on in plaintext (a
 * decrypted capture): read on as SMTP, the lost bytes taking the replies they drew, the old
 * extensions no longer known (RFC 3207 4.2; DESIGN.md section 4). */
static void test_gap_plaintext_after_starttls(void)
{
	struct smtp_limits lim;
	smtp_limits_default(&lim);
	for (int reply_lost = 0; reply_lost < 2; reply_lost++) {
		struct smtp_session *s = smtp_session_new(&lim);
		struct cls_verdict v;
		feed(s, SMTP_TO_CLIENT, GREETING, 1);
		feed(s, SMTP_TO_SERVER, "EHLO c\r\n", 2);
		feed(s, SMTP_TO_CLIENT, "250-mx\r\n250 STARTTLS\r\n", 3);
		feed(s, SMTP_TO_SERVER, "STARTTLS\r\n", 4);
		feed(s, SMTP_TO_CLIENT, "220 go ahead\r\n", 5);
		smtp_gap(s, SMTP_TO_SERVER, 8, 6); /* "EHLO c\r\n" */
		if (reply_lost)
			smtp_gap(s, SMTP_TO_CLIENT, 24, 7);
		else
			feed(s, SMTP_TO_CLIENT, "250-mx\r\n250 8BITMIME\r\n", 7);
		feed(s, SMTP_TO_SERVER, "MAIL FROM:<a@x>\r\n", 8);
		feed(s, SMTP_TO_CLIENT, "250 Ok\r\n", 9);
		feed(s, SMTP_TO_SERVER, "RCPT TO:<b@y>\r\n", 10);
		feed(s, SMTP_TO_CLIENT, "250 Ok\r\n", 11);
		feed(s, SMTP_TO_SERVER, "DATA\r\n", 12);
		feed(s, SMTP_TO_CLIENT, "354 go\r\n", 13);
		feed(s, SMTP_TO_SERVER, "Subject: x\r\n\r\nbody\r\n.\r\n", 14);
		feed(s, SMTP_TO_CLIENT, "250 Ok: queued\r\n", 15);
		feed(s, SMTP_TO_SERVER, "QUIT\r\n", 16);
		feed(s, SMTP_TO_CLIENT, "221 Bye\r\n", 17);
		smtp_close(s, SMTP_TO_CLIENT, false, UINT64_MAX, 18);
		smtp_close(s, SMTP_TO_SERVER, false, UINT64_MAX, 19);
		smtp_set_directions(s, true, true);
		smtp_finish(s, SMTP_END_CLOSED, 20);
		const struct smtp_record *r = smtp_get_record(s);
		classify_session(r, &v);
		CHECK(r->starttls_accepted);
		CHECK(r->starttls_plaintext);
		CHECK(r->tls == NULL);
		CHECK(r->extensions_unknown);
		CHECK_EQ_INT(r->n_txs, 1);
		CHECK_EQ_STR(classify_tx_outcome_name(classify_tx(r, &r->txs[0])), "committed");
		CHECK_EQ_STR(classify_close_name(v.close), "quit");
		CHECK_EQ_STR(classify_outcome_name(v.outcome), "committed");
		CHECK_EQ_INT(r->anomalies, 1ULL << SMTP_AN_TCP_GAP);
		smtp_session_free(s);
	}
}

/* A transaction, then its RCPT answered. */
static void wire_mail_rcpt(struct wire *w)
{
	wire_feed(w, SMTP_TO_CLIENT, "250-mx\r\n250 8BITMIME\r\n");
	wire_feed(w, SMTP_TO_SERVER, "MAIL FROM:<a@x>\r\n");
	wire_feed(w, SMTP_TO_CLIENT, "250 2.1.0 Ok\r\n");
	wire_feed(w, SMTP_TO_SERVER, "RCPT TO:<b@y>\r\n");
}

/* A RCPT, DATA, its text and QUIT, each answered (the RCPT's reply lost when rcpt_lost). */
static void wire_rcpt_data_quit(struct wire *w, bool rcpt_lost)
{
	wire_feed(w, SMTP_TO_SERVER, "RCPT TO:<d@y>\r\n");
	if (rcpt_lost)
		gap_to_client(w, "250 2.1.5 Ok\r\n");
	else
		wire_feed(w, SMTP_TO_CLIENT, "250 2.1.5 Ok\r\n");
	wire_feed(w, SMTP_TO_SERVER, "DATA\r\n");
	wire_feed(w, SMTP_TO_CLIENT, "354 go\r\n");
	wire_feed(w, SMTP_TO_SERVER, "Subject: t\r\n\r\nhello\r\n.\r\n");
	wire_feed(w, SMTP_TO_CLIENT, "250 2.0.0 Ok: queued\r\n");
	wire_feed(w, SMTP_TO_SERVER, "QUIT\r\n");
	wire_feed(w, SMTP_TO_CLIENT, "221 2.0.0 Bye\r\n");
}

/* A lost EHLO answered by a multi-line 250 that a server gap cut, begun when the server had
 * that EHLO only; the MAIL after it lost too, or seen. Lost bytes past what the server had
 * when it began a reply to them hold one more command at least (RFC 5321 4.1.1): an RSET or
 * EHLO and a MAIL may be among them, so the transaction the RCPT after them steps is not
 * known (envelope left out, incomplete). The cut reply, a 250 without an enhanced code (RFC
 * 2034 3), may be an EHLO's or a HELO's; 48 lost bytes have room for an EHLO and a STARTTLS
 * too. With the MAIL seen, it opens the second transaction, committed. */
static void test_gap_cut_reply_two_commands(void)
{
	for (int mail_lost = 0; mail_lost < 2; mail_lost++) {
		struct cls_verdict v;
		struct wire w;
		wire_begin(&w);
		wire_mail_rcpt(&w);
		wire_feed(&w, SMTP_TO_CLIENT, "250 2.1.5 Ok\r\n");
		gap_to_server(&w, "EHLO client.example\r\n");
		wire_feed(&w, SMTP_TO_CLIENT, "250-mx\r\n250-PIPELINING\r\n250-SI");
		if (mail_lost)
			gap_to_server(&w, "MAIL FROM:<c@example.org>\r\n");
		gap_to_client(&w, "ZE 1000\r\n250 8BITMIME\r\n");
		if (!mail_lost)
			wire_feed(&w, SMTP_TO_SERVER, "MAIL FROM:<c@example.org>\r\n");
		wire_feed(&w, SMTP_TO_CLIENT, "250 2.1.0 Ok\r\n");
		wire_rcpt_data_quit(&w, false);
		const struct smtp_record *r = wire_end(&w, &v);
		const struct smtp_tx *last = &r->txs[r->n_txs - 1];
		CHECK_EQ_INT(r->n_txs, mail_lost ? 1 : 2);
		CHECK_EQ_INT(last->env_unknown, mail_lost);
		CHECK_EQ_INT(last->mail_from.len, mail_lost ? 0 : 15);
		CHECK_EQ_STR(classify_tx_outcome_name(classify_tx(r, last)),
		             mail_lost ? "incomplete" : "committed");
		CHECK_EQ_STR(classify_tx_outcome_name(classify_tx(r, &r->txs[0])), "incomplete");
		CHECK(r->helo_unknown);
		CHECK_EQ_INT(r->starttls_unknown, true);
		CHECK_EQ_STR(classify_close_name(v.close), "quit");
		smtp_session_free(w.s);
	}
}

/* As test_gap_cut_reply_two_commands with the MAIL seen, and the reply to the RCPT before
 * the lost EHLO lost too: the cut 250 began after that server gap, when the server had the
 * lost bytes, so it may answer them; no enhanced code: an EHLO or HELO may be among them. */
static void test_gap_cut_reply_later_run(void)
{
	struct cls_verdict v;
	struct wire w;
	wire_begin(&w);
	wire_mail_rcpt(&w);
	gap_to_client(&w, "250 2.1.5 Ok\r\n");
	gap_to_server(&w, "EHLO client.example\r\n");
	wire_feed(&w, SMTP_TO_CLIENT, "250-mx\r\n250-PIPELINING\r\n250-SI");
	gap_to_client(&w, "ZE 1000\r\n250 8BITMIME\r\n");
	wire_feed(&w, SMTP_TO_SERVER, "MAIL FROM:<c@example.org>\r\n");
	wire_feed(&w, SMTP_TO_CLIENT, "250 2.1.0 Ok\r\n");
	wire_rcpt_data_quit(&w, false);
	const struct smtp_record *r = wire_end(&w, &v);
	CHECK_EQ_INT(r->n_txs, 2);
	CHECK(r->helo_unknown);
	CHECK_EQ_STR(classify_tx_outcome_name(classify_tx(r, &r->txs[1])), "committed");
	smtp_session_free(w.s);
}

/* An RSET and a MAIL lost, each answered, and the reply to the RCPT after them lost too:
 * the 354 answers the DATA the server had read (only DATA is answered 354, and a client
 * sends nothing after DATA before it, RFC 2920 3.1), so the RCPT's reply was in the gap,
 * and the two lost commands may be an RSET and a MAIL: the one transaction's envelope is
 * left out (env_unknown), its method not inferred, it is incomplete. The same with the
 * RCPT's reply seen (case 0, gap-tx2-rset-mail-lost.dlg), with the MAIL's reply lost too
 * (2: two runs of lost commands), with the DATA lost (3: the 354 is the lost DATA's), or
 * the RCPT and the DATA (4: the lost bytes that end in the DATA took two replies before). */
static void test_gap_354_after_lost_rcpt_reply(void)
{
	for (int c = 0; c < 5; c++) {
		struct cls_verdict v;
		struct wire w;
		wire_begin(&w);
		wire_mail_rcpt(&w);
		wire_feed(&w, SMTP_TO_CLIENT, "250 2.1.5 Ok\r\n");
		gap_to_server(&w, "RSET\r\n");
		wire_feed(&w, SMTP_TO_CLIENT, "250 2.0.0 Ok\r\n");
		gap_to_server(&w, "MAIL FROM:<c@example.org>\r\n");
		if (c == 2)
			gap_to_client(&w, "250 2.1.0 Ok\r\n");
		else
			wire_feed(&w, SMTP_TO_CLIENT, "250 2.1.0 Ok\r\n");
		if (c == 4) /* the RCPT lost too: the 354 is that of the last lost bytes' DATA */
			gap_to_server(&w, "RCPT TO:<d@y>\r\n");
		if (c == 3)
			wire_feed(&w, SMTP_TO_SERVER, "RCPT TO:<d@y>\r\n");
		if (c >= 3) {
			gap_to_client(&w, "250 2.1.5 Ok\r\n");
			gap_to_server(&w, "DATA\r\n");
			wire_feed(&w, SMTP_TO_CLIENT, "354 go\r\n");
			wire_feed(&w, SMTP_TO_SERVER, "Subject: t\r\n\r\nhello\r\n.\r\n");
			wire_feed(&w, SMTP_TO_CLIENT, "250 2.0.0 Ok: queued\r\n");
			wire_feed(&w, SMTP_TO_SERVER, "QUIT\r\n");
			wire_feed(&w, SMTP_TO_CLIENT, "221 2.0.0 Bye\r\n");
		} else {
			wire_rcpt_data_quit(&w, c > 0);
		}
		const struct smtp_record *r = wire_end(&w, &v);
		CHECK_EQ_INT(r->n_txs, 1);
		CHECK(r->txs[0].env_unknown);
		CHECK_EQ_INT(r->txs[0].mail_from.len, 0);
		CHECK_EQ_INT(r->txs[0].inferred & SMTP_INF_TX_METHOD, 0);
		CHECK_EQ_INT(r->txs[0].method, SMTP_METHOD_DATA);
		CHECK_EQ_STR(classify_tx_outcome_name(classify_tx(r, &r->txs[0])), "incomplete");
		CHECK_EQ_STR(classify_close_name(v.close), "quit");
		smtp_session_free(w.s);
	}
}

/* The EHLO's reply lost, then a HELO lost, and the MAIL after it lost too or seen: the 250
 * after the server's gap acknowledges the HELO (not the MAIL), and the client sent the HELO
 * only once it had the EHLO's reply (RFC 2920 3.1): that reply was in the gap even when the
 * run of lost bytes goes on past the ACK, and the 250, with no enhanced code, answers the
 * lost bytes: an EHLO or HELO may be among them (helo_command unknown). */
static void test_gap_waited_reply_run_past_ack(void)
{
	for (int mail_lost = 0; mail_lost < 2; mail_lost++) {
		struct cls_verdict v;
		struct wire w;
		wire_begin(&w);
		gap_to_client(&w, EHLO_REPLY);
		gap_to_server(&w, "HELO c\r\n");
		uint64_t helo_end = w.sent[SMTP_TO_SERVER];
		if (mail_lost)
			gap_to_server(&w, "MAIL FROM:<a@x>\r\n");
		smtp_feed(w.s, SMTP_TO_CLIENT, S("250 mx\r\n"), helo_end, ++w.ts);
		w.sent[SMTP_TO_CLIENT] += strlen("250 mx\r\n");
		if (!mail_lost)
			wire_feed(&w, SMTP_TO_SERVER, "MAIL FROM:<a@x>\r\n");
		wire_feed(&w, SMTP_TO_CLIENT, "250 2.1.0 Ok\r\n");
		wire_rcpt_data_quit(&w, false);
		const struct smtp_record *r = wire_end(&w, &v);
		CHECK(r->helo_unknown);
		CHECK(r->extensions_unknown);
		CHECK_EQ_INT(r->n_txs, 1);
		CHECK_EQ_INT(r->txs[0].mail_from.len, mail_lost ? 0 : 5);
		CHECK_EQ_STR(classify_tx_outcome_name(classify_tx(r, &r->txs[0])), "committed");
		smtp_session_free(w.s);
	}
}

/* Lost commands whose replies lost server bytes may hold (server bytes lost while they were
 * queued): an EHLO or HELO may be among them, whichever reply comes next, and an EHLO seen
 * before them, its reply lost or seen, is not the last one sent for certain (helo_command
 * unknown). Case 0: an EHLO and a MAIL lost after the RCPT's reply, their replies in the
 * server's gap, then the MAIL's 250 2.1.0 (gap-tail3-ehlo-mail-lost.dlg with the cut EHLO
 * reply lost whole); 1: the EHLO's reply lost, then a HELO and a MAIL lost, both replies in
 * the same gap (gap-tail3-ehlo-reply-helo-mail-lost.dlg with the HELO's reply lost too);
 * 2: a lost MAIL whose one reply was seen, no server bytes lost: the EHLO seen is the last
 * sent (helo_command known). */
static void test_gap_run_replies_lost_helo(void)
{
	for (int c = 0; c < 3; c++) {
		struct cls_verdict v;
		struct wire w;
		wire_begin(&w);
		if (c == 0) {
			wire_mail_rcpt(&w);
			wire_feed(&w, SMTP_TO_CLIENT, "250 2.1.5 Ok\r\n");
			gap_to_server(&w, "EHLO client.example\r\nMAIL FROM:<c@example.org>\r\n");
			gap_to_client(&w, "250-mx\r\n250-PIPELINING\r\n250 SIZE 1000\r\n");
		} else if (c == 1) {
			gap_to_server(&w, "HELO c\r\nMAIL FROM:<a@x>\r\n");
			gap_to_client(&w, EHLO_REPLY "250 mx\r\n");
		} else {
			wire_feed(&w, SMTP_TO_CLIENT, EHLO_REPLY);
			gap_to_server(&w, "MAIL FROM:<a@x>\r\n");
		}
		wire_feed(&w, SMTP_TO_CLIENT, "250 2.1.0 Ok\r\n");
		wire_rcpt_data_quit(&w, false);
		const struct smtp_record *r = wire_end(&w, &v);
		CHECK_EQ_INT(r->helo_unknown, c < 2);
		CHECK_EQ_INT(r->ehlo, true);
		CHECK_EQ_STR(classify_close_name(v.close), "quit");
		smtp_session_free(w.s);
	}
}

/* An RSET and a MAIL lost, each answered, then the RCPT and DATA lost with their replies (the
 * 354 too): the text after them reads as their tail, and the 250 to its end goes to them.
 * Lost commands that took two replies while the transaction was open may hold an RSET and a
 * MAIL (case 0): its envelope is left out (env_unknown), the session's last sender too; it is
 * incomplete. With one lost NOOP answered instead (case 1), the sender stays. */
static void test_gap_two_replies_no_rcpt_after(void)
{
	for (int c = 0; c < 2; c++) {
		struct cls_verdict v;
		struct wire w;
		wire_begin(&w);
		wire_mail_rcpt(&w);
		wire_feed(&w, SMTP_TO_CLIENT, "250 2.1.5 Ok\r\n");
		gap_to_server(&w, c ? "NOOP\r\n" : "RSET\r\n");
		wire_feed(&w, SMTP_TO_CLIENT, "250 2.0.0 Ok\r\n");
		if (c == 0) {
			gap_to_server(&w, "MAIL FROM:<c@example.org>\r\n");
			wire_feed(&w, SMTP_TO_CLIENT, "250 2.1.0 Ok\r\n");
			gap_to_server(&w, "RCPT TO:<d@y>\r\nDATA\r\n");
			gap_to_client(&w, "250 2.1.5 Ok\r\n354 go\r\n");
			wire_feed(&w, SMTP_TO_SERVER, "Subject: t\r\n\r\nhello\r\n.\r\n");
			wire_feed(&w, SMTP_TO_CLIENT, "250 2.0.0 Ok: queued\r\n");
		}
		wire_feed(&w, SMTP_TO_SERVER, "QUIT\r\n");
		wire_feed(&w, SMTP_TO_CLIENT, "221 2.0.0 Bye\r\n");
		const struct smtp_record *r = wire_end(&w, &v);
		CHECK_EQ_INT(r->n_txs, 1);
		CHECK_EQ_INT(r->txs[0].env_unknown, c == 0);
		CHECK_EQ_INT(r->txs[0].mail_from.len, c == 0 ? 0 : 5);
		CHECK_EQ_STR(classify_tx_outcome_name(classify_tx(r, &r->txs[0])), "incomplete");
		CHECK_EQ_STR(classify_close_name(v.close), "quit");
		smtp_session_free(w.s);
	}
}

/* VRFY <LF>x: the bytes after a command line ended by a bare LF are commands only if the
 * server answers again. A server that refuses bare LF answers once and closes: one command
 * read, x no command (no unknown_command, no pipelining_unadvertised). One that takes LF as
 * a line end answers both: x was pipelined, and unknown. */
static void test_dialogue_vrfy_bare_lf(void)
{
	const struct step refused[] = {{'S', GREETING},
	                               {'C', "HELO c\r\n"},
	                               {'S', "250 mx.example\r\n"},
	                               {'C', "VRFY \nx\r\n"},
	                               {'S', "550 5.5.2 Error: bare <LF> received\r\n"},
	                               {'s', ""},
	                               {'c', ""},
	                               {0, NULL}};
	const struct step answered[] = {{'S', GREETING},
	                                {'C', "HELO c\r\n"},
	                                {'S', "250 mx.example\r\n"},
	                                {'C', "VRFY \nx\r\n"},
	                                {'S', "501 5.5.4 Syntax: VRFY address\r\n"},
	                                {'S', "500 5.5.2 Error: command not recognized\r\n"},
	                                {'C', "QUIT\r\n"},
	                                {'S', "221 2.0.0 Bye\r\n"},
	                                {'s', ""},
	                                {'c', ""},
	                                {0, NULL}};
	/* 0x20: bare_lf alone */
	check_dialogue(refused, "server_closed server_closed unknown nopipe/20");
	struct smtp_session *s = play(refused, 0);
	CHECK_EQ_INT(smtp_get_record(s)->commands, 2);
	smtp_session_free(s);
	/* 0x222: pipelining_unadvertised, bare_lf, unknown_command */
	check_dialogue(answered, "no_mail quit rfc5321 nopipe/222");
	s = play(answered, 0);
	CHECK_EQ_INT(smtp_get_record(s)->commands, 4);
	smtp_session_free(s);
}

static void test_dialogue_eod_unacknowledged(void)
{
	const struct step steps[] = {{'S', GREETING},
	                             {'C', "EHLO c\r\n"},
	                             {'S', EHLO_REPLY},
	                             {'C', "MAIL FROM:<a@x>\r\n"},
	                             {'S', "250 Ok\r\n"},
	                             {'C', "RCPT TO:<b@y>\r\n"},
	                             {'S', "250 Ok\r\n"},
	                             {'C', "DATA\r\n"},
	                             {'S', "354 go\r\n"},
	                             {'C', "hi\r\n.\r\n"},
	                             {'r', ""},
	                             {'S', "250 late\r\n"},
	                             {0, NULL}};
	check_dialogue(steps, "eod_unacknowledged client_closed_without_quit unknown pipe/0 "
	                      "tx0=eod_unacknowledged/4");
	struct smtp_session *s = play(steps, 0);
	CHECK(smtp_get_record(s)->txs[0].eod_reply_after_close);
	CHECK_EQ_INT(smtp_get_record(s)->txs[0].eod_reply.code, 250);
	smtp_session_free(s);
}

static void test_dialogue_auth_never_kept(void)
{
	const struct step steps[] = {{'S', GREETING},
	                             {'C', "EHLO c\r\n"},
	                             {'S', EHLO_REPLY},
	                             {'C', "AUTH LOGIN\r\n"},
	                             {'S', "334 VXNlcm5hbWU6\r\n"},
	                             {'C', "c2VjcmV0dXNlcg==\r\n"},
	                             {'S', "334 UGFzc3dvcmQ6\r\n"},
	                             {'C', "c2VjcmV0cGFzcw==\r\n"},
	                             {'S', "535 5.7.8 no\r\n"},
	                             {'C', "QUIT\r\n"},
	                             {'S', "221 Bye\r\n"},
	                             {'s', ""},
	                             {'c', ""},
	                             {0, NULL}};
	check_dialogue(steps, "no_mail quit rfc5321 pipe/800");
	struct smtp_session *s = play(steps, 0);
	const struct smtp_record *r = smtp_get_record(s);
	CHECK_EQ_STR(r->auth_mechanism.data, "LOGIN");
	CHECK_EQ_INT(r->auth_result, 535);
	CHECK_EQ_INT(r->commands, 3); /* EHLO, AUTH, QUIT: the answers to 334 are not commands */
	smtp_session_free(s);
}

static void test_dialogue_client_only(void)
{
	/* the server's direction is missing: DATA's text is read as accepted, nothing more */
	const struct step steps[] = {{'C', "EHLO c\r\n"},
	                             {'C', "MAIL FROM:<a@x>\r\n"},
	                             {'C', "RCPT TO:<b@y>\r\n"},
	                             {'C', "DATA\r\n"},
	                             {'C', "hi\r\n.\r\n"},
	                             {'C', "QUIT\r\n"},
	                             {'c', ""},
	                             {0, NULL}};
	check_dialogue(steps, "incomplete quit rfc5321 nopipe/0 tx0=incomplete/4");
}

static void test_dialogue_server_only(void)
{
	const struct step steps[] = {
	    {'S', GREETING}, {'S', EHLO_REPLY}, {'S', "250 Ok\r\n"}, {'s', ""}, {0, NULL}};
	check_dialogue(steps, "incomplete unknown unknown nopipe/0");
}

int main(void)
{
	RUN_TEST(test_parse_command_verbs);
	RUN_TEST(test_tap_no_check_fails);
	RUN_TEST(test_lists_named_once);
	RUN_TEST(test_verb_table_fit);
	RUN_TEST(test_mode_transitions);
	RUN_TEST(test_frame_scan);
	RUN_TEST(test_parse_path);
	RUN_TEST(test_parse_bdat);
	RUN_TEST(test_parse_reply_line);
	RUN_TEST(test_parse_enhanced);
	RUN_TEST(test_dialogue_committed);
	RUN_TEST(test_pool_reuse);
	RUN_TEST(test_reply_text_reuse);
	RUN_TEST(test_text_block);
	RUN_TEST(test_dialogue_rfc821_drop);
	RUN_TEST(test_dialogue_abandoned);
	RUN_TEST(test_dialogue_rejected_data_then_text);
	RUN_TEST(test_dialogue_eod_unacknowledged);
	RUN_TEST(test_dialogue_vrfy_bare_lf);
	RUN_TEST(test_gap_cut_reply);
	RUN_TEST(test_gap_221_not_quit);
	RUN_TEST(test_gap_pipelined_354_lost);
	RUN_TEST(test_gap_text_before_354);
	RUN_TEST(test_gap_lost_data_line);
	RUN_TEST(test_gap_text_lost_before_lookalike);
	RUN_TEST(test_gap_lookalike_kind_lost);
	RUN_TEST(test_gap_lost_after_lookalike);
	RUN_TEST(test_gap_plaintext_after_starttls);
	RUN_TEST(test_gap_cut_reply_two_commands);
	RUN_TEST(test_gap_cut_reply_later_run);
	RUN_TEST(test_gap_354_after_lost_rcpt_reply);
	RUN_TEST(test_gap_waited_reply_run_past_ack);
	RUN_TEST(test_gap_rcpt_and_data_reply_lost);
	RUN_TEST(test_gap_data_reply_and_text_lost);
	RUN_TEST(test_gap_354_not_from_later_reply);
	RUN_TEST(test_gap_held_text_gap_unanswered);
	RUN_TEST(test_gap_mail_reply_lost_recipients);
	RUN_TEST(test_gap_eod_reply_unsure);
	RUN_TEST(test_gap_rcpt_after_eod_reply_lost);
	RUN_TEST(test_gap_bdat_after_eod_reply_lost);
	RUN_TEST(test_gap_pipelined_replies_lost);
	RUN_TEST(test_gap_run_replies_lost_helo);
	RUN_TEST(test_gap_two_replies_no_rcpt_after);
	RUN_TEST(test_dialogue_auth_never_kept);
	RUN_TEST(test_dialogue_client_only);
	RUN_TEST(test_dialogue_server_only);
	TAP_EXIT();
}
