/* emit_writer: the writer thread. The analysis thread hands each finished record's jansson tree
 * to it through a bounded queue (the analysis thread waits while the queue is full); the
 * writer renders it (redaction, json_dumpb, the --max-record bound) and writes it to the sink,
 * in the order the records were handed over, so that the output is byte for byte that of one
 * thread. Part of the record builder. */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>

#include "emit_int.h"

enum { WRITER_BATCH = EMIT_QUEUE_DEPTH / 2 }; /* offline, the writer is woken this many at once */

struct emit_writer {
	struct emit *e; /* rendered and written by the writer only, while it runs */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t work; /* the writer waits on it: records, a drain, the stop */
	pthread_cond_t room; /* the analysis thread waits on it: a free slot, or all written */
	json_t *slot[EMIT_QUEUE_DEPTH]; /* slot i holds a tree of arena block i */
	unsigned head;                  /* the oldest record not yet written and freed */
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

/* Takes the oldest record out of the lock, writes it, and gives its slot back. */
static void write_one(struct emit_writer *w)
{
	json_t *root = w->slot[w->head];
	bool failed = w->failed;
	pthread_mutex_unlock(&w->mu);
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

/* Starts the thread with every signal blocked: they stay the analysis thread's. */
static bool start_thread(struct emit_writer *w)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&w->thread, NULL, writer_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc == 0;
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
	if (!start_thread(w)) {
		pthread_cond_destroy(&w->work);
		pthread_cond_destroy(&w->room);
		pthread_mutex_destroy(&w->mu);
		free(w);
		return NULL;
	}
	active = w;
	return w;
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
	return t;
}

int emit_writer_push(struct emit_writer *w, json_t *root)
{
	pthread_mutex_lock(&w->mu);
	bool failed = w->failed;
	if (!failed) {
		w->slot[w->tail] = root;
		w->tail = (w->tail + 1) % EMIT_QUEUE_DEPTH;
		w->count++;
		if (w->writer_idle && (w->eager || w->count >= WRITER_BATCH))
			pthread_cond_signal(&w->work);
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
	int rc = w->failed ? -1 : 0;
	pthread_cond_destroy(&w->work);
	pthread_cond_destroy(&w->room);
	pthread_mutex_destroy(&w->mu);
	if (active == w)
		active = NULL;
	free(w);
	return rc;
}
