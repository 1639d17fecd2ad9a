/* test_csum: the fast Internet checksum sum (analyzer/csum.c, RFC 1071) against the byte-pair
 * reference on random buffers of every length 0..2000 at every alignment, and on the sums
 * that stress the carries (all 0xff, all 0x00, words that sum to exactly 0xffff). */
#include <stdlib.h>
#include <string.h>

#include "csum.h"
#include "tap.h"

enum { MAX_LEN = 2000, ALIGNS = 64 };

static uint8_t buf[MAX_LEN + ALIGNS];

static int same(const uint8_t *p, size_t len)
{
	return csum_sum16(p, len) == csum_sum16_ref(p, len);
}

static void test_random_every_length_alignment(void)
{
	int wrong = 0;
	srand(12);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rand();
	for (size_t len = 0; len <= MAX_LEN; len++)
		for (size_t al = 0; al < ALIGNS; al++)
			if (!same(buf + al, len))
				wrong++;
	CHECK_EQ_INT(wrong, 0);
}

static void test_carries(void)
{
	int wrong = 0;
	for (int fill = 0; fill < 3; fill++) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = fill == 0 ? 0xff : fill == 1 ? 0x00 : (i % 4 < 2 ? 0xff : 0x00);
		for (size_t len = 0; len <= MAX_LEN; len++)
			for (size_t al = 0; al < 9; al++)
				if (!same(buf + al, len))
					wrong++;
	}
	CHECK_EQ_INT(wrong, 0);
	memset(buf, 0xff, 1500);
	CHECK_EQ_INT(csum_sum16(buf, 1500), 0xffff);
	CHECK_EQ_INT(csum_sum16(buf, 0), 0);
	memset(buf, 0, 1500);
	CHECK_EQ_INT(csum_sum16(buf, 1500), 0);
}

/* RFC 1071 section 3's example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2 */
static void test_rfc1071_example(void)
{
	static const uint8_t ex[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	CHECK_EQ_INT(csum_sum16(ex, sizeof(ex)), 0xddf2);
	CHECK_EQ_INT(csum_sum16_ref(ex, sizeof(ex)), 0xddf2);
	/* an odd last byte is the high half of a word */
	CHECK_EQ_INT(csum_sum16(ex, 3), 0xf201);
}

int main(void)
{
	RUN_TEST(test_random_every_length_alignment);
	RUN_TEST(test_carries);
	RUN_TEST(test_rfc1071_example);
	TAP_EXIT();
}
