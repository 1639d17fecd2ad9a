/* stats: run counters, the counts tcpdump prints when it stops, and the --stats summary,
 * one "name: value" a line on stderr. */
#include "stats.h"

#include <inttypes.h>
#include <sys/resource.h>
#include <time.h>

void stats_count_session(struct stats *s, const struct cls_verdict *v,
                         const struct smtp_record *rec)
{
	s->sessions++;
	if ((unsigned)v->outcome < STATS_MAX_OUTCOMES)
		s->by_outcome[v->outcome]++;
	for (int i = 0; i < SMTP_AN_COUNT; i++)
		if (rec->anomalies & (1ULL << i))
			s->anomalies[i]++;
}

uint64_t stats_peak_rss_kib(void)
{
	struct rusage ru;
	return getrusage(RUSAGE_SELF, &ru) == 0 && ru.ru_maxrss > 0 ? (uint64_t)ru.ru_maxrss : 0;
}

uint64_t stats_wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void stats_print_counts(FILE *out, const struct stats *s)
{
	fprintf(out, "%" PRIu64 " packets captured\n", s->packets);
	if (!s->have_kernel)
		return;
	fprintf(out, "%" PRIu64 " packets received by filter\n", s->kernel_packets);
	fprintf(out, "%" PRIu64 " packets dropped by kernel\n", s->kernel_drops);
	fprintf(out, "%" PRIu64 " packets dropped by interface\n", s->if_drops);
}

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
	fprintf(out, "smtptrace: peak memory: %" PRIu64 " KiB\n", stats_peak_rss_kib());
}
