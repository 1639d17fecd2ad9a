/* run: the one main loop for files, pipes and interfaces: packets through the stages,
 * the flow clock moved by packets and, live, by the wall clock; signals (stop, reopen);
 * records to the sink; the stats record and the counts printed at the end. */
#ifndef SMTPTRACE_RUN_H
#define SMTPTRACE_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture.h"
#include "emit.h"
#include "flow.h"

/* Exit statuses: 0 done; 1 the output failed; 2 nothing could be done (bad arguments, an
 * unusable device or filter, no readable input); 3 an input was unreadable or damaged, and
 * the records of everything that could be read were written. */
enum { RUN_EXIT_OK = 0, RUN_EXIT_RUNTIME = 1, RUN_EXIT_USAGE = 2, RUN_EXIT_DAMAGED = 3 };

/* Record types (--records), one bit each. */
enum {
	RUN_REC_SESSION = 1u << 0,
	RUN_REC_STATS = 1u << 1,
	RUN_REC_TRANSACTION = 1u << 2,
	RUN_REC_COMMAND = 1u << 3,
	RUN_REC_FLOW = 1u << 4,
};

struct run_options {
	const char *const *inputs; /* -r files, in order ("-": stdin); borrowed */
	size_t n_inputs;
	const char *iface; /* -i: a live interface instead of files */
	struct capture_live_options live;
	const char *bpf;          /* NULL: none */
	const char *bpf_fallback; /* live: tried when bpf does not compile for the link type */
	const char *output;       /* NULL or "-": stdout */
	bool overwrite;           /* truncate the output instead of appending */
	bool per_record;          /* -U: flush each record (always so live and on pipes) */
	uint32_t workers;         /* --workers N: live, N processes in one fanout group (0: one) */
	uint32_t worker;          /* set in a worker: its number from 1 */
	int fanout_group;         /* set in a worker: the PACKET_FANOUT group to join, -1 none */
	int report_fd;            /* set in a worker: where its counters go at the end, -1 none */
	uint32_t shard, shards;   /* --shard I/N: only flows of shard I of N (N 0: all) */
	uint64_t max_packets;     /* -c: stop after so many packets, 0: no limit */
	uint64_t stats_interval_us; /* --stats-interval, 0: only at the end */
	const char *user;           /* -Z: run as this user once the inputs and output are open */
	unsigned records;           /* RUN_REC_* */
	bool eve_strict;            /* --eve-strict: Suricata\'s smtp events instead of sessions and
	                               transactions */
	struct emit_options emit;
	bool print_stats;   /* --stats: the summary on stderr */
	bool print_summary; /* --summary: outcomes, anomalies, delivered, on stderr */
	bool quiet;         /* -q: no progress, no counts on stderr */
	bool one_thread;    /* --one-thread: records written by the analysis thread itself, and
	                     * no reader thread */
	bool read_ahead;    /* --read-ahead: files read in place are read and decoded by a
	                     * reader thread (read_ahead.c) */
	struct flow_config flow;

	const char *kafka_brokers; /* --kafka-brokers: records to Kafka instead of the output */
	const char *kafka_topic;   /* --kafka-topic: the topic (both given, or neither) */
};

/* Runs the whole analysis. Every error is one line on stderr, said before the output is
 * touched when it is about the arguments, the inputs, the device or the filter. Returns the
 * exit status (RUN_EXIT_*). */
int run(const struct run_options *o);

#endif
