/* scan: the ends of text lines (RFC 5321 section 2.3.8), sixteen bytes a step with SSE2 (32 with
 * AVX2, chosen at run time) and a byte at a time elsewhere; message text is read through it a
 * run of lines at a time. */
#include "scan.h"

#include <stdbool.h>

#ifdef __SSE2__
#include <emmintrin.h>
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SCAN_AVX2 1
#endif
#endif

static size_t crlf_bytewise(const uint8_t *p, size_t i, size_t len)
{
	for (; i < len; i++)
		if (p[i] == '\r' || p[i] == '\n')
			return i;
	return len;
}

#ifdef __SSE2__
/* Bit i set: p[i] is CR or LF, for the sixteen bytes at p. */
static unsigned crlf_mask(const uint8_t *p)
{
	const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
	return (unsigned)_mm_movemask_epi8(
	    _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf)));
}
#endif

size_t scan_crlf(const uint8_t *p, size_t len)
{
	size_t i = 0;
#ifdef __SSE2__
	for (; i + 16 <= len; i += 16) {
		unsigned m = crlf_mask(p + i);
		if (m)
			return i + (size_t)__builtin_ctz(m);
	}
#endif
	return crlf_bytewise(p, i, len);
}

/* Whether the line at p (avail bytes) is plain; *total gets its length with the CRLF. */
static bool plain_line(const uint8_t *p, size_t avail, size_t min_len, size_t max_total,
                       size_t *total)
{
	size_t i = scan_crlf(p, avail < max_total ? avail : max_total);
	if (i < min_len || i + 2 > max_total || i + 2 > avail || p[i] != '\r' || p[i + 1] != '\n')
		return false;
	*total = i + 2;
	return true;
}

#ifdef __SSE2__
/* Takes the line ends whose bits are set in m, for the block of width bytes at i, each a CRLF
 * that ends a plain line from *start. Returns false when the run stops at *start. */
static inline bool take_ends(const uint8_t *p, size_t len, size_t i, size_t width, uint32_t m,
                             size_t min_len, size_t max_total, size_t *start)
{
	for (; m; m &= m - 1) {
		size_t at = i + (size_t)__builtin_ctz(m);
		if (at < *start)
			continue; /* the LF of the CRLF just taken */
		if (at - *start < min_len || at + 2 - *start > max_total || at + 2 > len ||
		    p[at] != '\r' || p[at + 1] != '\n')
			return false;
		*start = at + 2;
	}
	/* no line end yet, and the line is already too long */
	return !(*start <= i + width && i + width - *start + 2 > max_total);
}

/* The whole sixteen-byte blocks: every CR or LF of a block in turn, without going back to the
 * line's start. Returns where the run stopped (*stop true) or where the blocks ran out. */
static size_t plain_blocks(const uint8_t *p, size_t len, size_t min_len, size_t max_total,
                           bool *stop)
{
	size_t start = 0;
	*stop = true;
	for (size_t i = 0; i + 16 <= len; i += 16)
		if (!take_ends(p, len, i, 16, crlf_mask(p + i), min_len, max_total, &start))
			return start;
	*stop = false;
	return start;
}
#endif

#ifdef SCAN_AVX2
/* The same 32 bytes a step, on CPUs with AVX2 (chosen at run time): half the steps for the
 * lines of message text, which are most of what a capture carries. */
__attribute__((target("avx2"))) static size_t
plain_blocks_avx2(const uint8_t *p, size_t len, size_t min_len, size_t max_total, bool *stop)
{
	const __m256i cr = _mm256_set1_epi8('\r'), lf = _mm256_set1_epi8('\n');
	size_t start = 0;
	*stop = true;
	for (size_t i = 0; i + 32 <= len; i += 32) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(p + i));
		uint32_t m = (uint32_t)_mm256_movemask_epi8(
		    _mm256_or_si256(_mm256_cmpeq_epi8(v, cr), _mm256_cmpeq_epi8(v, lf)));
		if (!take_ends(p, len, i, 32, m, min_len, max_total, &start))
			return start;
	}
	*stop = false;
	return start;
}
#endif

int scan_avx2 = -1;

#ifdef SCAN_AVX2
/* Whether this CPU has AVX2; once, before main, as the answer never changes. */
__attribute__((constructor)) static void scan_probe(void)
{
	__builtin_cpu_init();
	scan_avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
}
#endif

size_t scan_plain_lines(const uint8_t *p, size_t len, size_t min_len, size_t max_total)
{
	size_t done = 0, n;
#ifdef __SSE2__
	bool stop;
#ifdef SCAN_AVX2
	if (scan_avx2)
		done = plain_blocks_avx2(p, len, min_len, max_total, &stop);
	else
#endif
		done = plain_blocks(p, len, min_len, max_total, &stop);
	if (stop)
		return done;
#endif
	while (done < len && plain_line(p + done, len - done, min_len, max_total, &n))
		done += n;
	return done;
}
