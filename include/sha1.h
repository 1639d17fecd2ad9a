/* sha1: the SHA-1 message digest (FIPS 180-4), used only for Community ID flow hashes. */
#ifndef SMTPTRACE_SHA1_H
#define SMTPTRACE_SHA1_H

#include <stddef.h>
#include <stdint.h>

enum { SHA1_DIGEST_LEN = 20, SHA1_BLOCK_LEN = 64 };

struct sha1_ctx {
	uint32_t h[5];
	uint64_t len; /* bytes hashed so far */
	uint8_t block[SHA1_BLOCK_LEN];
	size_t fill; /* bytes waiting in block */
};

void sha1_init(struct sha1_ctx *c);

/* Hashes len bytes of data (borrowed for the call). */
void sha1_update(struct sha1_ctx *c, const void *data, size_t len);

/* Writes the digest into out; c must be initialised again before reuse. */
void sha1_final(struct sha1_ctx *c, uint8_t out[SHA1_DIGEST_LEN]);

#endif
