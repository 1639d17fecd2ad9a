/* dialogue: turns a dialogue script (format: tests/dialogues/README.md) into one capture that
 * holds the same SMTP dialogue (RFC 5321) over several TCP connections (RFC 9293), each cut
 * into segments its own way: every send whole, every send in one-byte segments, and for
 * k = 1..K every send cut once at offset k. Used by tests/dialogue-tests.sh.
 *   dialogue [-v] SCRIPT OUT.pcap   writes the capture, prints the number of connections
 *                                   (-v: then one line per connection: "PORT WHAT")
 *   dialogue -1 SCRIPT OUT.pcap     only the reference connection (every send whole)
 *   dialogue --expect SCRIPT        prints the script's EXPECT items, one key=value a line
 *   dialogue --options SCRIPT       prints the script's OPTIONS (smtptrace arguments) */
#include <errno.h>
#include <pcap/dlt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcapw.h"

enum {
	SIDE_C = 0,
	SIDE_S = 1,
	SEND_MAX = 60000, /* one send must fit one segment */
	CUTS_MAX = 300,   /* cut variants at most; longer sends: first and last 150 offsets */
	MARK_NAME_MAX = 32,
	FRAME_CAP = 65536 + 256,
	PORT_BASE = 40000,
	STEP_US = 100, /* packet time between two segments of one connection */
};

static const uint64_t TS_BASE_US = 1795874831000000ull; /* 2026-11-28 14:07:11 UTC */

/* Initial sequence numbers, rotated over the connections: the first is plain, the others
 * make the sequence numbers wrap early or start at the edges of the space. */
static const uint32_t isn_table[] = {1000, 2000, 0xfffffff6u, 0xffffffffu, 0, 1};
#define N_ISNS (sizeof(isn_table) / sizeof(isn_table[0]))

enum act_kind { ACT_SEND, ACT_FIN, ACT_RST, ACT_ACK, ACT_WAIT };

/* One thing the script says happens, in order. */
struct act {
	enum act_kind kind;
	int side;
	uint8_t *data; /* ACT_SEND: the bytes of the send, owned */
	size_t len;
	bool ack_set;     /* the ACK number is the script's, not "all seen so far" */
	uint32_t ack_rel; /* then: sequence space of the other side acknowledged, after its SYN */
	bool no_ack;      /* no ACK flag at all */
	bool lost;        /* the segments are sent but not captured */
	uint64_t wait_us; /* ACT_WAIT */
};

struct mark {
	char name[MARK_NAME_MAX];
	uint32_t pos[2];
};

struct script {
	const char *path;
	int lineno;
	struct act *acts;
	size_t n_acts, cap_acts;
	struct mark *marks;
	size_t n_marks;
	uint32_t pos[2];  /* sequence space each side has used so far (bytes, FINs) */
	bool finished[2]; /* the side sent its FIN: it sends no more bytes */
	uint16_t port;
	bool no_handshake;
	bool hide[2]; /* the side's segments are missing from the capture */
	uint64_t idle_us;
	char **expect;
	size_t n_expect;
	char *options;
	size_t longest; /* the longest send */
};

static void die(const struct script *sc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void die(const struct script *sc, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "dialogue: %s:%d: ", sc->path, sc->lineno);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		perror("dialogue");
		exit(1);
	}
	return p;
}

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	return memcpy(xrealloc(NULL, n), s, n);
}

/* ---- parsing ---- */

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static void buf_put(struct buf *b, uint8_t c)
{
	if (b->len == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->p = xrealloc(b->p, b->cap);
	}
	b->p[b->len++] = c;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* \{N*c}: the byte c, N times. Returns the characters of s it took (after the backslash). */
static size_t unescape_repeat(const struct script *sc, const char *s, struct buf *b)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(s + 1, &end, 10);
	if (end == s + 1 || errno || n > SEND_MAX || end[0] != '*' || end[1] == '\0' ||
	    end[2] != '}')
		die(sc, "bad repeat escape: write \\{N*c}, N at most %d", SEND_MAX);
	for (unsigned long i = 0; i < n; i++)
		buf_put(b, (uint8_t)end[1]);
	return (size_t)(end + 3 - s);
}

/* Appends text with its escapes undone: \r \n \t \s (space) \\ \xHH \{N*c}. */
static void unescape(const struct script *sc, const char *s, struct buf *b)
{
	while (*s) {
		if (*s != '\\') {
			buf_put(b, (uint8_t)*s++);
			continue;
		}
		s++;
		switch (*s) {
		case 'r':
			buf_put(b, '\r');
			break;
		case 'n':
			buf_put(b, '\n');
			break;
		case 't':
			buf_put(b, '\t');
			break;
		case 's':
			buf_put(b, ' ');
			break;
		case '\\':
			buf_put(b, '\\');
			break;
		case 'x': {
			int hi = hex_digit(s[1]), lo = hi < 0 ? -1 : hex_digit(s[2]);
			if (lo < 0)
				die(sc, "bad escape \\x: two hex digits needed");
			buf_put(b, (uint8_t)(hi << 4 | lo));
			s += 2;
			break;
		}
		case '{':
			s += unescape_repeat(sc, s, b);
			continue;
		default:
			die(sc, "unknown escape \\%c", *s ? *s : '0');
		}
		s++;
	}
}

static struct act *act_new(struct script *sc, enum act_kind kind, int side)
{
	struct act *a;

	if (sc->n_acts == sc->cap_acts) {
		sc->cap_acts = sc->cap_acts ? sc->cap_acts * 2 : 32;
		sc->acts = xrealloc(sc->acts, sc->cap_acts * sizeof(*sc->acts));
	}
	a = &sc->acts[sc->n_acts++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->side = side;
	return a;
}

static int parse_side(const struct script *sc, const char *s)
{
	if (strcmp(s, "C") == 0)
		return SIDE_C;
	if (strcmp(s, "S") == 0)
		return SIDE_S;
	die(sc, "side must be C or S, not \"%s\"", s);
	return -1;
}

static const struct mark *mark_find(const struct script *sc, const char *name)
{
	for (size_t i = 0; i < sc->n_marks; i++)
		if (strcmp(sc->marks[i].name, name) == 0)
			return &sc->marks[i];
	return NULL;
}

/* One modifier of a send: ack=N (bytes of the other side), ack=MARK, noack, lost. */
static void parse_modifier(struct script *sc, struct act *a, const char *m)
{
	if (strcmp(m, "noack") == 0) {
		a->no_ack = true;
	} else if (strcmp(m, "lost") == 0) {
		a->lost = true;
	} else if (strncmp(m, "ack=", 4) == 0 && m[4]) {
		const struct mark *mk = mark_find(sc, m + 4);
		char *end;
		unsigned long n;
		a->ack_set = true;
		if (mk) {
			a->ack_rel = mk->pos[1 - a->side];
			return;
		}
		n = strtoul(m + 4, &end, 10);
		if (*end || n > sc->pos[1 - a->side])
			die(sc, "ack=%s: neither a mark nor a byte count the other side has sent",
			    m + 4);
		a->ack_rel = (uint32_t)n;
	} else {
		die(sc, "unknown send modifier \"%s\" (ack=N, ack=MARK, noack, lost)", m);
	}
}

/* Comma-separated modifiers (may be NULL). */
static void parse_modifiers(struct script *sc, struct act *a, char *mods)
{
	char *save = NULL;

	for (char *m = mods ? strtok_r(mods, ",", &save) : NULL; m; m = strtok_r(NULL, ",", &save))
		parse_modifier(sc, a, m);
}

static void add_bytes(struct script *sc, struct act *a, const char *text)
{
	struct buf b = {a->data, a->len, a->len};

	if (sc->finished[a->side])
		die(sc, "%c sends after its FIN", a->side == SIDE_C ? 'C' : 'S');
	unescape(sc, text, &b);
	if (b.len == a->len)
		die(sc, "empty send (ACK C or ACK S sends a bare ACK)");
	if (b.len > SEND_MAX)
		die(sc, "send longer than %d bytes", SEND_MAX);
	sc->pos[a->side] += (uint32_t)(b.len - a->len);
	a->data = b.p;
	a->len = b.len;
	if (a->len > sc->longest)
		sc->longest = a->len;
}

/* "C: text", "C@mod,mod: text", "C+ text" (the same send goes on). */
static void parse_send(struct script *sc, char *line)
{
	int side = line[0] == 'C' ? SIDE_C : SIDE_S;
	char *p = line + 1, *text;
	struct act *a;

	if (*p == '+') {
		struct act *last = sc->n_acts ? &sc->acts[sc->n_acts - 1] : NULL;
		if (p[1] != ' ' || !last || last->kind != ACT_SEND || last->side != side)
			die(sc, "\"%c+ \" must continue a send of the same side", line[0]);
		add_bytes(sc, last, p + 2);
		return;
	}
	a = act_new(sc, ACT_SEND, side);
	text = strchr(p, ':');
	if (!text || text[1] != ' ')
		die(sc, "a send is \"%c: text\" or \"%c@modifiers: text\"", line[0], line[0]);
	*text = '\0';
	text += 2;
	if (*p == '@')
		parse_modifiers(sc, a, p + 1);
	else if (*p)
		die(sc, "a send is \"%c: text\" or \"%c@modifiers: text\"", line[0], line[0]);
	add_bytes(sc, a, text);
}

static unsigned long parse_number(const struct script *sc, const char *s, unsigned long max)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = s ? strtoul(s, &end, 10) : 0;
	if (!s || end == s || *end || errno || n > max)
		die(sc, "a number from 0 to %lu is needed", max);
	return n;
}

/* "C", "S", or either with modifiers: "C@ack=MARK". */
static struct act *parse_actor(struct script *sc, enum act_kind kind, char *arg)
{
	char *mods = arg ? strchr(arg, '@') : NULL;
	struct act *a;

	if (mods)
		*mods++ = '\0';
	a = act_new(sc, kind, parse_side(sc, arg ? arg : ""));
	parse_modifiers(sc, a, mods);
	return a;
}

static void parse_close(struct script *sc, enum act_kind kind, char *arg)
{
	int side = parse_actor(sc, kind, arg)->side;
	if (kind == ACT_FIN) {
		if (sc->finished[side])
			die(sc, "a second FIN");
		sc->finished[side] = true;
		sc->pos[side]++;
	}
}

static void parse_mark(struct script *sc, const char *name)
{
	struct mark *m;

	if (!name || strlen(name) >= MARK_NAME_MAX || strchr(name, ',') || strchr(name, ':'))
		die(sc, "MARK needs a name of at most %d characters, without ',' or ':'",
		    MARK_NAME_MAX - 1);
	if (mark_find(sc, name))
		die(sc, "mark %s defined twice", name);
	sc->marks = xrealloc(sc->marks, (sc->n_marks + 1) * sizeof(*sc->marks));
	m = &sc->marks[sc->n_marks++];
	strcpy(m->name, name);
	m->pos[0] = sc->pos[0];
	m->pos[1] = sc->pos[1];
}

static void parse_expect(struct script *sc, char *rest)
{
	char *item = strtok(rest, " \t");

	if (!item)
		die(sc, "EXPECT needs key=value items");
	for (; item; item = strtok(NULL, " \t")) {
		char *eq = strchr(item, '=');
		if (!eq || eq == item)
			die(sc, "EXPECT item \"%s\" is not key=value", item);
		sc->expect = xrealloc(sc->expect, (sc->n_expect + 1) * sizeof(*sc->expect));
		sc->expect[sc->n_expect++] = xstrdup(item);
	}
}

/* "EXPECT key=value ..." and "OPTIONS args": the rest of the line after the keyword. */
static bool parse_rest(struct script *sc, char *line)
{
	char *rest;

	if (strncmp(line, "EXPECT", 6) != 0 && strncmp(line, "OPTIONS", 7) != 0)
		return false;
	rest = line + (line[0] == 'E' ? 6 : 7);
	if (*rest && *rest != ' ' && *rest != '\t')
		return false;
	rest += strspn(rest, " \t");
	if (line[0] == 'E') {
		parse_expect(sc, rest);
	} else {
		if (sc->options || !*rest)
			die(sc, "one OPTIONS line, with arguments");
		sc->options = xstrdup(rest);
	}
	return true;
}

/* A keyword line: the keyword, then its arguments split at spaces. */
static void parse_keyword(struct script *sc, char *line)
{
	char *kw, *arg;

	if (parse_rest(sc, line))
		return;
	kw = strtok(line, " \t");
	if (!kw)
		return; /* only blanks */
	arg = strtok(NULL, " \t");
	if (strcmp(kw, "FIN") == 0)
		parse_close(sc, ACT_FIN, arg);
	else if (strcmp(kw, "RST") == 0)
		parse_close(sc, ACT_RST, arg);
	else if (strcmp(kw, "ACK") == 0)
		parse_actor(sc, ACT_ACK, arg);
	else if (strcmp(kw, "WAIT") == 0)
		act_new(sc, ACT_WAIT, 0)->wait_us = parse_number(sc, arg, 3600000) * 1000;
	else if (strcmp(kw, "MARK") == 0)
		parse_mark(sc, arg);
	else if (strcmp(kw, "PORT") == 0)
		sc->port = (uint16_t)parse_number(sc, arg, 65535);
	else if (strcmp(kw, "NOHANDSHAKE") == 0)
		sc->no_handshake = true;
	else if (strcmp(kw, "HIDE") == 0)
		sc->hide[parse_side(sc, arg ? arg : "")] = true;
	else if (strcmp(kw, "IDLE") == 0)
		sc->idle_us = parse_number(sc, arg, 86400000) * 1000;
	else
		die(sc, "unknown directive \"%s\"", kw);
	if (strcmp(kw, "NOHANDSHAKE") == 0 ? arg != NULL : strtok(NULL, " \t") != NULL)
		die(sc, "too many arguments to %s", kw);
}

static void parse_line(struct script *sc, char *line)
{
	size_t n = strlen(line);

	if (n && line[n - 1] == '\n')
		line[--n] = '\0';
	if (n && line[n - 1] == '\r') /* a script saved with CRLF line ends */
		line[--n] = '\0';
	if (n == 0 || line[0] == '#')
		return;
	if ((line[0] == 'C' || line[0] == 'S') && line[1] && strchr(":@+", line[1]))
		parse_send(sc, line);
	else
		parse_keyword(sc, line);
}

static void script_load(struct script *sc, const char *path)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;

	memset(sc, 0, sizeof(*sc));
	sc->path = path;
	sc->port = 25;
	if (!fp) {
		fprintf(stderr, "dialogue: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	while (getline(&line, &cap, fp) >= 0) {
		sc->lineno++;
		parse_line(sc, line);
	}
	free(line);
	fclose(fp);
	sc->lineno = 0;
}

static void script_free(struct script *sc)
{
	for (size_t i = 0; i < sc->n_acts; i++)
		free(sc->acts[i].data);
	for (size_t i = 0; i < sc->n_expect; i++)
		free(sc->expect[i]);
	free(sc->acts);
	free(sc->marks);
	free(sc->expect);
	free(sc->options);
}

/* ---- connections ---- */

/* A segment framed and kept until all connections are made, then written in time order. */
struct seg {
	uint64_t ts_us;
	uint32_t conn, idx;
	uint8_t *frame;
	uint32_t len;
};

struct segs {
	struct seg *v;
	size_t n, cap;
};

/* One connection being made: the state of both sides. */
struct conn {
	const struct script *sc;
	struct segs *out;
	struct pcapw_link link;
	struct decode_addr addr[2];
	uint16_t port[2];
	uint32_t isn[2];
	uint32_t used[2]; /* sequence space used after the SYN */
	uint64_t ts_us;
	uint32_t id, idx;
};

static void store(struct segs *out, struct conn *c, const uint8_t *frame, size_t len)
{
	struct seg *s;

	if (out->n == out->cap) {
		out->cap = out->cap ? out->cap * 2 : 1024;
		out->v = xrealloc(out->v, out->cap * sizeof(*out->v));
	}
	s = &out->v[out->n++];
	s->ts_us = c->ts_us;
	s->conn = c->id;
	s->idx = c->idx++;
	s->len = (uint32_t)len;
	s->frame = memcpy(xrealloc(NULL, len), frame, len);
}

/* Frames one segment of side (unless that side is hidden or lost) and advances the clock. */
static void emit(struct conn *c, int side, uint32_t ack, uint8_t flags, const uint8_t *p,
                 size_t len, bool lost)
{
	static uint8_t frame[FRAME_CAP];
	struct pcapw_tcp seg = {
	    .src = c->addr[side],
	    .dst = c->addr[1 - side],
	    .sport = c->port[side],
	    .dport = c->port[1 - side],
	    .seq = c->isn[side] + 1 + c->used[side],
	    .ack = ack,
	    .flags = flags,
	    .window = 65535,
	    .payload = p,
	    .len = (uint32_t)len,
	};

	if (flags & TCP_FLAG_SYN)
		seg.seq = c->isn[side];
	if (!lost && !c->sc->hide[side]) {
		size_t n = pcapw_frame_tcp(&c->link, &seg, frame, sizeof(frame));
		if (n == 0) {
			fprintf(stderr, "dialogue: cannot frame a segment\n");
			exit(1);
		}
		store(c->out, c, frame, n);
	}
	c->ts_us += STEP_US;
}

/* The ACK number of a's segments: the script's, or all the other side has sent so far. */
static uint32_t ack_of(const struct conn *c, int side, const struct act *a)
{
	int other = 1 - side;

	if (a && a->no_ack)
		return 0;
	return c->isn[other] + 1 + (a && a->ack_set ? a->ack_rel : c->used[other]);
}

static void handshake(struct conn *c)
{
	emit(c, SIDE_C, 0, TCP_FLAG_SYN, NULL, 0, false);
	emit(c, SIDE_S, c->isn[SIDE_C] + 1, TCP_FLAG_SYN | TCP_FLAG_ACK, NULL, 0, false);
	emit(c, SIDE_C, ack_of(c, SIDE_C, NULL), TCP_FLAG_ACK, NULL, 0, false);
}

/* Where variant k (1..n_cuts) cuts a send of len bytes; 0 for no cut. Sends short enough
 * are cut at k; longer ones at their first and last n_cuts/2 offsets. */
static size_t cut_at(size_t len, uint32_t k, uint32_t n_cuts)
{
	if (len - 1 <= n_cuts)
		return k < len ? k : 0;
	if (k <= n_cuts / 2)
		return k;
	return len - (n_cuts + 1 - k);
}

static uint8_t flag_ack(const struct act *a)
{
	return a->no_ack ? 0 : TCP_FLAG_ACK;
}

static void send_piece(struct conn *c, const struct act *a, size_t from, size_t n, bool last)
{
	uint8_t flags = flag_ack(a) | (last ? TCP_FLAG_PSH : 0);

	emit(c, a->side, ack_of(c, a->side, a), flags, a->data + from, n, a->lost);
	c->used[a->side] += (uint32_t)n;
}

/* Variant 0: whole sends; 1: one-byte segments; 1 + k: cut at k. */
static void send_act(struct conn *c, const struct act *a, uint32_t variant, uint32_t n_cuts)
{
	size_t cut = 0;

	if (variant == 1) {
		for (size_t i = 0; i < a->len; i++)
			send_piece(c, a, i, 1, i + 1 == a->len);
		return;
	}
	if (variant >= 2)
		cut = cut_at(a->len, variant - 1, n_cuts);
	if (cut)
		send_piece(c, a, 0, cut, false);
	send_piece(c, a, cut, a->len - cut, true);
}

static void play(struct conn *c, uint32_t variant, uint32_t n_cuts)
{
	const struct script *sc = c->sc;

	if (!sc->no_handshake)
		handshake(c);
	for (size_t i = 0; i < sc->n_acts; i++) {
		const struct act *a = &sc->acts[i];
		switch (a->kind) {
		case ACT_SEND:
			send_act(c, a, variant, n_cuts);
			break;
		case ACT_FIN:
			emit(c, a->side, ack_of(c, a->side, a), TCP_FLAG_FIN | flag_ack(a), NULL, 0,
			     a->lost);
			c->used[a->side]++;
			break;
		case ACT_RST:
			emit(c, a->side, ack_of(c, a->side, a), TCP_FLAG_RST | flag_ack(a), NULL, 0,
			     a->lost);
			break;
		case ACT_ACK:
			emit(c, a->side, ack_of(c, a->side, a), TCP_FLAG_ACK, NULL, 0, a->lost);
			break;
		case ACT_WAIT:
			c->ts_us += a->wait_us;
			break;
		}
	}
}

static void describe(char *out, size_t cap, uint32_t variant, uint32_t n_cuts, const struct conn *c)
{
	char what[64];

	if (variant == 0)
		snprintf(what, sizeof(what), "whole sends");
	else if (variant == 1)
		snprintf(what, sizeof(what), "one-byte segments");
	else if (n_cuts < CUTS_MAX || variant - 1 <= n_cuts / 2)
		snprintf(what, sizeof(what), "cut at %u", variant - 1);
	else
		snprintf(what, sizeof(what), "cut at %u (%u before the end of longer sends)",
		         variant - 1, n_cuts + 1 - (variant - 1));
	snprintf(out, cap, "%s, ISN client %u server %u", what, c->isn[SIDE_C], c->isn[SIDE_S]);
}

static int by_time(const void *pa, const void *pb)
{
	const struct seg *a = pa, *b = pb;

	if (a->ts_us != b->ts_us)
		return a->ts_us < b->ts_us ? -1 : 1;
	if (a->conn != b->conn)
		return a->conn < b->conn ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* A packet of another conversation (no SMTP port) that moves packet time on: the idle time
 * the script asked for after the dialogue. */
static void idle_packet(struct segs *out, const struct pcapw_link *link, uint64_t ts_us)
{
	static uint8_t frame[FRAME_CAP];
	struct pcapw_tcp seg = {.sport = 9999,
	                        .dport = 9998,
	                        .seq = 1,
	                        .ack = 1,
	                        .flags = TCP_FLAG_ACK,
	                        .window = 65535};
	struct conn c = {.ts_us = ts_us, .id = UINT32_MAX};
	size_t n;

	pcapw_addr("192.0.2.99", &seg.src);
	pcapw_addr("198.51.100.99", &seg.dst);
	n = pcapw_frame_tcp(link, &seg, frame, sizeof(frame));
	if (n)
		store(out, &c, frame, n);
}

static int write_capture(const struct script *sc, const char *out_path, bool verbose,
                         bool ref_only)
{
	uint32_t n_cuts = sc->longest > 1 ? (uint32_t)(sc->longest - 1) : 0;
	uint32_t n_conns;
	struct segs segs = {0};
	struct pcapw_link link = {.dlt = DLT_EN10MB};
	uint64_t last_ts = TS_BASE_US;
	struct pcapw *w;
	struct conn c;
	char(*desc)[128];
	int rc = 0;

	if (n_cuts > CUTS_MAX)
		n_cuts = CUTS_MAX;
	n_conns = ref_only ? 1 : 2 + n_cuts;
	desc = xrealloc(NULL, n_conns * sizeof(*desc));
	for (uint32_t v = 0; v < n_conns; v++) {
		memset(&c, 0, sizeof(c));
		c.sc = sc;
		c.out = &segs;
		c.link = link;
		pcapw_addr("192.0.2.10", &c.addr[SIDE_C]);
		pcapw_addr("198.51.100.5", &c.addr[SIDE_S]);
		c.port[SIDE_C] = (uint16_t)(PORT_BASE + v);
		c.port[SIDE_S] = sc->port;
		c.isn[SIDE_C] = isn_table[v % N_ISNS];
		c.isn[SIDE_S] = isn_table[(v + 1) % N_ISNS];
		c.ts_us = TS_BASE_US + v; /* the connections start in order, a microsecond apart */
		c.id = v;
		play(&c, v, n_cuts);
		if (c.ts_us > last_ts)
			last_ts = c.ts_us;
		describe(desc[v], sizeof(desc[v]), v, n_cuts, &c);
	}
	if (sc->idle_us)
		idle_packet(&segs, &link, last_ts + sc->idle_us);
	qsort(segs.v, segs.n, sizeof(*segs.v), by_time);
	w = pcapw_open(out_path, DLT_EN10MB, PCAPW_PCAP, 0);
	if (!w) {
		fprintf(stderr, "dialogue: %s: %s\n", out_path, strerror(errno));
		rc = 1;
	}
	for (size_t i = 0; i < segs.n; i++) {
		if (w && pcapw_write_raw(w, segs.v[i].ts_us, segs.v[i].frame, segs.v[i].len,
		                         segs.v[i].len) != 0)
			rc = 1;
		free(segs.v[i].frame);
	}
	free(segs.v);
	if (w && pcapw_close(w) != 0)
		rc = 1;
	if (rc && w)
		fprintf(stderr, "dialogue: %s: write failed\n", out_path);
	if (!rc) {
		printf("%u\n", n_conns);
		for (uint32_t v = 0; verbose && v < n_conns; v++)
			printf("%u %s\n", PORT_BASE + v, desc[v]);
	}
	free(desc);
	return rc;
}

static int usage(void)
{
	fprintf(stderr, "usage: dialogue [-v|-1] SCRIPT OUT.pcap\n"
	                "       dialogue --expect SCRIPT\n"
	                "       dialogue --options SCRIPT\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct script sc;
	bool verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
	bool ref_only = argc > 1 && strcmp(argv[1], "-1") == 0;
	int rc = 0;

	if (argc == 3 && (strcmp(argv[1], "--expect") == 0 || strcmp(argv[1], "--options") == 0)) {
		script_load(&sc, argv[2]);
		if (argv[1][2] == 'e')
			for (size_t i = 0; i < sc.n_expect; i++)
				printf("%s\n", sc.expect[i]);
		else if (sc.options)
			printf("%s\n", sc.options);
	} else if (argc == 3 + (verbose || ref_only) && argv[1 + (verbose || ref_only)][0] != '-') {
		script_load(&sc, argv[1 + (verbose || ref_only)]);
		rc = write_capture(&sc, argv[2 + (verbose || ref_only)], verbose, ref_only);
	} else {
		return usage();
	}
	script_free(&sc);
	return rc;
}
