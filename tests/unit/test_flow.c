/* test_flow: the flow table with the real reassembler and SMTP layer: port reuse, idle
 * timeouts, LRU eviction, the caps under a SYN flood and a stream whose first bytes never
 * come, overlaps that differ, and a lost end of data. Counts come from the program's own
 * statistics. */
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "flow.h"
#include "tap.h"

struct ended {
	int n;
	struct cls_verdict v[8];
	uint64_t anomalies[8];
	uint16_t client_port[8];
	uint64_t flow_id[8];
	enum flow_kind kind[8];
	enum detect_how detected[8];
	const char *source[8];
	enum cls_tx_outcome tx0[8];
	uint32_t n_txs[8];
};

static void on_end(void *ctx, const struct flow_info *info, const struct smtp_record *rec)
{
	struct ended *e = ctx;
	if (e->n < 8) {
		e->kind[e->n] = info->kind;
		e->detected[e->n] = info->detected;
		e->client_port[e->n] = info->client_port;
	}
	if (e->n < 8 && rec) {
		classify_session(rec, &e->v[e->n]);
		e->anomalies[e->n] = rec->anomalies;
		e->client_port[e->n] = info->client_port;
		e->flow_id[e->n] = info->flow_id;
		e->kind[e->n] = info->kind;
		e->source[e->n] = info->pcap_filename;
		e->n_txs[e->n] = rec->n_txs;
		e->tx0[e->n] = rec->n_txs ? classify_tx(rec, &rec->txs[0]) : CLS_TX_INCOMPLETE;
	}
	e->n++;
}

/* A client (10.0.0.1:port) and the server (10.0.0.2:srv, 25 when 0), with their next sequence
 * numbers. */
struct conv {
	struct flow_table *t;
	uint16_t port, srv;
	uint32_t cseq, sseq;
	uint64_t ts;
	uint8_t csum; /* what the checksum of each segment says (enum tcp_csum) */
};

static void seg(struct conv *c, bool from_client, uint32_t seq, uint8_t flags, const char *data,
                size_t len)
{
	struct tcp_seg s = {0};
	s.src.family = s.dst.family = 4;
	uint8_t client[4] = {10, 0, 0, 1}, server[4] = {10, 0, 0, 2};
	memcpy(s.src.bytes, from_client ? client : server, 4);
	memcpy(s.dst.bytes, from_client ? server : client, 4);
	uint16_t srv = c->srv ? c->srv : 25;
	s.sport = from_client ? c->port : srv;
	s.dport = from_client ? srv : c->port;
	s.seq = seq;
	s.ack = from_client ? c->sseq : c->cseq;
	s.flags = flags | ((flags & TCP_FLAG_SYN) && !(flags & TCP_FLAG_ACK) ? 0 : TCP_FLAG_ACK);
	if ((flags & TCP_FLAG_SYN) && !(flags & TCP_FLAG_ACK) && from_client)
		s.flags = TCP_FLAG_SYN;
	s.payload = (const uint8_t *)data;
	s.payload_len = (uint32_t)len;
	s.csum = c->csum;
	s.ts_us = c->ts;
	c->ts += 1000;
	flow_table_feed(c->t, &s);
}

/* Sends text in order from one side. */
static void say(struct conv *c, bool from_client, const char *text)
{
	uint32_t *seq = from_client ? &c->cseq : &c->sseq;
	seg(c, from_client, *seq, TCP_FLAG_PSH, text, strlen(text));
	*seq += (uint32_t)strlen(text);
}

static void handshake(struct conv *c, uint32_t cisn, uint32_t sisn)
{
	c->cseq = cisn;
	c->sseq = sisn;
	seg(c, true, c->cseq++, TCP_FLAG_SYN, NULL, 0);
	seg(c, false, c->sseq++, TCP_FLAG_SYN | TCP_FLAG_ACK, NULL, 0);
	seg(c, true, c->cseq, 0, NULL, 0);
}

static void close_both(struct conv *c)
{
	seg(c, false, c->sseq++, TCP_FLAG_FIN, NULL, 0);
	seg(c, true, c->cseq++, TCP_FLAG_FIN, NULL, 0);
}

/* The greeting, EHLO, MAIL and RCPT, each answered. */
static void to_rcpt(struct conv *c)
{
	say(c, false, "220 mx\r\n");
	say(c, true, "EHLO c\r\n");
	say(c, false, "250 mx\r\n");
	say(c, true, "MAIL FROM:<a@x>\r\n");
	say(c, false, "250 ok\r\n");
	say(c, true, "RCPT TO:<b@y>\r\n");
	say(c, false, "250 ok\r\n");
}

/* DATA, the message, QUIT, each answered, and the close. */
static void from_data(struct conv *c)
{
	say(c, true, "DATA\r\n");
	say(c, false, "354 go\r\n");
	say(c, true, "hello\r\n.\r\n");
	say(c, false, "250 queued\r\n");
	say(c, true, "QUIT\r\n");
	say(c, false, "221 bye\r\n");
	close_both(c);
}

static void mail_session(struct conv *c, uint32_t cisn)
{
	handshake(c, cisn, 5000);
	to_rcpt(c);
	from_data(c);
}

static struct flow_table *table(struct ended *e, size_t max_flows, size_t max_held)
{
	struct flow_config cfg;
	flow_config_default(&cfg);
	if (max_flows)
		cfg.max_flows = max_flows;
	if (max_held)
		cfg.max_held_per_flow = max_held;
	cfg.checksum = FLOW_CSUM_NO; /* these segments carry no checksum to check */
	memset(e, 0, sizeof(*e));
	return flow_table_new(&cfg, on_end, e);
}

static void test_port_reuse(void)
{
	struct ended e;
	struct conv c = {.t = table(&e, 0, 0), .port = 40000, .ts = 1000000};
	mail_session(&c, 100);
	mail_session(&c, 900000); /* the same 5-tuple, a new SYN */
	flow_table_finish(c.t);
	CHECK_EQ_INT(e.n, 2);
	CHECK_EQ_INT(e.v[0].outcome, CLS_OUT_COMMITTED);
	CHECK_EQ_INT(e.v[1].outcome, CLS_OUT_COMMITTED);
	CHECK_EQ_INT(flow_table_stats(c.t)->flows_created, 2);
	flow_table_free(c.t);

	/* a new SYN with a new ISN while the session is open ends it: close reused, at once; a
	 * retransmitted SYN (the same ISN) does not */
	c = (struct conv){.t = table(&e, 0, 0), .port = 40000, .ts = 1000000};
	handshake(&c, 100, 5000);
	say(&c, false, "220 mx\r\n");
	say(&c, true, "EHLO c\r\n");
	seg(&c, true, 100, TCP_FLAG_SYN, NULL, 0);
	CHECK_EQ_INT(e.n, 0);
	mail_session(&c, 900000);
	CHECK_EQ_INT(e.n, 1);
	CHECK_EQ_INT(e.v[0].close, CLS_CLOSE_REUSED);
	CHECK_EQ_INT(e.v[0].outcome, CLS_OUT_INCOMPLETE);
	CHECK_EQ_INT(e.v[0].close_by, SMTP_SIDE_NONE);
	CHECK_EQ_STR(classify_close_name(e.v[0].close), "reused");
	flow_table_finish(c.t);
	CHECK_EQ_INT(e.n, 2);
	CHECK_EQ_INT(e.v[1].outcome, CLS_OUT_COMMITTED);
	CHECK_EQ_INT(e.v[1].close, CLS_CLOSE_QUIT);
	flow_table_free(c.t);
}

static void test_idle_timeout(void)
{
	struct ended e;
	struct conv a = {.t = table(&e, 0, 0), .port = 40001, .ts = 1000000};
	handshake(&a, 1, 5000);
	say(&a, false, "220 mx\r\n");
	say(&a, true, "EHLO c\r\n");
	struct conv b = {.t = a.t, .port = 40002, .ts = a.ts + 601ULL * 1000000};
	mail_session(&b, 7);  /* 601 s later: the first has been idle past 600 s */
	CHECK_EQ_INT(e.n, 1); /* the second lingers a moment after its close */
	CHECK_EQ_INT(e.client_port[0], 40001);
	CHECK_EQ_INT(e.v[0].close, CLS_CLOSE_IDLE_TIMEOUT);
	CHECK_EQ_INT(e.v[0].outcome, CLS_OUT_INCOMPLETE);
	CHECK_EQ_INT(flow_table_stats(a.t)->flows_timed_out, 1);
	flow_table_finish(a.t);
	CHECK_EQ_INT(e.n, 2);
	CHECK_EQ_INT(e.v[1].outcome, CLS_OUT_COMMITTED);
	flow_table_free(a.t);
}

static void test_lru_eviction(void)
{
	struct ended e;
	struct flow_table *t = table(&e, 2, 0);
	struct conv c[3];
	for (int i = 0; i < 3; i++) {
		c[i] = (struct conv){.t = t, .port = (uint16_t)(41000 + i), .ts = 1000000 + i};
		handshake(&c[i], 1, 5000);
		say(&c[i], false, "220 mx\r\n");
	}
	CHECK_EQ_INT(e.n, 1); /* the least recently used made room */
	CHECK_EQ_INT(e.client_port[0], 41000);
	CHECK(e.anomalies[0] & (1ULL << SMTP_AN_LIMIT_REACHED));
	CHECK_EQ_INT(flow_table_stats(t)->flows_evicted, 1);
	CHECK(flow_table_stats(t)->flows_active_max <= 2);
	flow_table_finish(t);
	flow_table_free(t);
}

/* 5,000 sessions open at once, each step taken by all in turn: the buckets grow from 1,024
 * to 8,192 while every flow is open, and each segment still finds its flow (no flow is made
 * twice, none is ended before its close). */
static void test_buckets_grow(void)
{
	enum { N = 5000 };
	static struct conv c[N];
	struct ended e;
	struct flow_table *t = table(&e, 0, 0);
	for (int i = 0; i < N; i++) {
		c[i] = (struct conv){.t = t, .port = (uint16_t)(20000 + i), .ts = 1000000};
		handshake(&c[i], 1, 5000);
	}
	for (int i = 0; i < N; i++)
		to_rcpt(&c[i]);
	CHECK_EQ_INT(e.n, 0);
	for (int i = 0; i < N; i++)
		from_data(&c[i]);
	const struct flow_stats *st = flow_table_stats(t);
	CHECK_EQ_INT(st->flows_created, N);
	CHECK_EQ_INT(st->flows_active_max, N);
	CHECK_EQ_INT(st->segments_ignored, 0);
	flow_table_finish(t);
	CHECK_EQ_INT(e.n, N);
	CHECK_EQ_INT(e.v[0].outcome, CLS_OUT_COMMITTED);
	CHECK_EQ_INT(e.client_port[0], 20000);
	flow_table_free(t);
}

/* What every record of a run says, in sum (test_reuse_after_end). */
struct tally {
	int n, n_txs, committed, pkts_off, ports_off;
	uint16_t next_port;
	uint64_t pkts; /* the packets every record should count */
};

static void tally_end(void *ctx, const struct flow_info *info, const struct smtp_record *rec)
{
	struct tally *y = ctx;
	struct cls_verdict v;
	y->n++;
	y->ports_off += info->client_port != y->next_port++;
	y->pkts_off += info->pkts[0] + info->pkts[1] != y->pkts;
	if (!rec)
		return;
	classify_session(rec, &v);
	y->n_txs += (int)rec->n_txs;
	y->committed += v.outcome == CLS_OUT_COMMITTED;
}

/* Ended flows and sessions leave their memory for new ones (at most 64 each are kept): a
 * second wave of connections, made from the first wave's memory, carries nothing of it:
 * no transaction, no packet counted twice. */
static void test_reuse_after_end(void)
{
	enum { N = 100 };
	struct flow_config cfg;
	flow_config_default(&cfg);
	cfg.checksum = FLOW_CSUM_NO;
	struct tally y = {.next_port = 30000, .pkts = 18};
	struct flow_table *t = flow_table_new(&cfg, tally_end, &y);
	struct conv c[N];
	for (int i = 0; i < N; i++) { /* all open at once, then all closed */
		c[i] = (struct conv){.t = t, .port = (uint16_t)(30000 + i), .ts = 1000000};
		mail_session(&c[i], 1);
	}
	flow_table_advance(t, 10000000); /* past the close linger: all end */
	CHECK_EQ_INT(y.n, N);
	CHECK_EQ_INT(y.committed, N);
	CHECK_EQ_INT(y.n_txs, N);
	CHECK_EQ_INT(y.pkts_off, 0);
	CHECK_EQ_INT(y.ports_off, 0);
	y = (struct tally){.n = 0, .next_port = 40000, .pkts = 8};
	for (int i = 0; i < N; i++) { /* the greeting and QUIT only, one after another */
		struct conv q = {.t = t, .port = (uint16_t)(40000 + i), .ts = 20000000 + 10000 * i};
		handshake(&q, 1, 5000);
		say(&q, false, "220 mx\r\n");
		say(&q, true, "QUIT\r\n");
		say(&q, false, "221 bye\r\n");
		close_both(&q);
	}
	flow_table_finish(t);
	CHECK_EQ_INT(y.n, N);
	CHECK_EQ_INT(y.ports_off, 0);
	CHECK_EQ_INT(y.pkts_off, 0);
	CHECK_EQ_INT(y.n_txs, 0);
	CHECK_EQ_INT(y.committed, 0);
	CHECK_EQ_INT(flow_table_stats(t)->flows_created, 2 * N);
	flow_table_free(t);
}

/* 100,000 half-open connections: the table never holds more than its cap. */
static void test_syn_flood(void)
{
	struct ended e;
	struct flow_table *t = table(&e, 0, 0); /* default cap, 65536 */
	struct conv c = {.t = t, .ts = 1000000};
	for (uint32_t i = 0; i < 100000; i++) {
		c.port = (uint16_t)(1024 + i % 60000);
		struct tcp_seg s = {0};
		s.src.family = s.dst.family = 4;
		uint8_t src[4] = {10, 1, (uint8_t)(i >> 8), (uint8_t)i}, dst[4] = {10, 0, 0, 2};
		memcpy(s.src.bytes, src, 4);
		memcpy(s.dst.bytes, dst, 4);
		s.sport = c.port;
		s.dport = 25;
		s.seq = i;
		s.flags = TCP_FLAG_SYN;
		s.ts_us = c.ts + i;
		flow_table_feed(t, &s);
	}
	const struct flow_stats *st = flow_table_stats(t);
	CHECK_EQ_INT(st->flows_created, 100000);
	CHECK_EQ_INT(st->flows_active_max, 65536);
	CHECK_EQ_INT(st->flows_evicted, 100000 - 65536);
	CHECK_EQ_INT(e.n, 100000 - 65536);
	flow_table_finish(t);
	CHECK_EQ_INT(e.n, 100000);
	flow_table_free(t);
}

/* The first client bytes never arrive and 8 MiB follow: held bytes stay under the cap and
 * the hole becomes a gap. */
static void test_first_bytes_never_arrive(void)
{
	struct ended e;
	struct flow_table *t = table(&e, 0, 65536);
	struct conv c = {.t = t, .port = 42000, .ts = 1000000};
	static char chunk[1400];
	memset(chunk, 'x', sizeof(chunk));
	handshake(&c, 1, 5000);
	uint32_t seq = c.cseq + 100; /* 100 bytes lost */
	for (int i = 0; i < 6000; i++) {
		seg(&c, true, seq, 0, chunk, sizeof(chunk));
		seq += sizeof(chunk);
	}
	const struct flow_stats *st = flow_table_stats(t);
	CHECK(st->held_bytes_max <= 65536);
	CHECK(st->gaps >= 1);
	flow_table_finish(t);
	CHECK_EQ_INT(e.n, 1);
	CHECK(e.anomalies[0] & (1ULL << SMTP_AN_TCP_GAP));
	flow_table_free(t);
}

/* Two copies of the same bytes that differ: the first wins and the record says so. */
static void test_overlap_mismatch(void)
{
	struct ended e;
	struct flow_table *t = table(&e, 0, 0);
	struct conv c = {.t = t, .port = 43000, .ts = 1000000};
	handshake(&c, 1, 5000);
	say(&c, false, "220 mx\r\n");
	seg(&c, true, c.cseq + 5, 0, &"MAIL FROM:<a@x>\r\n"[5], 12); /* ahead: held */
	seg(&c, true, c.cseq + 5, 0, "XXXXXXXXXXXX", 12);            /* a differing copy */
	seg(&c, true, c.cseq, 0, "MAIL ", 5);
	c.cseq += 17;
	say(&c, false, "250 ok\r\n");
	close_both(&c);
	flow_table_finish(t);
	CHECK_EQ_INT(e.n, 1);
	CHECK(e.anomalies[0] & (1ULL << SMTP_AN_OVERLAP_MISMATCH));
	CHECK_EQ_INT(e.n_txs[0], 1);
	CHECK_EQ_INT(flow_table_stats(t)->overlap_mismatches, 1);
	flow_table_free(t);
}

/* The segment with the end of data is lost; the server's 250 acknowledges past it: the end
 * of data was in the gap and the message was committed. */
static void test_eod_in_gap(void)
{
	struct ended e;
	struct flow_table *t = table(&e, 0, 0);
	struct conv c = {.t = t, .port = 44000, .ts = 1000000};
	handshake(&c, 1, 5000);
	say(&c, false, "220 mx\r\n");
	say(&c, true, "EHLO c\r\n");
	say(&c, false, "250 mx\r\n");
	say(&c, true, "MAIL FROM:<a@x>\r\n");
	say(&c, false, "250 ok\r\n");
	say(&c, true, "RCPT TO:<b@y>\r\n");
	say(&c, false, "250 ok\r\n");
	say(&c, true, "DATA\r\n");
	say(&c, false, "354 go\r\n");
	say(&c, true, "hello\r\n");
	c.cseq += 5; /* ".\r\n" and more: never captured */
	say(&c, false, "250 queued\r\n");
	say(&c, true, "QUIT\r\n");
	say(&c, false, "221 bye\r\n");
	close_both(&c);
	flow_table_finish(t);
	CHECK_EQ_INT(e.n, 1);
	CHECK_EQ_INT(e.tx0[0], CLS_TX_COMMITTED);
	CHECK_EQ_INT(e.v[0].outcome, CLS_OUT_COMMITTED);
	CHECK(e.anomalies[0] & (1ULL << SMTP_AN_TCP_GAP));
	flow_table_free(t);
}

/* Picked up mid-stream between two SMTP ports (25 and 587): --ports cannot tell the roles;
 * the side that sends reply lines is the server, whatever the ports. */
static void test_roles_from_replies(void)
{
	struct ended e;
	struct flow_config cfg;
	static const uint16_t ports[] = {25, 587};
	flow_config_default(&cfg);
	cfg.server_ports = ports;
	cfg.n_server_ports = 2;
	memset(&e, 0, sizeof(e));
	struct flow_table *t = flow_table_new(&cfg, on_end, &e);
	/* the client uses source port 587 towards 25: by the destination port it would be
	 * taken for the client anyway, so make the server's reply come first from port 587 */
	struct conv c = {.t = t, .port = 587, .ts = 1000000, .cseq = 100, .sseq = 9000};
	say(&c, false, "250 ok\r\n"); /* server (10.0.0.2:25)... */
	say(&c, true, "QUIT\r\n");
	say(&c, false, "221 bye\r\n");
	flow_table_finish(t);
	CHECK_EQ_INT(e.n, 1);
	CHECK_EQ_INT(e.client_port[0], 587);
	CHECK_EQ_INT(e.v[0].close, CLS_CLOSE_QUIT);
	CHECK(e.anomalies[0] & (1ULL << SMTP_AN_MIDSTREAM));
	flow_table_free(t);

	/* the mirror: the server sits on 587, the client's source port is 25 */
	memset(&e, 0, sizeof(e));
	t = flow_table_new(&cfg, on_end, &e);
	struct conv d = {.t = t, .port = 587, .ts = 1000000, .cseq = 100, .sseq = 9000};
	/* here "client" (10.0.0.1:587) sends the replies: it is the server */
	say(&d, true, "250 ok\r\n");
	say(&d, false, "QUIT\r\n");
	say(&d, true, "221 bye\r\n");
	flow_table_finish(t);
	CHECK_EQ_INT(e.n, 1);
	CHECK_EQ_INT(e.client_port[0], 25);
	CHECK_EQ_INT(e.v[0].close, CLS_CLOSE_QUIT);
	flow_table_free(t);
}

static struct flow_table *table_csum(struct ended *e, enum flow_checksum policy)
{
	struct flow_config cfg;
	flow_config_default(&cfg);
	cfg.checksum = policy;
	memset(e, 0, sizeof(*e));
	return flow_table_new(&cfg, on_end, e);
}

/* A session whose client sends a bad-checksum "RSET" where its DATA goes, then the DATA; every
 * other segment's checksum says good (or all say bad, when all_bad). */
static void bad_copy_session(struct conv *c, bool all_bad)
{
	uint8_t rest = all_bad ? TCP_CSUM_BAD : TCP_CSUM_GOOD;
	c->csum = rest;
	handshake(c, 1, 5000);
	to_rcpt(c);
	c->csum = TCP_CSUM_BAD;
	seg(c, true, c->cseq, TCP_FLAG_PSH, "RSET\r\n", 6);
	c->csum = rest;
	from_data(c);
}

/* auto: after enough good segments a bad one is no data (counted, noted); a capture whose
 * segments are all bad (offloading) is not checked at all. */
static void test_checksum_auto(void)
{
	struct ended e;
	struct flow_table *t = table_csum(&e, FLOW_CSUM_AUTO);
	struct conv c = {.t = t, .port = 44999, .ts = 1000000, .csum = TCP_CSUM_GOOD};
	CHECK(!flow_table_stats(t)->checksum_on);
	mail_session(&c, 1); /* 18 good segments first */
	c.port = 45000;
	bad_copy_session(&c, false);
	flow_table_finish(t);
	const struct flow_stats *st = flow_table_stats(t);
	CHECK_EQ_INT(e.n, 2);
	CHECK_EQ_INT(e.tx0[1], CLS_TX_COMMITTED);
	CHECK(e.anomalies[1] & (1ULL << SMTP_AN_BAD_CHECKSUM));
	CHECK(!(e.anomalies[0] & (1ULL << SMTP_AN_BAD_CHECKSUM)));
	CHECK_EQ_INT(st->bad_checksums, 1);
	CHECK(st->checksum_on);
	CHECK_EQ_INT(st->csum_sampled, 18 + 19);
	CHECK_EQ_INT(st->csum_sampled_bad, 1);
	flow_table_free(t);

	t = table_csum(&e, FLOW_CSUM_AUTO);
	c = (struct conv){.t = t, .port = 45001, .ts = 1000000};
	bad_copy_session(&c, true);
	flow_table_finish(t);
	st = flow_table_stats(t);
	CHECK_EQ_INT(e.n, 1);
	CHECK_EQ_INT(e.tx0[0], CLS_TX_RESET); /* not checked: the RSET copy came first */
	CHECK(!(e.anomalies[0] & (1ULL << SMTP_AN_BAD_CHECKSUM)));
	CHECK_EQ_INT(st->bad_checksums, 0);
	CHECK(!st->checksum_on);
	flow_table_free(t);
}

/* auto holds the input's first segments until it has chosen, so a bad copy among the very
 * first is judged too; the choice is made on ending the input, or on the clock of
 * flow_table_advance when the sample is slow to come. yes drops it; no never drops. */
static void test_checksum_policies(void)
{
	struct ended e;
	struct flow_table *t = table_csum(&e, FLOW_CSUM_AUTO);
	struct conv c = {.t = t, .port = 45002, .ts = 1000000, .csum = TCP_CSUM_GOOD};
	handshake(&c, 1, 5000);
	say(&c, false, "220 mx\r\n");
	c.csum = TCP_CSUM_BAD;
	seg(&c, true, c.cseq, TCP_FLAG_PSH, "QUIT\r\n", 6); /* the 5th segment */
	c.cseq += 6;
	c.csum = TCP_CSUM_GOOD;
	say(&c, false, "221 bye\r\n");
	close_both(&c);
	CHECK_EQ_INT(flow_table_stats(t)->segments, 0); /* all held: no choice yet */
	flow_table_finish(t);
	CHECK_EQ_INT(e.n, 1);
	/* the QUIT never reached the server: its bytes are a hole, and the 221 after it proves a
	 * QUIT was sent (DESIGN.md section 4: inferred) */
	CHECK_EQ_INT(e.v[0].close, CLS_CLOSE_QUIT);
	CHECK(e.anomalies[0] & (1ULL << SMTP_AN_BAD_CHECKSUM));
	CHECK_EQ_INT(flow_table_stats(t)->bad_checksums, 1);
	CHECK_EQ_INT(flow_table_stats(t)->segments, 8);
	CHECK(flow_table_stats(t)->checksum_on);
	flow_table_free(t);

	t = table_csum(&e, FLOW_CSUM_AUTO);
	c = (struct conv){.t = t, .port = 45005, .ts = 1000000, .csum = TCP_CSUM_GOOD};
	handshake(&c, 1, 5000);
	flow_table_advance(t, 1000000 + 999999);
	CHECK_EQ_INT(flow_table_stats(t)->segments, 0);
	flow_table_advance(t, 1000000 + 1000000); /* a second after the first: chosen, fed */
	CHECK_EQ_INT(flow_table_stats(t)->segments, 3);
	CHECK(flow_table_stats(t)->checksum_on);
	say(&c, false, "220 mx\r\n"); /* fed at once now */
	CHECK_EQ_INT(flow_table_stats(t)->segments, 4);
	flow_table_finish(t);
	flow_table_free(t);

	/* held across inputs: each flow still names the input it started in */
	t = table_csum(&e, FLOW_CSUM_AUTO);
	flow_table_set_source(t, "one.pcap");
	c = (struct conv){.t = t, .port = 45006, .ts = 1000000, .csum = TCP_CSUM_GOOD};
	mail_session(&c, 1);
	flow_table_set_source(t, "two.pcap");
	c = (struct conv){.t = t, .port = 45007, .ts = c.ts, .csum = TCP_CSUM_GOOD};
	mail_session(&c, 1);
	flow_table_finish(t);
	CHECK_EQ_INT(e.n, 2);
	CHECK_EQ_STR(e.source[0], "one.pcap");
	CHECK_EQ_STR(e.source[1], "two.pcap");
	flow_table_free(t);

	t = table_csum(&e, FLOW_CSUM_YES);
	c = (struct conv){.t = t, .port = 45003, .ts = 1000000};
	CHECK(flow_table_stats(t)->checksum_on);
	bad_copy_session(&c, false);
	flow_table_finish(t);
	CHECK_EQ_INT(e.tx0[0], CLS_TX_COMMITTED);
	CHECK_EQ_INT(flow_table_stats(t)->bad_checksums, 1);
	CHECK_EQ_INT(flow_table_stats(t)->csum_sampled, 0);
	flow_table_free(t);

	t = table_csum(&e, FLOW_CSUM_NO);
	c = (struct conv){.t = t, .port = 45004, .ts = 1000000};
	bad_copy_session(&c, false);
	flow_table_finish(t);
	CHECK_EQ_INT(e.tx0[0], CLS_TX_RESET);
	CHECK(!flow_table_stats(t)->checksum_on);
	CHECK_EQ_INT(flow_table_stats(t)->bad_checksums, 0);
	flow_table_free(t);

	enum flow_checksum p = FLOW_CSUM_AUTO;
	CHECK(flow_checksum_parse("no", &p) && p == FLOW_CSUM_NO);
	CHECK(flow_checksum_parse("yes", &p) && p == FLOW_CSUM_YES);
	CHECK(flow_checksum_parse("auto", &p) && p == FLOW_CSUM_AUTO);
	CHECK(!flow_checksum_parse("on", &p) && !flow_checksum_parse("", &p));
}

/* The bucket hash's secret picks buckets only: tables with other secrets (given, or drawn at
 * random) give the same flow_ids for the same input, and the same records. */
static void test_hash_secret(void)
{
	static const uint64_t keys[3][2] = {{1, 2}, {0x9e3779b97f4a7c15ULL, 7}, {0, 0}};
	struct ended e[3];
	for (int k = 0; k < 3; k++) {
		struct flow_config cfg;
		flow_config_default(&cfg);
		cfg.hash_key[0] = keys[k][0];
		cfg.hash_key[1] = keys[k][1];
		cfg.max_flows = 4; /* small: a bucket holds several flows at once */
		memset(&e[k], 0, sizeof(e[k]));
		struct flow_table *t = flow_table_new(&cfg, on_end, &e[k]);
		for (uint16_t i = 0; i < 8; i++) {
			struct conv c = {.t = t, .port = (uint16_t)(46000 + i), .ts = 1000000 + i};
			mail_session(&c, 100u * i);
		}
		flow_table_finish(t);
		flow_table_free(t);
		CHECK_EQ_INT(e[k].n, 8);
	}
	for (int i = 0; i < 8; i++) {
		CHECK(e[0].flow_id[i] != 0 && e[0].flow_id[i] < (1ULL << 51));
		CHECK_EQ_INT(e[1].flow_id[i], e[0].flow_id[i]);
		CHECK_EQ_INT(e[2].flow_id[i], e[0].flow_id[i]);
		CHECK_EQ_INT(e[1].client_port[i], e[0].client_port[i]);
		CHECK_EQ_INT(e[1].tx0[i], CLS_TX_COMMITTED);
	}
}

/* Time going back by more than the idle timeout (captures merged out of order): the clock
 * stays where it was, the older sessions are whole, and none is split or timed out. An open
 * flow of the later time is not expired by the older packets either. */
static void test_clock_backwards(void)
{
	struct ended e;
	struct flow_table *t = table(&e, 0, 0);
	const uint64_t late = 7200ULL * 1000000 + 1000000;
	struct conv open = {.t = t, .port = 47000, .ts = late};
	handshake(&open, 1, 5000);
	say(&open, false, "220 mx\r\n");
	struct conv a = {.t = t, .port = 47001, .ts = late + 1000};
	mail_session(&a, 1);
	uint64_t clock = flow_table_now(t);
	CHECK_EQ_INT(clock, a.ts - 1000);
	for (uint16_t i = 0; i < 3; i++) {
		struct conv b = {
		    .t = t, .port = (uint16_t)(47002 + i), .ts = 1000000 + 1000000ULL * i};
		mail_session(&b, 1);
	}
	CHECK_EQ_INT(flow_table_now(t), clock);
	CHECK_EQ_INT(e.n, 0); /* nothing expired by the older packets */
	CHECK_EQ_INT(flow_table_stats(t)->flows_timed_out, 0);
	flow_table_finish(t);
	CHECK_EQ_INT(e.n, 5);
	for (int i = 0; i < 4; i++) {
		CHECK_EQ_INT(e.client_port[i], 47001 + i); /* closed ones first, in close order */
		CHECK_EQ_INT(e.v[i].outcome, CLS_OUT_COMMITTED);
		CHECK_EQ_INT(e.v[i].close, CLS_CLOSE_QUIT);
	}
	CHECK_EQ_INT(e.client_port[4], 47000);
	CHECK_EQ_INT(e.v[4].close, CLS_CLOSE_CAPTURE_ENDED);
	flow_table_free(t);
}

/* The clock moved without a segment (a live capture's ticks): idle time is counted on it, a
 * closed flow is written after its linger, and a move backwards does nothing. */
static void test_advance(void)
{
	struct ended e;
	struct flow_table *t = table(&e, 0, 0);
	CHECK_EQ_INT(flow_table_now(t), 0);
	struct conv a = {.t = t, .port = 48000, .ts = 1000000};
	handshake(&a, 1, 5000);
	say(&a, false, "220 mx\r\n");
	uint64_t last = flow_table_now(t);
	struct conv b = {.t = t, .port = 48001, .ts = a.ts};
	mail_session(&b, 1);
	uint64_t closed = flow_table_now(t);
	flow_table_advance(t, closed + 499999);
	CHECK_EQ_INT(e.n, 0);
	flow_table_advance(t, closed + 500000); /* the linger (0.5 s) is over */
	CHECK_EQ_INT(e.n, 1);
	CHECK_EQ_INT(e.client_port[0], 48001);
	flow_table_advance(t, last + 600ULL * 1000000 - 1);
	CHECK_EQ_INT(e.n, 1);
	flow_table_advance(t, 5); /* backwards: nothing */
	CHECK_EQ_INT(flow_table_now(t), last + 600ULL * 1000000 - 1);
	flow_table_advance(t, last + 600ULL * 1000000);
	CHECK_EQ_INT(e.n, 2);
	CHECK_EQ_INT(e.v[1].close, CLS_CLOSE_IDLE_TIMEOUT);
	CHECK_EQ_INT(flow_table_stats(t)->flows_timed_out, 1);
	flow_table_finish(t);
	CHECK_EQ_INT(e.n, 2);
	flow_table_free(t);
}

/* Connections that never carried a byte are not SMTP sessions: a SYN refused by a RST, a SYN
 * never answered, a half-open scan, a connection made and closed empty. Each still ends
 * through the callback, with its kind, and is counted. */
static void test_flow_kinds(void)
{
	struct ended e;
	struct flow_table *t = table(&e, 0, 0);
	struct conv c = {.t = t, .port = 49000, .ts = 1000000, .cseq = 10};
	seg(&c, true, c.cseq++, TCP_FLAG_SYN, NULL, 0); /* refused */
	c.sseq = 0;
	seg(&c, false, 0, TCP_FLAG_RST, NULL, 0);
	c = (struct conv){.t = t, .port = 49001, .ts = c.ts, .cseq = 10};
	seg(&c, true, c.cseq, TCP_FLAG_SYN, NULL, 0); /* unanswered, sent twice */
	seg(&c, true, c.cseq, TCP_FLAG_SYN, NULL, 0);
	c = (struct conv){.t = t, .port = 49002, .ts = c.ts, .cseq = 10, .sseq = 500};
	seg(&c, true, c.cseq++, TCP_FLAG_SYN, NULL, 0); /* half-open */
	seg(&c, false, c.sseq++, TCP_FLAG_SYN | TCP_FLAG_ACK, NULL, 0);
	seg(&c, true, c.cseq, TCP_FLAG_RST, NULL, 0);
	c = (struct conv){.t = t, .port = 49003, .ts = c.ts};
	handshake(&c, 10, 500); /* made and closed, no byte */
	close_both(&c);
	c = (struct conv){.t = t, .port = 49004, .ts = c.ts};
	mail_session(&c, 10);
	flow_table_finish(t);
	CHECK_EQ_INT(e.n, 5);
	/* the closed ones in close order, then the one still open (unanswered) at the end */
	static const uint16_t port[] = {49000, 49002, 49003, 49004, 49001};
	static const enum flow_kind want[] = {FLOW_KIND_REFUSED, FLOW_KIND_NO_SMTP,
	                                      FLOW_KIND_NO_SMTP, FLOW_KIND_SMTP,
	                                      FLOW_KIND_NO_HANDSHAKE};
	for (int i = 0; i < 5; i++) {
		CHECK_EQ_INT(e.client_port[i], port[i]);
		CHECK_EQ_INT(e.kind[i], want[i]);
	}
	const struct flow_stats *st = flow_table_stats(t);
	CHECK_EQ_INT(st->flows_kind[FLOW_KIND_SMTP], 1);
	CHECK_EQ_INT(st->flows_kind[FLOW_KIND_REFUSED], 1);
	CHECK_EQ_INT(st->flows_kind[FLOW_KIND_NO_HANDSHAKE], 1);
	CHECK_EQ_INT(st->flows_kind[FLOW_KIND_NO_SMTP], 2);
	CHECK_EQ_STR(flow_kind_name(FLOW_KIND_NO_HANDSHAKE), "no_handshake");
	CHECK_EQ_STR(flow_kind_name(FLOW_KIND_COUNT), "unknown");
	flow_table_free(t);
}

/* A flow on a port outside the server ports is probed: SMTP by content becomes a session
 * (detected "content"), whatever its segmentation; --no-detect ignores it. */
static void test_detect_promote(void)
{
	struct ended e;
	struct flow_table *t = table(&e, 0, 0);
	struct conv c = {.t = t, .port = 40000, .srv = 8025, .ts = 1000000};
	mail_session(&c, 100);
	flow_table_finish(t);
	CHECK_EQ_INT(e.n, 1);
	CHECK_EQ_INT(e.kind[0], FLOW_KIND_SMTP);
	CHECK_EQ_INT(e.detected[0], DETECT_HOW_CONTENT);
	CHECK_EQ_INT(e.v[0].outcome, CLS_OUT_COMMITTED);
	CHECK_EQ_INT(e.tx0[0], CLS_TX_COMMITTED);
	CHECK_EQ_INT(flow_table_stats(t)->flows_probed, 1);
	flow_table_free(t);

	struct flow_config cfg;
	flow_config_default(&cfg);
	cfg.checksum = FLOW_CSUM_NO;
	cfg.detect = false;
	memset(&e, 0, sizeof(e));
	t = flow_table_new(&cfg, on_end, &e);
	c = (struct conv){.t = t, .port = 40000, .srv = 8025, .ts = 1000000};
	mail_session(&c, 100);
	flow_table_finish(t);
	CHECK_EQ_INT(e.n, 0);
	CHECK_EQ_INT(flow_table_stats(t)->flows_probed, 0);
	CHECK_EQ_INT(flow_table_stats(t)->segments_ignored, flow_table_stats(t)->segments);
	flow_table_free(t);
}

/* Picked up without a SYN on ports outside the server ports, the side that sends the 220 is
 * the server, whichever port is the higher. */
static void test_detect_midstream_roles(void)
{
	struct ended e;
	struct flow_table *t = table(&e, 0, 0);
	struct conv c = {.t = t, .port = 1000, .srv = 8025, .ts = 1000000, .cseq = 10, .sseq = 90};
	to_rcpt(&c);
	from_data(&c);
	flow_table_finish(t);
	CHECK_EQ_INT(e.n, 1);
	CHECK_EQ_INT(e.client_port[0], 1000);
	CHECK_EQ_INT(e.detected[0], DETECT_HOW_CONTENT);
	CHECK_EQ_INT(e.tx0[0], CLS_TX_COMMITTED);
	CHECK(e.anomalies[0] & (1ULL << SMTP_AN_MIDSTREAM));
	flow_table_free(t);
}

/* Sends an out-of-order segment from the server (a hole before it): held, unless a tombstone. */
static void ahead(struct conv *c)
{
	seg(c, false, c->sseq + 100, TCP_FLAG_PSH, "held if reassembled\r\n", 21);
}

/* A flow found not SMTP is a tombstone: no session (the end callback gets no record), no
 * reassembly buffer for what comes after, counted as no_smtp; a port-25 flow holds the same
 * out-of-order segment. */
static void test_detect_tombstone(void)
{
	struct ended e;
	struct flow_table *t = table(&e, 0, 0);
	struct conv c = {.t = t, .port = 40000, .srv = 8080, .ts = 1000000};
	handshake(&c, 100, 5000);
	say(&c, true, "GET / HTTP/1.1\r\nHost: www.example\r\n\r\n");
	ahead(&c);
	say(&c, false, "HTTP/1.1 200 OK\r\n\r\n");
	CHECK_EQ_INT(flow_table_stats(t)->held_bytes_max, 0);
	close_both(&c);
	seg(&c, true, c.cseq, 0, NULL, 0); /* the last ACK: the tombstone is closed */
	flow_table_advance(t, c.ts + 1000000);
	CHECK_EQ_INT(e.n, 1); /* ended at the close, not at the finish */
	flow_table_finish(t);
	CHECK_EQ_INT(e.n, 1);
	CHECK_EQ_INT(e.kind[0], FLOW_KIND_NO_SMTP);
	CHECK_EQ_INT(e.detected[0], DETECT_HOW_NONE);
	const struct flow_stats *st = flow_table_stats(t);
	CHECK_EQ_INT(st->flows_kind[FLOW_KIND_NO_SMTP], 1);
	CHECK_EQ_INT(st->flows_probed, 1);
	flow_table_free(t);

	t = table(&e, 0, 0);
	c = (struct conv){.t = t, .port = 40000, .ts = 1000000};
	handshake(&c, 100, 5000);
	say(&c, true, "GET / HTTP/1.1\r\n\r\n");
	ahead(&c);
	CHECK_EQ_INT(flow_table_stats(t)->held_bytes_max, 21);
	flow_table_finish(t);
	CHECK_EQ_INT(e.kind[0], FLOW_KIND_SMTP);
	CHECK_EQ_INT(e.detected[0], DETECT_HOW_PORT);
	flow_table_free(t);
}

/* A tombstone made by a segment that also carries the FIN closes when the other side's FIN
 * comes (ended after the linger, not at the end of input). */
static void test_detect_tombstone_fin_with_data(void)
{
	struct ended e;
	struct flow_table *t = table(&e, 0, 0);
	struct conv c = {.t = t, .port = 40000, .srv = 8080, .ts = 1000000};
	handshake(&c, 100, 5000);
	static const char get[] = "GET / HTTP/1.0\r\n\r\n";
	seg(&c, true, c.cseq, TCP_FLAG_PSH | TCP_FLAG_FIN, get, sizeof(get) - 1);
	c.cseq += (uint32_t)sizeof(get); /* the text and the FIN */
	seg(&c, false, c.sseq++, TCP_FLAG_FIN, NULL, 0);
	flow_table_advance(t, c.ts + 1000000);
	CHECK_EQ_INT(e.n, 1);
	CHECK_EQ_INT(e.kind[0], FLOW_KIND_NO_SMTP);
	flow_table_finish(t);
	flow_table_free(t);
}

/* Under --max-flows a tombstone makes room before an older flow that is SMTP. */
static void test_detect_tombstone_evicted_first(void)
{
	struct ended e;
	struct flow_table *t = table(&e, 2, 0);
	struct conv a = {.t = t, .port = 40000, .ts = 1000000};
	handshake(&a, 100, 5000);
	to_rcpt(&a); /* an SMTP session, open, the least recently used */
	struct conv b = {.t = t, .port = 40001, .srv = 8080, .ts = a.ts};
	handshake(&b, 100, 5000);
	say(&b, true, "GET / HTTP/1.1\r\n\r\n");
	struct conv c = {.t = t, .port = 40002, .ts = b.ts};
	handshake(&c, 100, 5000); /* a third flow: one must go */
	CHECK_EQ_INT(e.n, 1);
	CHECK_EQ_INT(e.client_port[0], 40001);
	CHECK_EQ_INT(e.kind[0], FLOW_KIND_NO_SMTP);
	flow_table_finish(t);
	CHECK_EQ_INT(e.n, 3);
	CHECK_EQ_INT(e.client_port[1], 40000);
	CHECK_EQ_INT(e.kind[1], FLOW_KIND_SMTP);
	flow_table_free(t);
}

/* Probes under way at once are capped (max_probes): a flow that finds none free is not
 * probed, and taken for not SMTP; a probe is free again once its flow is decided. */
static void test_detect_probe_cap(void)
{
	struct ended e;
	struct flow_config cfg;
	flow_config_default(&cfg);
	cfg.checksum = FLOW_CSUM_NO;
	cfg.max_probes = 1;
	memset(&e, 0, sizeof(e));
	struct flow_table *t = flow_table_new(&cfg, on_end, &e);
	struct conv a = {.t = t, .port = 40000, .srv = 8025, .ts = 1000000};
	handshake(&a, 100, 5000);
	say(&a, false, "220 mx\r\n"); /* undecided until the EHLO: holds the one probe */
	struct conv b = {.t = t, .port = 40001, .srv = 8025, .ts = a.ts};
	mail_session(&b, 100);       /* SMTP, but no probe is free when its greeting comes */
	say(&a, true, "EHLO c\r\n"); /* a is decided: its probe is free again */
	struct conv c = {.t = t, .port = 40002, .srv = 8025, .ts = a.ts + 10000};
	mail_session(&c, 100);
	flow_table_finish(t);
	const struct flow_stats *st = flow_table_stats(t);
	CHECK_EQ_INT(st->probes_refused, 1);
	CHECK_EQ_INT(st->flows_probed, 3);
	CHECK_EQ_INT(st->flows_kind[FLOW_KIND_SMTP], 2);
	CHECK_EQ_INT(st->flows_kind[FLOW_KIND_NO_SMTP], 1);
	flow_table_free(t);
}

int main(void)
{
	RUN_TEST(test_port_reuse);
	RUN_TEST(test_idle_timeout);
	RUN_TEST(test_lru_eviction);
	RUN_TEST(test_syn_flood);
	RUN_TEST(test_buckets_grow);
	RUN_TEST(test_reuse_after_end);
	RUN_TEST(test_first_bytes_never_arrive);
	RUN_TEST(test_overlap_mismatch);
	RUN_TEST(test_eod_in_gap);
	RUN_TEST(test_roles_from_replies);
	RUN_TEST(test_clock_backwards);
	RUN_TEST(test_advance);
	RUN_TEST(test_flow_kinds);
	RUN_TEST(test_detect_promote);
	RUN_TEST(test_detect_midstream_roles);
	RUN_TEST(test_detect_tombstone);
	RUN_TEST(test_detect_tombstone_fin_with_data);
	RUN_TEST(test_detect_tombstone_evicted_first);
	RUN_TEST(test_detect_probe_cap);
	RUN_TEST(test_hash_secret);
	RUN_TEST(test_checksum_auto);
	RUN_TEST(test_checksum_policies);
	TAP_EXIT();
}
