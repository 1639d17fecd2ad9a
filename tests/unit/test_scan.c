/* test_scan: the line-end scan (analyzer/scan.c) against a byte-at-a-time reading: every
 * position of a CR or LF around the 16-byte steps, and runs of plain lines cut by each thing
 * that ends them (a short line, a bare CR or LF, a CR inside, a line too long, a line cut off). */
#include <stdlib.h>
#include <string.h>

#include "scan.h"
#include "tap.h"

enum { BUF = 4096 };

static size_t naive_crlf(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] == '\r' || p[i] == '\n')
			return i;
	return len;
}

static size_t naive_plain(const uint8_t *p, size_t len, size_t min_len, size_t max_total)
{
	size_t done = 0;
	for (;;) {
		size_t i = done + naive_crlf(p + done, len - done);
		size_t total = i + 2 - done;
		if (i + 1 >= len || p[i] != '\r' || p[i + 1] != '\n' || i - done < min_len ||
		    total > max_total)
			return done;
		done = i + 2;
	}
}

static void test_every_position(void)
{
	uint8_t buf[80];
	for (size_t len = 0; len <= 70; len++) {
		memset(buf, 'a', sizeof(buf));
		CHECK_EQ_INT(scan_crlf(buf, len), len);
		for (size_t at = 0; at < len; at++) {
			for (int c = 0; c < 2; c++) {
				memset(buf, 'a', sizeof(buf));
				buf[at] = c ? '\n' : '\r';
				if (at + 1 < len)
					buf[at + 1] = '\r'; /* a later one never wins */
				CHECK_EQ_INT(scan_crlf(buf, len), at);
				CHECK_EQ_INT(scan_crlf(buf + 1, len - 1),
				             at ? at - 1 : naive_crlf(buf + 1, len - 1));
			}
		}
	}
	/* bytes that differ from CR and LF by one bit, and high bytes, are not line ends */
	static const uint8_t near[] = {0x0c, 0x0e, 0x0b, 0x08, 0x8d, 0x8a, 0x2d, 0xff, 0x00};
	CHECK_EQ_INT(scan_crlf(near, sizeof(near)), sizeof(near));
}

static void test_plain_runs(void)
{
	static const char text[] = "Subject: hi\r\nab\r\nline three\r\n";
	const uint8_t *p = (const uint8_t *)text;
	size_t n = sizeof(text) - 1;
	CHECK_EQ_INT(scan_plain_lines(p, n, 2, 1000), n);
	CHECK_EQ_INT(scan_plain_lines(p, n, 3, 1000), 13);        /* "ab" is too short for 3 */
	CHECK_EQ_INT(scan_plain_lines(p, n, 2, 13), n);           /* 13 with the CRLF: fits */
	CHECK_EQ_INT(scan_plain_lines(p + 13, n - 13, 2, 11), 4); /* "line three\r\n" is 12 */
	CHECK_EQ_INT(scan_plain_lines(p, n, 2, 12), 0);           /* the first line is 13 */
	CHECK_EQ_INT(scan_plain_lines(p, n - 1, 2, 1000), 17);    /* the last LF not come yet */
	CHECK_EQ_INT(scan_plain_lines(p, n - 2, 2, 1000), 17);
	static const char *const stops[] = {"one\r\n.\r\nx\r\n", "one\r\n\r\nx\r\n",
	                                    "one\r\nb\nare\r\n", "one\r\nc\rr\r\n",
	                                    "one\r\nlf\n\r\n"};
	for (size_t i = 0; i < sizeof(stops) / sizeof(stops[0]); i++)
		CHECK_EQ_INT(scan_plain_lines((const uint8_t *)stops[i], strlen(stops[i]), 2, 1000),
		             5);
	CHECK_EQ_INT(scan_plain_lines(p, 0, 2, 1000), 0);
}

/* Random text of mostly long lines, CR and LF sprinkled in, against the naive reading at
 * every start and length. */
static void test_random(void)
{
	static uint8_t buf[BUF];
	static const size_t mins[] = {0, 2, 5}, maxes[] = {4, 17, 18, 19, 33, 80, 1000};
	unsigned seed = 12345;
	for (int round = 0; round < 200; round++) {
		size_t len = 0;
		while (len < BUF - 2) {
			seed = seed * 1103515245u + 12345u;
			size_t line = (seed >> 16) % 90;
			for (size_t i = 0; i < line && len < BUF - 2; i++) {
				seed = seed * 1103515245u + 12345u;
				unsigned r = (seed >> 16) % 1000;
				unsigned rare = round % 4 == 0 ? 40 : 1; /* some rounds: many */
				buf[len++] = r < rare       ? '\r'
				             : r < 2 * rare ? '\n'
				                            : (uint8_t)(32 + r % 200);
			}
			buf[len++] = '\r';
			buf[len++] = '\n';
		}
		for (size_t start = 0; start < 40; start++) {
			size_t n = len - start * 37;
			const uint8_t *q = buf + start * 37;
			CHECK_EQ_INT(scan_crlf(q, n), naive_crlf(q, n));
			for (size_t m = 0; m < sizeof(mins) / sizeof(mins[0]); m++)
				for (size_t x = 0; x < sizeof(maxes) / sizeof(maxes[0]); x++)
					CHECK_EQ_INT(scan_plain_lines(q, n, mins[m], maxes[x]),
					             naive_plain(q, n, mins[m], maxes[x]));
		}
	}
}

/* every test again on the 16-byte path, when the 32-byte one was taken */
static void test_sse2_path(void)
{
	int was = scan_avx2;
	CHECK(was == -1 || was == 0 || was == 1);
	if (was == 1) {
		scan_avx2 = 0;
		test_every_position();
		test_plain_runs();
		test_random();
		scan_avx2 = was;
	}
}

int main(void)
{
	RUN_TEST(test_every_position);
	RUN_TEST(test_plain_runs);
	RUN_TEST(test_random);
	RUN_TEST(test_sse2_path);
	TAP_EXIT();
}
