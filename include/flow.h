/* flow: the table of TCP connections keyed by the canonical 5-tuple, client and server
 * roles, a flow clock that never runs backwards, idle timeouts on it, a cap on flows (RFC 9293
 * connection identity). */
#ifndef SMTPTRACE_FLOW_H
#define SMTPTRACE_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "detect.h"
#include "smtp.h"

/* What a connection turned out to be (DESIGN.md section 5): only SMTP ones are sessions. */
enum flow_kind {
	FLOW_KIND_SMTP = 0,     /* carried bytes (SMTP or not yet known otherwise) */
	FLOW_KIND_REFUSED,      /* the client's SYN answered by a RST, no SYN-ACK */
	FLOW_KIND_NO_HANDSHAKE, /* the client's SYN never answered */
	FLOW_KIND_NO_SMTP,      /* no byte in either direction (half-open scans included), or
	                         * probed by content and found not SMTP */
	FLOW_KIND_COUNT
};

/* Short lower-case name of a kind, as records and statistics write it ("no_handshake"). */
const char *flow_kind_name(enum flow_kind k);

/* What a finished session looks like at the TCP level; borrowed by the end callback. */
struct flow_info {
	uint64_t flow_id; /* fits in 51 bits */
	struct decode_addr client, server;
	uint16_t client_port, server_port;
	uint64_t first_ts_us, last_ts_us;
	uint64_t pkts[2];          /* indexed by enum smtp_dir */
	uint64_t bytes[2];         /* payload bytes, indexed by enum smtp_dir */
	uint64_t cut[2];           /* of those, bytes the snap length cut from captured packets */
	const char *pcap_filename; /* the input the flow started in; borrowed */
	enum flow_kind kind;       /* set before the end callback */
	enum detect_how detected;  /* how the flow was taken for SMTP (NONE: probed, not SMTP) */
};

/* Called once per flow, whatever its kind, in close order, then at flow_table_finish() in start
 * order. Both arguments are borrowed for the call; rec is NULL for a flow that never had an
 * SMTP session (probed by content and found not SMTP: its kind is not FLOW_KIND_SMTP). */
typedef void (*flow_end_fn)(void *ctx, const struct flow_info *info, const struct smtp_record *rec);

/* TCP checksum policy (--checksum). AUTO chooses once, on the input's first FLOW_CSUM_SAMPLE
 * checkable segments: it checks when at most 1 in FLOW_CSUM_BAD_SHARE of them is bad. The
 * first segments are held (copies, at most 256 segments and 1 MiB, or 1 s on the clock of
 * flow_table_advance) until it has chosen, then fed in order: none is judged before. Checksum
 * offloading on the capture host leaves its own outgoing segments bad: all of them on
 * loopback, about half when it is one end of every connection; a segment crafted to be
 * dropped is one of many. */
enum flow_checksum { FLOW_CSUM_AUTO = 0, FLOW_CSUM_YES, FLOW_CSUM_NO };

enum { FLOW_CSUM_SAMPLE = 64, FLOW_CSUM_BAD_SHARE = 4 };

struct flow_config {
	const uint16_t *server_ports; /* borrowed; SMTP server ports (default 25,465,587,2525) */
	size_t n_server_ports;
	const uint16_t *tls_ports; /* borrowed; of those, the implicit-TLS ones (default 465) */
	size_t n_tls_ports;
	uint64_t idle_timeout_us;    /* default 600 s */
	size_t max_flows;            /* default 65536; the least recently used is evicted */
	size_t max_held_per_flow;    /* out-of-order bytes held per flow, default 1 MiB */
	size_t max_held_total;       /* out-of-order bytes held by all flows, default 256 MiB */
	enum flow_checksum checksum; /* default FLOW_CSUM_AUTO */
	uint64_t hash_key[2];        /* the bucket hash's secret; all zero (the default): drawn
	                              * at random per table (flow_id never depends on it) */
	bool detect;       /* flows of other ports probed by content (detect.h); default true,
	                    * --no-detect: false (only server_ports are followed) */
	size_t max_probes; /* probes under way at once (each holds a struct detect_probe, about
	                    * 3 KiB), default 4096; a flow that finds none free is not probed
	                    * (not SMTP, counted in probes_refused) */
	struct smtp_limits smtp;
};

struct flow_stats {
	uint64_t segments, segments_ignored, flows_created, flows_evicted, flows_timed_out;
	uint64_t flows_active, flows_active_max;
	uint64_t held_bytes_max, retransmitted, overlap_mismatches, gaps, gap_bytes;
	uint64_t csum_sampled, csum_sampled_bad; /* AUTO's sample of early checkable segments */
	uint64_t bad_checksums;               /* segments dropped, not data, for a bad checksum */
	uint64_t flows_kind[FLOW_KIND_COUNT]; /* flows ended, by what they turned out to be */
	uint64_t flows_probed;   /* flows of other ports whose first bytes were probed */
	uint64_t probes_refused; /* of them, found no probe free (max_probes): taken for not SMTP */
	bool checksum_on; /* whether checksums are checked (AUTO: off until it has chosen, and when
	                   * no segment was checkable) */
};

struct flow_table;

void flow_config_default(struct flow_config *cfg);

/* Parses a --checksum value ("auto", "yes", "no") into *out. Returns false when it is none. */
bool flow_checksum_parse(const char *text, enum flow_checksum *out);

/* Returns a new table (free with flow_table_free), or NULL on out of memory. cfg is copied
 * (server_ports stays borrowed); end is called for every finished session. */
struct flow_table *flow_table_new(const struct flow_config *cfg, flow_end_fn end, void *ctx);

/* Sets the input name recorded for flows that start from now on. Borrowed. */
void flow_table_set_source(struct flow_table *t, const char *pcap_filename);

/* Called from the end callback of an SMTP session: its session (and so the record the callback
 * was given) outlives the callback, unchanged, until flow_table_release_session gives it back.
 * Returns it, or NULL when the flow has none. */
struct smtp_session *flow_table_keep_session(struct flow_table *t);
/* Gives a kept session's memory back to the table's pool (not thread-safe: the table's thread
 * only). NULL: nothing. */
void flow_table_release_session(struct flow_table *t, struct smtp_session *s);

/* Feeds one segment (borrowed). With cfg.detect off, segments of other ports are ignored and
 * counted; with it on, a flow of another port is probed (detect.h): it becomes an SMTP session
 * with the bytes probed so far, or a tombstone (no session, no reassembly buffer, its later
 * segments only counted) that ends as FLOW_KIND_NO_SMTP. The
 * segment's time moves the flow clock first (flow_table_advance); a segment older than the
 * clock is handled in its flow at the clock's time as far as timeouts go. */
void flow_table_feed(struct flow_table *t, const struct tcp_seg *seg);

/* --shard: which of shards (at least 1) seg's connection falls in, the same for both
 * directions, every run and every machine: FNV-1a over the canonical tuple (the lower address
 * and port first, ports in network order), not the keyed bucket hash. */
uint32_t flow_shard(const struct tcp_seg *seg, uint32_t shards);

/* Moves the flow clock to now_us (microseconds since the epoch) unless it is already past it
 * (the clock never runs backwards), and ends the flows that are then due: closed ones after
 * their linger, open ones idle for the idle timeout, idle time being measured on this clock.
 * For a live capture, call it on wall-clock ticks between packets. */
void flow_table_advance(struct flow_table *t, uint64_t now_us);

/* Whether the segments fed next need their TCP checksum: while AUTO chooses, and when
 * checking is on. Without it decode may leave it uncomputed (decode_packet_csum). */
bool flow_table_wants_checksum(const struct flow_table *t);

/* The flow clock: the latest time it was moved to, 0 before the first. */
uint64_t flow_table_now(const struct flow_table *t);

/* Ends every open flow (capture_ended) in start order. */
void flow_table_finish(struct flow_table *t);

/* Counters so far; borrowed, valid until the next call on t. */
const struct flow_stats *flow_table_stats(struct flow_table *t);

void flow_table_free(struct flow_table *t);

#endif
