/* workers: --workers N, live capture over N processes in one PACKET_FANOUT group. */
#ifndef SMTPTRACE_WORKERS_H
#define SMTPTRACE_WORKERS_H

#include "flow.h"
#include "run.h"
#include "stats.h"

/* What a worker reports to the parent when it ends (over a pipe: the same binary on both
 * sides, so the structs' layout is shared). */
struct worker_report {
	struct stats stats;
	struct flow_stats flows;
};

/* Runs o->workers live workers on o->iface and waits for them; writes the total stats
 * record. Returns the highest exit status of the workers, or RUN_EXIT_USAGE when the output
 * cannot take the records of several processes (it must be a file). */
int run_workers(const struct run_options *o);

#endif
