/* test_detect: the probe's decision table (SMTP by content, inside HTTP CONNECT, anything else
 * not SMTP), its caps on bytes and deliveries, and the replay past the CONNECT part. */
#include <stdint.h>
#include <string.h>

#include "detect.h"
#include "tap.h"

/* Feeds text as one delivery of dir and returns the verdict. */
static enum detect_verdict feed(struct detect_probe *p, int dir, const char *text)
{
	size_t kept;
	return detect_feed(p, dir, (const uint8_t *)text, strlen(text), 0, 1, &kept);
}

/* The verdict after the server's and the client's first bytes, in that order. */
static enum detect_verdict pair(const char *server, const char *client)
{
	static struct detect_probe p;
	detect_init(&p);
	feed(&p, 1, server);
	return feed(&p, 0, client);
}

static void test_smtp_by_content(void)
{
	CHECK_EQ_INT(pair("220 mx ESMTP\r\n", "EHLO c.example\r\n"), DETECT_SMTP);
	CHECK_EQ_INT(pair("220-mx first\r\n", "helo c\r\n"), DETECT_SMTP);
	CHECK_EQ_INT(pair("220\r\n", "EHLO\r\n"), DETECT_SMTP);
	struct detect_probe p;
	detect_init(&p);
	CHECK_EQ_INT(feed(&p, 0, "EHLO early\r\n"), DETECT_MORE); /* an early talker waits */
	CHECK_EQ_INT(feed(&p, 1, "220 mx\r\n"), DETECT_SMTP);
	CHECK_EQ_INT(detect_how_of(&p), DETECT_HOW_CONTENT);
	CHECK_EQ_INT(detect_skip(&p, 0), 0);
}

static void test_not_smtp(void)
{
	CHECK_EQ_INT(pair("220 ProFTPD ready\r\n", "USER anonymous\r\n"), DETECT_NOT_SMTP);
	CHECK_EQ_INT(pair("SSH-2.0-OpenSSH_9.2\r\n", ""), DETECT_NOT_SMTP);
	CHECK_EQ_INT(pair("", "GET / HTTP/1.1\r\n\r\n"), DETECT_NOT_SMTP);
	CHECK_EQ_INT(pair("", "\x16\x03\x01\x02\x00"), DETECT_NOT_SMTP); /* a TLS ClientHello */
	CHECK_EQ_INT(pair("250 ok\r\n", ""), DETECT_NOT_SMTP); /* mid-dialogue: no greeting */
	CHECK_EQ_INT(pair("2200 x\r\n", ""), DETECT_NOT_SMTP);
	CHECK_EQ_INT(pair("220 mx\r\n", "EHLOX\r\n"), DETECT_NOT_SMTP);
	CHECK_EQ_INT(pair("220 bin\x01\r\n", "EHLO c\r\n"), DETECT_NOT_SMTP);
	struct detect_probe p;
	detect_init(&p);
	CHECK_EQ_INT(feed(&p, 1, "220 mx\r\n"), DETECT_MORE);
	CHECK_EQ_INT(detect_end(&p), DETECT_NOT_SMTP); /* the client never spoke */
	CHECK_EQ_INT(detect_how_of(&p), DETECT_HOW_NONE);
}

/* The same dialogue in one-byte deliveries of each direction is decided the same way. */
static void test_one_byte_segments(void)
{
	static const char *const text[2] = {"EHLO client.example.org\r\n",
	                                    "220 mx.example.net ESMTP Postfix (Debian)\r\n"};
	struct detect_probe p;
	size_t kept;
	detect_init(&p);
	for (int d = 1; d >= 0; d--)
		for (size_t i = 0; text[d][i]; i++)
			detect_feed(&p, d, (const uint8_t *)text[d] + i, 1, 0, 1, &kept);
	CHECK_EQ_INT(p.verdict, DETECT_SMTP);
	CHECK_EQ_INT(p.n_chunks, 2);
}

static void test_http_connect(void)
{
	struct detect_probe p;
	detect_init(&p);
	const char *req = "CONNECT mx.example:25 HTTP/1.1\r\nHost: mx.example:25\r\n\r\n";
	const char *rep = "HTTP/1.1 200 Connection established\r\n\r\n";
	CHECK_EQ_INT(feed(&p, 0, req), DETECT_MORE);
	CHECK_EQ_INT(feed(&p, 1, rep), DETECT_MORE);
	CHECK_EQ_INT(feed(&p, 1, "220 mx\r\n"), DETECT_MORE);
	CHECK_EQ_INT(feed(&p, 0, "HELO c\r\n"), DETECT_SMTP);
	CHECK_EQ_INT(detect_how_of(&p), DETECT_HOW_HTTP_CONNECT);
	CHECK_EQ_INT(detect_skip(&p, 0), strlen(req));
	CHECK_EQ_INT(detect_skip(&p, 1), strlen(rep));
	/* refused by the proxy, or a tunnel to something else */
	detect_init(&p);
	feed(&p, 0, req);
	CHECK_EQ_INT(feed(&p, 1, "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"),
	             DETECT_NOT_SMTP);
	detect_init(&p);
	feed(&p, 0, req);
	feed(&p, 1, rep);
	CHECK_EQ_INT(feed(&p, 0, "\x16\x03\x01"), DETECT_NOT_SMTP);
	/* a reply and the greeting in one segment */
	detect_init(&p);
	feed(&p, 0, req);
	CHECK_EQ_INT(feed(&p, 1, "HTTP/1.0 200 OK\r\n\r\n220 mx\r\n"), DETECT_MORE);
	CHECK_EQ_INT(feed(&p, 0, "EHLO c\r\n"), DETECT_SMTP);
}

struct replayed {
	char text[2][256];
	size_t len[2];
	int calls;
};

static void on_replay(void *ctx, int dir, const uint8_t *data, size_t len, uint64_t peer_acked,
                      uint64_t ts_us)
{
	struct replayed *r = ctx;
	(void)peer_acked;
	(void)ts_us;
	memcpy(r->text[dir] + r->len[dir], data, len);
	r->len[dir] += len;
	r->calls++;
}

static void test_replay_skips_connect(void)
{
	struct detect_probe p;
	struct replayed r = {0};
	detect_init(&p);
	feed(&p, 0, "CONNECT a:25 HTTP/1.0\r\n\r\nEHLO");
	feed(&p, 1, "HTTP/1.0 200 ok\r\n\r\n");
	feed(&p, 1, "220 mx\r\n");
	CHECK_EQ_INT(feed(&p, 0, " c\r\n"), DETECT_SMTP);
	detect_replay(&p, on_replay, &r);
	CHECK_EQ_INT(r.calls, 3); /* the reply alone is all skipped */
	CHECK_EQ_INT(r.len[0], 8);
	CHECK(memcmp(r.text[0], "EHLO c\r\n", 8) == 0);
	CHECK_EQ_INT(r.len[1], 8);
	CHECK(memcmp(r.text[1], "220 mx\r\n", 8) == 0);
}

static void test_caps(void)
{
	struct detect_probe p;
	size_t kept;
	static uint8_t big[DETECT_MAX_BYTES + 100];
	detect_init(&p);
	memset(big, 'a', sizeof(big));
	memcpy(big, "220 ", 4);
	/* a greeting line longer than the cap: the probe ends, not SMTP */
	CHECK_EQ_INT(detect_feed(&p, 1, big, sizeof(big), 0, 1, &kept), DETECT_NOT_SMTP);
	CHECK_EQ_INT(kept, DETECT_MAX_BYTES);
	/* one byte at a time: DETECT_MAX_PKTS deliveries, kept in one chunk, then not SMTP */
	detect_init(&p);
	int i;
	for (i = 0; i < 1000 && p.verdict == DETECT_MORE; i++)
		detect_feed(&p, 1, &big[i < 4 ? i : 5], 1, 0, 1, &kept);
	CHECK_EQ_INT(i, DETECT_MAX_PKTS);
	CHECK_EQ_INT(p.verdict, DETECT_NOT_SMTP);
	CHECK_EQ_INT(p.n_chunks, 1);
	/* deliveries that each acknowledge more of the other side: a chunk each, then the cap */
	detect_init(&p);
	for (i = 0; i < 100 && p.verdict == DETECT_MORE; i++)
		detect_feed(&p, 1, &big[i < 4 ? i : 5], 1, (uint64_t)i, 1, &kept);
	CHECK_EQ_INT(i, DETECT_MAX_CHUNKS + 1);
	CHECK_EQ_INT(p.verdict, DETECT_NOT_SMTP);
	/* after a verdict nothing more is copied */
	CHECK_EQ_INT(detect_feed(&p, 0, big, 4, 0, 1, &kept), DETECT_NOT_SMTP);
	CHECK_EQ_INT(kept, 0);
	CHECK_EQ_STR(detect_how_name(DETECT_HOW_HTTP_CONNECT), "http_connect");
	CHECK_EQ_STR(detect_how_name(DETECT_HOW_PORT), "port");
}

int main(void)
{
	RUN_TEST(test_smtp_by_content);
	RUN_TEST(test_not_smtp);
	RUN_TEST(test_one_byte_segments);
	RUN_TEST(test_http_connect);
	RUN_TEST(test_replay_skips_connect);
	RUN_TEST(test_caps);
	TAP_EXIT();
}
