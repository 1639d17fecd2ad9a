/* stats: run counters and the end-of-run summary (what tcpdump prints on exit, and more). */
#ifndef SMTPTRACE_STATS_H
#define SMTPTRACE_STATS_H

#include <stdint.h>
#include <stdio.h>

#include "decode.h"
#include "flow.h"

struct stats {
	uint64_t packets;
	uint64_t decode[DECODE_STATUS_COUNT];
	uint64_t sessions;
	uint64_t files, file_errors;
};

/* Writes a summary of s and the flow table's counters to out, one "name: value" a line. */
void stats_print(FILE *out, const struct stats *s, const struct flow_stats *fs);

#endif
