/* dumpfloor: the benchmark's floor for the writer thread: jansson's json_dumpb alone over
 * records smtptrace wrote (one JSON text a line, RFC 8259 / JSON Lines), with smtptrace's own
 * flags. Every line is parsed first (not timed); then every tree is dumped once into a
 * reused buffer, as analyzer/emit.c does, and only that is timed, by the thread's CPU clock.
 * Prints "RECORDS BYTES SECONDS".  dumpfloor FILE */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emit.h"

enum { LINE_MAX_LEN = 1 << 24, DUMP_CAP = 1 << 24 };

struct trees {
	json_t **v;
	size_t n, cap;
};

static int add_tree(struct trees *t, json_t *j)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 4096;
		json_t **v = realloc(t->v, cap * sizeof(*v));
		if (!v)
			return -1;
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n++] = j;
	return 0;
}

/* Every line of f as a tree; returns -1 on a line that is not JSON or out of memory. */
static int load(FILE *f, struct trees *t)
{
	char *line = malloc(LINE_MAX_LEN);
	int rc = line ? 0 : -1;
	size_t no = 0;
	while (rc == 0 && fgets(line, LINE_MAX_LEN, f)) {
		json_error_t err;
		json_t *j = json_loads(line, 0, &err);
		no++;
		if (!j) {
			fprintf(stderr, "dumpfloor: line %zu: %s\n", no, err.text);
			rc = -1;
		} else if (add_tree(t, j) != 0) {
			json_decref(j);
			rc = -1;
		}
	}
	free(line);
	return rc;
}

static double thread_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	FILE *f = argc == 2 ? fopen(argv[1], "r") : NULL;
	if (!f) {
		fprintf(stderr, "%s\n",
		        argc == 2 ? "dumpfloor: cannot open the file" : "usage: dumpfloor FILE");
		return 2;
	}
	struct trees t = {0};
	char *buf = malloc(DUMP_CAP);
	int rc = buf && load(f, &t) == 0 ? 0 : 1;
	fclose(f);
	size_t bytes = 0;
	double start = thread_cpu();
	for (size_t i = 0; rc == 0 && i < t.n; i++) {
		size_t n = json_dumpb(t.v[i], buf, DUMP_CAP, EMIT_DUMP_FLAGS);
		if (n == 0 || n > DUMP_CAP)
			rc = 1;
		bytes += n + 1; /* and the newline */
	}
	double secs = thread_cpu() - start;
	if (rc == 0)
		printf("%zu %zu %.6f\n", t.n, bytes, secs);
	for (size_t i = 0; i < t.n; i++)
		json_decref(t.v[i]);
	free(t.v);
	free(buf);
	return rc;
}
