/* test_emit_fmt: the record's timestamps and IPv4 addresses written without stdio
 * (analyzer/emit_fmt.c) against gmtime_r with snprintf and against inet_ntop: random instants
 * over the whole range of microseconds, the days around leap years and century years, and
 * random and edge addresses of both families. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../../analyzer/emit_int.h"
#include "tap.h"

static void ref_ts(uint64_t us, char *out, size_t len)
{
	time_t sec = (time_t)(us / 1000000);
	struct tm tm;
	gmtime_r(&sec, &tm);
	snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06u+0000", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	         (unsigned int)(us % 1000000));
}

static uint64_t rand64(void)
{
	return (uint64_t)rand() << 42 ^ (uint64_t)rand() << 21 ^ (uint64_t)rand();
}

static int ts_same(uint64_t us)
{
	char a[96], b[96];
	format_ts(us, a, sizeof(a));
	ref_ts(us, b, sizeof(b));
	return strcmp(a, b) == 0;
}

static void test_timestamps(void)
{
	int wrong = 0;
	srand(5);
	for (int i = 0; i < 200000; i++) {
		uint64_t us = rand64();
		/* the whole range, and the last two centuries more densely */
		wrong += !ts_same(i % 2 ? us : us % (UINT64_C(8000000000) * 1000000));
	}
	/* every day from 1970 to 2500, at its first and last microsecond */
	for (uint64_t d = 0; d < 194000; d++) {
		wrong += !ts_same(d * 86400 * UINT64_C(1000000));
		wrong += !ts_same((d + 1) * 86400 * UINT64_C(1000000) - 1);
	}
	wrong += !ts_same(UINT64_MAX);
	CHECK_EQ_INT(wrong, 0);
	char t[96];
	format_ts(UINT64_C(1764338831000141), t, sizeof(t));
	CHECK_EQ_STR(t, "2025-11-28T14:07:11.000141+0000");
	format_ts(UINT64_C(951782400) * 1000000, t, sizeof(t)); /* 2000-02-29 */
	CHECK_EQ_STR(t, "2000-02-29T00:00:00.000000+0000");
	format_ts(0, t, 11);
	CHECK_EQ_STR(t, "1970-01-01");
}

static void test_ipv4(void)
{
	int wrong = 0;
	srand(6);
	for (int i = 0; i < 100000; i++) {
		uint8_t b[4];
		for (int k = 0; k < 4; k++)
			b[k] = (uint8_t)(i < 256 ? (k == i % 4 ? i : 0) : rand());
		char mine[16], ref[INET_ADDRSTRLEN];
		size_t n = emit_format_ipv4(b, mine);
		inet_ntop(AF_INET, b, ref, sizeof(ref));
		wrong += strcmp(mine, ref) != 0 || n != strlen(ref);
	}
	CHECK_EQ_INT(wrong, 0);
	char m[16];
	CHECK_EQ_INT(emit_format_ipv4((const uint8_t[4]){255, 255, 255, 255}, m), 15);
	CHECK_EQ_STR(m, "255.255.255.255");
	emit_format_ipv4((const uint8_t[4]){10, 0, 0, 47}, m);
	CHECK_EQ_STR(m, "10.0.0.47");
}

static int v6_same(const uint8_t b[16])
{
	char mine[46], ref[INET6_ADDRSTRLEN];
	size_t n = emit_format_ipv6(b, mine);
	inet_ntop(AF_INET6, b, ref, sizeof(ref));
	return strcmp(mine, ref) == 0 && n == strlen(ref);
}

/* Every pattern of zero and non-zero words (so every zero run and tie), with random values
 * and with the small ones that make embedded IPv4 (::a.b.c.d, ::ffff:a.b.c.d) or not. */
static void test_ipv6(void)
{
	static const uint16_t picks[] = {1, 0xffff, 0x12, 0xabc, 0x1000};
	int wrong = 0;
	srand(7);
	for (unsigned mask = 0; mask < 256; mask++)
		for (int r = 0; r < 40; r++) {
			uint8_t b[16];
			for (int i = 0; i < 8; i++) {
				uint16_t v = 0;
				if (mask & (1u << i))
					v = r < 5 ? picks[r] : (uint16_t)(rand() | 1);
				b[2 * i] = (uint8_t)(v >> 8);
				b[2 * i + 1] = (uint8_t)v;
			}
			wrong += !v6_same(b);
		}
	CHECK_EQ_INT(wrong, 0);
	char m[46];
	const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
	emit_format_ipv6(mapped, m);
	CHECK_EQ_STR(m, "::ffff:192.0.2.1");
	const uint8_t doc[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x62};
	emit_format_ipv6(doc, m);
	CHECK_EQ_STR(m, "2001:db8:1::162");
	const uint8_t zero[16] = {0};
	CHECK_EQ_INT(emit_format_ipv6(zero, m), 2);
	CHECK_EQ_STR(m, "::");
}

int main(void)
{
	RUN_TEST(test_timestamps);
	RUN_TEST(test_ipv4);
	RUN_TEST(test_ipv6);
	TAP_EXIT();
}
