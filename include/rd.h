/* rd: the one bounds-checked cursor over wire bytes, shared by decode (packet headers) and tls
 * (records, handshake messages, DER), as tcpdump reads every field through one accessor per
 * width. No read goes past p + len. */
#ifndef SMTPTRACE_RD_H
#define SMTPTRACE_RD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The bytes not yet read: p, len. bad: a sticky read (rd_take and what uses it) ran past the
 * end. */
struct rd {
	const uint8_t *p;
	size_t len;
	bool bad;
};

/* ---- checked reads: false when the bytes are not there, the cursor then unchanged ---- */

static inline bool rd_skip(struct rd *r, size_t n)
{
	if (n > r->len)
		return false;
	r->p += n;
	r->len -= n;
	return true;
}

static inline bool rd_u8(struct rd *r, uint8_t *v)
{
	if (r->len < 1)
		return false;
	*v = r->p[0];
	return rd_skip(r, 1);
}

static inline bool rd_be16(struct rd *r, uint16_t *v)
{
	if (r->len < 2)
		return false;
	*v = (uint16_t)(r->p[0] << 8 | r->p[1]);
	return rd_skip(r, 2);
}

static inline bool rd_be32(struct rd *r, uint32_t *v)
{
	if (r->len < 4)
		return false;
	*v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 |
	     (uint32_t)r->p[3];
	return rd_skip(r, 4);
}

static inline bool rd_le32(struct rd *r, uint32_t *v)
{
	if (r->len < 4)
		return false;
	*v = (uint32_t)r->p[3] << 24 | (uint32_t)r->p[2] << 16 | (uint32_t)r->p[1] << 8 |
	     (uint32_t)r->p[0];
	return rd_skip(r, 4);
}

static inline bool rd_copy(struct rd *r, void *dst, size_t n)
{
	if (n > r->len)
		return false;
	memcpy(dst, r->p, n);
	return rd_skip(r, n);
}

/* Looks at the byte under the cursor without consuming it. */
static inline bool rd_peek_u8(const struct rd *r, uint8_t *v)
{
	if (r->len < 1)
		return false;
	*v = r->p[0];
	return true;
}

/* Narrows the cursor to at most n bytes: a length field may cut what was captured, never
 * extend it. */
static inline void rd_limit(struct rd *r, size_t n)
{
	if (n < r->len)
		r->len = n;
}

/* ---- sticky reads, for nested length-prefixed structures: a read past the end sets bad,
 * gives NULL, zeros and empty cursors, and leaves the cursor empty, so a parser reads on and
 * checks bad once at the end ---- */

static inline const uint8_t *rd_take(struct rd *r, size_t n)
{
	if (r->bad || n > r->len) {
		r->bad = true;
		r->len = 0;
		return NULL;
	}
	const uint8_t *p = r->p;
	r->p += n;
	r->len -= n;
	return p;
}

/* An n-byte big-endian number (n at most 4). */
static inline uint32_t rd_uint(struct rd *r, size_t n)
{
	const uint8_t *p = rd_take(r, n);
	uint32_t v = 0;
	for (size_t i = 0; p && i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* The next n bytes as a cursor of their own. */
static inline struct rd rd_sub(struct rd *r, size_t n)
{
	const uint8_t *p = rd_take(r, n);
	return (struct rd){p, p ? n : 0, p == NULL};
}

/* A vector with a length prefix of lenbytes (RFC 8446 section 3.4). */
static inline struct rd rd_vec(struct rd *r, size_t lenbytes)
{
	uint32_t n = rd_uint(r, lenbytes);
	return rd_sub(r, n);
}

#endif
