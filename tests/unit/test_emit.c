/* test_emit: the session record (JSON Lines, key order, absent fields), UTF-8 escaping
 * (RFC 3629), SHA-1 (FIPS 180-4 examples) and Community ID v1 against its baselines. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emit.h"
#include <nettle/sha1.h>
#include "unit/tap.h"

enum { EMIT_QUEUE_DEPTH_FOR_TEST = 64 }; /* emit_int.h's EMIT_QUEUE_DEPTH */

#define BYTES(s) ((struct smtp_bytes){(char *)(s), sizeof(s) - 1, false}) /* literal, NULs kept */

enum { T0 = 1795874831 }; /* 2026-11-28T14:07:11Z */

static const uint64_t first_us = (uint64_t)T0 * 1000000 + 123456;

/* ---- helpers ---- */

static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	long n;

	*len = 0;
	if (!fp)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0) {
		buf = calloc(1, (size_t)n + 1);
		if (buf)
			*len = fread(buf, 1, (size_t)n, fp);
	}
	fclose(fp);
	return buf;
}

/* Writes one record through a file and returns its line without the "\n" (caller frees),
 * after checking that the file holds exactly one line that parses as JSON. */
static char *emit_line(const struct flow_info *info, const struct smtp_record *rec,
                       const struct cls_verdict *v)
{
	char path[] = "/tmp/test_emit_XXXXXX", err[256] = "";
	int fd = mkstemp(path);
	struct emit *e;
	size_t len = 0;
	char *buf = NULL;

	CHECK(fd >= 0);
	if (fd < 0)
		return NULL;
	close(fd);
	e = emit_open(path, err, sizeof(err));
	CHECK(e != NULL);
	if (e) {
		CHECK_EQ_INT(emit_session(e, info, rec, v), 0);
		CHECK_EQ_INT(emit_close(e), 0);
		buf = slurp(path, &len);
	}
	unlink(path);
	CHECK(buf && len > 0 && buf[len - 1] == '\n' && memchr(buf, '\n', len) == buf + len - 1);
	if (buf && len > 0 && buf[len - 1] == '\n')
		buf[len - 1] = '\0';
	return buf;
}

static json_t *parse(const char *line)
{
	json_error_t jerr;
	json_t *j = line ? json_loads(line, JSON_ALLOW_NUL, &jerr) : NULL;

	if (line && !j)
		fprintf(stderr, "json_loads: %s at %d: %s\n", jerr.text, jerr.position, line);
	CHECK(j != NULL);
	return j;
}

/* The JSON text of a member, compact, to compare with an expected string. */
static char *member_text(json_t *o, const char *path1, const char *path2)
{
	json_t *m = json_object_get(o, path1);

	if (m && path2)
		m = json_object_get(m, path2);
	return m ? json_dumps(m, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER |
	                             JSON_REAL_PRECISION(15))
	         : NULL;
}

static void check_member(json_t *o, const char *p1, const char *p2, const char *expect)
{
	char *s = member_text(o, p1, p2);

	CHECK_EQ_STR(s, expect);
	free(s);
}

static void addr4(struct decode_addr *a, const char *text)
{
	memset(a, 0, sizeof(*a));
	a->family = 4;
	CHECK_EQ_INT(inet_pton(AF_INET, text, a->bytes), 1);
}

static void addr6(struct decode_addr *a, const char *text)
{
	memset(a, 0, sizeof(*a));
	a->family = 6;
	CHECK_EQ_INT(inet_pton(AF_INET6, text, a->bytes), 1);
}

/* ---- fixtures: one committed session, the example of DESIGN.md section 6 ---- */

static struct smtp_bytes ext_list[] = {BYTES("PIPELINING"), BYTES("SIZE 10240000"),
                                       BYTES("CHUNKING")};
static struct smtp_rcpt rcpt_one[] = {{BYTES("<b@example.net>"), 250}};

static void base_info(struct flow_info *info)
{
	memset(info, 0, sizeof(*info));
	info->flow_id = 123;
	addr4(&info->client, "192.0.2.10");
	addr4(&info->server, "198.51.100.5");
	info->client_port = 40000;
	info->server_port = 25;
	info->first_ts_us = first_us;
	info->last_ts_us = first_us + 410000;
	info->pkts[SMTP_TO_SERVER] = 9;
	info->pkts[SMTP_TO_CLIENT] = 8;
	info->bytes[SMTP_TO_SERVER] = 600;
	info->bytes[SMTP_TO_CLIENT] = 400;
	info->pcap_filename = "x.pcap";
}

static void base_tx(struct smtp_tx *tx)
{
	memset(tx, 0, sizeof(*tx));
	tx->mail_from = BYTES("<a@example.org>");
	tx->mail_code = 250;
	tx->rcpts = rcpt_one;
	tx->n_rcpts = tx->cap_rcpts = 1;
	tx->method = SMTP_METHOD_DATA;
	tx->size = 1234;
	tx->end = SMTP_TX_COMMITTED;
	tx->phase = SMTP_PH_DONE;
	tx->eod_ts_us = first_us + 300000;
	tx->eod_reply.code = 250;
	strcpy(tx->eod_reply.enhanced, "2.0.0");
	tx->eod_reply.text = BYTES("Ok: queued as 4F3");
	tx->eod_reply.ts_us = tx->eod_ts_us + 12300;
}

static void base_record(struct smtp_record *rec, struct smtp_tx *tx)
{
	memset(rec, 0, sizeof(*rec));
	rec->greeting_seen = true;
	rec->greeting.code = 220;
	rec->greeting.text = BYTES("mx.example ESMTP");
	rec->greeting.ts_us = first_us;
	rec->helo = BYTES("client.example");
	rec->ehlo = true;
	rec->extensions = ext_list;
	rec->n_extensions = 3;
	rec->pipelining_advertised = true;
	base_tx(tx);
	rec->txs = tx;
	rec->n_txs = rec->cap_txs = 1;
	rec->commands = 6;
	rec->replies = 7;
	rec->seen_client_bytes = rec->seen_server_bytes = true;
	rec->quit_sent = true;
	rec->closed_first = SMTP_SIDE_CLIENT;
	rec->how[SMTP_TO_SERVER] = SMTP_HOW_FIN;
	rec->how[SMTP_TO_CLIENT] = SMTP_HOW_FIN;
	rec->end_reason = SMTP_END_CLOSED;
}

static void base_verdict(struct cls_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->outcome = CLS_OUT_COMMITTED;
	v->close = CLS_CLOSE_QUIT;
	v->close_by = SMTP_SIDE_CLIENT;
	v->close_how = SMTP_HOW_FIN;
	v->client_style = CLS_STYLE_RFC5321;
	v->rfc5321_delivered = 1;
	v->strict_quit_delivered = 1;
	v->rfc5321_known = v->strict_known = v->txs_known = true;
	v->n_txs = 1;
	v->txs = v->inline_txs;
	v->txs[0] = (struct cls_tx_verdict){CLS_TX_COMMITTED, true, true, true};
}

/* ---- records ---- */

static void record_committed(void)
{
	static const char expect[] =
	    "{\"timestamp\":\"2026-11-28T14:07:11.123456+0000\",\"flow_id\":123,"
	    "\"event_type\":\"smtp_session\",\"src_ip\":\"192.0.2.10\",\"src_port\":40000,"
	    "\"dest_ip\":\"198.51.100.5\",\"dest_port\":25,\"proto\":\"TCP\","
	    "\"app_proto\":\"smtp\",\"community_id\":\"1:hnt6BMqOR3CIDp73+gdXRtkeLKk=\","
	    "\"pcap_filename\":\"x.pcap\",\"smtp\":{\"helo\":\"client.example\","
	    "\"mail_from\":\"<a@example.org>\"},"
	    "\"smtp_session\":{\"outcome\":\"committed\",\"close\":\"quit\","
	    "\"close_by\":\"client\",\"close_how\":\"fin\",\"client_style\":\"rfc5321\","
	    "\"duration\":0.41,\"detected\":\"port\",\"greeting\":{\"code\":220,\"text\":\"mx."
	    "example ESMTP\"},"
	    "\"helo_command\":\"EHLO\","
	    "\"extensions\":[\"PIPELINING\",\"SIZE 10240000\",\"CHUNKING\"],"
	    "\"starttls\":false,\"transactions\":[{\"tx_id\":0,"
	    "\"mail_from\":\"<a@example.org>\",\"rcpt_to\":[\"<b@example.net>\"],"
	    "\"method\":\"data\",\"size\":1234,\"outcome\":\"committed\","
	    "\"reply\":{\"code\":250,\"enhanced\":\"2.0.0\",\"text\":\"Ok: queued as 4F3\"},"
	    "\"eod_reply_ms\":12.3}],"
	    "\"policy\":{\"rfc5321_delivered\":1,\"strict_quit_delivered\":1},"
	    "\"anomalies\":[],\"commands\":6,\"replies\":7,\"pkts_toserver\":9,"
	    "\"pkts_toclient\":8,\"bytes_toserver\":600,\"bytes_toclient\":400}}";
	struct flow_info info;
	struct smtp_record rec;
	struct smtp_tx tx;
	struct cls_verdict v;
	char *line;

	base_info(&info);
	base_record(&rec, &tx);
	base_verdict(&v);
	line = emit_line(&info, &rec, &v);
	CHECK_EQ_STR(line, expect);
	json_decref(parse(line));
	free(line);
}

/* Non-UTF-8 bytes, NUL, a control character and a backslash in every kind of wire text. */
static void record_hostile_bytes(void)
{
	static struct smtp_bytes ext[] = {BYTES("X\x80Y"), BYTES("8BITMIME")};
	static struct smtp_rcpt rcpt[] = {{BYTES("<\xf0\x9f\x98\x80@x>"), 250}};
	static const char expect_session_head[] =
	    "{\"outcome\":\"committed\",\"close\":\"quit\",\"close_by\":\"client\","
	    "\"close_how\":\"fin\",\"client_style\":\"rfc5321\",\"duration\":0.41,"
	    "\"detected\":\"port\","
	    "\"greeting\":{\"code\":220,\"text\":\"mx \\\\xed\\\\xa0\\\\x80 \\u0001\"},"
	    "\"helo_command\":\"EHLO\",\"extensions\":[\"X\\\\x80Y\",\"8BITMIME\"],"
	    "\"starttls\":false,\"transactions\":[{\"tx_id\":0,"
	    "\"mail_from\":\"<\\\\xe0\\\\x80\\\\x80@x>\","
	    "\"rcpt_to\":[\"<\xf0\x9f\x98\x80@x>\"],\"method\":\"data\",\"size\":1234,"
	    "\"outcome\":\"committed\",\"reply\":{\"code\":250,\"enhanced\":\"2.0.0\","
	    "\"text\":\"ok\\u0000\\\\xf4\\\\x90\\\\x80\\\\x80\"},\"eod_reply_ms\":12.3}],";
	static const char expect_smtp[] = "{\"helo\":\"ex\xc3\xa9\\\\xff\\u0000a\\\\x5cb\","
	                                  "\"mail_from\":\"<\\\\xe0\\\\x80\\\\x80@x>\"}";
	struct flow_info info;
	struct smtp_record rec;
	struct smtp_tx tx;
	struct cls_verdict v;
	char *line, *s;
	json_t *j;

	base_info(&info);
	base_record(&rec, &tx);
	base_verdict(&v);
	rec.helo = BYTES("ex\xc3\xa9\xff\0a\\b");
	rec.greeting.text = BYTES("mx \xed\xa0\x80 \x01");
	rec.extensions = ext;
	rec.n_extensions = 2;
	tx.mail_from = BYTES("<\xe0\x80\x80@x>");
	tx.rcpts = rcpt;
	tx.eod_reply.text = BYTES("ok\0\xf4\x90\x80\x80");
	line = emit_line(&info, &rec, &v);
	j = parse(line);
	check_member(j, "smtp", NULL, expect_smtp);
	s = member_text(j, "smtp_session", NULL);
	CHECK(s && strncmp(s, expect_session_head, strlen(expect_session_head)) == 0);
	if (s && strncmp(s, expect_session_head, strlen(expect_session_head)) != 0)
		fprintf(stderr, "got:    %s\nexpect: %s...\n", s, expect_session_head);
	free(s);
	/* the decoded helo: 15 bytes with the NUL */
	s = line ? strstr(line, "\"smtp\":{\"helo\":\"ex\xc3\xa9\\\\xff\\u0000a\\\\x5cb\"") : NULL;
	CHECK(s != NULL);
	CHECK_EQ_INT(json_string_length(json_object_get(json_object_get(j, "smtp"), "helo")), 15);
	json_decref(j);
	free(line);
}

static void record_refused_recipient(void)
{
	static struct smtp_rcpt rcpt[] = {{BYTES("<b@example.net>"), 250},
	                                  {BYTES("<c@example.net>"), 550},
	                                  {BYTES("<d@example.net>"), 0},
	                                  {BYTES("<e@example.net>"), 451}};
	struct flow_info info;
	struct smtp_record rec;
	struct smtp_tx tx;
	struct cls_verdict v;
	char *line;
	json_t *j, *t;

	base_info(&info);
	base_record(&rec, &tx);
	base_verdict(&v);
	tx.rcpts = rcpt;
	tx.n_rcpts = tx.cap_rcpts = 4;
	line = emit_line(&info, &rec, &v);
	j = parse(line);
	t = json_array_get(json_object_get(json_object_get(j, "smtp_session"), "transactions"), 0);
	check_member(t, "rcpt_to", NULL,
	             "[\"<b@example.net>\",\"<c@example.net>\",\"<d@example.net>\","
	             "\"<e@example.net>\"]");
	check_member(t, "rcpt_refused", NULL,
	             "[{\"to\":\"<c@example.net>\",\"code\":550},"
	             "{\"to\":\"<e@example.net>\",\"code\":451}]");
	/* recipients written once: in the transaction, not again in smtp */
	CHECK(json_object_get(json_object_get(j, "smtp"), "rcpt_to") == NULL);
	CHECK(line && strstr(line, "\"rcpt_to\":[\"<b@example.net>\",\"<c@example.net>\","
	                           "\"<d@example.net>\",\"<e@example.net>\"],\"rcpt_refused\":"));
	json_decref(j);
	free(line);
}

/* Picked up mid-stream: no greeting, no input name, a gap, anomalies. */
static void record_no_greeting(void)
{
	struct flow_info info;
	struct smtp_record rec;
	struct smtp_tx tx;
	struct cls_verdict v;
	json_t *j, *s, *t;
	char *line;

	base_info(&info);
	info.pcap_filename = NULL;
	base_record(&rec, &tx);
	base_verdict(&v);
	rec.greeting_seen = false;
	rec.midstream = true;
	rec.anomalies = 1u << SMTP_AN_MIDSTREAM | 1u << SMTP_AN_EARLY_TALKER;
	rec.anomalies |= 1u << SMTP_AN_TCP_GAP;
	rec.gap_bytes[SMTP_TO_CLIENT] = 1448;
	tx.anomalies = 1u << SMTP_AN_BARE_LF | 1u << SMTP_AN_DATA_BEFORE_354;
	line = emit_line(&info, &rec, &v);
	j = parse(line);
	s = json_object_get(j, "smtp_session");
	t = json_array_get(json_object_get(s, "transactions"), 0);
	CHECK(json_object_get(j, "pcap_filename") == NULL);
	CHECK(json_object_get(s, "greeting") == NULL);
	check_member(s, "anomalies", NULL, "[\"early_talker\",\"midstream\",\"tcp_gap\"]");
	check_member(s, "gap_bytes", NULL, "{\"toserver\":0,\"toclient\":1448}");
	check_member(t, "anomalies", NULL, "[\"data_before_354\",\"bare_lf\"]");
	CHECK(line && strstr(line, "\"anomalies\":[\"early_talker\",\"midstream\",\"tcp_gap\"],"
	                           "\"gap_bytes\":{\"toserver\":0,\"toclient\":1448},"
	                           "\"commands\":6,"));
	CHECK(line && strstr(line, "\"community_id\":\"1:hnt6BMqOR3CIDp73+gdXRtkeLKk=\","
	                           "\"smtp\":{"));
	json_decref(j);
	free(line);
}

/* The byte counters count what was sent: a lost packet's bytes (a gap no snap cut accounts
 * for) are in them; a snap length's cut, already counted by its packet, is not counted twice. */
static void record_bytes_sent(void)
{
	struct flow_info info;
	struct smtp_record rec;
	struct smtp_tx tx;
	struct cls_verdict v;
	json_t *j, *s;
	char *line;

	base_info(&info);
	base_record(&rec, &tx);
	base_verdict(&v);
	info.cut[SMTP_TO_SERVER] = 50;            /* counted in bytes[] by its packet */
	rec.gap_bytes[SMTP_TO_SERVER] = 50 + 127; /* the cut, and one lost packet of 127 */
	rec.gap_bytes[SMTP_TO_CLIENT] = 0;
	info.cut[SMTP_TO_CLIENT] = 20; /* a cut a later copy filled: no gap */
	line = emit_line(&info, &rec, &v);
	j = parse(line);
	s = json_object_get(j, "smtp_session");
	check_member(s, "bytes_toserver", NULL, "727");
	check_member(s, "bytes_toclient", NULL, "400");
	json_decref(j);
	free(line);
}

/* A policy count that depends on an incomplete transaction or an unknown close is left out. */
static void record_policy_unknown(void)
{
	struct flow_info info;
	struct smtp_record rec;
	struct smtp_tx tx;
	struct cls_verdict v;
	json_t *j;
	char *line;

	base_info(&info);
	base_record(&rec, &tx);
	base_verdict(&v);
	v.rfc5321_known = false;
	line = emit_line(&info, &rec, &v);
	j = parse(line);
	check_member(json_object_get(j, "smtp_session"), "policy", NULL,
	             "{\"strict_quit_delivered\":1}");
	json_decref(j);
	free(line);
	v.strict_known = false;
	line = emit_line(&info, &rec, &v);
	j = parse(line);
	check_member(json_object_get(j, "smtp_session"), "policy", NULL, "{}");
	json_decref(j);
	free(line);
}

static void record_ipv6(void)
{
	struct flow_info info;
	struct smtp_record rec;
	struct smtp_tx tx;
	struct cls_verdict v;
	char *line;
	json_t *j;

	base_info(&info);
	addr6(&info.client, "2001:db8::10");
	addr6(&info.server, "2001:db8::25");
	info.client_port = 50000;
	info.server_port = 587;
	base_record(&rec, &tx);
	base_verdict(&v);
	line = emit_line(&info, &rec, &v);
	j = parse(line);
	CHECK(line && strstr(line, "\"src_ip\":\"2001:db8::10\",\"src_port\":50000,"
	                           "\"dest_ip\":\"2001:db8::25\",\"dest_port\":587,"));
	check_member(j, "community_id", NULL, "\"1:iRBmxKgB5swfPmKkDMPP4MElNIc=\"");
	json_decref(j);
	free(line);
}

/* AUTH: the mechanism and the result, nothing else. */
static void record_auth(void)
{
	struct flow_info info;
	struct smtp_record rec;
	struct smtp_tx tx;
	struct cls_verdict v;
	json_t *j, *s;
	char *line;

	base_info(&info);
	base_record(&rec, &tx);
	base_verdict(&v);
	rec.auth_mechanism = BYTES("PLAIN");
	rec.auth_result = 535;
	rec.auth_attempts = 5;
	rec.auth_failures = 5;
	rec.anomalies = 1u << SMTP_AN_AUTH_ATTEMPT;
	line = emit_line(&info, &rec, &v);
	j = parse(line);
	s = json_object_get(j, "smtp_session");
	check_member(s, "auth", NULL,
	             "{\"mechanism\":\"PLAIN\",\"result\":535,\"attempts\":5,\"failures\":5}");
	check_member(s, "anomalies", NULL, "[\"auth_attempt\"]");
	CHECK(line && strstr(line, "\"starttls\":false,\"auth\":{\"mechanism\":\"PLAIN\","
	                           "\"result\":535,\"attempts\":5,\"failures\":5},"
	                           "\"transactions\":["));
	rec.auth_result = 0;
	free(line);
	json_decref(j);
	line = emit_line(&info, &rec, &v);
	CHECK(line && strstr(line, "\"auth\":{\"mechanism\":\"PLAIN\",\"attempts\":5,"
	                           "\"failures\":5},"));
	free(line);
}

/* Nothing but a greeting and QUIT: no "smtp", no HELO, no extensions, no transactions. */
static void record_minimal(void)
{
	static const char expect_session[] =
	    "\"smtp_session\":{\"outcome\":\"no_mail\",\"close\":\"quit\","
	    "\"close_by\":\"client\",\"close_how\":\"fin\",\"client_style\":\"rfc5321\","
	    "\"duration\":0.0,\"detected\":\"port\",\"greeting\":{\"code\":554,\"enhanced\":\"5.7."
	    "1\","
	    "\"text\":\"go away\"},\"starttls\":true,\"transactions\":[],"
	    "\"policy\":{\"rfc5321_delivered\":0,\"strict_quit_delivered\":0},"
	    "\"anomalies\":[],\"commands\":1,\"replies\":2,\"pkts_toserver\":9,"
	    "\"pkts_toclient\":8,\"bytes_toserver\":600,\"bytes_toclient\":400}}";
	struct flow_info info;
	struct smtp_record rec;
	struct smtp_tx tx;
	struct cls_verdict v;
	char *line;

	base_info(&info);
	info.last_ts_us = info.first_ts_us;
	base_record(&rec, &tx);
	base_verdict(&v);
	memset(&rec.helo, 0, sizeof(rec.helo));
	rec.ehlo = false;
	rec.n_extensions = 0;
	rec.n_txs = 0;
	rec.starttls_accepted = true;
	rec.greeting.code = 554;
	strcpy(rec.greeting.enhanced, "5.7.1");
	rec.greeting.text = BYTES("go away");
	rec.commands = 1;
	rec.replies = 2;
	v.outcome = CLS_OUT_NO_MAIL;
	v.rfc5321_delivered = v.strict_quit_delivered = 0;
	line = emit_line(&info, &rec, &v);
	CHECK(line && strstr(line, "\"pcap_filename\":\"x.pcap\",\"smtp_session\":{"));
	CHECK(line && strstr(line, expect_session));
	json_decref(parse(line));
	free(line);
}

/* A rejected BDAT transaction with parameters and a reply after the client's close. */
static void record_rejected(void)
{
	static const char expect_tx[] =
	    "{\"tx_id\":7,\"mail_from\":\"<>\",\"mail_params\":\"SIZE=100 BODY=8BITMIME\","
	    "\"rcpt_to\":[\"<b@example.net>\"],\"method\":\"bdat\",\"size\":100,"
	    "\"outcome\":\"rejected\",\"rejected_at\":\"eod\","
	    "\"reply\":{\"code\":554,\"text\":\"no\"},\"reply_after_close\":true,"
	    "\"eod_reply_ms\":0.001,\"anomalies\":[\"bdat\"]}";
	struct flow_info info;
	struct smtp_record rec;
	struct smtp_tx tx;
	struct cls_verdict v;
	char *line;
	json_t *j;

	base_info(&info);
	base_record(&rec, &tx);
	base_verdict(&v);
	tx.id = 7;
	tx.mail_from = BYTES("<>");
	tx.mail_params = BYTES("SIZE=100 BODY=8BITMIME");
	tx.method = SMTP_METHOD_BDAT;
	tx.size = 100;
	tx.end = SMTP_TX_REJECTED;
	tx.rejected_at = SMTP_REJ_EOD;
	tx.eod_reply.code = 554;
	tx.eod_reply.enhanced[0] = '\0';
	tx.eod_reply.text = BYTES("no");
	tx.eod_reply.ts_us = tx.eod_ts_us + 1;
	tx.eod_reply_after_close = true;
	tx.anomalies = 1u << SMTP_AN_BDAT;
	v.txs[0].outcome = CLS_TX_REJECTED; /* emit writes what classify gave */
	line = emit_line(&info, &rec, &v);
	j = parse(line);
	CHECK(json_array_size(
	          json_object_get(json_object_get(j, "smtp_session"), "transactions")) == 1);
	CHECK(line && strstr(line, expect_tx));
	json_decref(j);
	free(line);
}

/* A transaction still open when the capture ended: no method, no reply, no timing. */
static void record_open_tx(void)
{
	static const char expect_tx[] =
	    "\"transactions\":[{\"tx_id\":0,\"mail_from\":\"<a@example.org>\","
	    "\"rcpt_to\":[\"<b@example.net>\"],\"size\":0,\"outcome\":\"incomplete\"}],";
	struct flow_info info;
	struct smtp_record rec;
	struct smtp_tx tx;
	struct cls_verdict v;
	char *line;

	base_info(&info);
	base_record(&rec, &tx);
	base_verdict(&v);
	rec.quit_sent = false;
	rec.closed_first = SMTP_SIDE_NONE;
	rec.how[SMTP_TO_SERVER] = rec.how[SMTP_TO_CLIENT] = SMTP_HOW_NONE;
	rec.end_reason = SMTP_END_CAPTURE_ENDED;
	tx.method = SMTP_METHOD_NONE;
	tx.size = 0;
	tx.end = SMTP_TX_OPEN;
	tx.phase = SMTP_PH_RCPT;
	tx.eod_ts_us = 0;
	memset(&tx.eod_reply, 0, sizeof(tx.eod_reply));
	v.outcome = CLS_OUT_INCOMPLETE;
	v.close = CLS_CLOSE_CAPTURE_ENDED;
	v.close_by = SMTP_SIDE_NONE;
	v.close_how = SMTP_HOW_NONE;
	v.client_style = CLS_STYLE_UNKNOWN;
	v.rfc5321_delivered = v.strict_quit_delivered = 0;
	v.txs[0].outcome = CLS_TX_INCOMPLETE;
	line = emit_line(&info, &rec, &v);
	CHECK(line && strstr(line, "\"smtp_session\":{\"outcome\":\"incomplete\","
	                           "\"close\":\"capture_ended\",\"close_by\":\"none\","
	                           "\"close_how\":\"none\",\"client_style\":\"unknown\","));
	CHECK(line && strstr(line, expect_tx));
	json_decref(parse(line));
	free(line);
}

/* ---- output and its errors ---- */

static void open_errors(void)
{
	char err[256] = "";
	struct emit *e = emit_open("/nonexistent-dir/out.json", err, sizeof(err));

	CHECK(e == NULL);
	CHECK_EQ_STR(err, "/nonexistent-dir/out.json: No such file or directory");
	e = emit_open("-", err, sizeof(err));
	CHECK(e != NULL);
	CHECK_EQ_STR(emit_error(e), "");
	CHECK_EQ_INT(emit_close(e), 0);
	CHECK_EQ_INT(emit_close(NULL), 0);
}

/* ENOSPC: seen when the buffer is written, by emit_session or at the latest emit_close. */
static void write_error_full(void)
{
	struct flow_info info;
	struct smtp_record rec;
	struct smtp_tx tx;
	struct cls_verdict v;
	char err[256] = "";
	struct emit *e;
	int i, rc = 0;

	if (access("/dev/full", W_OK) != 0) {
		fprintf(stderr, "write_error_full: no /dev/full, checked nothing\n");
		return;
	}
	base_info(&info);
	base_record(&rec, &tx);
	base_verdict(&v);
	e = emit_open("/dev/full", err, sizeof(err));
	CHECK(e != NULL);
	if (!e)
		return;
	for (i = 0; i < 5000 && rc == 0; i++)
		rc = emit_session(e, &info, &rec, &v);
	CHECK_EQ_INT(rc, -1);
	CHECK_EQ_STR(emit_error(e), "/dev/full: No space left on device");
	CHECK_EQ_INT(emit_session(e, &info, &rec, &v), -1);
	CHECK_EQ_INT(emit_close(e), -1);
	CHECK_EQ_STR(emit_error(NULL), "/dev/full: No space left on device");
	e = emit_open("/dev/full", err, sizeof(err));
	CHECK(e != NULL);
	CHECK_EQ_INT(emit_session(e, &info, &rec, &v), 0); /* still in the buffer */
	CHECK_EQ_INT(emit_close(e), -1);
	CHECK_EQ_STR(emit_error(NULL), "/dev/full: No space left on device");
	e = emit_open("/dev/null", err, sizeof(err));
	CHECK(e != NULL);
	CHECK_EQ_INT(emit_close(e), 0);
	CHECK_EQ_STR(emit_error(NULL), "");
}

/* ---- the writer thread ---- */

/* An emit writing to path (its sink in *out), with --max-record max; NULL on failure. */
static struct emit *open_records(const char *path, size_t max, struct sink **out)
{
	struct emit_options opt;
	char err[256] = "";
	const struct sink_file_options so = {.overwrite = true};
	*out = sink_open_file(path, &so, err, sizeof(err));
	emit_options_default(&opt);
	opt.max_record = max;
	struct emit *e = *out ? emit_new(*out, &opt) : NULL;
	CHECK(e != NULL);
	return e;
}

/* Ends a run of records whose last status was rc (to be 0): emit_close's status. */
static int close_records(struct emit *e, struct sink *out, int rc)
{
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(emit_sync(e), 0);
	emit_free(e);
	return sink_close(out);
}

/* Two new empty files, their names in a and b (templates). */
static void temp_pair(char *a, char *b)
{
	int fa = mkstemp(a), fb = mkstemp(b);
	CHECK(fa >= 0 && fb >= 0);
	close(fa);
	close(fb);
}

/* Writes n records to path, each a little different (the flow id, and every seventh one over a
 * --max-record bound, cut on the writer's side), by the calling thread or a writer thread.
 * Returns emit_close's status. */
static int write_records(const char *path, bool writer, int n)
{
	struct flow_info info;
	struct smtp_record rec;
	struct smtp_tx tx;
	struct cls_verdict v;
	struct sink *out;
	struct emit *e = open_records(path, 700, &out);
	int rc = 0;

	base_info(&info);
	base_record(&rec, &tx);
	base_verdict(&v);
	if (!e)
		return -1;
	if (writer)
		CHECK(emit_start_writer(e, false));
	for (int i = 0; i < n && rc == 0; i++) {
		info.flow_id = 1000 + (uint64_t)i;
		info.client_port = (uint16_t)(40000 + i % 7);
		rec.n_txs = i % 7 == 0 ? 1 : 0;
		rc = emit_session(e, &info, &rec, &v);
	}
	return close_records(e, out, rc);
}

/* The same bytes, in the same order, from a writer thread as from the analysis thread, across
 * many times the queue's depth. */
static void writer_same_bytes(void)
{
	char a[] = "/tmp/test_emit_aXXXXXX", b[] = "/tmp/test_emit_bXXXXXX";
	size_t la = 0, lb = 0;

	temp_pair(a, b);
	CHECK_EQ_INT(write_records(a, false, 1000), 0);
	CHECK_EQ_INT(write_records(b, true, 1000), 0);
	char *x = slurp(a, &la), *y = slurp(b, &lb);
	size_t lines = 0;
	for (size_t i = 0; x && i < la; i++)
		lines += x[i] == '\n';
	CHECK_EQ_INT(lines, 1000);
	CHECK(x && y && la == lb && memcmp(x, y, la) == 0);
	CHECK(x && strstr(x, "\"flow_id\":1999,") != NULL);
	free(x);
	free(y);
	unlink(a);
	unlink(b);
}

/* ENOSPC in the writer thread: later records refused, the error the sink's, as without it. */
static void writer_error_full(void)
{
	struct flow_info info;
	struct smtp_record rec;
	struct smtp_tx tx;
	struct cls_verdict v;
	char err[256] = "";
	int i, rc = 0;

	if (access("/dev/full", W_OK) != 0) {
		fprintf(stderr, "writer_error_full: no /dev/full, checked nothing\n");
		return;
	}
	base_info(&info);
	base_record(&rec, &tx);
	base_verdict(&v);
	struct emit *e = emit_open("/dev/full", err, sizeof(err));
	CHECK(e != NULL);
	if (!e)
		return;
	CHECK(emit_start_writer(e, true));
	CHECK(!emit_failed(e));
	for (i = 0; i < 20000 && rc == 0; i++)
		rc = emit_session(e, &info, &rec, &v);
	CHECK_EQ_INT(rc, -1);
	CHECK(emit_failed(e));
	CHECK_EQ_INT(emit_sync(e), -1);
	CHECK_EQ_STR(emit_error(e), "/dev/full: No space left on device");
	CHECK_EQ_INT(emit_session(e, &info, &rec, &v), -1);
	CHECK_EQ_INT(emit_flush(e), -1);
	CHECK_EQ_INT(emit_close(e), -1);
	CHECK_EQ_STR(emit_error(NULL), "/dev/full: No space left on device");
}

/* ---- session records built on the writer thread (emit_session_later) ---- */

enum { LATER_N = 300, LATER_TXS = 70 }; /* more records of one session than the queue holds */

struct later_case {
	struct smtp_record rec[LATER_N];
	struct smtp_tx tx[LATER_N];
	int released[LATER_N];
	int handed, given_back, most_held, bad_verdicts;
};

/* The release callback: every session once, its verdict the job's own copy; its record
 * scribbled on, so that a tree built from it after this would differ. */
static void later_release(void *ctx, void *owner, struct cls_verdict *v)
{
	struct later_case *c = ctx;
	struct smtp_record *rec = owner;
	c->released[rec - c->rec]++;
	c->given_back++;
	if (v->txs != v->inline_txs || v->txs[0].outcome != CLS_TX_COMMITTED)
		c->bad_verdicts++;
	memset(rec, 0x5a, sizeof(*rec));
	rec->n_txs = 0;
	rec->txs = NULL;
}

/* Each session's record, then its transaction's record (LATER_TXS times for every 50th, past
 * the queue's depth): by the calling thread, or with the session records built later. */
static int write_later(const char *path, bool later, struct later_case *c)
{
	struct flow_info info;
	struct cls_verdict v;
	struct sink *out;
	struct emit *e = open_records(path, 900, &out);
	if (!e)
		return -1;
	base_info(&info);
	CHECK(!emit_builds_later(e));
	if (later)
		CHECK(emit_start_writer(e, false) && emit_builds_later(e));
	int rc = 0;
	for (int i = 0; i < LATER_N && rc == 0; i++) {
		base_record(&c->rec[i], &c->tx[i]);
		c->tx[i].size = 1000 + (uint64_t)i;
		info.flow_id = 5000 + (uint64_t)i;
		base_verdict(&v);
		if (later) {
			rc = emit_session_later(e, &info, &c->rec[i], &v, &c->rec[i], later_release,
			                        c);
			c->handed++;
		} else {
			rc = emit_session(e, &info, &c->rec[i], &v);
		}
		info.flow_id = 1; /* the job's copy is what its record is built from */
		for (int k = 0; k < (i % 50 ? 1 : LATER_TXS) && rc == 0; k++)
			rc = emit_transactions(e, &info, &c->rec[i], &v);
		int held = c->handed - c->given_back;
		c->most_held = held > c->most_held ? held : c->most_held;
	}
	return close_records(e, out, rc);
}

/* The same bytes as built at once; every session given back once, while the run goes on (no
 * more held than the queue's depth and the last one). */
static void writer_builds_later(void)
{
	char a[] = "/tmp/test_emit_aXXXXXX", b[] = "/tmp/test_emit_bXXXXXX";
	size_t la = 0, lb = 0;
	struct later_case *now = calloc(1, sizeof(*now)), *later = calloc(1, sizeof(*later));

	CHECK(now && later);
	if (!now || !later)
		return;
	temp_pair(a, b);
	CHECK_EQ_INT(write_later(a, false, now), 0);
	CHECK_EQ_INT(write_later(b, true, later), 0);
	char *x = slurp(a, &la), *y = slurp(b, &lb);
	size_t lines = 0;
	for (size_t i = 0; x && i < la; i++)
		lines += x[i] == '\n';
	CHECK_EQ_INT(lines, 2 * LATER_N + 6 * (LATER_TXS - 1));
	CHECK(x && y && la == lb && memcmp(x, y, la) == 0);
	CHECK(x && strstr(x, "\"flow_id\":5299,") && strstr(x, "\"size\":1299,"));
	CHECK_EQ_INT(later->handed, LATER_N);
	CHECK_EQ_INT(later->given_back, LATER_N);
	CHECK_EQ_INT(later->bad_verdicts, 0);
	CHECK(later->most_held <= EMIT_QUEUE_DEPTH_FOR_TEST + 1);
	int once = 0;
	for (int i = 0; i < LATER_N; i++)
		once += later->released[i] == 1;
	CHECK_EQ_INT(once, LATER_N);
	CHECK_EQ_INT(now->given_back, 0);
	free(x);
	free(y);
	free(now);
	free(later);
	unlink(a);
	unlink(b);
}

/* ---- UTF-8 escaping ---- */

static char esc_buf[256];

static const char *esc(const char *in, size_t len)
{
	size_t n = emit_escape_utf8(in, len, esc_buf, sizeof(esc_buf));

	CHECK_EQ_INT(n, strlen(esc_buf));
	return esc_buf;
}

#define ESC(lit) esc(lit, sizeof(lit) - 1)

static void escape_ascii(void)
{
	CHECK_EQ_STR(ESC("hello, world <a@b> ~\x7f"), "hello, world <a@b> ~\x7f");
	CHECK_EQ_STR(ESC(""), "");
	CHECK_EQ_STR(ESC("tab\there\r\n"), "tab\there\r\n"); /* controls are jansson's */
}

static void escape_valid_multibyte(void)
{
	static const char *const ok[] = {
	    /* U+0080, U+00E9, U+07FF */
	    "\xc2\x80",
	    "\xc3\xa9",
	    "\xdf\xbf",
	    /* U+0800, U+20AC, U+D7FF, U+E000, U+FFFF */
	    "\xe0\xa0\x80",
	    "\xe2\x82\xac",
	    "\xed\x9f\xbf",
	    "\xee\x80\x80",
	    "\xef\xbf\xbf",
	    /* U+10000, U+1F600, U+10FFFF */
	    "\xf0\x90\x80\x80",
	    "\xf0\x9f\x98\x80",
	    "\xf4\x8f\xbf\xbf",
	};
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		CHECK_EQ_STR(esc(ok[i], strlen(ok[i])), ok[i]);
	CHECK_EQ_STR(ESC("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80!"),
	             "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80!");
}

static void escape_overlong(void)
{
	CHECK_EQ_STR(ESC("\xc0\x80"), "\\xc0\\x80");
	CHECK_EQ_STR(ESC("\xc1\xbf"), "\\xc1\\xbf");
	CHECK_EQ_STR(ESC("\xe0\x80\x80"), "\\xe0\\x80\\x80");
	CHECK_EQ_STR(ESC("\xe0\x9f\xbf"), "\\xe0\\x9f\\xbf");
	CHECK_EQ_STR(ESC("\xf0\x80\x80\x80"), "\\xf0\\x80\\x80\\x80");
	CHECK_EQ_STR(ESC("\xf0\x8f\xbf\xbf"), "\\xf0\\x8f\\xbf\\xbf");
}

static void escape_surrogate(void)
{
	CHECK_EQ_STR(ESC("\xed\xa0\x80"), "\\xed\\xa0\\x80");
	CHECK_EQ_STR(ESC("\xed\xbf\xbf"), "\\xed\\xbf\\xbf");
}

static void escape_above_max(void)
{
	CHECK_EQ_STR(ESC("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");
	CHECK_EQ_STR(ESC("\xf5\x80\x80\x80"), "\\xf5\\x80\\x80\\x80");
	CHECK_EQ_STR(ESC("\xf7\xbf\xbf\xbf"), "\\xf7\\xbf\\xbf\\xbf");
}

static void escape_truncated(void)
{
	CHECK_EQ_STR(ESC("\xe2\x82"), "\\xe2\\x82");
	CHECK_EQ_STR(ESC("\xe2\x82"
	                 "A"),
	             "\\xe2\\x82A");
	CHECK_EQ_STR(ESC("\xf0\x9f\x98"), "\\xf0\\x9f\\x98");
	CHECK_EQ_STR(ESC("\xc3"), "\\xc3");
	CHECK_EQ_STR(ESC("\xc3\xc3\xa9"), "\\xc3\xc3\xa9");
}

static void escape_lone_bytes(void)
{
	CHECK_EQ_STR(ESC("\x80"), "\\x80");
	CHECK_EQ_STR(ESC("a\xbf"
	                 "b"),
	             "a\\xbfb");
	CHECK_EQ_STR(ESC("\xff"), "\\xff");
	CHECK_EQ_STR(ESC("\xfe\xff"), "\\xfe\\xff");
}

static void escape_backslash(void)
{
	CHECK_EQ_STR(ESC("a\\b"), "a\\x5cb");
	CHECK_EQ_STR(ESC("\\xff"), "\\x5cxff"); /* cannot be read back as the byte 0xff */
}

static void escape_nul(void)
{
	char out[16];
	size_t n = emit_escape_utf8("a\0b", 3, out, sizeof(out));

	CHECK_EQ_INT(n, 3);
	CHECK(memcmp(out, "a\0b", 4) == 0);
}

/* A short output never ends inside a sequence or an escape. */
static void escape_short_output(void)
{
	char out[8];

	memset(out, '#', sizeof(out));
	CHECK_EQ_INT(emit_escape_utf8("\xff\xff", 2, out, 6), 4);
	CHECK_EQ_STR(out, "\\xff");
	CHECK_EQ_INT(emit_escape_utf8("a\xe2\x82\xac", 4, out, 4), 1);
	CHECK_EQ_STR(out, "a");
	CHECK_EQ_INT(emit_escape_utf8("abc", 3, out, 1), 0);
	CHECK_EQ_STR(out, "");
	out[0] = '#';
	CHECK_EQ_INT(emit_escape_utf8("abc", 3, out, 0), 0);
	CHECK(out[0] == '#');
	CHECK_EQ_INT(emit_escape_utf8("abc", 3, out, 4), 3);
	CHECK_EQ_STR(out, "abc");
}

static unsigned int hexval(char c)
{
	return c >= 'a' ? (unsigned int)(c - 'a' + 10) : (unsigned int)(c - '0');
}

/* Reads escaped text back: \xHH is one byte, everything else is itself. */
static size_t unescape(const char *in, size_t len, unsigned char *out)
{
	size_t i = 0, o = 0;

	while (i < len) {
		if (in[i] == '\\' && i + 3 < len && in[i + 1] == 'x') {
			out[o++] = (unsigned char)(hexval(in[i + 2]) << 4 | hexval(in[i + 3]));
			i += 4;
		} else {
			out[o++] = (unsigned char)in[i++];
		}
	}
	return o;
}

/* Random bytes: the result is always valid for jansson, and reads back to the input. */
static void escape_random_roundtrip(void)
{
	unsigned char in[64], back[64];
	char out[4 * sizeof(in) + 1];
	unsigned int seed = 12345, round, i;
	size_t len, n;
	json_t *j;

	for (round = 0; round < 20000; round++) {
		len = (seed = seed * 1103515245 + 12345) >> 16 & 63;
		for (i = 0; i < len; i++) {
			seed = seed * 1103515245 + 12345;
			/* odd rounds: any byte; even rounds: only bytes >= 0x80 */
			in[i] = (unsigned char)(seed >> 16 | (round & 1 ? 0 : 0x80));
		}
		n = emit_escape_utf8((const char *)in, len, out, sizeof(out));
		j = json_stringn(out, n);
		CHECK(j != NULL);
		json_decref(j);
		CHECK(unescape(out, n, back) == len && memcmp(back, in, len) == 0);
	}
}

/* ---- SHA-1 (nettle's, as emit.c calls it) and Community ID ---- */

static void sha1_hex(const void *data, size_t len, size_t chunk, char *hex)
{
	const unsigned char *p = data;
	uint8_t d[SHA1_DIGEST_SIZE];
	struct sha1_ctx c;
	size_t i, n;

	sha1_init(&c);
	for (i = 0; i < len; i += n) {
		n = len - i < chunk ? len - i : chunk;
		sha1_update(&c, n, p + i);
	}
	sha1_digest(&c, sizeof(d), d);
	for (i = 0; i < SHA1_DIGEST_SIZE; i++)
		sprintf(hex + 2 * i, "%02x", d[i]);
}

static void sha1_vectors(void)
{
	static const char two_blocks[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	char hex[2 * SHA1_DIGEST_SIZE + 1], *million = malloc(1000000);
	size_t chunk;

	sha1_hex("", 0, 1, hex);
	CHECK_EQ_STR(hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	sha1_hex("abc", 3, 1, hex);
	CHECK_EQ_STR(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
	for (chunk = 1; chunk <= 64; chunk += 7) {
		sha1_hex(two_blocks, sizeof(two_blocks) - 1, chunk, hex);
		CHECK_EQ_STR(hex, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
	}
	CHECK(million != NULL);
	if (!million)
		return;
	memset(million, 'a', 1000000);
	sha1_hex(million, 1000000, 4099, hex);
	CHECK_EQ_STR(hex, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
	free(million);
}

static void cid(const char *a, uint16_t ap, const char *b, uint16_t bp, uint16_t seed, char *out)
{
	struct decode_addr x, y;

	if (strchr(a, ':')) {
		addr6(&x, a);
		addr6(&y, b);
	} else {
		addr4(&x, a);
		addr4(&y, b);
	}
	emit_community_id(&x, ap, &y, bp, seed, out, 64);
}

/* Properties that need no fixture: direction, seed, equal addresses, bad input. */
static void community_id_basics(void)
{
	char one[64], two[64];
	struct decode_addr x, y;

	cid("192.0.2.10", 40000, "198.51.100.5", 25, 0, one);
	CHECK_EQ_STR(one, "1:hnt6BMqOR3CIDp73+gdXRtkeLKk=");
	cid("198.51.100.5", 25, "192.0.2.10", 40000, 0, two);
	CHECK_EQ_STR(two, one);
	cid("192.0.2.10", 40000, "198.51.100.5", 25, 1, two);
	CHECK(strcmp(one, two) != 0);
	cid("10.0.0.1", 25, "10.0.0.1", 1025, 0, one);
	cid("10.0.0.1", 1025, "10.0.0.1", 25, 0, two);
	CHECK_EQ_STR(one, "1:hZ1j4XZCDXeumlKnC2AluIeOpIc=");
	CHECK_EQ_STR(two, one);
	addr4(&x, "10.0.0.1");
	addr6(&y, "::1");
	emit_community_id(&x, 1, &y, 2, 0, one, sizeof(one));
	CHECK_EQ_STR(one, "");
	addr4(&y, "10.0.0.2");
	emit_community_id(&x, 1, &y, 2, 0, one, 10);
	CHECK_EQ_INT(strlen(one), 9);
}

static const char *shared_dir(void)
{
	const char *d = getenv("SMTPTRACE_SHARED");

	return d && *d ? d : "../shared";
}

static int fixture_path(char *out, size_t len, const char *name)
{
	return snprintf(out, len, "%s/fixtures/community-id/%s", shared_dir(), name) < (int)len;
}

/* Every TCP row of one baseline file, in the file's direction and the reverse one. */
static int check_baseline(const char *name, uint16_t seed)
{
	char path[1024], got[64], back[64];
	json_error_t jerr;
	json_t *rows, *r;
	size_t i;
	int n = 0;

	CHECK(fixture_path(path, sizeof(path), name));
	rows = json_load_file(path, 0, &jerr);
	CHECK(json_is_array(rows));
	json_array_foreach(rows, i, r)
	{
		const char *s = json_string_value(json_object_get(r, "saddr"));
		const char *d = json_string_value(json_object_get(r, "daddr"));
		const char *want = json_string_value(json_object_get(r, "communityid"));
		json_int_t sp = json_integer_value(json_object_get(r, "sport"));
		json_int_t dp = json_integer_value(json_object_get(r, "dport"));

		if (json_integer_value(json_object_get(r, "proto")) != 6)
			continue;
		CHECK(s && d && want);
		if (!s || !d || !want)
			continue;
		cid(s, (uint16_t)sp, d, (uint16_t)dp, seed, got);
		cid(d, (uint16_t)dp, s, (uint16_t)sp, seed, back);
		CHECK_EQ_STR(got, want);
		CHECK_EQ_STR(back, want);
		n++;
	}
	json_decref(rows);
	return n;
}

static void community_id_vectors(void)
{
	int n = check_baseline("baseline_deflt.json", 0);

	CHECK(n > 0);
	n = check_baseline("baseline_seed1.json", 1);
	CHECK(n > 0);
}

static int fixtures_present(void)
{
	char path[1024];

	return fixture_path(path, sizeof(path), "baseline_deflt.json") && access(path, R_OK) == 0;
}

int main(void)
{
	RUN_TEST(record_committed);
	RUN_TEST(record_hostile_bytes);
	RUN_TEST(record_refused_recipient);
	RUN_TEST(record_no_greeting);
	RUN_TEST(record_bytes_sent);
	RUN_TEST(record_policy_unknown);
	RUN_TEST(record_ipv6);
	RUN_TEST(record_auth);
	RUN_TEST(record_minimal);
	RUN_TEST(record_rejected);
	RUN_TEST(record_open_tx);
	RUN_TEST(open_errors);
	RUN_TEST(write_error_full);
	RUN_TEST(writer_same_bytes);
	RUN_TEST(writer_error_full);
	RUN_TEST(writer_builds_later);
	RUN_TEST(escape_ascii);
	RUN_TEST(escape_valid_multibyte);
	RUN_TEST(escape_overlong);
	RUN_TEST(escape_surrogate);
	RUN_TEST(escape_above_max);
	RUN_TEST(escape_truncated);
	RUN_TEST(escape_lone_bytes);
	RUN_TEST(escape_backslash);
	RUN_TEST(escape_nul);
	RUN_TEST(escape_short_output);
	RUN_TEST(escape_random_roundtrip);
	RUN_TEST(sha1_vectors);
	RUN_TEST(community_id_basics);
	if (fixtures_present())
		RUN_TEST(community_id_vectors);
	else
		printf("skip community_id_vectors (fixtures absent)\n");
	TAP_EXIT();
}
