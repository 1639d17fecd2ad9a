/* detect: SMTP found by content on any port, from a flow's first bytes (RFC 5321 3.1 greeting,
 * 4.1.1.1 EHLO/HELO; RFC 9110 9.3.6 CONNECT and its 2xx reply), within the bounds of detect.h. */
#include "detect.h"

#include <string.h>

/* How far some bytes match a pattern: not at all, so far (more may complete it), or fully. */
enum match { M_NO = 0, M_PREFIX, M_YES };

void detect_init(struct detect_probe *p)
{
	memset(p, 0, sizeof(*p));
}

/* Whether the first n bytes of b can start the literal lit (case-insensitive when fold). */
static enum match literal(const uint8_t *b, size_t n, const char *lit, bool fold)
{
	size_t k = strlen(lit);
	for (size_t i = 0; i < n && i < k; i++) {
		uint8_t c = b[i];
		if (fold && c >= 'a' && c <= 'z')
			c = (uint8_t)(c - 'a' + 'A');
		if (c != (uint8_t)lit[i])
			return M_NO;
	}
	return n >= k ? M_YES : M_PREFIX;
}

/* A line of text: printable ASCII (tabs too) up to its LF; YES when the LF is there. */
static enum match text_line(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (b[i] == '\n')
			return M_YES;
		if ((b[i] < 0x20 || b[i] > 0x7e) && b[i] != '\t' && b[i] != '\r')
			return M_NO;
	}
	return M_PREFIX;
}

/* head (a literal), then one byte of seps, then the rest of a text line. */
static enum match line_with(const uint8_t *b, size_t n, const char *head, const char *seps,
                            bool fold)
{
	size_t k = strlen(head);
	enum match m = literal(b, n, head, fold);
	if (m != M_YES)
		return m;
	if (n == k)
		return M_PREFIX;
	if (!strchr(seps, b[k]) || b[k] == '\0')
		return M_NO;
	return text_line(b + k, n - k);
}

/* The server's first line: a 220 greeting (single or the first of several lines). */
static enum match greeting(const uint8_t *b, size_t n)
{
	return line_with(b, n, "220", " -\r\n", false);
}

/* The client's first line: EHLO or HELO, in any case. */
static enum match hello(const uint8_t *b, size_t n)
{
	enum match e = line_with(b, n, "EHLO", " \r\n", true);
	enum match h = line_with(b, n, "HELO", " \r\n", true);
	return e > h ? e : h;
}

/* Where an HTTP head ends: just past its empty line ("\r\n\r\n", or "\n\n"), 0 before. */
static size_t head_end(const uint8_t *b, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		if (b[i] != '\n')
			continue;
		if (b[i - 1] == '\n')
			return i + 1;
		if (i >= 3 && b[i - 1] == '\r' && b[i - 2] == '\n' && b[i - 3] == '\r')
			return i + 1;
	}
	return 0;
}

/* An HTTP head starting with lit, whose first line is text; *end past its empty line. */
static enum match http_head(const uint8_t *b, size_t n, const char *lit, size_t *end)
{
	size_t k = strlen(lit);
	enum match m = literal(b, n, lit, false);
	if (m != M_YES)
		return m;
	if (text_line(b + k, n - k) == M_NO)
		return M_NO;
	*end = head_end(b, n);
	return *end ? M_YES : M_PREFIX;
}

/* The proxy's reply: "HTTP/1.x 2xx ..." (RFC 9110 9.3.6: any 2xx opens the tunnel). */
static enum match connect_reply(const uint8_t *b, size_t n, size_t *end)
{
	enum match m = http_head(b, n, "HTTP/1.", end);
	if (m == M_NO)
		return M_NO;
	/* "HTTP/1." is 7 bytes: the minor version, a space and the status code follow */
	if ((n > 7 && (b[7] < '0' || b[7] > '9')) || (n > 8 && b[8] != ' ') ||
	    (n > 9 && b[9] != '2'))
		return M_NO;
	return m;
}

/* The SMTP test on the bytes past inner: a 220 from the server, EHLO/HELO from the client. */
static enum detect_verdict judge_smtp(const struct detect_probe *p)
{
	enum match g = greeting(p->buf[1] + p->inner[1], p->len[1] - p->inner[1]);
	enum match h = hello(p->buf[0] + p->inner[0], p->len[0] - p->inner[0]);
	if (g == M_NO || h == M_NO)
		return DETECT_NOT_SMTP;
	return g == M_YES && h == M_YES ? DETECT_SMTP : DETECT_MORE;
}

/* The decision table: CONNECT from the client first (then its reply, then SMTP inside), or
 * SMTP itself; anything else is not SMTP. */
static enum detect_verdict judge(struct detect_probe *p)
{
	if (p->tunnel || p->len[0] == 0)
		return judge_smtp(p);
	size_t cend = 0, send = 0;
	enum match c = http_head(p->buf[0], p->len[0], "CONNECT ", &cend);
	if (c == M_NO)
		return judge_smtp(p);
	if (c == M_PREFIX)
		return DETECT_MORE;
	enum match s = connect_reply(p->buf[1], p->len[1], &send);
	if (s != M_YES)
		return s == M_NO ? DETECT_NOT_SMTP : DETECT_MORE;
	p->tunnel = true;
	p->inner[0] = (uint32_t)cend;
	p->inner[1] = (uint32_t)send;
	return judge_smtp(p);
}

/* The chunk n bytes of dir go in: the last one when it is of dir with the same peer_acked,
 * else a new one; NULL when dir has DETECT_MAX_CHUNKS already. */
static struct detect_chunk *chunk_for(struct detect_probe *p, int dir, uint64_t peer_acked,
                                      uint64_t ts_us)
{
	struct detect_chunk *last = p->n_chunks ? &p->chunk[p->n_chunks - 1] : NULL;
	if (last && last->dir == dir && last->peer_acked == peer_acked)
		return last;
	if (p->n_dir[dir] == DETECT_MAX_CHUNKS)
		return NULL;
	p->n_dir[dir]++;
	struct detect_chunk *c = &p->chunk[p->n_chunks++];
	*c = (struct detect_chunk){peer_acked, ts_us, (uint16_t)p->len[dir], 0, (uint8_t)dir};
	return c;
}

enum detect_verdict detect_feed(struct detect_probe *p, int dir, const uint8_t *data, size_t len,
                                uint64_t peer_acked, uint64_t ts_us, size_t *kept)
{
	*kept = 0;
	if (p->verdict != DETECT_MORE || len == 0)
		return p->verdict;
	struct detect_chunk *c = chunk_for(p, dir, peer_acked, ts_us);
	if (!c)
		return p->verdict = DETECT_NOT_SMTP;
	size_t room = DETECT_MAX_BYTES - p->len[dir];
	size_t n = len < room ? len : room;
	memcpy(p->buf[dir] + p->len[dir], data, n);
	p->len[dir] += (uint32_t)n;
	c->len = (uint16_t)(c->len + n);
	p->n_pkts[dir]++;
	*kept = n;
	if (memchr(data, '\n', n) || p->len[dir] - p->inner[dir] <= DETECT_EARLY)
		p->verdict = judge(p);
	/* undecided at a cap: the probe ends here */
	if (p->verdict == DETECT_MORE &&
	    (n < len || p->len[dir] == DETECT_MAX_BYTES || p->n_pkts[dir] == DETECT_MAX_PKTS))
		p->verdict = DETECT_NOT_SMTP;
	return p->verdict;
}

enum detect_verdict detect_end(struct detect_probe *p)
{
	if (p->verdict == DETECT_MORE)
		p->verdict = DETECT_NOT_SMTP;
	return p->verdict;
}

enum detect_how detect_how_of(const struct detect_probe *p)
{
	if (p->verdict != DETECT_SMTP)
		return DETECT_HOW_NONE;
	return p->tunnel ? DETECT_HOW_HTTP_CONNECT : DETECT_HOW_CONTENT;
}

uint32_t detect_skip(const struct detect_probe *p, int dir)
{
	return p->inner[dir];
}

void detect_replay(const struct detect_probe *p, detect_replay_fn fn, void *ctx)
{
	for (uint32_t i = 0; i < p->n_chunks; i++) {
		const struct detect_chunk *c = &p->chunk[i];
		uint32_t from = c->off, to = (uint32_t)c->off + c->len, skip = p->inner[c->dir];
		if (from < skip)
			from = skip;
		if (from < to)
			fn(ctx, c->dir, p->buf[c->dir] + from, to - from, c->peer_acked, c->ts_us);
	}
}

const char *detect_how_name(enum detect_how how)
{
	static const char *const names[] = {[DETECT_HOW_PORT] = "port",
	                                    [DETECT_HOW_CONTENT] = "content",
	                                    [DETECT_HOW_HTTP_CONNECT] = "http_connect",
	                                    [DETECT_HOW_NONE] = "none"};
	return (unsigned)how < sizeof(names) / sizeof(names[0]) ? names[how] : "none";
}
