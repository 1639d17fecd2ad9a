/* read_ahead: the reader thread. For a capture read in place (capture_in_place), it reads and
 * decodes packets (and checks their TCP checksums, RFC 1071) ahead of the analysis thread and
 * hands them over in batches through a bounded ring, so that a second CPU carries that work. */
#ifndef SMTPTRACE_READ_AHEAD_H
#define SMTPTRACE_READ_AHEAD_H

#include <stdbool.h>
#include <stdint.h>

#include "capture.h"
#include "decode.h"

/* One packet, decoded by the reader thread. */
struct read_ahead_pkt {
	struct tcp_seg seg; /* ts_us always set (the record's time); the rest when st is DECODE_OK,
	                     * its payload borrowed from the mapping */
	uint32_t wirelen;   /* the record's length on the wire */
	enum decode_status st;
};

struct read_ahead;

/* Starts a reader thread on cap, a capture read in place of link type dlt, from its next
 * record on; checksum says whether TCP checksums are computed at all (--checksum no: never).
 * cap is borrowed, and neither read nor closed by the caller until read_ahead_stop(). Returns
 * NULL (nothing read) when cap is not read in place or a thread or memory is not to be had. */
struct read_ahead *read_ahead_start(struct capture *cap, int dlt, bool checksum);

/* The next packet, in the capture's order: CAPTURE_PKT with *out borrowed until the next call
 * (the analysis thread may change it), else how the reader ended: CAPTURE_EOF, CAPTURE_ERR
 * (capture_error() says why, after read_ahead_stop()), or CAPTURE_NONE when the next record
 * is one for capture_next() to read (capture_map.c's fallback to libpcap). Waits while the
 * reader is behind. */
enum capture_rc read_ahead_next(struct read_ahead *ra, struct read_ahead_pkt **out);

/* How far the packets returned so far reach into the file, as capture_progress() says it. */
bool read_ahead_progress(const struct read_ahead *ra, uint64_t *done, uint64_t *total);

/* Stops the reader (packets read ahead and not yet returned are dropped), waits for its
 * thread and frees ra; cap is the caller's again, positioned after the last packet the reader
 * read. NULL is ignored. */
void read_ahead_stop(struct read_ahead *ra);

#endif
