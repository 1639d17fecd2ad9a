/* run: the main loop: sources (files, pipes, an interface) through decode (on a reader thread
 * for plain pcap files with --read-ahead, read_ahead.c) and the flow table,
 * the flow clock (packet time; the wall clock too while a live source or a pipe is quiet),
 * signals (SIGINT/SIGTERM stop and end every session, SIGHUP reopens the output), records to
 * the sink, the stats record, and tcpdump's counts when a capture stops. */
#include "run.h"

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "classify.h"
#include "decode.h"
#include "emit.h"
#include "read_ahead.h"
#include "sink.h"
#include "stats.h"
#include "workers.h"

/* Set by the signal handlers, read by the loop: the process's only signal state. */
static volatile sig_atomic_t stop_signal, reopen_signal;

struct run {
	const struct run_options *o;
	struct flow_table *t;
	struct sink *out;
	struct emit *emit;
	struct stats stats;
	struct capture *cap;   /* the source being read */
	struct read_ahead *ra; /* its reader thread, while one reads it ahead */
	bool read_ahead;       /* files read in place are read ahead (--read-ahead, 2 CPUs) */
	bool timed;            /* live or a pipe: time moves with the wall clock too */
	bool have_pkt;
	uint64_t last_pkt_ts, last_pkt_wall; /* the latest packet's time, and when it came */
	uint64_t next_stats_wall;
	uint64_t prev_input_end; /* last packet time of the previous input */
	bool write_failed;
	int status;
	bool progress;       /* offline, stderr a terminal, not -q */
	bool progress_shown; /* a progress line is on the terminal, to be ended */
	const char *name;    /* the input being read */
	uint64_t input_start_wall, next_progress_wall;
};

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reopen_signal = 1;
	else
		stop_signal = sig;
}

/* No SA_RESTART: a signal ends a wait in poll() at once. */
static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* a closed reader shows as a write error, not a kill */
}

static void note_write_error(struct run *r)
{
	if (r->write_failed)
		return;
	emit_sync(r->emit); /* the writer thread idle: its error is final */
	r->write_failed = true;
	r->status = RUN_EXIT_RUNTIME;
	if (r->out->errnum != EPIPE) /* a reader that stopped early is not worth a message */
		fprintf(stderr, "smtptrace: %s\n", sink_error(r->out));
}

/* What a session record built on the writer thread held (emit_session_later). */
static void release_session(void *ctx, void *owner, struct cls_verdict *v)
{
	struct run *r = ctx;
	classify_free(v);
	flow_table_release_session(r->t, owner);
}

/* The session record: built on the writer thread when there is one (the session then kept
 * for it), else here. *later: v was taken. */
static int session_record(struct run *r, const struct flow_info *info,
                          const struct smtp_record *rec, struct cls_verdict *v, bool *later)
{
	void *owner = emit_builds_later(r->emit) ? flow_table_keep_session(r->t) : NULL;
	*later = owner != NULL;
	if (!owner)
		return emit_session(r->emit, info, rec, v);
	return emit_session_later(r->emit, info, rec, v, owner, release_session, r);
}

static void on_session_end(void *ctx, const struct flow_info *info, const struct smtp_record *rec)
{
	struct run *r = ctx;
	struct cls_verdict v;
	if (info->kind != FLOW_KIND_SMTP) { /* counted in the flow table's stats, not a session */
		if ((r->o->records & RUN_REC_FLOW) && !r->write_failed &&
		    emit_flow(r->emit, info) != 0)
			note_write_error(r);
		return;
	}
	classify_session(rec, &v);
	stats_count_session(&r->stats, &v, rec);
	if (r->write_failed) {
		classify_free(&v);
		return;
	}
	unsigned want = r->o->records;
	int rc = 0;
	bool later = false;
	if (r->o->eve_strict)
		rc = emit_eve_smtp(r->emit, info, rec, &v);
	if (!r->o->eve_strict && (want & RUN_REC_SESSION))
		rc = session_record(r, info, rec, &v, &later);
	if (!r->o->eve_strict && (want & RUN_REC_TRANSACTION) && rc == 0)
		rc = emit_transactions(r->emit, info, rec, &v);
	if (!r->o->eve_strict && (want & RUN_REC_COMMAND) && rc == 0)
		rc = emit_commands(r->emit, info, rec);
	if (!later)
		classify_free(&v);
	if (rc != 0)
		note_write_error(r);
}

static void write_stats_record(struct run *r)
{
	uint64_t recv, drop, ifdrop;
	if (r->cap && capture_kernel_stats(r->cap, &recv, &drop, &ifdrop)) {
		r->stats.have_kernel = true;
		r->stats.kernel_packets = recv;
		r->stats.kernel_drops = drop;
		r->stats.if_drops = ifdrop;
	}
	if (r->write_failed || !(r->o->records & RUN_REC_STATS))
		return;
	struct sink_kafka_counts kc;
	if (emit_flush(r->emit) == 0 && sink_kafka_counts(r->out, &kc)) {
		r->stats.have_output = true; /* what Kafka did with the records so far */
		r->stats.out_written = kc.written;
		r->stats.out_delivered = kc.delivered;
		r->stats.out_failed = kc.failed;
		r->stats.out_dropped = kc.dropped;
		r->stats.out_in_flight = kc.in_flight;
	}
	if (emit_stats(r->emit, &r->stats, flow_table_stats(r->t), stats_wall_us()) != 0)
		note_write_error(r);
	else if (emit_flush(r->emit) != 0)
		note_write_error(r);
}

/* Rewrites the progress line; every 0.2 s at most. */
static void show_progress(struct run *r, uint64_t wall, bool final)
{
	uint64_t done, total;
	r->next_progress_wall = wall + 200000;
	if (!r->cap || !(r->ra ? read_ahead_progress(r->ra, &done, &total)
	                       : capture_progress(r->cap, &done, &total)))
		return;
	if (final && !r->progress_shown)
		return;
	stats_print_progress(stderr, r->name, done, total, wall - r->input_start_wall, final);
	r->progress_shown = !final;
}

/* What the loop does between packets now and then, and while nothing comes: the output
 * reopened after SIGHUP, the clock moved by the wall clock, the periodic stats record.
 * Returns false when reading must stop. */
static bool run_tick(struct run *r, bool idle)
{
	if (reopen_signal) {
		reopen_signal = 0;
		if (emit_reopen(r->emit) != 0)
			note_write_error(r);
	}
	if (emit_failed(r->emit)) /* a record the writer thread had */
		note_write_error(r);
	uint64_t wall = r->timed || r->o->stats_interval_us || r->progress ? stats_wall_us() : 0;
	if (r->progress && wall >= r->next_progress_wall)
		show_progress(r, wall, false);
	if (idle && r->timed && r->have_pkt && wall > r->last_pkt_wall)
		flow_table_advance(r->t, r->last_pkt_ts + (wall - r->last_pkt_wall));
	if (r->o->stats_interval_us && wall >= r->next_stats_wall) {
		r->next_stats_wall = wall + r->o->stats_interval_us;
		write_stats_record(r);
	}
	return !stop_signal && !r->write_failed;
}

static bool idle_hook(void *ctx)
{
	return run_tick(ctx, true);
}

/* What a decoded packet does: counted, the clock moved, its segment fed (seg->ts_us set). */
static void take_packet(struct run *r, enum decode_status st, uint64_t ts_us, uint32_t wirelen,
                        const struct tcp_seg *seg)
{
	r->stats.packets++;
	r->stats.bytes += wirelen;
	r->stats.decode[st]++;
	r->have_pkt = true;
	r->last_pkt_ts = ts_us;
	if (r->timed)
		r->last_pkt_wall = stats_wall_us();
	if (st != DECODE_OK)
		return;
	if (r->o->shards && flow_shard(seg, r->o->shards) != r->o->shard) {
		/* another shard's: it still moves the clock, as it does in a single run, so
		 * sessions time out at the same moment in both */
		flow_table_advance(r->t, ts_us);
		return;
	}
	flow_table_feed(r->t, seg);
}

static void handle_packet(struct run *r, int dlt, const struct capture_pkt *pkt)
{
	struct tcp_seg seg;
	enum decode_status st = decode_packet_csum(dlt, pkt->data, pkt->caplen, pkt->wirelen,
	                                           flow_table_wants_checksum(r->t), &seg);
	seg.ts_us = pkt->ts_us;
	take_packet(r, st, pkt->ts_us, pkt->wirelen, &seg);
}

/* A packet the reader thread decoded, its checksum checked whatever the flow table wanted:
 * where it wants none now, the verdict is what decode_packet_csum() gives unasked. */
static void handle_read_ahead(struct run *r, struct read_ahead_pkt *p)
{
	if (p->st == DECODE_OK && !flow_table_wants_checksum(r->t))
		p->seg.csum = TCP_CSUM_UNCHECKED;
	take_packet(r, p->st, p->seg.ts_us, p->wirelen, &p->seg);
}

static bool packet_limit_reached(const struct run *r)
{
	return r->o->max_packets && r->stats.packets >= r->o->max_packets;
}

/* A file that starts before the previous one ended is read as given, in order, and said. */
static void check_order(struct run *r, uint64_t ts_us, bool first)
{
	if (!first || !r->prev_input_end || ts_us >= r->prev_input_end)
		return;
	fprintf(stderr,
	        "smtptrace: warning: %s starts %.6f s before the previous input ended; inputs are "
	        "read in the order given\n",
	        capture_name(r->cap), (double)(r->prev_input_end - ts_us) / 1e6);
}

static bool reading(const struct run *r)
{
	return !stop_signal && !r->write_failed && !packet_limit_reached(r);
}

/* The source being read: what the read loops share. */
struct source_read {
	struct capture *cap;
	int dlt;
	unsigned n;         /* packets read, for the tick every 1024 */
	bool first;         /* no packet read yet */
	enum capture_rc rc; /* the last read's */
};

/* Between packets: the tick every 1024 packets, and at once after SIGHUP. */
static void after_packet(struct run *r, struct source_read *sr)
{
	sr->first = false;
	if (reopen_signal || (++sr->n & 1023) == 0)
		run_tick(r, false);
}

/* Reads on this thread to the end, a stop, or a write failure. */
static void read_here(struct run *r, struct source_read *sr)
{
	struct capture_pkt pkt;
	while (reading(r)) {
		sr->rc = capture_next(sr->cap, &pkt);
		if (sr->rc == CAPTURE_NONE) {
			run_tick(r, true);
			continue;
		}
		if (sr->rc != CAPTURE_PKT)
			break;
		check_order(r, pkt.ts_us, sr->first);
		handle_packet(r, sr->dlt, &pkt);
		after_packet(r, sr);
	}
}

/* Reads the packets of a reader thread, while the source is read in place. Leaves sr->rc
 * CAPTURE_NONE when the rest is for read_here() (a record capture_map hands to libpcap). */
static void read_ahead(struct run *r, struct source_read *sr)
{
	struct read_ahead_pkt *p;
	bool checksum = r->o->flow.checksum != FLOW_CSUM_NO; /* else never wanted */
	r->ra = read_ahead_start(sr->cap, sr->dlt, checksum);
	if (!r->ra) {
		sr->rc = CAPTURE_NONE;
		return;
	}
	while (reading(r) && (sr->rc = read_ahead_next(r->ra, &p)) == CAPTURE_PKT) {
		check_order(r, p->seg.ts_us, sr->first);
		handle_read_ahead(r, p);
		after_packet(r, sr);
	}
	read_ahead_stop(r->ra);
	r->ra = NULL;
}

/* Reads one source (called name in records) to its end, a stop, or a write failure. Returns
 * 0, or RUN_EXIT_DAMAGED when it could not be read to its end (the sessions before the
 * damage still count). */
static int read_source(struct run *r, struct capture *cap, const char *name)
{
	struct source_read sr = {cap, capture_datalink(cap), 0, true, CAPTURE_EOF};

	r->cap = cap;
	r->name = name;
	r->input_start_wall = stats_wall_us();
	r->next_progress_wall = r->input_start_wall + 200000;
	/* borrowed by flows: the argument, which outlives them */
	flow_table_set_source(r->t, name);
	bool ahead = r->read_ahead && capture_in_place(cap) && reading(r);
	if (ahead)
		read_ahead(r, &sr);
	if (!ahead || sr.rc == CAPTURE_NONE)
		read_here(r, &sr);
	if (r->progress)
		show_progress(r, stats_wall_us(), true);
	if (r->have_pkt)
		r->prev_input_end = r->last_pkt_ts;
	if (sr.rc == CAPTURE_ERR && !stop_signal && !r->write_failed) {
		fprintf(stderr, "smtptrace: warning: %s\n", capture_error(cap));
		r->stats.file_errors++;
		return RUN_EXIT_DAMAGED;
	}
	return 0;
}

/* ---- start-up: everything checked before the output is touched ---- */

static bool is_stdin(const char *path)
{
	return strcmp(path, "-") == 0;
}

/* Opens input i for reading or for the check before the output is opened. */
static struct capture *open_input(struct run *r, size_t i, char *err, size_t errlen)
{
	return capture_open_stream(r->o->inputs[i], r->o->bpf, idle_hook, r, err, errlen);
}

/* Opens every input once, to check it (and the filter against its link type) before the
 * output is touched; keeps the first good one open, and stdin, which cannot be opened twice.
 * An unreadable input is said (once) and skipped, so the good ones around it keep their
 * records; a bad filter, or no readable input at all, stops the run before the output is
 * touched. Returns false then, after the error lines. */
static bool check_inputs(struct run *r, struct capture **kept, bool *bad)
{
	char err[CAPTURE_ERR_LEN];
	size_t good = 0;
	for (size_t i = 0; i < r->o->n_inputs; i++) {
		struct capture *cap = open_input(r, i, err, sizeof(err));
		if (!cap) {
			fprintf(stderr, "smtptrace: %s\n", err);
			bad[i] = true;
			if (capture_error_is_filter(err))
				break;
			continue;
		}
		if (good++ == 0 || is_stdin(r->o->inputs[i]))
			kept[i] = cap;
		else
			capture_close(cap);
	}
	bool filter_bad = capture_error_is_filter(err);
	if (good && !filter_bad)
		return true;
	for (size_t k = 0; k < r->o->n_inputs; k++)
		capture_close(kept[k]);
	return false;
}

/* The same file as output and input would destroy the capture. */
static bool output_is_an_input(const struct run_options *o)
{
	struct stat so, si;
	if (!o->output || is_stdin(o->output) || stat(o->output, &so) != 0)
		return false;
	for (size_t i = 0; i < o->n_inputs; i++)
		if (!is_stdin(o->inputs[i]) && stat(o->inputs[i], &si) == 0 &&
		    si.st_dev == so.st_dev && si.st_ino == so.st_ino) {
			fprintf(
			    stderr,
			    "smtptrace: %s: the output is also an input; refusing to write it\n",
			    o->output);
			return true;
		}
	return false;
}

/* A pipe, socket or terminal among the inputs: records must leave as sessions end. */
static bool any_stream_input(const struct run_options *o)
{
	struct stat st;
	for (size_t i = 0; i < o->n_inputs; i++) {
		int rc =
		    is_stdin(o->inputs[i]) ? fstat(STDIN_FILENO, &st) : stat(o->inputs[i], &st);
		if (rc == 0 && !S_ISREG(st.st_mode))
			return true;
	}
	return false;
}

/* A writer thread pays only with a second CPU to run on (with one, the two threads take turns
 * and the hand-over is extra work). */
static bool second_cpu(void)
{
	cpu_set_t set;
	return sched_getaffinity(0, sizeof(set), &set) != 0 || CPU_COUNT(&set) > 1;
}

static bool open_output(struct run *r)
{
	char err[512];
	const struct sink_file_options so = {
	    .overwrite = r->o->overwrite,
	    .per_record = r->o->per_record || r->o->iface || any_stream_input(r->o),
	};
	r->out = r->o->kafka_brokers
	             ? sink_open_kafka(r->o->kafka_brokers, r->o->kafka_topic, err, sizeof(err))
	             : sink_open_file(r->o->output, &so, err, sizeof(err));
	if (!r->out) {
		fprintf(stderr, "smtptrace: %s\n", err);
		return false;
	}
	r->emit = emit_new(r->out, &r->o->emit);
	if (!r->emit) {
		fprintf(stderr, "smtptrace: out of memory\n");
		return false;
	}
	/* records dumped and written beside the analysis; each as it comes where they are
	 * awaited (live, pipes, -U), the sink's own flushing aside: Kafka's has none */
	if (!r->o->one_thread && second_cpu())
		emit_start_writer(r->emit, so.per_record);
	return true;
}

/* -Z: gives up root for the user, as tcpdump does, once the device and output are open. */
static bool drop_privileges(const char *user)
{
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		fprintf(stderr, "smtptrace: -Z %s: no such user\n", user);
		return false;
	}
	if (getuid() == pw->pw_uid && geteuid() == pw->pw_uid)
		return true;
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0) {
		fprintf(stderr, "smtptrace: -Z %s: cannot change to that user: %s\n", user,
		        strerror(errno));
		return false;
	}
	return true;
}

/* ---- the run ---- */

static int read_inputs(struct run *r, struct capture **kept, const bool *bad)
{
	int status = 0;
	for (size_t i = 0;
	     i < r->o->n_inputs && !stop_signal && !r->write_failed && !packet_limit_reached(r);
	     i++) {
		char err[CAPTURE_ERR_LEN];
		r->stats.files++;
		if (bad[i]) { /* said by check_inputs() */
			r->stats.file_errors++;
			status = RUN_EXIT_DAMAGED;
			continue;
		}
		struct capture *cap = kept[i] ? kept[i] : open_input(r, i, err, sizeof(err));
		kept[i] = NULL;
		if (!cap) {
			fprintf(stderr, "smtptrace: %s\n", err);
			r->stats.file_errors++;
			status = RUN_EXIT_DAMAGED;
			continue;
		}
		if (read_source(r, cap, r->o->inputs[i]))
			status = RUN_EXIT_DAMAGED;
		r->cap = NULL;
		capture_close(cap);
	}
	for (size_t i = 0; i < r->o->n_inputs; i++)
		capture_close(kept[i]);
	return status;
}

/* Ends what is open, writes the stats record, says tcpdump's counts, closes the output. */
static void finish(struct run *r, struct capture *live)
{
	flow_table_finish(r->t);
	if (emit_sync(r->emit) != 0) /* the last records, written by the writer thread */
		note_write_error(r);
	r->cap = live;
	write_stats_record(r);
	if (r->o->report_fd >= 0) { /* a worker: its counters to the parent, for the total */
		struct worker_report rep = {.stats = r->stats, .flows = *flow_table_stats(r->t)};
		if (write(r->o->report_fd, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
			fprintf(stderr, "smtptrace: worker %u: could not report its counters\n",
			        r->o->worker);
	}
	if ((live || stop_signal) && !r->o->quiet)
		stats_print_counts(stderr, &r->stats);
	if (r->o->print_stats)
		stats_print(stderr, &r->stats, flow_table_stats(r->t));
	if (r->o->print_summary)
		stats_print_summary(stderr, &r->stats);
	r->cap = NULL;
	emit_free(r->emit);
	if (sink_close(r->out) != 0 && !r->write_failed) {
		fprintf(stderr, "smtptrace: %s\n", sink_close_error());
		r->status = RUN_EXIT_RUNTIME;
	}
}

static struct capture *open_live(const struct run_options *o)
{
	char err[CAPTURE_ERR_LEN];
	struct capture_live_options lo = o->live;
	lo.fanout_group = o->fanout_group;
	struct capture *cap = capture_open_live(o->iface, &lo, o->bpf, err, sizeof(err));
	if (!cap && o->bpf_fallback && capture_error_is_filter(err))
		cap = capture_open_live(o->iface, &lo, o->bpf_fallback, err, sizeof(err));
	if (!cap)
		fprintf(stderr, "smtptrace: %s\n", err);
	return cap;
}

int run(const struct run_options *o)
{
	struct run r;
	struct capture *live = NULL;
	struct capture **kept = calloc(o->n_inputs + 1, sizeof(*kept));
	bool *bad = calloc(o->n_inputs + 1, sizeof(*bad));

	memset(&r, 0, sizeof(r));
	r.o = o;
	r.stats.start_wall_us = stats_wall_us();
	r.stats.worker = o->worker;
	r.stats.workers = o->worker ? o->workers : 0;
	r.next_stats_wall = r.stats.start_wall_us + o->stats_interval_us;
	install_signals();
	if (!kept || !bad) {
		fprintf(stderr, "smtptrace: out of memory\n");
		exit(RUN_EXIT_RUNTIME);
	}
	if (o->user && !getpwnam(o->user)) {
		fprintf(stderr, "smtptrace: -Z %s: no such user\n", o->user);
		free(kept);
		free(bad);
		return RUN_EXIT_USAGE;
	}
	if (o->iface ? !(live = open_live(o)) : !check_inputs(&r, kept, bad)) {
		free(kept);
		free(bad);
		return RUN_EXIT_USAGE;
	}
	r.timed = live || any_stream_input(o);
	/* like the writer thread: only with a second CPU to run on. Not by default: on the
	 * shared 2-CPU machine of 2026-12-01 it took the analysis thread's CPU time down by a
	 * quarter, but cost 3-10% more CPU time in all and gave no steady gain in wall time */
	r.read_ahead = o->read_ahead && !o->one_thread && second_cpu();
	r.progress = !live && !o->quiet && isatty(STDERR_FILENO);
	r.t = flow_table_new(&o->flow, on_session_end, &r);
	if (output_is_an_input(o) || !r.t || !open_output(&r) ||
	    (o->user && !drop_privileges(o->user))) {
		if (!r.t)
			fprintf(stderr, "smtptrace: out of memory\n");
		for (size_t i = 0; i < o->n_inputs; i++)
			capture_close(kept[i]);
		capture_close(live);
		free(kept);
		free(bad);
		emit_free(r.emit);
		sink_close(r.out);
		flow_table_free(r.t);
		return RUN_EXIT_USAGE;
	}
	if (live) {
		/* tcpdump says this too: scripts wait for it before they start traffic */
		fprintf(stderr,
		        "smtptrace: listening on %s, link-type %d, snapshot length %d bytes\n",
		        o->iface, capture_datalink(live), o->live.snaplen);
		r.stats.files = 0;
		if (read_source(&r, live, o->iface))
			r.status = RUN_EXIT_RUNTIME;
	} else {
		int st = read_inputs(&r, kept, bad);
		if (st && !r.status)
			r.status = st;
	}
	finish(&r, live);
	capture_close(live);
	flow_table_free(r.t);
	free(kept);
	free(bad);
	return r.status;
}
