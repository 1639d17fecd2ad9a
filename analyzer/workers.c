/* workers: --workers N for live capture: N processes in one Linux PACKET_FANOUT group
 * (packet(7): hash mode with the defrag flag, so both directions of a connection reach the
 * same worker), each with its own flow table and nothing shared but the output file, to
 * which every record is appended whole with one write. The parent forwards signals, and
 * writes the total stats record from the workers' counters. */
#include "workers.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "emit.h"
#include "sink.h"
#include "stats.h"

enum { WORKERS_MAX = 64 };

static volatile sig_atomic_t forward_signal; /* the parent's only signal state */

static void on_parent_signal(int sig)
{
	forward_signal = sig;
}

/* Records of several processes go whole into one file only by O_APPEND writes to a regular
 * file; a pipe would cut records longer than PIPE_BUF. */
static bool output_usable(const struct run_options *o)
{
	struct stat st;
	if (!o->output || strcmp(o->output, "-") == 0) {
		if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode))
			return true;
	} else if (stat(o->output, &st) != 0 || S_ISREG(st.st_mode)) {
		return true;
	}
	fprintf(stderr, "smtptrace: --workers: the output must be a file (-o FILE): records of "
	                "several workers are appended to it whole\n");
	return false;
}

/* Empties the output once, before the workers append to it, when --overwrite says so. */
static bool prepare_output(const struct run_options *o)
{
	if (!o->overwrite || !o->output || strcmp(o->output, "-") == 0)
		return true;
	int fd = open(o->output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "smtptrace: %s: %s\n", o->output, strerror(errno));
		return false;
	}
	close(fd);
	return true;
}

static pid_t start_worker(const struct run_options *o, uint32_t id, int report_fd)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	struct run_options w = *o;
	w.worker = id;
	w.report_fd = report_fd;
	w.overwrite = false;
	_exit(run(&w));
}

/* Waits for every worker, passing the parent's signals on; sums their reports. */
static int wait_workers(const pid_t *pids, uint32_t n, int report_fd, struct stats *total,
                        struct flow_stats *ftotal)
{
	int status = 0;
	uint32_t left = n;
	while (left > 0) {
		if (forward_signal) {
			for (uint32_t i = 0; i < n; i++)
				if (pids[i] > 0)
					kill(pids[i], forward_signal);
			forward_signal = 0;
		}
		int ws;
		pid_t pid = waitpid(-1, &ws, 0);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0)
			break;
		left--;
		int rc = WIFEXITED(ws) ? WEXITSTATUS(ws) : RUN_EXIT_RUNTIME;
		if (rc > status)
			status = rc;
	}
	struct worker_report rep;
	while (read(report_fd, &rep, sizeof(rep)) == (ssize_t)sizeof(rep)) {
		stats_add(total, &rep.stats);
		flow_stats_add(ftotal, &rep.flows);
	}
	return status;
}

/* The total stats record, from the workers' own counters. */
static void write_total(const struct run_options *o, struct stats *total,
                        const struct flow_stats *ftotal)
{
	char err[512];
	const struct sink_file_options so = {.per_record = true};
	struct sink *out = sink_open_file(o->output, &so, err, sizeof(err));
	struct emit *e = out ? emit_new(out, &o->emit) : NULL;
	total->worker = 0;
	total->workers = o->workers;
	if (e && emit_stats(e, total, ftotal, stats_wall_us()) != 0)
		fprintf(stderr, "smtptrace: %s\n", sink_error(out));
	emit_free(e);
	sink_close(out);
	if (!o->quiet)
		stats_print_counts(stderr, total);
}

int run_workers(const struct run_options *o)
{
	pid_t pids[WORKERS_MAX] = {0};
	int report[2];
	if (o->workers > WORKERS_MAX || !output_usable(o) || !prepare_output(o))
		return RUN_EXIT_USAGE;
	if (pipe(report) != 0) {
		fprintf(stderr, "smtptrace: --workers: %s\n", strerror(errno));
		return RUN_EXIT_RUNTIME;
	}
	struct sigaction sa = {.sa_handler = on_parent_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	struct run_options w = *o;
	w.fanout_group = (int)(getpid() & 0xffff);
	for (uint32_t i = 0; i < o->workers; i++) {
		pids[i] = start_worker(&w, i + 1, report[1]);
		if (pids[i] < 0) {
			fprintf(stderr, "smtptrace: --workers: %s\n", strerror(errno));
			forward_signal = SIGTERM;
			break;
		}
	}
	close(report[1]);
	struct stats total;
	struct flow_stats ftotal;
	memset(&total, 0, sizeof(total));
	memset(&ftotal, 0, sizeof(ftotal));
	total.start_wall_us = stats_wall_us();
	int status = wait_workers(pids, o->workers, report[0], &total, &ftotal);
	close(report[0]);
	if (o->records & RUN_REC_STATS)
		write_total(o, &total, &ftotal);
	return status;
}
