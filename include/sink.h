/* sink: where finished records go. One small interface (write a whole record, flush, reopen,
 * close) behind which the outputs live: the file sink (standard output or a file, plain or
 * gzip) and the Kafka sink, each an implementation of struct sink_ops. */
#ifndef SMTPTRACE_SINK_H
#define SMTPTRACE_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* Opens the Kafka sink (--kafka-brokers, --kafka-topic): each record one message on topic
 * (without its '\n'), keyed by its "community_id" (records without one, such as stats, have
 * no key), through librdkafka to the brokers (a comma-separated host:port list). Delivery
 * is checked; a full local queue drops records, counted; close waits a bounded time for what
 * is undelivered, then counts it as failed and fails with one line. Returns a new sink, or
 * NULL with one line in err (also when the build has no Kafka support). */
struct sink *sink_open_kafka(const char *brokers, const char *topic, char *err, size_t errlen);

/* What the Kafka sink did with the records written to it. written = delivered + failed +
 * dropped + in_flight at any time; in_flight is 0 after close. */
struct sink_kafka_counts {
	uint64_t written;   /* records written to the sink */
	uint64_t delivered; /* acknowledged by the brokers */
	uint64_t failed;    /* refused, timed out, or still undelivered at close */
	uint64_t dropped;   /* never queued: the local queue stayed full */
	uint64_t in_flight; /* queued or sent, not yet acknowledged */
};

/* Copies s's counts into c and returns true; false (and zeros) when s is not a Kafka sink. */
bool sink_kafka_counts(const struct sink *s, struct sink_kafka_counts *c);

/* librdkafka's version ("2.0.2"), or NULL when the build has no Kafka support. Static. */
const char *sink_kafka_version(void);

/* For implementations' close: the line sink_close_error() returns ("" for none). */
void sink_set_close_error(const char *err);

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
