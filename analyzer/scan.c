/* scan: the ends of text lines (RFC 5321 section 2.3.8), sixteen bytes a step with SSE2 and a
 * byte at a time elsewhere; message text is read through it a run of lines at a time. */
#include "scan.h"

#include <stdbool.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

static size_t crlf_bytewise(const uint8_t *p, size_t i, size_t len)
{
	for (; i < len; i++)
		if (p[i] == '\r' || p[i] == '\n')
			return i;
	return len;
}

size_t scan_crlf(const uint8_t *p, size_t len)
{
	size_t i = 0;
#ifdef __SSE2__
	const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
	for (; i + 16 <= len; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
		int m =
		    _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf)));
		if (m)
			return i + (size_t)__builtin_ctz((unsigned)m);
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

size_t scan_plain_lines(const uint8_t *p, size_t len, size_t min_len, size_t max_total)
{
	size_t done = 0, n;
	while (done < len && plain_line(p + done, len - done, min_len, max_total, &n))
		done += n;
	return done;
}
