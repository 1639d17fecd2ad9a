/* detect: whether a TCP flow on a port that --ports does not name carries SMTP, from its first
 * bytes: the server's 220 greeting and the client's EHLO or HELO (RFC 5321 3.1, 4.1.1.1), on
 * their own or inside a tunnel after an HTTP CONNECT and its 2xx reply (RFC 9110 9.3.6). */
#ifndef SMTPTRACE_DETECT_H
#define SMTPTRACE_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum detect_verdict { DETECT_MORE = 0, DETECT_SMTP, DETECT_NOT_SMTP };

/* How SMTP was found: by its port (--ports, no probe), by content, or by content inside an
 * HTTP CONNECT tunnel. NONE: probed and not SMTP. Records write detect_how_name(). */
enum detect_how {
	DETECT_HOW_PORT = 0,
	DETECT_HOW_CONTENT,
	DETECT_HOW_HTTP_CONNECT,
	DETECT_HOW_NONE
};

/* The probe's bounds: it decides within DETECT_MAX_BYTES bytes and DETECT_MAX_PKTS deliveries
 * of each direction, or the flow is not SMTP. The bytes are copied (a flow's delivered bytes
 * are borrowed for the call, and the SMTP layer must get them once the verdict is SMTP); the
 * copy is bounded by these caps, and it ends with the verdict. 1024 bytes hold a CONNECT
 * request with its headers, its reply and a greeting line of the 512 octets RFC 5321 4.5.3.1
 * allows. Deliveries that follow one of the same direction with the same peer_acked extend
 * its chunk (one-byte segments take one chunk a line); at most DETECT_MAX_CHUNKS chunks a
 * direction are kept, or the flow is not SMTP. The bytes are judged again only on a delivery
 * that holds a line end, or while a direction has at most DETECT_EARLY bytes (past
 * any CONNECT part), so the work per
 * flow is bounded too. */
enum {
	DETECT_MAX_BYTES = 1024,
	DETECT_MAX_PKTS = 256,
	DETECT_MAX_CHUNKS = 16,
	DETECT_EARLY = 16,
};

struct detect_chunk {
	uint64_t peer_acked, ts_us; /* those of the chunk's first delivery */
	uint16_t off, len;          /* where in its direction's buffer */
	uint8_t dir;
};

struct detect_probe {
	uint8_t buf[2][DETECT_MAX_BYTES]; /* indexed by direction: 0 client to server */
	uint32_t len[2];
	uint32_t inner[2]; /* where SMTP starts in each direction: past the CONNECT and its reply */
	struct detect_chunk chunk[2 * DETECT_MAX_CHUNKS]; /* in arrival order */
	uint32_t n_chunks, n_dir[2], n_pkts[2];
	bool tunnel; /* a CONNECT answered by 2xx: what follows is probed */
	enum detect_verdict verdict;
};

void detect_init(struct detect_probe *p);

/* Copies what fits of one delivery of direction dir (0 client to server) and returns the
 * verdict so far; *kept says how many of its bytes were copied. Once the verdict is SMTP, the
 * caller replays the copies (detect_replay) and passes data + *kept on itself. After a verdict
 * other than MORE, nothing more is copied. */
enum detect_verdict detect_feed(struct detect_probe *p, int dir, const uint8_t *data, size_t len,
                                uint64_t peer_acked, uint64_t ts_us, size_t *kept);

/* No more bytes will come (the flow ended, or a gap hides them): MORE becomes NOT_SMTP. */
enum detect_verdict detect_end(struct detect_probe *p);

/* CONTENT or HTTP_CONNECT once the verdict is SMTP, NONE otherwise. */
enum detect_how detect_how_of(const struct detect_probe *p);

/* Bytes of direction dir before SMTP starts (the CONNECT request or its reply; 0 without). */
uint32_t detect_skip(const struct detect_probe *p, int dir);

typedef void (*detect_replay_fn)(void *ctx, int dir, const uint8_t *data, size_t len,
                                 uint64_t peer_acked, uint64_t ts_us);

/* Hands the copied bytes past detect_skip to fn in arrival order (peer_acked as delivered). */
void detect_replay(const struct detect_probe *p, detect_replay_fn fn, void *ctx);

/* "port", "content", "http_connect", "none". */
const char *detect_how_name(enum detect_how how);

#endif
