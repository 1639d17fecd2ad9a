/* emit_writer: the writer thread. The analysis thread hands each finished record's jansson tree
 * to it through a bounded queue (the analysis thread waits while the queue is full), or, for a
 * session record, a job (emit_job: the session and its verdict, kept for it) whose tree the
 * writer builds itself; the writer renders it (redaction, json_dumpb, the --max-record bound)
 * and writes it to the sink, in the order the records were handed over, so that the output is
 * byte for byte that of one thread. What a job held is given back on the analysis thread once
 * its slot is written. Part of the record builder. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "emit_int.h"
#include "thread.h"

enum { WRITER_BATCH = EMIT_QUEUE_DEPTH / 2 }; /* offline, the writer is woken this many at once */

struct emit_writer {
	struct emit *e; /* rendered and written by the writer only, while it runs */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t work; /* the writer waits on it: records, a drain, the stop */
	pthread_cond_t room; /* the analysis thread waits on it: a free slot, or all written */
	json_t *slot[EMIT_QUEUE_DEPTH]; /* slot i holds a tree of arena block i */
	/* or, when queued[i], a session record to build there first (emit_session_later) */
	bool queued[EMIT_QUEUE_DEPTH];
	struct emit_job job[EMIT_QUEUE_DEPTH];
	/* The analysis thread's own: job i was handed over and not yet released. */
	bool held[EMIT_QUEUE_DEPTH];
	unsigned last_job; /* the slot of the job handed over last, while it is held */
	bool last_held;
	struct emit_job keep; /* the last job, written, held until the next (its records may
	                       * still be being built: a session's transactions come after it) */
	bool keeping;
	unsigned head; /* the oldest record not yet written and freed */
	unsigned
	    count; /* records handed over and not yet written and freed (the writer's one too) */
	unsigned tail; /* where the next record goes, and the arena block it is built in */
	bool eager;    /* per-record output (live, pipes, -U): the writer woken for each record */
	bool draining; /* the analysis thread waits for count to be 0 */
	bool stop;     /* everything queued is written, then the thread ends */
	bool failed;   /* a record could not be rendered or written: the rest is dropped */
	bool writer_idle, waiting_room;
};

/* The one writer: the arena it builds in is a singleton too (emit_arena.c). Set and read only by
 * the analysis thread. */
static struct emit_writer *active;

/* Takes the oldest record out of the lock (building it first when it is a job), writes it, and
 * gives its slot back. */
static void write_one(struct emit_writer *w)
{
	unsigned b = w->head;
	json_t *root = w->slot[b];
	const struct emit_job *j = w->queued[b] ? &w->job[b] : NULL;
	bool failed = w->failed;
	pthread_mutex_unlock(&w->mu);
	if (j && !failed)
		root = emit_job_tree(j, b);
	int rc = failed ? (json_decref(root), -1) : emit_write_tree(w->e, root);
	pthread_mutex_lock(&w->mu);
	w->slot[w->head] = NULL;
	w->head = (w->head + 1) % EMIT_QUEUE_DEPTH;
	w->count--;
	if (rc != 0)
		w->failed = true;
	if (w->waiting_room && w->count <= WRITER_BATCH)
		pthread_cond_signal(&w->room);
}

static void *writer_main(void *arg)
{
	struct emit_writer *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		if (w->count > 0) {
			write_one(w);
			continue;
		}
		if (w->draining)
			pthread_cond_signal(&w->room);
		if (w->stop)
			break;
		w->writer_idle = true;
		pthread_cond_wait(&w->work, &w->mu);
		w->writer_idle = false;
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

struct emit_writer *emit_writer_start(struct emit *e, bool eager)
{
	if (active)
		return NULL;
	struct emit_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->e = e;
	w->eager = eager;
	if (pthread_mutex_init(&w->mu, NULL) != 0) {
		free(w);
		return NULL;
	}
	pthread_cond_init(&w->work, NULL);
	pthread_cond_init(&w->room, NULL);
	if (!thread_start_quiet(&w->thread, writer_main, w)) {
		pthread_cond_destroy(&w->work);
		pthread_cond_destroy(&w->room);
		pthread_mutex_destroy(&w->mu);
		free(w);
		return NULL;
	}
	active = w;
	return w;
}

/* Copies a job: a verdict's transactions may be in its own inline array. */
static void job_copy(struct emit_job *dst, const struct emit_job *src)
{
	*dst = *src;
	if (src->v.txs == src->v.inline_txs)
		dst->v.txs = dst->v.inline_txs;
}

static void job_release(struct emit_job *j)
{
	j->release(j->release_ctx, j->owner, &j->v);
}

/* The analysis thread, once slot t is written: gives back what its job held, but the last job
 * handed over's, whose session's other records may be being built now: kept until the next
 * job, or the end. */
static void release_slot(struct emit_writer *w, unsigned t)
{
	if (!w->held[t])
		return;
	w->held[t] = false;
	if (w->last_held && w->last_job == t) {
		w->last_held = false;
		job_copy(&w->keep, &w->job[t]);
		w->keeping = true;
		return;
	}
	job_release(&w->job[t]);
}

/* Every job's, once all are written; all: the last one's too (no record is being built). */
static void release_all(struct emit_writer *w, bool all)
{
	for (unsigned t = 0; t < EMIT_QUEUE_DEPTH; t++)
		release_slot(w, t);
	if (all && w->keeping) {
		w->keeping = false;
		job_release(&w->keep);
	}
}

unsigned emit_writer_claim(void)
{
	struct emit_writer *w = active;
	if (!w)
		return 0;
	pthread_mutex_lock(&w->mu);
	while (w->count == EMIT_QUEUE_DEPTH) { /* the block at tail is still being written */
		w->waiting_room = true;
		if (w->writer_idle)
			pthread_cond_signal(&w->work);
		pthread_cond_wait(&w->room, &w->mu);
		w->waiting_room = false;
	}
	unsigned t = w->tail;
	pthread_mutex_unlock(&w->mu);
	release_slot(w, t); /* written: the writer is done with it */
	return t;
}

/* Queues what slot tail holds now (the lock held). */
static void queue_tail(struct emit_writer *w)
{
	w->tail = (w->tail + 1) % EMIT_QUEUE_DEPTH;
	w->count++;
	if (w->writer_idle && (w->eager || w->count >= WRITER_BATCH))
		pthread_cond_signal(&w->work);
}

int emit_writer_push_job(struct emit_writer *w, const struct emit_job *j)
{
	unsigned t = emit_writer_claim();
	if (w->keeping) { /* a new session's records: the last one's are all built */
		w->keeping = false;
		job_release(&w->keep);
	}
	job_copy(&w->job[t], j); /* slot t is free: the writer reads it only once queued */
	pthread_mutex_lock(&w->mu);
	bool failed = w->failed;
	if (!failed) {
		w->slot[t] = NULL;
		w->queued[t] = true;
		queue_tail(w);
	}
	pthread_mutex_unlock(&w->mu);
	if (failed) {
		job_release(&w->job[t]);
		return -1;
	}
	w->held[t] = true;
	w->last_job = t;
	w->last_held = true;
	return 0;
}

int emit_writer_push(struct emit_writer *w, json_t *root)
{
	pthread_mutex_lock(&w->mu);
	bool failed = w->failed;
	if (!failed) {
		w->queued[w->tail] = false;
		w->slot[w->tail] = root;
		queue_tail(w);
	}
	pthread_mutex_unlock(&w->mu);
	if (failed)
		json_decref(root);
	return failed ? -1 : 0;
}

int emit_writer_drain(struct emit_writer *w)
{
	pthread_mutex_lock(&w->mu);
	w->draining = true;
	while (w->count > 0) {
		if (w->writer_idle)
			pthread_cond_signal(&w->work);
		pthread_cond_wait(&w->room, &w->mu);
	}
	w->draining = false;
	bool failed = w->failed;
	pthread_mutex_unlock(&w->mu);
	release_all(w, false);
	return failed ? -1 : 0;
}

bool emit_writer_failed(struct emit_writer *w)
{
	pthread_mutex_lock(&w->mu);
	bool failed = w->failed;
	pthread_mutex_unlock(&w->mu);
	return failed;
}

int emit_writer_stop(struct emit_writer *w)
{
	if (!w)
		return 0;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	release_all(w, true);
	int rc = w->failed ? -1 : 0;
	pthread_cond_destroy(&w->work);
	pthread_cond_destroy(&w->room);
	pthread_mutex_destroy(&w->mu);
	if (active == w)
		active = NULL;
	free(w);
	return rc;
}
