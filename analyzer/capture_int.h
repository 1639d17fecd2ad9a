/* capture_int: what the capture sources share (capture.c: files and pipes; capture_live.c:
 * interfaces). Not for other stages. */
#ifndef SMTPTRACE_CAPTURE_INT_H
#define SMTPTRACE_CAPTURE_INT_H

#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <zlib.h>

#include "capture.h"

enum { CAPTURE_ERR_MAX = 512 };

enum capture_kind {
	CAPTURE_KIND_FILE, /* a file or a pipe, through a stdio stream of ours */
	CAPTURE_KIND_LIVE, /* an interface: pcap_create/pcap_activate */
};

struct pipe_reader;
struct capture_map;

struct capture {
	enum capture_kind kind;
	pcap_t *pcap;
	char *name;
	const char *label; /* the name in messages: name, or "stdin" for "-" */
	int dlt;
	bool failed; /* a read error was reported; later reads report it again */
	/* A file source: libpcap reads a fopencookie() stream over gzread (regular files) or
	 * over a pipe reader (pipes, sockets, terminals), with this struct as its cookie.
	 * pcap_close() closes that stream, and the cookie's close function closes gz or the
	 * pipe and with it the descriptor. */
	gzFile gz;
	int gz_fd; /* gz's descriptor, for its size */
	struct pipe_reader *pipe;
	capture_idle_fn idle; /* called while a pipe or an interface has nothing to read */
	void *idle_ctx;
	int live_fd;             /* the interface's selectable descriptor */
	uint64_t stream_bytes;   /* bytes the cookie handed to stdio */
	struct capture_map *map; /* a plain pcap file read in place (capture_map.c), or NULL */
	bool map_handed;         /* libpcap reads the rest of it (a record out of the ordinary) */
	char gz_err[128];        /* zlib's complaint, when the cookie saw one */
	char err[CAPTURE_ERR_MAX];
};

void capture_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Checks the source's link type; false with err set when decode does not know it. */
bool capture_check_datalink(struct capture *cap, char *err, size_t errlen);

/* Compiles bpf (NULL or "": none) against the source's link type and installs it; false
 * with err set ("bad filter expression: " and libpcap's words). */
bool capture_apply_filter(struct capture *cap, const char *bpf, char *err, size_t errlen);

/* Waits (poll) until the interface has packets or its timeout passed. CAPTURE_NONE, or
 * CAPTURE_ERR with cap->err set. */
enum capture_rc capture_live_wait(struct capture *cap);

/* The pipe reader (capture_pipe.c): takes fd over. Returns NULL on out of memory. */
struct pipe_reader *capture_pipe_new(int fd);

/* Reads up to size bytes of the capture's (decompressed) bytes, waiting with the idle hook
 * running every 100 ms. Returns the count, 0 at the end or when the hook said stop, -1 on an
 * error (zlib's complaint in cap->gz_err). */
ssize_t capture_pipe_read(struct pipe_reader *p, struct capture *cap, char *buf, size_t size);

/* Frees p and closes its descriptor. NULL is ignored. */
void capture_pipe_free(struct pipe_reader *p);

/* capture_map.c: maps fd's file (not taken over) when it is a plain pcap in the host's byte
 * order with microseconds and a link type (libpcap's DLT dlt) that libpcap passes on as read;
 * NULL otherwise, and libpcap reads it all. */
struct capture_map *capture_map_open(int fd, int dlt);

/* The next record in place (valid until the next call): 1 with *out set, 0 at the end, -1 for
 * a record libpcap is to read (cut short, longer than the snap length or 65535), which stays
 * the next one, -2 when the file was cut shorter while it was read (a SIGBUS caught). */
int capture_map_next(struct capture_map *m, struct capture_pkt *out);

/* Keeps the pages from file offset from on (SIZE_MAX: none kept) when those before the next
 * record are given back: records read ahead whose packets are still to be analysed. */
void capture_map_keep(struct capture_map *m, size_t from);

/* A new stdio stream of the file's header and the file from the next record on, for libpcap;
 * it reads m, which must outlive it. NULL on out of memory. */
FILE *capture_map_rest(struct capture_map *m);

void capture_map_progress(const struct capture_map *m, uint64_t *done, uint64_t *total);
void capture_map_free(struct capture_map *m); /* NULL is ignored */

#endif
