/* fuzz_pipeline: the whole analyzer from the bytes of a capture file (pcap or pcapng, plain
 * or gzip) to its JSON Lines: capture, decode, flow table, reassembly, SMTP, classify, emit.
 * The input is written to an in-memory file opened by name, as smtptrace -r opens one; the
 * output goes to another, and every line of it must parse as a JSON object, one per session.
 * Small caps (8 flows, 64 KiB held per flow, 4 transactions and recipients, 64 traced verbs
 * and codes) keep runs short and the cap paths busy. */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture.h"
#include "classify.h"
#include "decode.h"
#include "emit.h"
#include "flow.h"
#include "fuzz.h"

struct file {
	int fd;
	char path[64];
};

struct run {
	struct emit *out;
	const struct smtp_limits *lim;
	uint64_t sessions;
	uint64_t ended; /* flows ended, sessions or not (probed and found not SMTP: no record) */
};

/* An in-memory file with a name that open() takes (a temporary file where there is no
 * memfd), kept for the whole run and emptied before each input. */
static void file_init(struct file *f, const char *name)
{
	if (f->path[0])
		return;
	f->fd = memfd_create(name, MFD_CLOEXEC);
	if (f->fd >= 0) {
		snprintf(f->path, sizeof(f->path), "/proc/self/fd/%d", f->fd);
		return;
	}
	snprintf(f->path, sizeof(f->path), "/tmp/smtptrace-%s-XXXXXX", name);
	f->fd = mkstemp(f->path);
	if (f->fd < 0) {
		perror("fuzz_pipeline: memfd_create and mkstemp");
		abort();
	}
}

static void file_set(const struct file *f, const uint8_t *data, size_t size)
{
	if (ftruncate(f->fd, 0) != 0)
		abort();
	for (size_t done = 0; done < size;) {
		ssize_t n = pwrite(f->fd, data + done, size - done, (off_t)done);
		if (n <= 0)
			abort();
		done += (size_t)n;
	}
}

/* The file's contents in a new NUL-terminated buffer. */
static char *file_get(const struct file *f, size_t *size)
{
	struct stat st;
	if (fstat(f->fd, &st) != 0)
		abort();
	char *buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		abort();
	for (size_t done = 0; done < (size_t)st.st_size;) {
		ssize_t n = pread(f->fd, buf + done, (size_t)st.st_size - done, (off_t)done);
		if (n <= 0)
			abort();
		done += (size_t)n;
	}
	buf[st.st_size] = '\0';
	*size = (size_t)st.st_size;
	return buf;
}

static void on_session_end(void *ctx, const struct flow_info *info, const struct smtp_record *rec)
{
	struct run *run = ctx;
	struct cls_verdict v;
	FUZZ_CHECK(info->flow_id < (1ULL << 51));
	FUZZ_CHECK(info->first_ts_us <= info->last_ts_us);
	run->ended++;
	if (!rec) { /* no session: the probe found it not SMTP */
		FUZZ_CHECK(info->kind != FLOW_KIND_SMTP);
		return;
	}
	fuzz_check_record(rec, run->lim);
	classify_session(rec, &v);
	FUZZ_CHECK(emit_session(run->out, info, rec, &v) == 0);
	classify_free(&v);
	run->sessions++;
}

/* Every line a JSON object, one line per session. "\u0000" is valid JSON (RFC 8259 section 7)
 * that jansson refuses unless told: a NUL byte on the wire is kept as one. */
static void check_output(const struct file *out, uint64_t sessions)
{
	size_t size;
	char *text = file_get(out, &size);
	uint64_t lines = 0;
	for (char *p = text, *nl; p < text + size; p = nl + 1) {
		nl = memchr(p, '\n', size - (size_t)(p - text));
		FUZZ_CHECK(nl != NULL); /* every record ends its line */
		json_error_t err;
		json_t *j = json_loadb(p, (size_t)(nl - p), JSON_ALLOW_NUL, &err);
		if (!j)
			fprintf(stderr, "fuzz_pipeline: bad JSON line %llu: %s\n",
			        (unsigned long long)lines + 1, err.text);
		FUZZ_CHECK(j != NULL && json_is_object(j));
		json_decref(j);
		lines++;
	}
	FUZZ_CHECK(lines == sessions);
	free(text);
}

static void read_packets(struct capture *cap, struct flow_table *t)
{
	int dlt = capture_datalink(cap);
	struct capture_pkt pkt;
	enum capture_rc rc;
	FUZZ_CHECK(decode_dlt_supported(dlt));
	while ((rc = capture_next(cap, &pkt)) == CAPTURE_PKT) {
		struct tcp_seg seg;
		if (decode_packet_wire(dlt, pkt.data, pkt.caplen, pkt.wirelen, &seg) == DECODE_OK) {
			seg.ts_us = pkt.ts_us;
			flow_table_feed(t, &seg);
		}
	}
	FUZZ_CHECK(rc == CAPTURE_EOF || capture_error(cap)[0] != '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct file in, out;
	char err[512];
	file_init(&in, "fuzz-in");
	file_init(&out, "fuzz-out");
	file_set(&in, data, size);
	struct capture *cap = capture_open_file(in.path, NULL, err, sizeof(err));
	if (!cap) {
		FUZZ_CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
		return 0;
	}

	struct flow_config cfg;
	flow_config_default(&cfg);
	cfg.max_flows = 8;
	cfg.max_held_per_flow = 64 * 1024;
	cfg.smtp.max_line = 1024;
	cfg.smtp.max_rcpts = 4;
	cfg.smtp.max_txs = 4;
	cfg.smtp.max_pending = 16;
	cfg.smtp.trace = true;
	cfg.smtp.max_trace = 64;
	struct run run = {.lim = &cfg.smtp};
	run.out = emit_open(out.path, err, sizeof(err));
	FUZZ_CHECK(run.out != NULL);
	struct flow_table *t = flow_table_new(&cfg, on_session_end, &run);
	FUZZ_CHECK(t != NULL);
	flow_table_set_source(t, "fuzz.pcap");
	read_packets(cap, t);
	capture_close(cap);
	flow_table_finish(t);
	const struct flow_stats *fs = flow_table_stats(t);
	FUZZ_CHECK(fs->flows_active == 0);
	FUZZ_CHECK(fs->flows_active_max <= cfg.max_flows);
	FUZZ_CHECK(fs->flows_created == run.ended);
	FUZZ_CHECK(fs->held_bytes_max <= cfg.max_flows * cfg.max_held_per_flow);
	flow_table_free(t);
	FUZZ_CHECK(emit_close(run.out) == 0);
	check_output(&out, run.sessions);
	return 0;
}
