/* scan: finding the ends of text lines (RFC 5321 section 2.3.8: CRLF; a bare CR or LF is what
 * the SMTP stage must see) many bytes at a time, SSE2 where the compiler has it. */
#ifndef SMTPTRACE_SCAN_H
#define SMTPTRACE_SCAN_H

#include <stddef.h>
#include <stdint.h>

/* The offset of the first CR or LF in p[0..len), len when there is none. */
size_t scan_crlf(const uint8_t *p, size_t len);

/* The bytes taken by the plain lines that p[0..len) starts with: each ends in CRLF, holds no
 * other CR or LF, has at least min_len bytes before its CRLF and at most max_total bytes with
 * it. Only whole lines count; the first line that is not plain (or not complete) ends the run. */
size_t scan_plain_lines(const uint8_t *p, size_t len, size_t min_len, size_t max_total);

/* 1 when scan_plain_lines takes 32 bytes a step (the CPU has AVX2), 0 for 16, -1 where the
 * build has no AVX2 path; set before main. Tests set it to 0 to try the 16-byte path too. */
extern int scan_avx2;

#endif
