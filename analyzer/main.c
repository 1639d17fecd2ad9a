/* main: the command line (tcpdump's conventions: -r, -i, -D, -F, -s, -B, -p, -c, -Z, -U, a
 * trailing BPF expression) into run options; exit codes: 0 success, 1 runtime error, 2
 * usage error, unusable device, or unreadable input. */
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
#include <sys/random.h>

#include "capture.h"
#include "emit.h"
#include "flow.h"
#include "run.h"
#include "sink.h"
#include "workers.h"

#ifndef SMTPTRACE_VERSION
#define SMTPTRACE_VERSION "dev"
#endif

enum { EXIT_USAGE = RUN_EXIT_USAGE };
enum { MAX_INPUTS = 1024, MAX_PORTS = 64, MAX_FILTER_FILE = 64 * 1024 };

struct options {
	const char *inputs[MAX_INPUTS];
	uint16_t ports[MAX_PORTS * 2]; /* --ports, then the --tls-ports not among them */
	uint16_t tls_ports[MAX_PORTS];
	const char *filter_file;
	bool list_devices;
	struct run_options run;
};

static const char usage_text[] =
    "Usage: smtptrace -r FILE... [options] [BPF expression]\n"
    "       smtptrace -i IFACE [options] [BPF expression]\n"
    "       smtptrace -D\n"
    "Follows SMTP sessions in packet captures or on a live interface and writes one JSON\n"
    "record per session as it ends (JSON Lines), then a stats record.\n"
    "\n"
    "Input:\n"
    "  -r, --read FILE        read packets from FILE (pcap or pcapng, plain or gzip);\n"
    "                         '-' is standard input; may repeat: files are read in order\n"
    "                         into one flow table\n"
    "  -i, --interface IFACE  capture live on IFACE ('any' for all); needs root, or the\n"
    "                         CAP_NET_RAW and CAP_NET_ADMIN capabilities\n"
    "  -D, --list-interfaces  list the interfaces that can be captured on, and exit\n"
    "  -F FILE                read the BPF filter from FILE\n"
    "  -s, --snapshot-length N  bytes kept of each live packet (default 262144)\n"
    "  -B, --buffer-size KiB  the kernel's capture buffer (default: libpcap's)\n"
    "      --immediate-mode   hand each live packet over at once, not in batches\n"
    "  -p, --no-promiscuous-mode  do not put the interface into promiscuous mode\n"
    "  -c N                   stop after N packets\n"
    "  -Z, --relinquish-privileges USER  run as USER once the interface and the output\n"
    "                         are open\n"
    "\n"
    "Output:\n"
    "  -o, --output FILE      append JSON Lines to FILE (default: standard output); SIGHUP\n"
    "                         closes and reopens it (logrotate)\n"
    "      --overwrite        empty FILE first instead of appending\n"
    "      --kafka-brokers LIST --kafka-topic T  records to the Kafka topic T instead,\n"
    "                         through the brokers LIST (host:port,...), keyed by Community ID\n"
    "  -U, --packet-buffered  write each record as its session ends (always so for live\n"
    "                         capture and pipes)\n"
    "      --one-thread       write records from the analysis thread itself, not from a\n"
    "                         writer thread beside it, and no reader thread even with\n"
    "                         --read-ahead (the same records; less CPU time, but slower\n"
    "                         when a second CPU is free; with one CPU there is neither)\n"
    "      --read-ahead       read, decode and checksum the packets of plain pcap files\n"
    "                         on a reader thread ahead of the analysis (the same records;\n"
    "                         more CPU time in all; it can pay only where a second CPU\n"
    "                         is otherwise idle)\n"
    "      --records LIST     record types, comma-separated: session, transaction,\n"
    "                         command, flow, stats\n"
    "                         (default session,stats)\n"
    "      --eve-strict       instead of session and transaction records, one Suricata\n"
    "                         'smtp' event per transaction, valid against its EVE schema\n"
    "      --max-record BYTES the longest record written (default 16384); longer lists\n"
    "                         are cut, with a count of what was left out\n"
    "      --workers N        live: N processes in one PACKET_FANOUT group, each with its\n"
    "                         own flows, appending whole records to one output file\n"
    "      --shard I/N        follow only the connections of shard I of N (0 <= I < N): N\n"
    "                         runs, on one machine or many, split a capture set\n"
    "      --redact           mailbox local parts and HELO names as a keyed hash\n"
    "      --redact-key KEY   the key of --redact (default: random for each run)\n"
    "      --stats-interval S also write a stats record every S seconds\n"
    "      --trace            add each session's command verbs and reply codes, in order\n"
    "      --stats            print counters to standard error at the end\n"
    "      --summary          print a table of outcomes, anomalies and what each school of\n"
    "                         servers delivered to standard error at the end\n"
    "  -q, --quiet            no progress line (shown on a terminal for files) and no\n"
    "                         packet counts on standard error\n"
    "\n"
    "Analysis:\n"
    "      --ports LIST       SMTP server ports, comma-separated (default 25,465,587,2525):\n"
    "                         their flows are SMTP without probing; other ports' flows\n"
    "                         are probed by content (a 220 greeting and EHLO/HELO, or\n"
    "                         both after an HTTP CONNECT); live, the default filter is\n"
    "                         all of TCP\n"
    "      --no-detect        follow only the --ports flows (no probing by content); live,\n"
    "                         the default filter takes these ports\n"
    "      --tls-ports LIST   implicit-TLS ports (RFC 8314), comma-separated (default 465):\n"
    "                         read as TLS from the first byte unless it starts plaintext\n"
    "                         SMTP (tls_port_plaintext); followed even when not in --ports\n"
    "      --idle-timeout SEC end a session after SEC seconds without a packet (default\n"
    "                         600, RFC 5321 4.5.3.2); live, on the wall clock too\n"
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
    "  -h, --help             show this help and exit\n"
    "  -V, --version          show the version and the libraries' versions, and exit\n"
    "\n"
    "A BPF expression (as for tcpdump) selects packets; options may follow it.\n"
    "SIGINT and SIGTERM end every open session, write its record and the stats record, and\n"
    "exit 0.\n"
    "Exit status: 0 done, 1 the output failed, 2 nothing done (usage error, unusable device\n"
    "or filter, no readable input), 3 damaged input (records of the rest written).\n";

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

/* A comma-separated port list for option opt ("ports") into out: how many. */
static size_t parse_port_list(const char *opt, const char *list, uint16_t *out)
{
	size_t n = 0;
	const char *p = list;
	while (*p) {
		char *end;
		errno = 0;
		unsigned long v = strtoul(p, &end, 10);
		if (errno || end == p || v == 0 || v > 65535 || (*end && *end != ','))
			usage_error("--%s: bad port list '%s'", opt, list);
		if (n == MAX_PORTS)
			usage_error("--%s: too many ports in '%s'", opt, list);
		out[n++] = (uint16_t)v;
		p = *end ? end + 1 : end;
	}
	if (n == 0)
		usage_error("--%s: empty port list '%s'", opt, list);
	return n;
}

static void parse_ports(struct options *o, const char *list)
{
	o->run.flow.n_server_ports = parse_port_list("ports", list, o->ports);
	o->run.flow.server_ports = o->ports;
}

static void parse_tls_ports(struct options *o, const char *list)
{
	o->run.flow.n_tls_ports = parse_port_list("tls-ports", list, o->tls_ports);
	o->run.flow.tls_ports = o->tls_ports;
}

/* The implicit-TLS ports are SMTP ports too: followed, and in the live filter. */
static void add_tls_ports(struct options *o)
{
	struct flow_config *f = &o->run.flow;
	size_t n = f->n_server_ports;
	if (f->server_ports != o->ports)
		memcpy(o->ports, f->server_ports, n * sizeof(o->ports[0]));
	for (size_t i = 0; i < f->n_tls_ports; i++) {
		bool have = false;
		for (size_t k = 0; k < n; k++)
			have = have || o->ports[k] == f->tls_ports[i];
		if (!have)
			o->ports[n++] = f->tls_ports[i];
	}
	f->server_ports = o->ports;
	f->n_server_ports = n;
}

/* --records: the names of the record types written. */
static unsigned parse_records(const char *list)
{
	static const struct {
		const char *name;
		unsigned bit;
	} types[] = {
	    {"session", RUN_REC_SESSION}, {"transaction", RUN_REC_TRANSACTION},
	    {"command", RUN_REC_COMMAND}, {"flow", RUN_REC_FLOW},
	    {"stats", RUN_REC_STATS},
	};
	unsigned bits = 0;
	const char *p = list;
	while (*p) {
		size_t len = strcspn(p, ",");
		size_t i = 0;
		while (i < sizeof(types) / sizeof(types[0]) &&
		       (strlen(types[i].name) != len || strncmp(p, types[i].name, len) != 0))
			i++;
		if (i == sizeof(types) / sizeof(types[0]))
			usage_error("--records: unknown record type '%.*s' (known: session, "
			            "transaction, command, flow, stats)",
			            (int)len, p);
		bits |= types[i].bit;
		p += len + (p[len] == ',');
	}
	if (!bits)
		usage_error("--records: empty list '%s'", list);
	return bits;
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

/* -F: the filter from a file; '#' starts a comment to the end of the line. */
static char *read_filter_file(const char *path)
{
	FILE *fp = fopen(path, "r");
	if (!fp)
		usage_error("-F %s: %s", path, strerror(errno));
	char *s = calloc(1, MAX_FILTER_FILE + 1);
	if (!s)
		abort();
	size_t n = fread(s, 1, MAX_FILTER_FILE + 1, fp);
	bool too_long = n > MAX_FILTER_FILE, failed = ferror(fp);
	fclose(fp);
	if (too_long || failed)
		usage_error("-F %s: %s", path, failed ? "read error" : "longer than 64 KiB");
	for (char *c = s; (c = strchr(c, '#'));) {
		size_t line = strcspn(c, "\n");
		memset(c, ' ', line);
	}
	for (char *c = s; *c; c++)
		if (*c == '\n' || *c == '\r' || *c == '\t')
			*c = ' ';
	return s;
}

/* Live, without a filter of the user's: the SMTP ports (all of TCP while detection by content
 * is on: SMTP may be on any port), and every VLAN-tagged frame (with the kernel's tag offload,
 * libpcap cannot look at the ports under a QinQ tag; the flow table sorts them). with_vlan
 * false: the ports alone, for link types without VLANs. */
static char *ports_filter(const struct flow_config *f, bool with_vlan)
{
	size_t cap = 32 + f->n_server_ports * 20;
	char *s = calloc(1, cap);
	if (!s)
		abort();
	if (f->detect)
		snprintf(s, cap, "tcp");
	for (size_t i = 0; i < f->n_server_ports && !f->detect; i++)
		snprintf(s + strlen(s), cap - strlen(s), "%stcp port %u", i ? " or " : "",
		         f->server_ports[i]);
	if (with_vlan)
		snprintf(s + strlen(s), cap - strlen(s), " or vlan");
	return s;
}

enum {
	OPT_PORTS = 256,
	OPT_TLS_PORTS,
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
	OPT_IMMEDIATE,
	OPT_ONE_THREAD,
	OPT_READ_AHEAD,
	OPT_OVERWRITE,
	OPT_RECORDS,
	OPT_STATS_INTERVAL,
	OPT_SUMMARY,
	OPT_EVE_STRICT,
	OPT_MAX_RECORD,
	OPT_REDACT,
	OPT_REDACT_KEY,
	OPT_SHARD,
	OPT_WORKERS,
	OPT_CHECKSUM,
	OPT_NO_DETECT,
	OPT_KAFKA_BROKERS,
	OPT_KAFKA_TOPIC,
};

static const struct option long_opts[] = {
    {"read", required_argument, NULL, 'r'},
    {"output", required_argument, NULL, 'o'},
    {"interface", required_argument, NULL, 'i'},
    {"list-interfaces", no_argument, NULL, 'D'},
    {"snapshot-length", required_argument, NULL, 's'},
    {"buffer-size", required_argument, NULL, 'B'},
    {"immediate-mode", no_argument, NULL, OPT_IMMEDIATE},
    {"one-thread", no_argument, NULL, OPT_ONE_THREAD},
    {"read-ahead", no_argument, NULL, OPT_READ_AHEAD},
    {"no-promiscuous-mode", no_argument, NULL, 'p'},
    {"relinquish-privileges", required_argument, NULL, 'Z'},
    {"packet-buffered", no_argument, NULL, 'U'},
    {"overwrite", no_argument, NULL, OPT_OVERWRITE},
    {"records", required_argument, NULL, OPT_RECORDS},
    {"stats-interval", required_argument, NULL, OPT_STATS_INTERVAL},
    {"ports", required_argument, NULL, OPT_PORTS},
    {"tls-ports", required_argument, NULL, OPT_TLS_PORTS},
    {"idle-timeout", required_argument, NULL, OPT_IDLE},
    {"max-flows", required_argument, NULL, OPT_MAX_FLOWS},
    {"max-held", required_argument, NULL, OPT_MAX_HELD},
    {"max-reasm-memory", required_argument, NULL, OPT_MAX_MEMORY},
    {"max-line", required_argument, NULL, OPT_MAX_LINE},
    {"max-rcpts", required_argument, NULL, OPT_MAX_RCPTS},
    {"max-transactions", required_argument, NULL, OPT_MAX_TXS},
    {"max-pending", required_argument, NULL, OPT_MAX_PENDING},
    {"stats", no_argument, NULL, OPT_STATS},
    {"summary", no_argument, NULL, OPT_SUMMARY},
    {"eve-strict", no_argument, NULL, OPT_EVE_STRICT},
    {"max-record", required_argument, NULL, OPT_MAX_RECORD},
    {"redact", no_argument, NULL, OPT_REDACT},
    {"redact-key", required_argument, NULL, OPT_REDACT_KEY},
    {"shard", required_argument, NULL, OPT_SHARD},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"kafka-brokers", required_argument, NULL, OPT_KAFKA_BROKERS},
    {"kafka-topic", required_argument, NULL, OPT_KAFKA_TOPIC},
    {"quiet", no_argument, NULL, 'q'},
    {"trace", no_argument, NULL, OPT_TRACE},
    {"checksum", required_argument, NULL, OPT_CHECKSUM},
    {"no-detect", no_argument, NULL, OPT_NO_DETECT},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* Applies one long-only limit option. */
static void set_limit(struct options *o, int opt, const char *arg)
{
	struct flow_config *f = &o->run.flow;
	struct smtp_limits *l = &f->smtp;
	switch (opt) {
	case OPT_IDLE:
		f->idle_timeout_us = parse_number("--idle-timeout", arg, 1, 86400 * 365) * 1000000;
		break;
	case OPT_MAX_FLOWS:
		f->max_flows = parse_number("--max-flows", arg, 1, 1 << 24);
		break;
	case OPT_MAX_HELD:
		f->max_held_per_flow = parse_number("--max-held", arg, 0, 1ULL << 32);
		break;
	case OPT_MAX_MEMORY:
		f->max_held_total = parse_number("--max-reasm-memory", arg, 0, 1ULL << 40);
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
		if (!flow_checksum_parse(arg, &o->run.flow.checksum))
			usage_error("--checksum: '%s' is not auto, yes or no", arg);
		break;
	case OPT_NO_DETECT:
		f->detect = false;
		break;
	case OPT_MAX_PENDING:
		l->max_pending = (uint32_t)parse_number("--max-pending", arg, 2, 1 << 24);
		break;
	default:
		break;
	}
}

/* Applies one option of the capture and output groups; false when c is not one of them. */
static bool set_io_option(struct options *o, int c, const char *arg)
{
	struct run_options *r = &o->run;
	switch (c) {
	case 'o':
		r->output = arg;
		break;
	case 'i':
		r->iface = arg;
		break;
	case 'F':
		o->filter_file = arg;
		break;
	case 's':
		r->live.snaplen = (int)parse_number("-s", arg, 1, 262144);
		break;
	case 'B':
		r->live.buffer_kib = (int)parse_number("-B", arg, 1, 1 << 21);
		break;
	case 'p':
		r->live.promisc = false;
		break;
	case 'c':
		r->max_packets = parse_number("-c", arg, 1, UINT64_MAX);
		break;
	case 'Z':
		r->user = arg;
		break;
	case 'U':
		r->per_record = true;
		break;
	case OPT_ONE_THREAD:
		r->one_thread = true;
		break;
	case OPT_READ_AHEAD:
		r->read_ahead = true;
		break;
	case OPT_IMMEDIATE:
		r->live.immediate = true;
		break;
	case OPT_OVERWRITE:
		r->overwrite = true;
		break;
	case OPT_RECORDS:
		r->records = parse_records(arg);
		break;
	case OPT_STATS_INTERVAL:
		r->stats_interval_us =
		    parse_number("--stats-interval", arg, 1, 86400 * 365) * 1000000;
		break;
	default:
		return false;
	}
	return true;
}

/* --shard I/N: 0 <= I < N <= 1024. */
static void parse_shard(struct run_options *r, const char *arg)
{
	unsigned i, n;
	char end;
	if (sscanf(arg, "%u/%u%c", &i, &n, &end) != 2 || n == 0 || n > 1024 || i >= n)
		usage_error("--shard: give I/N with 0 <= I < N <= 1024, not '%s'", arg);
	r->shard = i;
	r->shards = n;
}

/* --redact-key: the key's bytes as given (at most 64). */
static void set_redact_key(struct emit_options *e, const char *key)
{
	size_t n = strlen(key);
	if (n == 0 || n > EMIT_REDACT_KEY_MAX)
		usage_error("--redact-key: give 1 to %d bytes", EMIT_REDACT_KEY_MAX);
	memcpy(e->redact_key, key, n);
	e->redact_key_len = n;
	e->redact = true;
}

/* --redact without a key: a random one, so the hashes link records of this run only. */
static void random_redact_key(struct emit_options *e)
{
	if (!e->redact || e->redact_key_len)
		return;
	if (getrandom(e->redact_key, 32, 0) != 32)
		usage_error("--redact: no random key (%s); give one with --redact-key",
		            strerror(errno));
	e->redact_key_len = 32;
}

static void print_version(void)
{
	printf("smtptrace %s\n", SMTPTRACE_VERSION);
	printf("%s, %s\n", capture_library_versions(), emit_library_version());
	const char *rdkafka = sink_kafka_version();
	printf("%s%s\n", rdkafka ? "librdkafka " : "no Kafka support (built without librdkafka)",
	       rdkafka ? rdkafka : "");
}

static void parse_one(struct options *o, int c)
{
	switch (c) {
	case 'r':
		if (o->run.n_inputs == MAX_INPUTS)
			usage_error("too many -r files (the most is %s)", "1024");
		o->inputs[o->run.n_inputs++] = optarg;
		break;
	case 'D':
		o->list_devices = true;
		break;
	case OPT_PORTS:
		parse_ports(o, optarg);
		break;
	case OPT_TLS_PORTS:
		parse_tls_ports(o, optarg);
		break;
	case OPT_STATS:
		o->run.print_stats = true;
		break;
	case OPT_SUMMARY:
		o->run.print_summary = true;
		break;
	case OPT_EVE_STRICT:
		o->run.eve_strict = true;
		break;
	case OPT_MAX_RECORD:
		o->run.emit.max_record = parse_number("--max-record", optarg, 2048, 1ULL << 30);
		break;
	case OPT_REDACT:
		o->run.emit.redact = true;
		break;
	case OPT_REDACT_KEY:
		set_redact_key(&o->run.emit, optarg);
		break;
	case OPT_SHARD:
		parse_shard(&o->run, optarg);
		break;
	case OPT_WORKERS:
		o->run.workers = (uint32_t)parse_number("--workers", optarg, 1, 64);
		break;
	case OPT_KAFKA_BROKERS:
	case OPT_KAFKA_TOPIC:
		*(c == OPT_KAFKA_TOPIC ? &o->run.kafka_topic : &o->run.kafka_brokers) = optarg;
		break;
	case 'q':
		o->run.quiet = true;
		break;
	case OPT_TRACE:
		o->run.flow.smtp.trace = true;
		break;
	case 'h':
		fputs(usage_text, stdout);
		exit(0);
	case 'V':
		print_version();
		exit(0);
	case '?':
		fprintf(stderr, "Try 'smtptrace --help' for more information.\n");
		exit(EXIT_USAGE);
	default:
		if (!set_io_option(o, c, optarg))
			set_limit(o, c, optarg);
		break;
	}
}

/* Options may follow the filter, as tcpdump allows: getopt_long permutes. */
static void parse_options(int argc, char **argv, struct options *o)
{
	int c;
	flow_config_default(&o->run.flow);
	capture_live_options_default(&o->run.live);
	o->run.records = RUN_REC_SESSION | RUN_REC_STATS;
	emit_options_default(&o->run.emit);
	o->run.inputs = o->inputs;
	o->run.fanout_group = -1;
	o->run.report_fd = -1;
	while ((c = getopt_long(argc, argv, "r:o:i:DF:s:B:pc:Z:UqhV", long_opts, NULL)) != -1)
		parse_one(o, c);
	if (o->list_devices)
		return;
	random_redact_key(&o->run.emit);
	if (o->run.n_inputs == 0 && !o->run.iface)
		usage_error("no input: give a capture file with -r FILE (or -r - for standard "
		            "input), or an interface with -i %s",
		            "IFACE");
	if (o->run.n_inputs && o->run.iface)
		usage_error("give either -r files or -i %s, not both", o->run.iface);
	if (o->run.workers > 1 && !o->run.iface)
		usage_error("--workers is for live capture (-i); offline, split a capture set with "
		            "--shard %s",
		            "I/N");
	if (!o->run.kafka_brokers != !o->run.kafka_topic || (o->run.kafka_brokers && o->run.output))
		usage_error("give --kafka-brokers and --kafka-topic together, and not -o%s", "");
	if (o->run.kafka_brokers && !sink_kafka_version())
		usage_error("--kafka-brokers: this build has no Kafka support (built without %s)",
		            "librdkafka");
	if (o->run.kafka_brokers && o->run.workers > 1)
		usage_error(
		    "--kafka-brokers: not with --workers yet (the workers append to one %s)",
		    "file");
	if (o->filter_file && optind < argc)
		usage_error("give the filter either with -F %s or after the options, not both",
		            o->filter_file);
	add_tls_ports(o);
	char *bpf = o->filter_file  ? read_filter_file(o->filter_file)
	            : optind < argc ? join_args(argc - optind, argv + optind)
	            : o->run.iface  ? ports_filter(&o->run.flow, true)
	                            : NULL;
	o->run.bpf = bpf;
	o->run.flow.smtp.log_commands = (o->run.records & RUN_REC_COMMAND) != 0;
	if (o->run.iface && !o->filter_file && optind >= argc)
		o->run.bpf_fallback = ports_filter(&o->run.flow, false);
}

int main(int argc, char **argv)
{
	static struct options o;
	char err[CAPTURE_ERR_LEN];

	parse_options(argc, argv, &o);
	if (o.list_devices) {
		if (capture_list_devices(stdout, err, sizeof(err)) != 0) {
			fprintf(stderr, "smtptrace: %s\n", err);
			return RUN_EXIT_RUNTIME;
		}
		return 0;
	}
	int status = o.run.workers > 1 ? run_workers(&o.run) : run(&o.run);
	free((char *)o.run.bpf);
	free((char *)o.run.bpf_fallback);
	return status;
}
