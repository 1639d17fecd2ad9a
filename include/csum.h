/* csum: the Internet checksum's 16-bit one's complement sum (RFC 1071, RFC 1624), many bytes
 * a step: 64-bit words with end-around carry. */
#ifndef SMTPTRACE_CSUM_H
#define SMTPTRACE_CSUM_H

#include <stddef.h>
#include <stdint.h>

/* The one's complement sum of p[0..len) as big-endian 16-bit words, folded to 16 bits; a last
 * odd byte counts as the high half of a word. Any alignment of p. */
uint16_t csum_sum16(const uint8_t *p, size_t len);

/* The same sum a byte pair at a time: the reference the fast one is tested against. */
uint16_t csum_sum16_ref(const uint8_t *p, size_t len);

#endif
