/* capture: packet sources (pcap and pcapng files, gzip-compressed or not, stdin) read
 * through libpcap; a live interface fits beside them behind the same calls. */
#ifndef SMTPTRACE_CAPTURE_H
#define SMTPTRACE_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

struct capture;

/* One packet: a borrowed view into libpcap's buffer, valid until the next capture_next(). */
struct capture_pkt {
	const uint8_t *data;
	uint32_t caplen;  /* bytes captured, what data holds */
	uint32_t wirelen; /* bytes on the wire */
	uint64_t ts_us;   /* microseconds since the epoch */
};

enum capture_rc {
	CAPTURE_PKT = 1,  /* *out holds a packet */
	CAPTURE_EOF = 0,  /* clean end of input */
	CAPTURE_ERR = -1, /* read error (truncated file, I/O error): see capture_error() */
};

/* Opens a capture file; path "-" is stdin. pcap or pcapng, plain or gzip (detected by the
 * magic bytes, decompressed in-process through zlib). bpf may be NULL or "" for no filter.
 * Returns a new capture owned by the caller (free with capture_close), or NULL with one
 * line in err naming the file and the cause: missing file, permission, not a capture file,
 * unsupported link type, bad filter. */
struct capture *capture_open_file(const char *path, const char *bpf, char *err, size_t errlen);

/* Reads the next packet. After CAPTURE_ERR, capture_error() gives one line naming the
 * file and the cause; packets returned before it stay valid input. */
enum capture_rc capture_next(struct capture *cap, struct capture_pkt *out);

/* The libpcap link type (DLT_*) of the source. */
int capture_datalink(const struct capture *cap);

/* The name the source was opened with ("-" for stdin). Borrowed. */
const char *capture_name(const struct capture *cap);

/* The last error, one line naming the file and the cause. Borrowed; "" when none. */
const char *capture_error(const struct capture *cap);

/* Closes the source and frees everything it holds. NULL is ignored. */
void capture_close(struct capture *cap);

#endif
