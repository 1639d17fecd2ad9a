/* main: the command line (tcpdump's conventions), wiring of the stages, exit codes:
 * 0 success, 1 runtime error, 2 usage error or unreadable input. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "classify.h"
#include "decode.h"
#include "emit.h"
#include "flow.h"
#include "stats.h"

#ifndef SMTPTRACE_VERSION
#define SMTPTRACE_VERSION "dev"
#endif

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };
enum { MAX_INPUTS = 1024, MAX_PORTS = 64 };

struct options {
	const char *inputs[MAX_INPUTS];
	size_t n_inputs;
	const char *output;
	char *bpf;
	uint16_t ports[MAX_PORTS];
	bool print_stats;
	struct flow_config flow;
};

struct run {
	struct emit *out;
	struct stats stats;
	bool write_failed;
	int write_errno;
};

static const char usage_text[] =
    "Usage: smtptrace [-r FILE]... [options] [BPF expression]\n"
    "Reads SMTP sessions from packet captures and writes one JSON object per session.\n"
    "\n"
    "  -r, --read FILE        read packets from FILE (pcap or pcapng, plain or gzip);\n"
    "                         '-' is standard input; may repeat: files are read in order\n"
    "                         into one flow table\n"
    "  -o, --output FILE      write JSON Lines to FILE (default: standard output)\n"
    "      --ports LIST       SMTP server ports, comma-separated (default 25,465,587,2525)\n"
    "      --idle-timeout SEC end a session after SEC seconds of packet time without a\n"
    "                         packet (default 600, RFC 5321 4.5.3.2)\n"
    "      --max-flows N      connections tracked at once; the least recently used is\n"
    "                         ended first (default 65536)\n"
    "      --max-held BYTES   out-of-order bytes held per connection (default 1048576)\n"
    "      --max-reasm-memory BYTES  out-of-order bytes held by all connections together\n"
    "                         (default 268435456)\n"
    "      --max-line BYTES   longest line kept whole (default 4096)\n"
    "      --max-rcpts N      recipients kept per transaction (default 1000)\n"
    "      --max-transactions N  transactions kept per session (default 1000)\n"
    "      --max-pending N    commands awaiting a reply (default 1000)\n"
    "      --checksum WHEN    check TCP checksums: auto (default: yes unless many early\n"
    "                         packets are bad, as offloading makes them), yes, no\n"
    "      --trace            add each session's command verbs and reply codes, in order\n"
    "      --stats            print counters to standard error at the end\n"
    "  -h, --help             show this help and exit\n"
    "  -V, --version          show the version and exit\n"
    "\n"
    "A BPF expression (as for tcpdump) after the options selects packets.\n"
    "Exit status: 0 success, 1 runtime error, 2 usage error or unreadable input.\n";

__attribute__((format(printf, 1, 2), noreturn)) static void usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "smtptrace: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'smtptrace --help' for more information.\n");
	exit(EXIT_USAGE);
}

/* Parses a whole decimal number in [min, max], or exits with a usage error naming opt. */
static uint64_t parse_number(const char *opt, const char *text, uint64_t min, uint64_t max)
{
	char *end;
	errno = 0;
	if (text[0] < '0' || text[0] > '9')
		usage_error("%s needs a whole number", opt);
	unsigned long long v = strtoull(text, &end, 10);
	if (errno || *end || v < min || v > max)
		usage_error("%s: number out of range or malformed", opt);
	return v;
}

static void parse_ports(struct options *o, const char *list)
{
	size_t n = 0;
	const char *p = list;
	while (*p) {
		char *end;
		errno = 0;
		unsigned long v = strtoul(p, &end, 10);
		if (errno || end == p || v == 0 || v > 65535 || (*end && *end != ','))
			usage_error("--ports: bad port list '%s'", list);
		if (n == MAX_PORTS)
			usage_error("--ports: too many ports in '%s'", list);
		o->ports[n++] = (uint16_t)v;
		p = *end ? end + 1 : end;
	}
	if (n == 0)
		usage_error("--ports: empty port list '%s'", list);
	o->flow.server_ports = o->ports;
	o->flow.n_server_ports = n;
}

/* Joins the remaining arguments with spaces, as tcpdump does for its filter. */
static char *join_args(int argc, char **argv)
{
	size_t len = 1;
	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	char *s = calloc(1, len);
	if (!s)
		abort();
	for (int i = 0; i < argc; i++) {
		if (i)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

enum {
	OPT_PORTS = 256,
	OPT_IDLE,
	OPT_MAX_FLOWS,
	OPT_MAX_HELD,
	OPT_MAX_MEMORY,
	OPT_MAX_LINE,
	OPT_MAX_RCPTS,
	OPT_MAX_TXS,
	OPT_MAX_PENDING,
	OPT_STATS,
	OPT_TRACE,
	OPT_CHECKSUM,
};

static const struct option long_opts[] = {
    {"read", required_argument, NULL, 'r'},
    {"output", required_argument, NULL, 'o'},
    {"ports", required_argument, NULL, OPT_PORTS},
    {"idle-timeout", required_argument, NULL, OPT_IDLE},
    {"max-flows", required_argument, NULL, OPT_MAX_FLOWS},
    {"max-held", required_argument, NULL, OPT_MAX_HELD},
    {"max-reasm-memory", required_argument, NULL, OPT_MAX_MEMORY},
    {"max-line", required_argument, NULL, OPT_MAX_LINE},
    {"max-rcpts", required_argument, NULL, OPT_MAX_RCPTS},
    {"max-transactions", required_argument, NULL, OPT_MAX_TXS},
    {"max-pending", required_argument, NULL, OPT_MAX_PENDING},
    {"stats", no_argument, NULL, OPT_STATS},
    {"trace", no_argument, NULL, OPT_TRACE},
    {"checksum", required_argument, NULL, OPT_CHECKSUM},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* Applies one long-only limit option. */
static void set_limit(struct options *o, int opt, const char *arg)
{
	struct smtp_limits *l = &o->flow.smtp;
	switch (opt) {
	case OPT_IDLE:
		o->flow.idle_timeout_us =
		    parse_number("--idle-timeout", arg, 1, 86400 * 365) * 1000000;
		break;
	case OPT_MAX_FLOWS:
		o->flow.max_flows = parse_number("--max-flows", arg, 1, 1 << 24);
		break;
	case OPT_MAX_HELD:
		o->flow.max_held_per_flow = parse_number("--max-held", arg, 0, 1ULL << 32);
		break;
	case OPT_MAX_MEMORY:
		o->flow.max_held_total = parse_number("--max-reasm-memory", arg, 0, 1ULL << 40);
		break;
	case OPT_MAX_LINE:
		l->max_line = (uint32_t)parse_number("--max-line", arg, 512, 1 << 20);
		break;
	case OPT_MAX_RCPTS:
		l->max_rcpts = (uint32_t)parse_number("--max-rcpts", arg, 1, 1 << 24);
		break;
	case OPT_MAX_TXS:
		l->max_txs = (uint32_t)parse_number("--max-transactions", arg, 1, 1 << 24);
		break;
	case OPT_CHECKSUM:
		if (!flow_checksum_parse(arg, &o->flow.checksum))
			usage_error("--checksum: '%s' is not auto, yes or no", arg);
		break;
	case OPT_MAX_PENDING:
		l->max_pending = (uint32_t)parse_number("--max-pending", arg, 2, 1 << 24);
		break;
	default:
		break;
	}
}

static void parse_options(int argc, char **argv, struct options *o)
{
	int c;
	flow_config_default(&o->flow);
	while ((c = getopt_long(argc, argv, "+r:o:hV", long_opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (o->n_inputs == MAX_INPUTS)
				usage_error("too many -r files (the most is %s)", "1024");
			o->inputs[o->n_inputs++] = optarg;
			break;
		case 'o':
			o->output = optarg;
			break;
		case OPT_PORTS:
			parse_ports(o, optarg);
			break;
		case OPT_STATS:
			o->print_stats = true;
			break;
		case OPT_TRACE:
			o->flow.smtp.trace = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		case 'V':
			printf("smtptrace %s\n", SMTPTRACE_VERSION);
			exit(0);
		case '?':
			fprintf(stderr, "Try 'smtptrace --help' for more information.\n");
			exit(EXIT_USAGE);
		default:
			set_limit(o, c, optarg);
			break;
		}
	}
	if (o->n_inputs == 0)
		usage_error("no input: give a capture file with -r FILE (or -r - for %s)",
		            "standard input");
	o->bpf = optind < argc ? join_args(argc - optind, argv + optind) : NULL;
}

static void on_session_end(void *ctx, const struct flow_info *info, const struct smtp_record *rec)
{
	struct run *run = ctx;
	struct cls_verdict v;
	if (info->kind != FLOW_KIND_SMTP) /* counted in the flow table's stats, not a session */
		return;
	run->stats.sessions++;
	if (run->write_failed)
		return;
	classify_session(rec, &v);
	if (emit_session(run->out, info, rec, &v) != 0) {
		run->write_failed = true;
		run->write_errno = errno;
	}
}

/* Reads one input into the flow table. Returns 0, or EXIT_USAGE when it could not be
 * opened or read to its end (the sessions read before the damage still count). */
static int read_input(struct run *run, struct flow_table *t, const char *path, const char *bpf)
{
	char err[512];
	struct capture *cap = capture_open_file(path, bpf, err, sizeof(err));
	run->stats.files++;
	if (!cap) {
		fprintf(stderr, "smtptrace: %s\n", err);
		run->stats.file_errors++;
		return EXIT_USAGE;
	}
	int dlt = capture_datalink(cap);
	flow_table_set_source(t, path);
	struct capture_pkt pkt;
	enum capture_rc rc;
	while (!run->write_failed && (rc = capture_next(cap, &pkt)) == CAPTURE_PKT) {
		struct tcp_seg seg;
		enum decode_status st =
		    decode_packet_wire(dlt, pkt.data, pkt.caplen, pkt.wirelen, &seg);
		run->stats.packets++;
		run->stats.decode[st]++;
		if (st == DECODE_OK) {
			seg.ts_us = pkt.ts_us;
			flow_table_feed(t, &seg);
		}
	}
	int status = 0;
	if (!run->write_failed && rc == CAPTURE_ERR) {
		fprintf(stderr, "smtptrace: warning: %s\n", capture_error(cap));
		run->stats.file_errors++;
		status = EXIT_USAGE;
	}
	capture_close(cap);
	return status;
}

int main(int argc, char **argv)
{
	static struct options o;
	struct run run = {0};
	char err[512];
	int status = 0;

	parse_options(argc, argv, &o);
	signal(SIGPIPE, SIG_IGN); /* a closed reader shows as a write error, not a kill */
	run.out = emit_open(o.output, err, sizeof(err));
	if (!run.out) {
		fprintf(stderr, "smtptrace: %s\n", err);
		return EXIT_USAGE;
	}
	struct flow_table *t = flow_table_new(&o.flow, on_session_end, &run);
	if (!t) {
		fprintf(stderr, "smtptrace: out of memory\n");
		return EXIT_RUNTIME;
	}
	for (size_t i = 0; i < o.n_inputs && !run.write_failed; i++) {
		int rc = read_input(&run, t, o.inputs[i], o.bpf);
		if (rc)
			status = rc;
	}
	flow_table_finish(t);
	if (o.print_stats)
		stats_print(stderr, &run.stats, flow_table_stats(t));
	flow_table_free(t);
	if (run.write_failed) {
		if (run.write_errno !=
		    EPIPE) /* a reader that stopped early is not an error to report */
			fprintf(stderr, "smtptrace: %s\n", emit_error(run.out));
		status = EXIT_RUNTIME;
	}
	if (emit_close(run.out) != 0 && !run.write_failed) {
		fprintf(stderr, "smtptrace: %s: write error\n", o.output ? o.output : "stdout");
		status = EXIT_RUNTIME;
	}
	free(o.bpf);
	return status;
}
