/* fuzz: what the libFuzzer targets share: the entry point's prototype, a reader over the
 * fuzzer's input, and checks of a finished session record that abort on a broken bound. */
#ifndef SMTPTRACE_FUZZ_H
#define SMTPTRACE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp.h"

/* Called by libFuzzer (clang builds) or by tests/fuzz/replay.c (gcc builds) once per input.
 * data is borrowed for the call; returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant: says which and aborts, which libFuzzer and the replay driver report
 * as a crash with the input that caused it. */
#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__,       \
			        #cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* The fuzzer's input read front to back; past the end every read gives zeros. */
struct fuzz_in {
	const uint8_t *p;
	size_t left;
};

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	if (in->left == 0)
		return 0;
	in->left--;
	return *in->p++;
}

static inline uint16_t fuzz_u16(struct fuzz_in *in)
{
	uint16_t lo = fuzz_u8(in);
	return (uint16_t)(lo | (uint16_t)fuzz_u8(in) << 8);
}

static inline uint32_t fuzz_u32(struct fuzz_in *in)
{
	uint32_t lo = fuzz_u16(in);
	return lo | (uint32_t)fuzz_u16(in) << 16;
}

/* A copy of the next n bytes (fewer when the input ends first) in a buffer of exactly that
 * size, so that AddressSanitizer sees a read past its end; never NULL, even for 0 bytes (the
 * layers above never pass NULL). *got gets the size; the caller frees the buffer. */
static inline uint8_t *fuzz_take(struct fuzz_in *in, size_t n, size_t *got)
{
	uint8_t *b;
	if (n > in->left)
		n = in->left;
	*got = n;
	b = malloc(n);
	if (!b && !(b = malloc(1)))
		abort();
	if (n > 0)
		memcpy(b, in->p, n);
	in->p += n;
	in->left -= n;
	return b;
}

/* Reads every byte of b, so that AddressSanitizer checks the allocation really holds len. */
static inline unsigned fuzz_touch(const struct smtp_bytes *b)
{
	unsigned sum = 0;
	FUZZ_CHECK(b->data || b->len == 0);
	for (uint32_t i = 0; i < b->len; i++)
		sum += (uint8_t)b->data[i];
	return sum;
}

/* The bounds a finished record must keep under lim (DESIGN.md section 3: every table is
 * capped), and every kept byte readable. */
static inline void fuzz_check_record(const struct smtp_record *rec, const struct smtp_limits *lim)
{
	volatile unsigned sum = 0;
	FUZZ_CHECK(rec->n_txs <= lim->max_txs);
	FUZZ_CHECK(rec->n_txs <= rec->cap_txs);
	FUZZ_CHECK(rec->n_extensions <= lim->max_extensions);
	FUZZ_CHECK(rec->n_trace_verbs <= (lim->trace ? lim->max_trace : 0));
	FUZZ_CHECK(rec->n_trace_codes <= (lim->trace ? lim->max_trace : 0));
	for (uint32_t i = 0; i < rec->n_trace_verbs; i++)
		FUZZ_CHECK(rec->trace_verbs[i] < SMTP_V_COUNT);
	for (uint32_t i = 0; i < rec->n_trace_codes; i++)
		sum += rec->trace_codes[i];
	sum += fuzz_touch(&rec->greeting.text) + fuzz_touch(&rec->helo);
	sum += fuzz_touch(&rec->auth_mechanism);
	FUZZ_CHECK(memchr(rec->greeting.enhanced, 0, sizeof(rec->greeting.enhanced)) != NULL);
	for (uint32_t i = 0; i < rec->n_extensions; i++)
		sum += fuzz_touch(&rec->extensions[i]);
	for (uint32_t i = 0; i < rec->n_txs; i++) {
		const struct smtp_tx *tx = &rec->txs[i];
		FUZZ_CHECK(tx->n_rcpts <= lim->max_rcpts);
		FUZZ_CHECK(tx->n_rcpts <= tx->cap_rcpts);
		sum += fuzz_touch(&tx->mail_from) + fuzz_touch(&tx->mail_params);
		sum += fuzz_touch(&tx->eod_reply.text);
		FUZZ_CHECK(memchr(tx->eod_reply.enhanced, 0, sizeof(tx->eod_reply.enhanced)) !=
		           NULL);
		for (uint32_t j = 0; j < tx->n_rcpts; j++)
			sum += fuzz_touch(&tx->rcpts[j].addr);
	}
	(void)sum;
}

#endif
