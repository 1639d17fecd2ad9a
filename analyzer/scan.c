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
/* The whole sixteen-byte blocks: every CR or LF of a block in turn, without going back to the
 * line's start. Returns where the run stopped (*stop true) or where the blocks ran out. */
static size_t plain_blocks(const uint8_t *p, size_t len, size_t min_len, size_t max_total,
                           bool *stop)
{
	size_t start = 0;
	*stop = true;
	for (size_t i = 0; i + 16 <= len; i += 16) {
		for (unsigned m = crlf_mask(p + i); m; m &= m - 1) {
			size_t at = i + (size_t)__builtin_ctz(m);
			if (at < start)
				continue; /* the LF of the CRLF just taken */
			if (at - start < min_len || at + 2 - start > max_total || at + 2 > len ||
			    p[at] != '\r' || p[at + 1] != '\n')
				return start;
			start = at + 2;
		}
		if (start <= i + 16 && i + 16 - start + 2 > max_total)
			return start; /* no line end yet, and the line is already too long */
	}
	*stop = false;
	return start;
}
#endif

size_t scan_plain_lines(const uint8_t *p, size_t len, size_t min_len, size_t max_total)
{
	size_t done = 0, n;
#ifdef __SSE2__
	bool stop;
	done = plain_blocks(p, len, min_len, max_total, &stop);
	if (stop)
		return done;
#endif
	while (done < len && plain_line(p + done, len - done, min_len, max_total, &n))
		done += n;
	return done;
}
