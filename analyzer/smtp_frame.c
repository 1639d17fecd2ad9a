/* smtp_frame: line framing for both directions (RFC 5321 2.3.8, 4.5.3.1): lines end at LF,
 * a line split across segments is assembled up to a cap, and the scan that finds each line's
 * end and its first CR is one function. No session state. */
#include "smtp_int.h"

#include <string.h>

static void line_reserve(struct line_buf *lb, size_t need)
{
	if (need <= lb->cap)
		return;
	size_t cap = lb->cap ? lb->cap : 128;
	while (cap < need)
		cap *= 2;
	lb->buf = smtp_xrealloc(lb->buf, cap);
	lb->cap = (uint32_t)cap;
}

size_t smtp_scan_line(const uint8_t *p, size_t len, const uint8_t **cr)
{
	const uint8_t *lf = memchr(p, '\n', len);
	size_t n = lf ? (size_t)(lf - p) + 1 : len;
	*cr = memchr(p, '\r', n);
	return n;
}

/* Takes bytes up to the next LF. A line that arrives whole is used in place; only a line
 * split across segments is copied, up to the cap (and its CR looked for there, within the
 * cap). Returns the bytes consumed; *done tells whether a line is complete in *out. */
size_t smtp_take_line(struct line_buf *lb, uint32_t cap, const uint8_t *p, size_t len,
                      struct line *out, bool *done)
{
	const uint8_t *cr;
	size_t n = smtp_scan_line(p, len, &cr);
	*done = n > 0 && p[n - 1] == '\n';
	if (lb->len == 0 && !lb->overflow && *done) {
		out->p = p;
		out->len = n - 1;
		out->total = n;
		out->crlf = out->len > 0 && p[out->len - 1] == '\r';
		out->len -= out->crlf;
		out->cr = cr && cr < p + out->len ? cr : NULL;
		return n;
	}
	size_t room = cap - lb->len, copy = n < room ? n : room;
	line_reserve(lb, lb->len + copy);
	memcpy(lb->buf + lb->len, p, copy);
	lb->len += (uint32_t)copy;
	lb->overflow = lb->overflow || copy < n;
	lb->total += n;
	/* the byte before the LF, which may be past the cap or in an earlier segment */
	bool cr_before = n >= 2 ? p[n - 2] == '\r' : lb->last_cr;
	lb->last_cr = n >= 1 && p[n - 1] == '\r';
	if (!*done)
		return n;
	out->p = lb->buf;
	out->len = lb->len;
	out->total = lb->total;
	out->crlf = cr_before;
	if (out->len && lb->buf[out->len - 1] == '\n')
		out->len--;
	if (out->crlf && out->len && lb->buf[out->len - 1] == '\r')
		out->len--;
	out->cr = out->len ? memchr(lb->buf, '\r', out->len) : NULL;
	return n;
}

void smtp_line_reset(struct line_buf *lb)
{
	lb->len = 0;
	lb->total = 0;
	lb->last_cr = false;
	lb->overflow = false;
}
