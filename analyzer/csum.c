/* csum: the Internet checksum's 16-bit one's complement sum (RFC 1071 sections 2(B), 2(C) and
 * 4.1; RFC 1624), eight bytes a step in four 64-bit accumulators, or 32 a step with AVX2 when
 * the CPU has it (chosen once, at run time). */
#include "csum.h"

#include <string.h>
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define CSUM_AVX2 1
#endif

/* The sum does not depend on byte order (RFC 1071 section 2(B)): words are added in the
 * host's order and the folded sum swapped at the end on a little-endian host. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define CSUM_HOST_IS_BE 1
#else
#define CSUM_HOST_IS_BE 0
#endif

static uint64_t load64(const uint8_t *p)
{
	uint64_t w;
	memcpy(&w, p, sizeof(w));
	return w;
}

/* a + b with the carry out of bit 63 added back in (end-around carry) */
static uint64_t add_eac(uint64_t a, uint64_t b)
{
	uint64_t s = a + b;
	return s + (s < b);
}

/* 64 bits of sum folded to 16, still in the host's word order */
static uint16_t fold64(uint64_t s)
{
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* p[0..len), len < 8, as one host-order word padded with zeros: a last odd byte lands in the
 * half of a 16-bit word that the host order reads as the high-order byte of the wire word.
 * Four, two and one bytes at a time, each a load of constant size: a memcpy of a length not
 * known here would be a call into libc per packet. */
static uint64_t tail64(const uint8_t *p, size_t len)
{
	uint64_t w = 0;
	size_t i = 0;
	if (len & 4) {
		uint32_t v;
		memcpy(&v, p, 4);
		w = CSUM_HOST_IS_BE ? (uint64_t)v << 32 : v;
		i = 4;
	}
	if (len & 2) {
		uint16_t v;
		memcpy(&v, p + i, 2);
		w |= (uint64_t)v << (CSUM_HOST_IS_BE ? 48 - 8 * i : 8 * i);
		i += 2;
	}
	if (len & 1)
		w |= (uint64_t)p[i] << (CSUM_HOST_IS_BE ? 56 - 8 * i : 8 * i);
	return w;
}

/* Eight bytes a step into two 128-bit accumulators (an add and an add-with-carry each), so
 * the two chains do not wait on each other and no carry is lost before 2^64 steps; the carries
 * out of bit 63, gathered in the high halves, are added back at the end. */
static uint64_t sum_words(const uint8_t *p, size_t len)
{
	__extension__ typedef unsigned __int128 u128;
	u128 s0 = 0, s1 = 0;
	size_t i = 0;
	for (; i + 16 <= len; i += 16) {
		s0 += load64(p + i);
		s1 += load64(p + i + 8);
	}
	if (i + 8 <= len) {
		s0 += load64(p + i);
		i += 8;
	}
	s0 += s1;
	uint64_t sum = add_eac((uint64_t)s0, (uint64_t)(s0 >> 64));
	return add_eac(sum, tail64(p + i, len - i));
}

#ifdef CSUM_AVX2
/* 32 bytes a step: the 32-bit halves of every 64-bit lane widened to 64 bits and added, so no
 * lane can carry before 2^32 steps; the rest of the bytes go to sum_words. */
__attribute__((target("avx2"))) static uint64_t sum_avx2(const uint8_t *p, size_t len)
{
	__m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();
	const __m256i zero = _mm256_setzero_si256();
	size_t i = 0;
	for (; i + 32 <= len; i += 32) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(p + i));
		a0 = _mm256_add_epi64(a0, _mm256_unpacklo_epi32(v, zero));
		a1 = _mm256_add_epi64(a1, _mm256_unpackhi_epi32(v, zero));
	}
	uint64_t lanes[4];
	_mm256_storeu_si256((__m256i *)(void *)lanes, _mm256_add_epi64(a0, a1));
	uint64_t sum = sum_words(p + i, len - i);
	for (int k = 0; k < 4; k++)
		sum = add_eac(sum, lanes[k]);
	return sum;
}

static int avx2_usable(void)
{
	static int usable = -1; /* once per run; the answer never changes */
	if (usable < 0) {
		__builtin_cpu_init();
		usable = __builtin_cpu_supports("avx2") ? 1 : 0;
	}
	return usable;
}
#endif

static uint16_t to_wire_order(uint16_t s)
{
	return CSUM_HOST_IS_BE ? s : (uint16_t)(s << 8 | s >> 8);
}

uint16_t csum_sum16(const uint8_t *p, size_t len)
{
#ifdef CSUM_AVX2
	/* below 64 bytes the wide registers do not pay for their set-up */
	if (len >= 64 && avx2_usable())
		return to_wire_order(fold64(sum_avx2(p, len)));
#endif
	return csum_sum16_portable(p, len);
}

uint16_t csum_sum16_portable(const uint8_t *p, size_t len)
{
	return to_wire_order(fold64(sum_words(p, len)));
}

uint16_t csum_sum16_ref(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;
	size_t i = 0;
	for (; i + 2 <= len; i += 2) {
		sum += (uint32_t)p[i] << 8 | p[i + 1];
		sum = (sum & 0xffff) + (sum >> 16);
	}
	if (i < len)
		sum += (uint32_t)p[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}
