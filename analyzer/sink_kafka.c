/* sink_kafka: the Kafka sink: each record one message on a topic through librdkafka, keyed by
 * the record's Community ID, with delivery reports counted, a bounded local queue, and a
 * bounded flush on close; without librdkafka (no SMTPTRACE_KAFKA) only stubs that say so. */
#include "sink.h"

#include <stdio.h>
#include <string.h>

#ifdef SMTPTRACE_KAFKA

#include <librdkafka/rdkafka.h>
#include <stdlib.h>

enum {
	KAFKA_QUEUE_MAX = 100000,       /* records waiting in librdkafka's local queue, at most */
	KAFKA_QUEUE_KBYTES = 64 * 1024, /* and their bytes, at most (KiB) */
	KAFKA_FULL_WAIT_MS = 1000,      /* a full queue: how long a record waits for room */
	KAFKA_CLOSE_WAIT_MS = 10000,    /* close: how long undelivered records may take */
	KAFKA_MSG_TIMEOUT_MS = 60000,   /* a record not acknowledged by then has failed */
	KAFKA_ERRS_SEEN = 32,           /* distinct error codes said once each */
	KAFKA_TOPIC_MAX = 249,          /* Kafka's longest topic name */
};

struct kafka_sink {
	struct sink base;
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	char topic[KAFKA_TOPIC_MAX + 1];
	struct sink_kafka_counts n;
	bool congested; /* the queue stayed full: records are dropped until it has room */
	int errs_seen[KAFKA_ERRS_SEEN];
	size_t n_errs_seen;
};

static const char key_tag[] = "\"community_id\":\"";

/* The record's Community ID (the first "community_id" string: the record's own, which
 * comes before anything nested), or NULL for records without one (the stats record). */
static const char *record_key(const char *rec, size_t len, size_t *key_len)
{
	const char *p = memmem(rec, len, key_tag, sizeof(key_tag) - 1);
	if (!p)
		return NULL;
	p += sizeof(key_tag) - 1;
	const char *end = memchr(p, '"', len - (size_t)(p - rec));
	if (!end)
		return NULL;
	*key_len = (size_t)(end - p);
	return p;
}

/* True the first time err is seen: each distinct error is said once, not a flood. */
static bool first_time(struct kafka_sink *k, int err)
{
	for (size_t i = 0; i < k->n_errs_seen; i++)
		if (k->errs_seen[i] == err)
			return false;
	if (k->n_errs_seen < KAFKA_ERRS_SEEN)
		k->errs_seen[k->n_errs_seen++] = err;
	return true;
}

static void say_error(struct kafka_sink *k, int err, const char *what)
{
	if (first_time(k, err))
		fprintf(stderr, "smtptrace: kafka: %s\n", what);
}

/* Broker and client errors, served by rd_kafka_poll() in this thread. A fatal one (the
 * producer cannot go on) fails the sink: later writes are refused and the run ends 1. */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct kafka_sink *k = opaque;
	char fatal[256];
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		err = rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
		reason = fatal;
		if (!k->base.failed)
			snprintf(k->base.err, sizeof(k->base.err), "kafka: fatal error: %s", fatal);
		k->base.failed = true;
	}
	say_error(k, err, reason);
}

/* A delivery report: the broker acknowledged the record, or it failed for good (retries
 * used up, timed out, or purged at close). */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct kafka_sink *k = opaque;
	(void)rk;
	if (k->n.in_flight)
		k->n.in_flight--;
	if (!m->err) {
		k->n.delivered++;
		return;
	}
	k->n.failed++;
	if (m->err != RD_KAFKA_RESP_ERR__PURGE_QUEUE &&
	    m->err != RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) {
		char what[256];
		snprintf(what, sizeof(what), "a record was not delivered: %s",
		         rd_kafka_err2str(m->err));
		say_error(k, m->err, what);
	}
}

/* librdkafka's own log lines repeat what the error callback says, once per retry. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	(void)level;
	(void)fac;
	(void)buf;
}

/* Hands one record to librdkafka. A full queue: serve delivery reports and try again for up
 * to KAFKA_FULL_WAIT_MS, then drop the record, counted; while the queue stays full, later
 * records are dropped without waiting, so the capture is not stalled for each. */
static void kafka_produce(struct kafka_sink *k, const char *val, size_t len, const char *key,
                          size_t key_len)
{
	for (int waited = 0;;) {
		if (rd_kafka_produce(k->rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
		                     (void *)val, len, key, key_len, NULL) == 0) {
			k->n.in_flight++;
			k->congested = false;
			return;
		}
		rd_kafka_resp_err_t err = rd_kafka_last_error();
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			k->n.failed++;
			say_error(k, err, rd_kafka_err2str(err));
			return;
		}
		if (waited >= KAFKA_FULL_WAIT_MS || (k->congested && waited > 0)) {
			k->n.dropped++;
			if (!k->congested)
				say_error(k, err,
				          "the local queue is full (brokers too slow or away): "
				          "records are dropped, and counted, until it drains");
			k->congested = true;
			return;
		}
		rd_kafka_poll(k->rk, k->congested ? 0 : 10);
		waited += 10;
	}
}

static int kafka_write(struct sink *s, const char *rec, size_t len)
{
	struct kafka_sink *k = (struct kafka_sink *)s;
	size_t key_len = 0;
	const char *key = record_key(rec, len, &key_len);
	k->n.written++;
	if (len && rec[len - 1] == '\n') /* a message is a record: no line end */
		len--;
	kafka_produce(k, rec, len, key, key_len);
	rd_kafka_poll(k->rk, 0);
	return s->failed ? -1 : 0;
}

/* Records leave as librdkafka batches them (linger.ms); a flush serves the reports. */
static int kafka_flush(struct sink *s)
{
	rd_kafka_poll(((struct kafka_sink *)s)->rk, 0);
	return s->failed ? -1 : 0;
}

static int kafka_reopen(struct sink *s)
{
	return kafka_flush(s);
}

/* Waits up to KAFKA_CLOSE_WAIT_MS for what is still queued or in flight; what is left is
 * purged, and its delivery reports count it as failed. */
static void kafka_drain(struct kafka_sink *k)
{
	rd_kafka_flush(k->rk, KAFKA_CLOSE_WAIT_MS);
	if (rd_kafka_outq_len(k->rk) > 0) {
		rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_flush(k->rk, 1000);
	}
	k->n.failed += k->n.in_flight; /* never reported: not known to be delivered */
	k->n.in_flight = 0;
}

static void kafka_free(struct kafka_sink *k)
{
	if (k->rkt)
		rd_kafka_topic_destroy(k->rkt);
	if (k->rk)
		rd_kafka_destroy(k->rk);
	free(k);
}

/* Everything undelivered is one line, the close's error (and the run's exit status 1). */
static int kafka_close(struct sink *s)
{
	struct kafka_sink *k = (struct kafka_sink *)s;
	kafka_drain(k);
	const struct sink_kafka_counts *n = &k->n;
	if (!s->failed && (n->failed || n->dropped))
		snprintf(s->err, sizeof(s->err),
		         "kafka: %llu of %llu records not delivered to topic %s (%llu failed, %llu "
		         "dropped; %llu delivered)",
		         (unsigned long long)(n->failed + n->dropped),
		         (unsigned long long)n->written, k->topic, (unsigned long long)n->failed,
		         (unsigned long long)n->dropped, (unsigned long long)n->delivered);
	s->failed = s->failed || n->failed || n->dropped;
	sink_set_close_error(s->failed ? s->err : "");
	int rc = s->failed ? -1 : 0;
	kafka_free(k);
	return rc;
}

static const struct sink_ops kafka_ops = {kafka_write, kafka_flush, kafka_reopen, kafka_close};

/* Kafka's topic names: 1 to 249 of [A-Za-z0-9._-], not "." or "..". */
static bool topic_ok(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > KAFKA_TOPIC_MAX || strcmp(t, ".") == 0 || strcmp(t, "..") == 0)
		return false;
	return strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* The local queue's bound in records: KAFKA_QUEUE_MAX, or SMTPTRACE_KAFKA_QUEUE_MAX (1 to
 * 10000000) for a sensor with less memory, or a test. False for a malformed value. */
static bool queue_max(char *buf, size_t len, char *err, size_t errlen)
{
	const char *v = getenv("SMTPTRACE_KAFKA_QUEUE_MAX");
	char *end;
	long n = v ? strtol(v, &end, 10) : KAFKA_QUEUE_MAX;
	if (v && (end == v || *end || n < 1 || n > 10000000)) {
		snprintf(err, errlen,
		         "SMTPTRACE_KAFKA_QUEUE_MAX: give 1 to 10000000 records, not '%s'", v);
		return false;
	}
	snprintf(buf, len, "%ld", n);
	return true;
}

static bool conf_set(rd_kafka_conf_t *c, const char *name, const char *value, char *err,
                     size_t errlen)
{
	char why[256];
	if (rd_kafka_conf_set(c, name, value, why, sizeof(why)) == RD_KAFKA_CONF_OK)
		return true;
	snprintf(err, errlen, "kafka: %s=%s: %s", name, value, why);
	return false;
}

/* The producer's settings: acknowledged by all in-sync replicas, idempotent (a retry neither
 * duplicates nor reorders), Java's partitioner (a key lands where Kafka's own clients put
 * it), a bounded queue and a bounded time to deliver. */
static rd_kafka_conf_t *kafka_conf(struct kafka_sink *k, const char *brokers, char *err,
                                   size_t errlen)
{
	char n_max[24], kb_max[24], timeout[24];
	if (!queue_max(n_max, sizeof(n_max), err, errlen))
		return NULL;
	snprintf(kb_max, sizeof(kb_max), "%d", KAFKA_QUEUE_KBYTES);
	snprintf(timeout, sizeof(timeout), "%d", KAFKA_MSG_TIMEOUT_MS);
	const char *set[][2] = {
	    {"bootstrap.servers", brokers},
	    {"client.id", "smtptrace"},
	    {"acks", "all"},
	    {"enable.idempotence", "true"},
	    {"partitioner", "murmur2_random"},
	    {"queue.buffering.max.messages", n_max},
	    {"queue.buffering.max.kbytes", kb_max},
	    {"message.timeout.ms", timeout},
	};
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	for (size_t i = 0; c && i < sizeof(set) / sizeof(set[0]); i++)
		if (!conf_set(c, set[i][0], set[i][1], err, errlen)) {
			rd_kafka_conf_destroy(c);
			return NULL;
		}
	if (!c) {
		snprintf(err, errlen, "kafka: out of memory");
		return NULL;
	}
	rd_kafka_conf_set_opaque(c, k);
	rd_kafka_conf_set_error_cb(c, on_error);
	rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
	rd_kafka_conf_set_log_cb(c, on_log);
	return c;
}

struct sink *sink_open_kafka(const char *brokers, const char *topic, char *err, size_t errlen)
{
	if (!topic_ok(topic)) {
		snprintf(err, errlen,
		         "--kafka-topic: '%s' is not a Kafka topic name (1 to 249 of "
		         "letters, digits, '.', '_' and '-')",
		         topic);
		return NULL;
	}
	struct kafka_sink *k = calloc(1, sizeof(*k));
	if (!k) {
		snprintf(err, errlen, "kafka: out of memory");
		return NULL;
	}
	k->base.ops = &kafka_ops;
	snprintf(k->topic, sizeof(k->topic), "%s", topic);
	char why[512];
	rd_kafka_conf_t *c = kafka_conf(k, brokers, err, errlen);
	if (c && !(k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, why, sizeof(why)))) {
		rd_kafka_conf_destroy(c);
		snprintf(err, errlen, "kafka: %s", why);
	}
	if (k->rk && !(k->rkt = rd_kafka_topic_new(k->rk, topic, NULL)))
		snprintf(err, errlen, "kafka: topic %s: %s", topic,
		         rd_kafka_err2str(rd_kafka_last_error()));
	if (!k->rkt) {
		kafka_free(k);
		return NULL;
	}
	return &k->base;
}

bool sink_kafka_counts(const struct sink *s, struct sink_kafka_counts *c)
{
	memset(c, 0, sizeof(*c));
	if (!s || s->ops != &kafka_ops)
		return false;
	*c = ((const struct kafka_sink *)s)->n;
	return true;
}

const char *sink_kafka_version(void)
{
	return rd_kafka_version_str();
}

#else /* no librdkafka: the interface is there, the sink is not */

struct sink *sink_open_kafka(const char *brokers, const char *topic, char *err, size_t errlen)
{
	(void)brokers;
	(void)topic;
	snprintf(err, errlen, "this build has no Kafka support (rebuild with librdkafka-dev)");
	return NULL;
}

bool sink_kafka_counts(const struct sink *s, struct sink_kafka_counts *c)
{
	(void)s;
	memset(c, 0, sizeof(*c));
	return false;
}

const char *sink_kafka_version(void)
{
	return NULL;
}

#endif
