/* stats: run counters, the counts tcpdump prints when it stops, and the --stats summary,
 * one "name: value" a line on stderr. */
#include "stats.h"

#include <inttypes.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

void stats_count_session(struct stats *s, const struct cls_verdict *v,
                         const struct smtp_record *rec)
{
	s->sessions++;
	s->transactions += rec->n_txs;
	s->rfc5321_delivered += v->rfc5321_delivered;
	s->strict_quit_delivered += v->strict_quit_delivered;
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

void stats_print_progress(FILE *out, const char *name, uint64_t done, uint64_t total,
                          uint64_t elapsed_us, bool final)
{
	double mb = 1e6, secs = (double)elapsed_us / 1e6;
	double rate = secs > 0 ? (double)done / secs : 0;
	double left = rate > 0 && total > done ? (double)(total - done) / rate : 0;
	fprintf(out, "\rsmtptrace: %s: %.1f of %.1f MB (%d%%), %.0f MB/s, %d:%02d left \033[K%s",
	        name, (double)done / mb, (double)total / mb,
	        total ? (int)((double)done * 100 / (double)total) : 100, rate / mb, (int)left / 60,
	        (int)left % 60, final ? "\n" : "");
	fflush(out);
}

void stats_print_summary(FILE *out, const struct stats *s)
{
	fprintf(out, "smtptrace: %" PRIu64 " sessions, %" PRIu64 " transactions\n", s->sessions,
	        s->transactions);
	fprintf(out, "  %-28s %10s\n", "outcome", "sessions");
	for (int i = 0; i < CLS_OUT_COUNT; i++) {
		const char *name = classify_outcome_name((enum cls_outcome)i);
		if (s->by_outcome[i])
			fprintf(out, "  %-28s %10" PRIu64 "\n", name, s->by_outcome[i]);
	}
	bool any = false;
	for (int i = 0; i < SMTP_AN_COUNT; i++) {
		if (!s->anomalies[i])
			continue;
		if (!any)
			fprintf(out, "  %-28s %10s\n", "anomaly", "sessions");
		any = true;
		fprintf(out, "  %-28s %10" PRIu64 "\n", smtp_anomaly_name((enum smtp_anomaly)i),
		        s->anomalies[i]);
	}
	fprintf(out, "  %-28s %10s\n", "delivered, by the school of", "messages");
	fprintf(out, "  %-28s %10" PRIu64 "\n", "RFC 5321 (2xx to end of data)",
	        s->rfc5321_delivered);
	fprintf(out, "  %-28s %10" PRIu64 "\n", "strict QUIT", s->strict_quit_delivered);
	fprintf(out, "  %-28s %10" PRIu64 "\n", "on which they disagree",
	        s->rfc5321_delivered - s->strict_quit_delivered);
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

static void add_all(uint64_t *dst, const uint64_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] += src[i];
}

void stats_add(struct stats *dst, const struct stats *src)
{
	dst->packets += src->packets;
	dst->bytes += src->bytes;
	add_all(dst->decode, src->decode, DECODE_STATUS_COUNT);
	dst->sessions += src->sessions;
	add_all(dst->by_outcome, src->by_outcome, STATS_MAX_OUTCOMES);
	add_all(dst->anomalies, src->anomalies, SMTP_AN_COUNT);
	dst->transactions += src->transactions;
	dst->rfc5321_delivered += src->rfc5321_delivered;
	dst->strict_quit_delivered += src->strict_quit_delivered;
	dst->files += src->files;
	dst->file_errors += src->file_errors;
	dst->have_kernel |= src->have_kernel;
	dst->kernel_packets += src->kernel_packets;
	dst->kernel_drops += src->kernel_drops;
	dst->if_drops += src->if_drops;
	dst->records += src->records;
}

void flow_stats_add(struct flow_stats *dst, const struct flow_stats *src)
{
	dst->segments += src->segments;
	dst->segments_ignored += src->segments_ignored;
	dst->flows_created += src->flows_created;
	dst->flows_evicted += src->flows_evicted;
	dst->flows_timed_out += src->flows_timed_out;
	dst->flows_active += src->flows_active;
	dst->flows_active_max += src->flows_active_max; /* each worker's most at once, summed */
	dst->held_bytes_max += src->held_bytes_max;
	dst->retransmitted += src->retransmitted;
	dst->overlap_mismatches += src->overlap_mismatches;
	dst->gaps += src->gaps;
	dst->gap_bytes += src->gap_bytes;
	dst->csum_sampled += src->csum_sampled;
	dst->csum_sampled_bad += src->csum_sampled_bad;
	dst->bad_checksums += src->bad_checksums;
	for (int k = 0; k < FLOW_KIND_COUNT; k++)
		dst->flows_kind[k] += src->flows_kind[k];
	dst->flows_probed += src->flows_probed;
	dst->probes_refused += src->probes_refused;
	dst->checksum_on |= src->checksum_on;
}
