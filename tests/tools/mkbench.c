/* mkbench: writes the benchmark captures and their ground truth: interleaved SMTP sessions
 * (RFC 5321, RFC 2920 pipelining, RFC 3030 BDAT) over TCP (RFC 9293), IPv4 and IPv6, with
 * every session and transaction verdict, MSS-sized segments, pure ACKs, reordering and
 * retransmissions; or committed sessions all open at once whose tuples collide in the flow
 * table's bucket index (mode collide) or are random (mode random), for the same size. -H: every
 * other connection is HTTP on port 8080 instead (an upload of a message's size; not SMTP, so
 * in no ground truth line): what probing flows by content costs.
 *   mkbench [-s SIZE] [-S SEED] [-c OPEN] [-m mix|collide|random] [-n SESSIONS] [-t ROUND_US]
 *           [-H] OUT.pcap [TRUTH.jsonl]
 * TRUTH gets one JSON line per session: its tuple and the verdicts smtptrace must give. */
#include <arpa/inet.h>
#include <pcap/dlt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pcapw.h"

enum {
	MAX_BODY = 256 * 1024,
	MAX_ACTS = 64,
	TEXT_CAP = 640,
	TRUTH_CAP = 1024,
	FRAME_CAP = 2048,
	PKT_OVERHEAD = 16 + 14 + 40 + 20, /* pcap record, Ethernet, IPv6, TCP: for estimates */
};

enum mode { MODE_MIX, MODE_COLLIDE, MODE_RANDOM };

enum act_op {
	A_HANDSHAKE,
	A_CLIENT,
	A_SERVER,
	A_STREAM, /* client bytes: head, then body bytes, then tail, in MSS-sized segments */
	A_CLIENT_ACK,
	A_SERVER_ACK,
	A_CLIENT_FIN,
	A_SERVER_FIN,
	A_CLIENT_RST,
};

struct act {
	enum act_op op;
	const char *head, *tail;
	uint32_t head_len, tail_len, body;
};

struct sess {
	struct pcapw_conn conn; /* tuple, sequence numbers, MSS */
	struct act acts[MAX_ACTS];
	int n_acts, pc;
	uint64_t off; /* bytes of the current stream already sent */
	char text[TEXT_CAP];
	size_t text_len;
	uint64_t planned, written, counted; /* file bytes: estimated, written, counted down */
	int error_run;                      /* 5xx replies in a row so far in the plan */
	bool repeated_errors;               /* three of them came */
	bool live;
};

struct gen {
	struct pcapw *w;
	FILE *truth;
	enum mode mode;
	uint64_t size, open, limit, seed, ts_us, round_us, written, pending, rng, tuple_rng;
	uint64_t sessions, packets;
	uint32_t collide_addr, collide_port; /* where the search for colliding tuples goes on */
	bool failed;
	bool half_http;                 /* -H: every other connection HTTP on 8080 */
	uint8_t payload[2 * FRAME_CAP]; /* two segments */
};

/* The verdicts a session's plan leads to, kept while the plan is built. */
struct truth {
	char tx[TRUTH_CAP];
	size_t tx_len;
	int commits;
	uint32_t size;           /* message octets of the transaction being planned */
	bool bdat, after_commit; /* after_commit: the last thing the client got was a 2xx to EOD */
	bool helo;               /* no EHLO: no PIPELINING, no CHUNKING */
};

static char body_text[MAX_BODY];

static uint64_t next_rng(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static uint64_t rnd(struct gen *g, uint64_t n)
{
	return next_rng(&g->rng) % n;
}

/* Picks an index by weight from a table of n weights. */
static int pick(struct gen *g, const unsigned *weights, int n)
{
	unsigned total = 0, r;
	for (int i = 0; i < n; i++)
		total += weights[i];
	r = (unsigned)rnd(g, total);
	for (int i = 0; i < n; i++) {
		if (r < weights[i])
			return i;
		r -= weights[i];
	}
	return n - 1;
}

#define BODY_LINE                                                                                  \
	"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n"
enum { LINE_LEN = sizeof(BODY_LINE) - 1 };

/* Message sizes: most a few KiB, some tens, a few hundreds (roughly what relays see), in
 * whole lines, so that the text ends in CRLF and the end of data follows it. */
static uint32_t body_size(struct gen *g)
{
	uint64_t r = rnd(g, 100), n;
	if (g->mode != MODE_MIX || r < 60)
		n = 1000 + rnd(g, 7000);
	else if (r < 95)
		n = 8000 + rnd(g, 60000);
	else
		n = 68000 + rnd(g, MAX_BODY - 68000);
	return (uint32_t)(n - n % LINE_LEN);
}

/* Message text: CRLF lines, none of them a lone ".", so no size can end the data early. */
static void make_body(void)
{
	static const char line[] =
	    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do "
	    "eiusmod tempor.\r\n";
	for (size_t i = 0; i < MAX_BODY; i++)
		body_text[i] = line[i % (sizeof(line) - 1)];
}

/* ---- writing segments ---- */

/* Writes one segment at the generator's clock; counts the file bytes it took. */
static void emit(struct gen *g, struct sess *s, bool from_client, uint32_t seq, uint8_t flags,
                 const uint8_t *payload, uint32_t len)
{
	struct pcapw_conn *c = &s->conn;
	uint32_t ack = flags == TCP_FLAG_SYN ? 0 : from_client ? c->sseq : c->cseq;
	size_t frame = 14 + (c->client.family == 4 ? 20 : 40) + 20 + (size_t)len;
	c->ts_us = g->ts_us;
	if (pcapw_conn_segment(c, from_client, seq, ack, flags, payload, len) != 0)
		g->failed = true;
	g->ts_us = c->ts_us;
	frame = 16 + (frame < 60 ? 60 : frame); /* record header; Ethernet pads to 60 */
	g->written += frame;
	s->written += frame;
	g->packets++;
}

/* One segment of data from one side; now and then the capture holds it twice. */
static void send_data(struct gen *g, struct sess *s, bool from_client, const void *p, uint32_t n)
{
	uint32_t *seq = from_client ? &s->conn.cseq : &s->conn.sseq;
	emit(g, s, from_client, *seq, TCP_FLAG_ACK | TCP_FLAG_PSH, p, n);
	if (rnd(g, 100) == 0)
		emit(g, s, from_client, *seq, TCP_FLAG_ACK | TCP_FLAG_PSH, p, n);
	*seq += n;
}

static void send_flag(struct gen *g, struct sess *s, bool from_client, uint8_t flags)
{
	uint32_t *seq = from_client ? &s->conn.cseq : &s->conn.sseq;
	emit(g, s, from_client, *seq, flags, NULL, 0);
	if (flags & (TCP_FLAG_SYN | TCP_FLAG_FIN))
		(*seq)++;
}

/* Bytes off..off+n of a stream act: its head, then body text, then its tail. */
static void stream_copy(const struct act *a, uint64_t off, uint8_t *out, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++, off++) {
		if (off < a->head_len)
			out[i] = (uint8_t)a->head[off];
		else if (off < a->head_len + (uint64_t)a->body)
			out[i] = (uint8_t)body_text[off - a->head_len];
		else
			out[i] = (uint8_t)a->tail[off - a->head_len - a->body];
	}
}

/* Up to two segments of the stream, sometimes in the wrong order, then the server's pure
 * ACK of both, sometimes followed by a spurious retransmission. Returns true when done. */
static bool stream_step(struct gen *g, struct sess *s, const struct act *a)
{
	uint64_t total = (uint64_t)a->head_len + a->body + a->tail_len, left = total - s->off;
	uint32_t n1 = (uint32_t)(left < s->conn.mss ? left : s->conn.mss);
	uint32_t n2 = (uint32_t)(left - n1 < s->conn.mss ? left - n1 : s->conn.mss);
	uint8_t *p1 = g->payload, *p2 = g->payload + s->conn.mss,
	        flags = TCP_FLAG_ACK | TCP_FLAG_PSH;
	uint32_t seq = s->conn.cseq;

	stream_copy(a, s->off, p1, n1);
	stream_copy(a, s->off + n1, p2, n2);
	if (n2 && rnd(g, 50) == 0) {
		emit(g, s, true, seq + n1, flags, p2, n2);
		emit(g, s, true, seq, flags, p1, n1);
	} else {
		emit(g, s, true, seq, flags, p1, n1);
		if (n2)
			emit(g, s, true, seq + n1, flags, p2, n2);
	}
	s->conn.cseq += n1 + n2;
	s->off += n1 + n2;
	send_flag(g, s, false, TCP_FLAG_ACK);
	if (rnd(g, 50) == 0)
		emit(g, s, true, seq, flags, p1, n1);
	return s->off == total;
}

/* Writes the session's next act; false when the session is over. */
static bool session_step(struct gen *g, struct sess *s)
{
	if (s->pc == s->n_acts)
		return false;
	const struct act *a = &s->acts[s->pc];
	switch (a->op) {
	case A_HANDSHAKE:
		send_flag(g, s, true, TCP_FLAG_SYN);
		send_flag(g, s, false, TCP_FLAG_SYN | TCP_FLAG_ACK);
		send_flag(g, s, true, TCP_FLAG_ACK);
		break;
	case A_CLIENT:
	case A_SERVER:
		send_data(g, s, a->op == A_CLIENT, a->head, a->head_len);
		break;
	case A_STREAM:
		if (!stream_step(g, s, a))
			return true;
		s->off = 0;
		break;
	case A_CLIENT_ACK:
	case A_SERVER_ACK:
		send_flag(g, s, a->op == A_CLIENT_ACK, TCP_FLAG_ACK);
		break;
	case A_CLIENT_FIN:
	case A_SERVER_FIN:
		send_flag(g, s, a->op == A_CLIENT_FIN, TCP_FLAG_FIN | TCP_FLAG_ACK);
		break;
	case A_CLIENT_RST:
		send_flag(g, s, true, TCP_FLAG_RST | TCP_FLAG_ACK);
		break;
	}
	s->pc++;
	return true;
}

/* ---- planning a session: its acts and the verdicts they lead to ---- */

static struct act *add(struct sess *s, enum act_op op, const char *head)
{
	if (s->n_acts == MAX_ACTS) {
		fprintf(stderr, "mkbench: session plan too long\n");
		exit(1);
	}
	struct act *a = &s->acts[s->n_acts++];
	*a = (struct act){.op = op, .head = head ? head : "", .tail = ""};
	a->head_len = (uint32_t)strlen(a->head);
	s->planned += PKT_OVERHEAD + a->head_len;
	return a;
}

static void client(struct sess *s, const char *text)
{
	add(s, A_CLIENT, text);
}

/* A server's replies; three 5xx in a row make repeated_errors, as smtp_reply.c counts them
 * (a multi-line reply once). */
static void server(struct sess *s, const char *text)
{
	add(s, A_SERVER, text);
	for (const char *line = text; *line; line = strchr(line, '\n') + 1) {
		if (line[3] == '-')
			continue;
		s->error_run = line[0] == '5' ? s->error_run + 1 : 0;
		s->repeated_errors = s->repeated_errors || s->error_run >= 3;
	}
}

/* A line built for this session, kept in its text buffer. */
__attribute__((format(printf, 2, 3))) static const char *fmt_text(struct sess *s, const char *fmt,
                                                                  ...)
{
	char *p = s->text + s->text_len;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(p, TEXT_CAP - s->text_len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= TEXT_CAP - s->text_len) {
		fprintf(stderr, "mkbench: session text too long\n");
		exit(1);
	}
	s->text_len += (size_t)n + 1;
	return p;
}

static void stream(struct sess *s, const char *head, uint32_t body, const char *tail)
{
	struct act *a = add(s, A_STREAM, head);
	a->body = body;
	a->tail = tail;
	a->tail_len = (uint32_t)strlen(tail);
	s->planned += body + a->tail_len + (body / s->conn.mss + 1) * PKT_OVERHEAD * 3 / 2;
}

/* Adds a transaction's verdict; its size is the message octets the plan sent (t->size,
 * which the data-sending steps set), 0 when it sent none. */
static void tx_verdict(struct truth *t, const char *outcome, const char *at, const char *method)
{
	size_t cap = sizeof(t->tx) - t->tx_len;
	int n = snprintf(t->tx + t->tx_len, cap, "%s{\"outcome\":\"%s\"%s%s%s%s%s%s,\"size\":%u}",
	                 t->tx_len ? "," : "", outcome, at ? ",\"rejected_at\":\"" : "",
	                 at ? at : "", at ? "\"" : "", method ? ",\"method\":\"" : "",
	                 method ? method : "", method ? "\"" : "", t->size);
	if (n > 0 && (size_t)n < cap)
		t->tx_len += (size_t)n;
	t->after_commit = strcmp(outcome, "committed") == 0;
	t->commits += t->after_commit;
	t->size = 0;
}

static void mail_rcpt(struct sess *s)
{
	client(s, "MAIL FROM:<sender@example.org> SIZE=4096\r\n");
	server(s, "250 2.1.0 Ok\r\n");
	client(s, "RCPT TO:<rcpt@example.net>\r\n");
	server(s, "250 2.1.5 Ok\r\n");
}

static void queued(struct gen *g, struct sess *s)
{
	server(s, fmt_text(s, "250 2.0.0 Ok: queued as %010llX\r\n",
	                   (unsigned long long)(next_rng(&g->rng) >> 24)));
}

static void data_body(struct gen *g, struct sess *s, struct truth *t)
{
	client(s, "DATA\r\n");
	server(s, "354 End data with <CR><LF>.<CR><LF>\r\n");
	t->size = body_size(g);
	stream(s, "", t->size, ".\r\n");
}

static void tx_commit(struct gen *g, struct sess *s, struct truth *t)
{
	mail_rcpt(s);
	data_body(g, s, t);
	queued(g, s);
	tx_verdict(t, "committed", NULL, "data");
}

static void tx_pipelined(struct gen *g, struct sess *s, struct truth *t)
{
	client(s, "MAIL FROM:<sender@example.org>\r\nRCPT TO:<a@example.net>\r\n"
	          "RCPT TO:<b@example.net>\r\nDATA\r\n");
	server(s, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
	          "354 End data with <CR><LF>.<CR><LF>\r\n");
	t->size = body_size(g);
	stream(s, "", t->size, ".\r\n");
	queued(g, s);
	tx_verdict(t, "committed", NULL, "data");
}

/* BDAT (RFC 3030): one chunk, or two with the first reply in between. */
static void tx_bdat(struct gen *g, struct sess *s, struct truth *t)
{
	uint32_t n = body_size(g), first = rnd(g, 2) ? n / 2 : 0;
	mail_rcpt(s);
	if (first) {
		stream(s, fmt_text(s, "BDAT %u\r\n", first), first, "");
		server(s, fmt_text(s, "250 2.0.0 %u bytes received\r\n", first));
	}
	stream(s, fmt_text(s, "BDAT %u LAST\r\n", n - first), n - first, "");
	queued(g, s);
	t->size = n;
	tx_verdict(t, "committed", NULL, "bdat");
	t->bdat = true;
}

static void tx_two_rcpts(struct gen *g, struct sess *s, struct truth *t)
{
	mail_rcpt(s);
	client(s, "RCPT TO:<nobody@example.net>\r\n");
	server(s, "550 5.1.1 <nobody@example.net>: Recipient address rejected\r\n");
	data_body(g, s, t);
	queued(g, s);
	tx_verdict(t, "committed", NULL, "data");
}

static void tx_rej_mail(struct gen *g, struct sess *s, struct truth *t)
{
	(void)g;
	client(s, "MAIL FROM:<spam@example.com>\r\n");
	server(s, "553 5.7.1 <spam@example.com>: Sender address rejected\r\n");
	tx_verdict(t, "rejected", "mail", NULL);
}

static void tx_rej_rcpt(struct gen *g, struct sess *s, struct truth *t)
{
	(void)g;
	client(s, "MAIL FROM:<sender@example.org>\r\n");
	server(s, "250 2.1.0 Ok\r\n");
	client(s, "RCPT TO:<nobody@example.net>\r\n");
	server(s, "550 5.1.1 <nobody@example.net>: Recipient address rejected\r\n");
	client(s, "RSET\r\n");
	server(s, "250 2.0.0 Ok\r\n");
	tx_verdict(t, "rejected", "rcpt", NULL);
}

static void tx_rej_data(struct gen *g, struct sess *s, struct truth *t)
{
	(void)g;
	mail_rcpt(s);
	client(s, "DATA\r\n");
	server(s, "451 4.3.0 Error: queue file write error\r\n");
	client(s, "RSET\r\n");
	server(s, "250 2.0.0 Ok\r\n");
	tx_verdict(t, "rejected", "data", "data");
}

static void tx_rej_eod(struct gen *g, struct sess *s, struct truth *t)
{
	mail_rcpt(s);
	data_body(g, s, t);
	server(s, "550 5.7.1 Message rejected as spam\r\n");
	tx_verdict(t, "rejected", "eod", "data");
}

static void tx_reset(struct gen *g, struct sess *s, struct truth *t)
{
	(void)g;
	mail_rcpt(s);
	client(s, "RSET\r\n");
	server(s, "250 2.0.0 Ok\r\n");
	tx_verdict(t, "reset", NULL, NULL);
}

typedef void (*tx_fn)(struct gen *g, struct sess *s, struct truth *t);

/* The transactions a session may hold before its end, by weight. */
static void plan_transaction(struct gen *g, struct sess *s, struct truth *t)
{
	static const tx_fn fns[] = {tx_commit,    tx_pipelined, tx_bdat,
	                            tx_two_rcpts, tx_rej_mail,  tx_rej_rcpt,
	                            tx_rej_data,  tx_rej_eod,   tx_reset};
	static const unsigned weights[] = {60, 12, 8, 3, 3, 4, 3, 4, 3};
	int i =
	    g->mode == MODE_MIX ? pick(g, weights, (int)(sizeof(weights) / sizeof(*weights))) : 0;
	if (t->helo && (fns[i] == tx_pipelined || fns[i] == tx_bdat))
		i = 0;
	fns[i](g, s, t);
}

/* ---- how sessions end ---- */

enum ending {
	END_QUIT,
	END_RFC821,
	END_NO_QUIT,
	END_SERVER,
	END_ABORT_QUIT,
	END_ABANDON,
	END_EOD_UNACK,
};

struct verdict {
	const char *outcome, *close, *close_by, *close_how, *style;
};

static void quit(struct sess *s)
{
	client(s, "QUIT\r\n");
	server(s, "221 2.0.0 Bye\r\n");
	add(s, A_SERVER_FIN, NULL);
	add(s, A_CLIENT_FIN, NULL);
	add(s, A_SERVER_ACK, NULL);
}

static void client_closes(struct sess *s)
{
	add(s, A_CLIENT_FIN, NULL);
	add(s, A_SERVER_FIN, NULL);
	add(s, A_CLIENT_ACK, NULL);
}

static struct verdict end_quit(struct sess *s, const struct truth *t)
{
	quit(s);
	return (struct verdict){t->commits ? "committed" : "no_mail", "quit", "server", "fin",
	                        "rfc5321"};
}

static struct verdict end_abandon(struct gen *g, struct sess *s, struct truth *t)
{
	bool rst = rnd(g, 2);
	mail_rcpt(s);
	client(s, "DATA\r\n");
	server(s, "354 End data with <CR><LF>.<CR><LF>\r\n");
	t->size = body_size(g) / LINE_LEN / 2 * LINE_LEN + LINE_LEN;
	stream(s, "", t->size, "");
	if (rst)
		add(s, A_CLIENT_RST, NULL);
	else
		client_closes(s);
	tx_verdict(t, "abandoned_before_eod", NULL, "data");
	return (struct verdict){"abandoned_before_eod", "client_closed_without_quit", "client",
	                        rst ? "rst" : "fin", "unknown"};
}

/* The client closes after its end of data, before the reply reaches it (RFC 1047); the late
 * reply, when the server sends one, draws the client's reset. */
static struct verdict end_eod_unack(struct gen *g, struct sess *s, struct truth *t)
{
	mail_rcpt(s);
	data_body(g, s, t);
	add(s, A_CLIENT_FIN, NULL);
	if (rnd(g, 2)) {
		add(s, A_SERVER_ACK, NULL);
		queued(g, s);
		add(s, A_CLIENT_RST, NULL);
	} else {
		add(s, A_SERVER_FIN, NULL);
		add(s, A_CLIENT_ACK, NULL);
	}
	tx_verdict(t, "eod_unacknowledged", NULL, "data");
	return (struct verdict){"eod_unacknowledged", "client_closed_without_quit", "client", "fin",
	                        "unknown"};
}

static struct verdict plan_ending(struct gen *g, struct sess *s, struct truth *t, enum ending e)
{
	switch (e) {
	case END_RFC821:
		if (!t->after_commit)
			tx_commit(g, s, t);
		client_closes(s);
		return (struct verdict){"rfc821_drop", "client_closed_without_quit", "client",
		                        "fin", "rfc821"};
	case END_NO_QUIT:
		if (t->after_commit) {
			client(s, "NOOP\r\n");
			server(s, "250 2.0.0 Ok\r\n");
		}
		client_closes(s);
		return (struct verdict){"closed_without_quit", "client_closed_without_quit",
		                        "client", "fin", "unknown"};
	case END_SERVER:
		server(s, "421 4.4.2 mx.example.net Error: timeout exceeded\r\n");
		add(s, A_SERVER_FIN, NULL);
		add(s, A_CLIENT_FIN, NULL);
		add(s, A_SERVER_ACK, NULL);
		return (struct verdict){"server_closed", "server_closed", "server", "fin",
		                        "unknown"};
	case END_ABORT_QUIT:
		mail_rcpt(s);
		tx_verdict(t, "aborted_by_quit", NULL, NULL);
		return end_quit(s, t);
	case END_ABANDON:
		return end_abandon(g, s, t);
	case END_EOD_UNACK:
		return end_eod_unack(g, s, t);
	case END_QUIT:
		break;
	}
	return end_quit(s, t);
}

/* ---- sessions: tuples, plans, ground truth ---- */

static void addr_text(const struct decode_addr *a, char *out, size_t cap)
{
	if (!inet_ntop(a->family == 6 ? AF_INET6 : AF_INET, a->bytes, out, (socklen_t)cap))
		snprintf(out, cap, "?");
}

static void write_truth(struct gen *g, const struct sess *s, const struct truth *t,
                        const struct verdict *v)
{
	static const char *const anomalies[] = {"", "\"bdat\"", "\"repeated_errors\"",
	                                        "\"bdat\",\"repeated_errors\""};
	char c[64], d[64];
	addr_text(&s->conn.client, c, sizeof(c));
	addr_text(&s->conn.server, d, sizeof(d));
	if (!g->truth)
		return;
	fprintf(g->truth,
	        "{\"src_ip\":\"%s\",\"src_port\":%u,\"dest_ip\":\"%s\",\"dest_port\":%u,"
	        "\"outcome\":\"%s\",\"close\":\"%s\",\"close_by\":\"%s\",\"close_how\":\"%s\","
	        "\"client_style\":\"%s\",\"transactions\":[%s],\"anomalies\":[%s]}\n",
	        c, s->conn.cport, d, s->conn.sport, v->outcome, v->close, v->close_by, v->close_how,
	        v->style, t->tx, anomalies[t->bdat + 2 * s->repeated_errors]);
}

static void plan_session(struct gen *g, struct sess *s)
{
	static const unsigned n_tx_weights[] = {8, 74, 14, 4};
	static const unsigned end_weights[] = {70, 6, 4, 4, 4, 4, 4};
	struct truth t = {.helo = g->mode == MODE_MIX && rnd(g, 10) == 0};
	int n_tx = g->mode == MODE_MIX ? pick(g, n_tx_weights, 4) : 1;
	enum ending e = g->mode == MODE_MIX ? (enum ending)pick(g, end_weights, 7) : END_QUIT;

	add(s, A_HANDSHAKE, NULL);
	server(s, "220 mx.example.net ESMTP\r\n");
	if (t.helo) {
		client(s, "HELO client.example.org\r\n");
		server(s, "250 mx.example.net\r\n");
	} else {
		client(s, "EHLO client.example.org\r\n");
		server(s, "250-mx.example.net\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n"
		          "250-8BITMIME\r\n250 CHUNKING\r\n");
	}
	for (int i = 0; i < n_tx; i++)
		plan_transaction(g, s, &t);
	struct verdict v = plan_ending(g, s, &t, e);
	write_truth(g, s, &t, &v);
}

/* -H: an HTTP upload on port 8080 of a message's size, answered 200; no ground truth. */
static void plan_http(struct gen *g, struct sess *s)
{
	uint32_t n = body_size(g);
	s->conn.sport = 8080;
	add(s, A_HANDSHAKE, NULL);
	stream(s,
	       fmt_text(s,
	                "POST /upload HTTP/1.1\r\nHost: www.example.net\r\n"
	                "Content-Length: %u\r\n\r\n",
	                n),
	       n, "");
	server(s, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	client_closes(s);
}

/* ---- tuples ---- */

static void set_v4(struct decode_addr *a, uint32_t v)
{
	memset(a, 0, sizeof(*a));
	a->family = 4;
	a->bytes[0] = (uint8_t)(v >> 24);
	a->bytes[1] = (uint8_t)(v >> 16);
	a->bytes[2] = (uint8_t)(v >> 8);
	a->bytes[3] = (uint8_t)v;
}

/* Session n of the mixed capture: a fifth on IPv6; clients numbered so no tuple repeats. */
static void mix_tuple(struct gen *g, struct sess *s, uint64_t n)
{
	bool v6 = next_rng(&g->tuple_rng) % 5 == 0;
	s->conn.cport = (uint16_t)(1024 + next_rng(&g->tuple_rng) % 64000);
	s->conn.sport = next_rng(&g->tuple_rng) % 4 ? 25 : 587;
	if (!v6) {
		set_v4(&s->conn.client, 0x0a000000u | (uint32_t)(n & 0xffffff));
		set_v4(&s->conn.server, 0xc0000219u + (uint32_t)(n % 3)); /* 192.0.2.25 .. 27 */
		s->conn.mss = 1460;
		return;
	}
	pcapw_addr("2001:db8:1::", &s->conn.client);
	pcapw_addr("2001:db8::25", &s->conn.server);
	for (int i = 0; i < 4; i++)
		s->conn.client.bytes[12 + i] = (uint8_t)(n >> (24 - 8 * i));
	s->conn.mss = 1440;
}

/* The flow table's bucket hash as analyzer/flow.c has it at this writing: FNV-1a over each
 * end's address and host-order port, mixed so both directions agree; no secret. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

static uint64_t end_hash(const struct decode_addr *a, uint16_t port)
{
	return fnv(fnv(0xcbf29ce484222325ULL, a->bytes, a->family == 6 ? 16 : 4), &port, 2);
}

static uint64_t tuple_hash(uint64_t ha, uint64_t hb)
{
	return (ha ^ hb) + (ha < hb ? ha : hb) * 31;
}

enum { COLLIDE_MASK = 65536 - 1 }; /* the default --max-flows gives 65536 buckets */

/* The next client (address, port), searching on from addr and port, whose tuple with the server
 * falls in the bucket of 10.0.0.1:1024 and that server. */
static void collide_tuple(struct sess *s, uint32_t *addr, uint32_t *port)
{
	struct decode_addr first;
	set_v4(&s->conn.server, 0xc0000219u);
	set_v4(&first, 0x0a000001u);
	uint64_t hb = end_hash(&s->conn.server, 25);
	uint64_t target = tuple_hash(end_hash(&first, 1024), hb) & COLLIDE_MASK;
	for (;; (*addr)++, *port = 1024) {
		set_v4(&s->conn.client, *addr);
		for (; *port < 65536; (*port)++) {
			if ((tuple_hash(end_hash(&s->conn.client, (uint16_t)*port), hb) &
			     COLLIDE_MASK) != target)
				continue;
			s->conn.cport = (uint16_t)(*port)++;
			return;
		}
	}
}

static void session_start(struct gen *g, struct sess *s, uint64_t n)
{
	memset(s, 0, sizeof(*s));
	s->conn.w = g->w;
	s->conn.link.dlt = DLT_EN10MB;
	s->conn.step_us = 1;
	s->conn.sport = 25;
	s->conn.mss = 1460;
	if (g->mode == MODE_COLLIDE)
		collide_tuple(s, &g->collide_addr, &g->collide_port);
	else if (g->mode == MODE_RANDOM) {
		set_v4(&s->conn.client, 0x0a000000u | (uint32_t)((n * 2654435761u) & 0xffffff));
		set_v4(&s->conn.server, 0xc0000219u);
		s->conn.cport = (uint16_t)(1024 + next_rng(&g->tuple_rng) % 64000);
	} else
		mix_tuple(g, s, n);
	s->conn.cseq = (uint32_t)next_rng(&g->rng);
	s->conn.sseq = (uint32_t)next_rng(&g->rng);
	if (g->half_http && n % 2)
		plan_http(g, s);
	else
		plan_session(g, s);
	s->live = true;
	g->pending += s->planned;
	g->sessions++;
}

/* Counts what the session wrote against its estimate, so pending stays what open sessions
 * will still write; at its end whatever the estimate had left is dropped. */
static void account(struct gen *g, struct sess *s, bool done)
{
	uint64_t now = done || s->written > s->planned ? s->planned : s->written;
	g->pending -= now - s->counted;
	s->counted = now;
	s->live = !done;
}

/* ---- the run ---- */

static uint64_t parse_size(const char *text)
{
	char *end;
	double v = strtod(text, &end);
	switch (*end) {
	case 'k':
	case 'K':
		v *= 1024;
		break;
	case 'm':
	case 'M':
		v *= 1024 * 1024;
		break;
	case 'g':
	case 'G':
		v *= 1024.0 * 1024 * 1024;
		break;
	default:
		break;
	}
	return v > 0 ? (uint64_t)v : 0;
}

static bool may_start(const struct gen *g)
{
	if (g->mode != MODE_MIX)
		return g->sessions < g->limit;
	/* pending is what open sessions will still write, so the file ends near size */
	return g->written + g->pending < g->size;
}

static void run(struct gen *g, struct sess *slots)
{
	for (bool any = true; any;) {
		uint64_t round_start = g->ts_us;
		any = false;
		for (uint64_t i = 0; i < g->open; i++) {
			struct sess *s = &slots[i];
			if (!s->live && may_start(g))
				session_start(g, s, g->sessions);
			if (!s->live)
				continue;
			account(g, s, !session_step(g, s));
			any = true;
		}
		/* each session takes one step a round, and a round lasts round_us whatever the
		 * number of sessions: a peer's answer comes a round later, never seconds later */
		if (g->ts_us < round_start + g->round_us)
			g->ts_us = round_start + g->round_us;
	}
}

static int usage(void)
{
	fprintf(stderr, "usage: mkbench [-s SIZE] [-S SEED] [-c OPEN] [-m mix|collide|random] "
	                "[-n SESSIONS] [-t ROUND_US] [-H] OUT.pcap [TRUTH.jsonl]\n");
	return 2;
}

/* Reads the options into g; false on a usage error. */
static bool parse_options(struct gen *g, int argc, char **argv)
{
	int c;
	while ((c = getopt(argc, argv, "s:S:c:m:n:t:H")) != -1) {
		if (c == 's')
			g->size = parse_size(optarg);
		else if (c == 'S')
			g->seed = strtoull(optarg, NULL, 10);
		else if (c == 'c')
			g->open = strtoull(optarg, NULL, 10);
		else if (c == 'm' && strcmp(optarg, "mix") == 0)
			g->mode = MODE_MIX;
		else if (c == 'm' && strcmp(optarg, "collide") == 0)
			g->mode = MODE_COLLIDE;
		else if (c == 'm' && strcmp(optarg, "random") == 0)
			g->mode = MODE_RANDOM;
		else if (c == 'n')
			g->limit = strtoull(optarg, NULL, 10);
		else if (c == 't')
			g->round_us = strtoull(optarg, NULL, 10);
		else if (c == 'H')
			g->half_http = true;
		else
			return false;
	}
	if (g->mode != MODE_MIX)
		g->open = g->limit; /* all open at once */
	return optind < argc && g->size > 0 && g->open > 0 && g->open <= 1000000;
}

int main(int argc, char **argv)
{
	static struct gen g = {.size = 1ULL << 30,
	                       .open = 500,
	                       .limit = 4000,
	                       .seed = 1,
	                       .round_us = 500000,
	                       .collide_addr = 0x0a000001u,
	                       .collide_port = 1024};
	if (!parse_options(&g, argc, argv))
		return usage();
	g.rng = g.seed * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL;
	g.tuple_rng = g.rng ^ 0x5851f42d4c957f2dULL;
	g.ts_us = 1795874831000000ULL; /* 2026-11-28 14:07:11 UTC */
	g.w = pcapw_open(argv[optind], DLT_EN10MB, PCAPW_PCAP, 0);
	g.truth = optind + 1 < argc ? fopen(argv[optind + 1], "w") : NULL;
	struct sess *slots = calloc(g.open, sizeof(*slots));
	if (!g.w || !slots || (optind + 1 < argc && !g.truth)) {
		perror("mkbench");
		return 1;
	}
	make_body();
	run(&g, slots);
	free(slots);
	bool bad = g.failed || pcapw_close(g.w) != 0 || (g.truth && fclose(g.truth) != 0);
	fprintf(stderr, "mkbench: %llu sessions, %llu packets, %llu bytes\n",
	        (unsigned long long)g.sessions, (unsigned long long)g.packets,
	        (unsigned long long)g.written + 24);
	return bad ? 1 : 0;
}
