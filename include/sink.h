/* sink: where finished records go. One small interface (write a whole record, flush, reopen,
 * close) behind which the outputs live: the file sink (standard output or a file) now; gzip
 * and Kafka later, each a new implementation of struct sink_ops. */
#ifndef SMTPTRACE_SINK_H
#define SMTPTRACE_SINK_H

#include <stdbool.h>
#include <stddef.h>

struct sink;

struct sink_ops {
	/* Takes one whole record (a JSON line with its '\n'); 0, or -1 on a write error. */
	int (*write)(struct sink *s, const char *rec, size_t len);
	/* Hands every whole record written so far to the operating system; 0 or -1. */
	int (*flush)(struct sink *s);
	/* Closes and opens the output again by its name (logrotate's SIGHUP); 0 or -1. */
	int (*reopen)(struct sink *s);
	/* Flushes and frees; 0, or -1 when a write failed at any time. */
	int (*close)(struct sink *s);
};

/* The common head of every sink; an implementation embeds it first. */
struct sink {
	const struct sink_ops *ops;
	bool failed;     /* a write failed: later writes are refused */
	bool per_record; /* flush each record as it is written (live, pipes, -U) */
	int errnum;      /* errno of the first failure (EPIPE: the reader went away) */
	char err[384];   /* one line naming the output and the cause, "" when none */
};

struct sink_file_options {
	bool overwrite;  /* truncate an existing file instead of appending to it */
	bool per_record; /* flush after every record */
};

/* Opens the file sink: path NULL or "-" is standard output (a duplicate of it, so closing the
 * sink leaves stdout open). A file is created if missing (mode 0644 less the umask) and
 * appended to unless o->overwrite; a name ending in ".gz" is written gzip-compressed (each
 * flush a sync point, so what is written so far always decompresses to whole records; a
 * reopen or an append starts a new gzip member). Records are buffered whole and written whole: a
 * failed write to a regular file is cut back to the last whole record, so the file never ends in a
 * cut line. Returns a new sink (free with sink_close), or NULL with one line in err. */
struct sink *sink_open_file(const char *path, const struct sink_file_options *o, char *err,
                            size_t errlen);

/* The calls of the interface. Each returns 0, or -1 with sink_error() set. sink_close(NULL)
 * returns 0. */
int sink_write(struct sink *s, const char *rec, size_t len);
int sink_flush(struct sink *s);
int sink_reopen(struct sink *s);
int sink_close(struct sink *s);

/* The first error, one line ("out.json: No space left on device"); "" when none. Borrowed. */
const char *sink_error(const struct sink *s);

/* The error of the last sink_close() that failed, "" otherwise (the sink is gone by then). */
const char *sink_close_error(void);

#endif
