/* stats: run counters and the end-of-run summary, one "name: value" a line on stderr. */
#include "stats.h"

#include <inttypes.h>
#include <sys/resource.h>

void stats_print(FILE *out, const struct stats *s, const struct flow_stats *fs)
{
	fprintf(out, "smtptrace: files: %" PRIu64 " (%" PRIu64 " with errors)\n", s->files,
	        s->file_errors);
	fprintf(out, "smtptrace: packets: %" PRIu64 "\n", s->packets);
	for (int i = 0; i < DECODE_STATUS_COUNT; i++)
		if (s->decode[i])
			fprintf(out, "smtptrace: decode %s: %" PRIu64 "\n",
			        decode_status_name((enum decode_status)i), s->decode[i]);
	fprintf(out, "smtptrace: sessions: %" PRIu64 "\n", s->sessions);
	fprintf(out,
	        "smtptrace: flows created: %" PRIu64 ", evicted: %" PRIu64 ", timed out: %" PRIu64
	        ", most at once: %" PRIu64 "\n",
	        fs->flows_created, fs->flows_evicted, fs->flows_timed_out, fs->flows_active_max);
	fprintf(out,
	        "smtptrace: segments: %" PRIu64 " (%" PRIu64 " not SMTP), retransmitted: %" PRIu64
	        ", overlap mismatches: %" PRIu64 ", gaps: %" PRIu64 " (%" PRIu64
	        " bytes), most bytes held: %" PRIu64 "\n",
	        fs->segments, fs->segments_ignored, fs->retransmitted, fs->overlap_mismatches,
	        fs->gaps, fs->gap_bytes, fs->held_bytes_max);
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		fprintf(out, "smtptrace: peak memory: %ld KiB\n", ru.ru_maxrss);
}
