/* capture: packet sources behind one capture_next(): pcap and pcapng files (gzip-compressed
 * or not), stdin and pipes, and live interfaces, all read through libpcap. */
#ifndef SMTPTRACE_CAPTURE_H
#define SMTPTRACE_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

struct capture;

enum { CAPTURE_ERR_LEN = 512 }; /* room for any error line of this stage */

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
	CAPTURE_NONE = 2, /* a live source has no packet yet: time may move, then ask again */
};

/* Called while a pipe or an interface has had nothing to read for a while (about every
 * 100 ms), so that the caller can move its clock and look at its signals. Returns false to
 * stop reading: the source then ends as at the end of input. */
typedef bool (*capture_idle_fn)(void *ctx);

/* Opens a capture file; path "-" is stdin. pcap or pcapng, plain or gzip (detected by the
 * magic bytes, decompressed in-process through zlib). bpf may be NULL or "" for no filter.
 * Returns a new capture owned by the caller (free with capture_close), or NULL with one
 * line in err naming the file and the cause: missing file, permission, not a capture file,
 * unsupported link type, bad filter. */
struct capture *capture_open_file(const char *path, const char *bpf, char *err, size_t errlen);

/* The same, with an idle hook for pipes (NULL: none): while a pipe (stdin, a fifo, a socket)
 * has nothing to read, idle(idle_ctx) runs about every 100 ms, during the open too. */
struct capture *capture_open_stream(const char *path, const char *bpf, capture_idle_fn idle,
                                    void *idle_ctx, char *err, size_t errlen);

struct capture_live_options {
	int snaplen;      /* bytes kept of each packet (default 262144) */
	int buffer_kib;   /* the kernel's capture buffer in KiB, 0: libpcap's default */
	bool immediate;   /* deliver each packet at once rather than in batches */
	bool promisc;     /* promiscuous mode (default on; tcpdump's -p turns it off) */
	int timeout_ms;   /* the longest a packet waits in the kernel buffer (default 100) */
	int fanout_group; /* join this PACKET_FANOUT group (hash, defrag), -1: none (default) */
};

void capture_live_options_default(struct capture_live_options *o);

/* Opens a live interface ("any" for all) with a filter (NULL or "": none). Returns a new
 * capture (free with capture_close), or NULL with one line in err: no such device (with
 * the list of devices), permission denied (what is needed), the interface down, a filter
 * that does not compile (libpcap's words), an unsupported link type. */
struct capture *capture_open_live(const char *dev, const struct capture_live_options *o,
                                  const char *bpf, char *err, size_t errlen);

/* Writes the interfaces libpcap can capture on, tcpdump -D's way ("1.lo [Up, Running,
 * Loopback]"). Returns 0, or -1 with one line in err. */
int capture_list_devices(FILE *out, char *err, size_t errlen);

/* Kernel counters of a live source: packets received by the filter, dropped by the kernel,
 * dropped by the interface. Returns false for files and when libpcap cannot say. */
bool capture_kernel_stats(struct capture *cap, uint64_t *received, uint64_t *dropped,
                          uint64_t *if_dropped);

/* True when err (from an open) says the filter did not compile: the same for every input,
 * so a caller says it once and stops. */
bool capture_error_is_filter(const char *err);

/* libpcap's and zlib's versions, one line ("libpcap version 1.10.3 ..., zlib 1.2.13"). */
const char *capture_library_versions(void);

/* How far a capture file has been read: bytes of the file (compressed bytes for gzip) done
 * and in all. False when that cannot be known (pipes, interfaces). */
bool capture_progress(const struct capture *cap, uint64_t *done, uint64_t *total);

/* True for a live interface. */
bool capture_is_live(const struct capture *cap);

/* Reads the next packet. After CAPTURE_ERR, capture_error() gives one line naming the
 * file and the cause; packets returned before it stay valid input. */
enum capture_rc capture_next(struct capture *cap, struct capture_pkt *out);

/* True while the source's packets are read in place from a mapping of the file (a plain pcap
 * file, no filter): their bytes then stay where they are after the next read, until
 * capture_close(), so that packets can be read ahead of their analysis (read_ahead.c). */
bool capture_in_place(const struct capture *cap);

/* capture_next() for a source read in place, which reads only records read in place: for
 * one that libpcap is to read (capture_map.c's fallback) it returns CAPTURE_NONE, and that
 * record stays the next one for capture_next(). The packet stays valid until capture_close().
 * CAPTURE_NONE too when the source is not read in place (any more). */
enum capture_rc capture_next_in_place(struct capture *cap, struct capture_pkt *out);

/* Keeps the pages of a source read in place from file offset offset on (UINT64_MAX: no such
 * limit, the default) when it gives back those of the records before the next one: records
 * read ahead are not yet analysed. Nothing for other sources. */
void capture_keep_from(struct capture *cap, uint64_t offset);

/* The libpcap link type (DLT_*) of the source. */
int capture_datalink(const struct capture *cap);

/* The name the source was opened with ("-" for stdin). Borrowed. */
const char *capture_name(const struct capture *cap);

/* The last error, one line naming the file and the cause. Borrowed; "" when none. */
const char *capture_error(const struct capture *cap);

/* Closes the source and frees everything it holds. NULL is ignored. */
void capture_close(struct capture *cap);

#endif
