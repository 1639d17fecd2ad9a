/* stats: run counters, the tcpdump-style counts printed when a capture stops, and the
 * end-of-run summary of --stats. The stats record itself is built by emit. */
#ifndef SMTPTRACE_STATS_H
#define SMTPTRACE_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "classify.h"
#include "decode.h"
#include "flow.h"
#include "smtp.h"

enum { STATS_MAX_OUTCOMES = 16 };

struct stats {
	uint64_t packets, bytes; /* read from the sources (after the filter), wire bytes */
	uint64_t decode[DECODE_STATUS_COUNT];
	uint64_t sessions; /* SMTP sessions ended */
	uint64_t by_outcome[STATS_MAX_OUTCOMES];
	uint64_t anomalies[SMTP_AN_COUNT]; /* sessions that had each anomaly */
	uint64_t transactions;
	uint64_t rfc5321_delivered, strict_quit_delivered; /* the two schools' counts, summed */
	uint64_t files, file_errors;
	bool have_kernel; /* a live source: the kernel counters below are known */
	uint64_t kernel_packets, kernel_drops, if_drops;
	uint64_t start_wall_us;   /* when the run started, for uptime */
	uint64_t records;         /* records written */
	uint32_t worker, workers; /* --workers: this one's number from 1 (0: the total), of N */
	bool have_output; /* the output counts its records (the Kafka sink): the five below */
	uint64_t out_written, out_delivered, out_failed, out_dropped, out_in_flight;
};

/* Adds src's counters to dst (the workers' total). */
void stats_add(struct stats *dst, const struct stats *src);
void flow_stats_add(struct flow_stats *dst, const struct flow_stats *src);

/* Counts one ended session by its verdict and anomalies. */
void stats_count_session(struct stats *s, const struct cls_verdict *v,
                         const struct smtp_record *rec);

/* Peak resident memory of the process so far, in KiB (0 when unknown). */
uint64_t stats_peak_rss_kib(void);

/* Microseconds since the epoch, on the wall clock. */
uint64_t stats_wall_us(void);

/* What tcpdump prints when it stops: packets captured, received by the filter, dropped by
 * the kernel and by the interface (the last three only for a live source). */
void stats_print_counts(FILE *out, const struct stats *s);

/* Progress of a long offline run, for a person at a terminal: one line, rewritten in place
 * ("\r"): the input, bytes done of all, the rate, the time left. final ends the line. */
void stats_print_progress(FILE *out, const char *name, uint64_t done, uint64_t total,
                          uint64_t elapsed_us, bool final);

/* --summary: for a person, at the end: sessions by outcome, anomalies, and what each school
 * of servers would have delivered. */
void stats_print_summary(FILE *out, const struct stats *s);

/* Writes a summary of s and the flow table's counters to out, one "name: value" a line. */
void stats_print(FILE *out, const struct stats *s, const struct flow_stats *fs);

#endif
