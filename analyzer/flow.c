/* flow: TCP connections keyed by the canonical 5-tuple (RFC 9293 section 3.1) in buckets of a
 * keyed hash, client and server roles, a flow clock that never runs backwards with idle
 * timeouts on it, LRU eviction under a cap, port reuse, the checksum policy, flow kinds, and
 * flows of other ports probed by content (detect.h) until they are sessions or tombstones. */
#include "flow.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "reasm.h"
#include "starttls.h"

/* How long a closed flow lingers for late segments (a reply to the end of data after the
 * client's reset, the last ACKs) before its record is written, in packet time. */
#define FLOW_CLOSE_LINGER_US 500000ULL

struct flow {
	struct flow *hnext;       /* hash chain */
	uint64_t hash;            /* bucket_hash of its tuple: computed once, when it is made */
	struct flow *prev, *next; /* LRU list while open, close list once closed */
	struct flow_info info;
	uint64_t serial;        /* creation order */
	uint64_t seen_clock_us; /* the flow clock when the flow's last segment came */
	uint64_t closed_ts_us;  /* the flow clock when it closed */
	bool closed;
	bool roles_guessed; /* picked up without a SYN, both ports SMTP ports (or neither, while
	                     * probing): content decides */
	bool syn_seen, synack_seen, server_rst; /* the handshake as the capture shows it */
	bool midstream;                         /* picked up without a SYN */
	/* A flow of another port is probing (smtp and tomb unset: probe holds its first bytes, once
	 * it has any), then a session (smtp set) or a tombstone (tomb: the probe and the held
	 * segments freed, later segments only counted; fins says which directions sent a FIN). */
	bool tomb;
	bool ending; /* flow_end has taken it off its list: entomb must not put it on another */
	uint8_t fins;
	uint32_t skip[2]; /* bytes of each direction before SMTP (an HTTP CONNECT and its reply) */
	struct detect_probe *probe;
	struct flow_table *table;
	struct reasm reasm;
	struct reasm_sink sink; /* ctx is this flow */
	struct smtp_session *smtp;
	bool lazy;     /* a flow of an SMTP port whose session is not made yet (flow_smtp) */
	bool tls_port; /* its server port is a --tls-ports one: told to the session */
};

struct flow_list {
	struct flow *head, *tail;
};

/* AUTO's look-ahead (flow.h): the input's first segments, copied, until the checksum choice is
 * made on them; then they are fed in order, so that no segment is judged before the choice. */
enum {
	PREROLL_SEGS = 256,        /* segments held at most, checkable or not */
	PREROLL_BYTES = 1 << 20,   /* their payload bytes at most */
	PREROLL_WAIT_US = 1000000, /* on the clock of flow_table_advance (a live capture's) */
};

struct preroll {
	struct tcp_seg *segs; /* PREROLL_SEGS of them, payloads pointing into bytes */
	const char **sources; /* the input each came from (flow_table_set_source), borrowed */
	uint8_t *bytes;       /* PREROLL_BYTES */
	size_t n, used;
	bool done; /* the choice is made: nothing is held any more */
};

struct flow_table {
	struct flow_config cfg;
	uint64_t key[2]; /* the bucket hash's secret (SipHash-1-3 key) */
	flow_end_fn end;
	void *end_ctx;
	struct flow *ending; /* the flow whose end callback runs, for flow_table_keep_session */
	bool kept;           /* that callback kept its session */
	const char *source;
	struct flow **buckets;
	size_t n_buckets;   /* grows with the flows (grow_buckets), so the array stays in cache */
	size_t max_buckets; /* where it stops: a power of two at or above max_flows */
	size_t n_flows;
	uint64_t next_serial;
	struct flow_list lru;     /* open flows, least recently used first */
	struct flow_list tombs;   /* open tombstones, the same way: evicted before any flow */
	struct flow_list closing; /* closed flows, in close order */
	struct reasm_limits reasm_lim;
	struct reasm_stats reasm_stats;
	struct flow_stats stats;
	uint64_t now_us;
	struct preroll pre;
	size_t n_probes; /* probe buffers allocated now (at most cfg.max_probes) */
	/* The flow the last lookup found (flow_lookup), or NULL: it is always the one a walk of
	 * its bucket would find first, as every flow put into a bucket or taken out clears it. */
	struct flow *last;
	/* Memory of ended flows and sessions kept for new ones: one connection ends and another
	 * begins all the time, and their structs are the largest blocks made per connection. */
	struct smtp_pool *pool;
	struct flow *spare; /* chained by hnext, FLOW_SPARE_MAX at most */
	size_t n_spare;
};

enum { FLOW_SPARE_MAX = 64 };

bool flow_checksum_parse(const char *text, enum flow_checksum *out)
{
	static const char *const names[] = {
	    [FLOW_CSUM_AUTO] = "auto", [FLOW_CSUM_YES] = "yes", [FLOW_CSUM_NO] = "no"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(text, names[i]) == 0) {
			*out = (enum flow_checksum)i;
			return true;
		}
	}
	return false;
}

static const uint16_t default_ports[] = {25, 465, 587, 2525};
static const uint16_t default_tls_ports[] = {465};

void flow_config_default(struct flow_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->server_ports = default_ports;
	cfg->n_server_ports = sizeof(default_ports) / sizeof(default_ports[0]);
	cfg->tls_ports = default_tls_ports;
	cfg->n_tls_ports = 1;
	cfg->idle_timeout_us = 600ULL * 1000000ULL;
	cfg->max_flows = 65536;
	cfg->max_held_per_flow = 1 << 20;
	cfg->max_held_total = (size_t)256 << 20;
	cfg->detect = true;
	cfg->max_probes = 4096;
	smtp_limits_default(&cfg->smtp);
}

static void list_remove(struct flow_list *l, struct flow *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else
		l->head = f->next;
	if (f->next)
		f->next->prev = f->prev;
	else
		l->tail = f->prev;
	f->prev = f->next = NULL;
}

static void list_append(struct flow_list *l, struct flow *f)
{
	f->prev = l->tail;
	f->next = NULL;
	if (l->tail)
		l->tail->next = f;
	else
		l->head = f;
	l->tail = f;
}

/* The list a flow is on: closing once closed; open tombstones apart from the other open ones. */
static struct flow_list *list_of(struct flow_table *t, const struct flow *f)
{
	return f->closed ? &t->closing : f->tomb ? &t->tombs : &t->lru;
}

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL; /* FNV-1a */
	return h;
}

static size_t addr_len(const struct decode_addr *a)
{
	return a->family == 6 ? 16 : 4;
}

/* A hash that is the same for both directions of a connection. */
static uint64_t tuple_hash(const struct decode_addr *a, uint16_t ap, const struct decode_addr *b,
                           uint16_t bp)
{
	uint64_t ha = hash_bytes(hash_bytes(0xcbf29ce484222325ULL, a->bytes, addr_len(a)), &ap, 2);
	uint64_t hb = hash_bytes(hash_bytes(0xcbf29ce484222325ULL, b->bytes, addr_len(b)), &bp, 2);
	return (ha ^ hb) + (ha < hb ? ha : hb) * 31;
}

uint32_t flow_shard(const struct tcp_seg *seg, uint32_t shards)
{
	size_t alen = addr_len(&seg->src);
	int cmp = memcmp(seg->src.bytes, seg->dst.bytes, alen);
	bool src_low = cmp < 0 || (cmp == 0 && seg->sport <= seg->dport);
	const struct decode_addr *lo = src_low ? &seg->src : &seg->dst;
	const struct decode_addr *hi = src_low ? &seg->dst : &seg->src;
	uint16_t lo_port = src_low ? seg->sport : seg->dport;
	uint16_t hi_port = src_low ? seg->dport : seg->sport;
	uint8_t ports[4] = {(uint8_t)(lo_port >> 8), (uint8_t)lo_port, (uint8_t)(hi_port >> 8),
	                    (uint8_t)hi_port};
	uint64_t h = hash_bytes(0xcbf29ce484222325ULL, &seg->src.family, 1);
	h = hash_bytes(h, lo->bytes, alen);
	h = hash_bytes(h, hi->bytes, alen);
	h = hash_bytes(h, ports, sizeof(ports));
	return (uint32_t)(h % shards);
}

static bool addr_eq(const struct decode_addr *a, const struct decode_addr *b)
{
	/* each length a constant, so the compare is a load or two, not a call (per packet) */
	if (a->family != b->family)
		return false;
	return a->family == 6 ? memcmp(a->bytes, b->bytes, 16) == 0
	                      : memcmp(a->bytes, b->bytes, 4) == 0;
}

/* Direction of seg in f: 0 client to server, 1 server to client, -1 another flow. */
static int seg_dir(const struct flow *f, const struct tcp_seg *seg)
{
	const struct flow_info *i = &f->info;
	if (seg->sport == i->client_port && seg->dport == i->server_port &&
	    addr_eq(&seg->src, &i->client) && addr_eq(&seg->dst, &i->server))
		return SMTP_TO_SERVER;
	if (seg->sport == i->server_port && seg->dport == i->client_port &&
	    addr_eq(&seg->src, &i->server) && addr_eq(&seg->dst, &i->client))
		return SMTP_TO_CLIENT;
	return -1;
}

/* ---- the bucket hash: SipHash-1-3 (Aumasson and Bernstein) keyed with a secret per run, so
 * that tuples chosen to collide cannot be known in advance; used only to pick buckets ---- */

#define ROTL64(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

/* inlined: five to eight of them hash a tuple, for most packets */
static inline __attribute__((always_inline)) void sip_round(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = ROTL64(v[1], 13) ^ v[0];
	v[0] = ROTL64(v[0], 32);
	v[2] += v[3];
	v[3] = ROTL64(v[3], 16) ^ v[2];
	v[0] += v[3];
	v[3] = ROTL64(v[3], 21) ^ v[0];
	v[2] += v[1];
	v[1] = ROTL64(v[1], 17) ^ v[2];
	v[2] = ROTL64(v[2], 32);
}

static uint64_t load_le64(const uint8_t *p, size_t n)
{
	uint64_t w = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (n == 8) { /* a whole word: one load on a little-endian host */
		memcpy(&w, p, 8);
		return w;
	}
#endif
	for (size_t i = 0; i < n; i++)
		w |= (uint64_t)p[i] << (8 * i);
	return w;
}

static void sip_init(const uint64_t key[2], uint64_t v[4])
{
	v[0] = key[0] ^ 0x736f6d6570736575ULL;
	v[1] = key[1] ^ 0x646f72616e646f6dULL;
	v[2] = key[0] ^ 0x6c7967656e657261ULL;
	v[3] = key[1] ^ 0x7465646279746573ULL;
}

static void sip_word(uint64_t v[4], uint64_t m)
{
	v[3] ^= m;
	sip_round(v);
	v[0] ^= m;
}

/* last: the final word, the message length in its top byte over the bytes left. */
static uint64_t sip_final(uint64_t v[4], uint64_t last)
{
	sip_word(v, last);
	v[2] ^= 0xff;
	for (int r = 0; r < 3; r++)
		sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

static uint64_t siphash13(const uint64_t key[2], const uint8_t *p, size_t n)
{
	uint64_t v[4];
	sip_init(key, v);
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		sip_word(v, load_le64(p + i, 8));
	return sip_final(v, (uint64_t)n << 56 | load_le64(p + i, n - i));
}

/* Writes one end (address, port) into b; returns the bytes written (at most 18). */
static size_t put_end(uint8_t *b, const struct decode_addr *a, uint16_t port)
{
	size_t n = addr_len(a);
	memcpy(b, a->bytes, n);
	b[n] = (uint8_t)(port >> 8);
	b[n + 1] = (uint8_t)port;
	return n + 2;
}

/* An IPv4 end as the 6 bytes put_end writes, read as a big-endian number: ends compare as
 * their bytes do. */
static uint64_t end_v4(const struct decode_addr *a, uint16_t port)
{
	const uint8_t *b = a->bytes;
	return (uint64_t)b[0] << 40 | (uint64_t)b[1] << 32 | (uint64_t)b[2] << 24 |
	       (uint64_t)b[3] << 16 | port;
}

/* The 13 bytes bucket_hash hashes for IPv4 (family, the lower end, the higher), as SipHash's
 * two words, without a buffer: the most common tuple, hashed for most packets. */
static uint64_t bucket_hash_v4(const struct flow_table *t, uint8_t family, uint64_t lo, uint64_t hi)
{
	uint64_t lo_le = __builtin_bswap64(lo << 16), hi_le = __builtin_bswap64(hi << 16);
	uint64_t v[4];
	sip_init(t->key, v);
	sip_word(v, family | lo_le << 8 | (hi_le & 0xff) << 56);
	return sip_final(v, 13ULL << 56 | hi_le >> 8);
}

/* The keyed hash of a connection, the same for both directions: its two ends in a fixed
 * order. */
static uint64_t bucket_hash(const struct flow_table *t, const struct decode_addr *a, uint16_t ap,
                            const struct decode_addr *b, uint16_t bp)
{
	if (a->family != 6 && b->family != 6) {
		uint64_t ea = end_v4(a, ap), eb = end_v4(b, bp);
		return bucket_hash_v4(t, a->family, ea < eb ? ea : eb, ea < eb ? eb : ea);
	}
	uint8_t ea[18], eb[18], buf[1 + 36];
	size_t na = put_end(ea, a, ap), nb = put_end(eb, b, bp);
	bool swap = na == nb && memcmp(ea, eb, na) > 0;
	buf[0] = a->family;
	memcpy(buf + 1, swap ? eb : ea, na);
	memcpy(buf + 1 + na, swap ? ea : eb, nb);
	return siphash13(t->key, buf, 1 + na + nb);
}

static uint64_t seg_hash(const struct flow_table *t, const struct tcp_seg *seg)
{
	return bucket_hash(t, &seg->src, seg->sport, &seg->dst, seg->dport);
}

/* A secret for this run from getrandom(2); should the kernel have none to give, the clock and
 * an address stand in (weaker, but never fatal). */
static void draw_key(uint64_t key[2])
{
	if (getrandom(key, 2 * sizeof(key[0]), 0) == (ssize_t)(2 * sizeof(key[0])))
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	key[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)ts.tv_sec;
	key[1] = (uint64_t)(uintptr_t)key * 0xbf58476d1ce4e5b9ULL ^ (uint64_t)clock();
}

/* peer_acked counted from where SMTP starts in the other direction (past a CONNECT's reply). */
static uint64_t smtp_acked(const struct flow *f, int dir, uint64_t peer_acked)
{
	uint32_t skip = f->skip[1 - dir];
	if (peer_acked == UINT64_MAX || skip == 0)
		return peer_acked;
	return peer_acked > skip ? peer_acked - skip : 0;
}

/* Whether the flow is an SMTP session (made, or to be made when first needed). */
static bool is_session(const struct flow *f)
{
	return f->smtp || f->lazy;
}

/* The session of a flow of an SMTP port, made when first needed: a flow that never carries a
 * byte (a late ACK after the close linger, a scan) holds none while it waits for its idle
 * timeout. */
static struct smtp_session *flow_smtp(struct flow *f)
{
	if (f->smtp || !f->lazy)
		return f->smtp;
	f->smtp = smtp_session_new_in(f->table->pool, &f->table->cfg.smtp); /* aborts on OOM */
	f->lazy = false;
	if (f->tls_port)
		starttls_set_tls_port(f->smtp); /* --tls-ports: TLS from the first byte */
	if (f->midstream)
		smtp_set_midstream(f->smtp);
	return f->smtp;
}

static void feed_smtp(void *ctx, int dir, const uint8_t *data, size_t len, uint64_t peer_acked,
                      uint64_t ts_us)
{
	struct flow *f = ctx;
	smtp_feed(flow_smtp(f), (enum smtp_dir)dir, data, len, smtp_acked(f, dir, peer_acked),
	          ts_us);
}

static void probe_release(struct flow *f)
{
	if (!f->probe)
		return;
	free(f->probe);
	f->probe = NULL;
	f->table->n_probes--;
}

/* A probed flow found not SMTP: the probe goes, the held segments go once the reassembler has
 * returned (feed_now), and later segments are only counted. An open tombstone goes on a list
 * of its own, so that it makes room before any flow that may be SMTP. */
static void entomb(struct flow *f)
{
	probe_release(f);
	f->tomb = true;
	f->fins = (uint8_t)(f->reasm.half[0].fin_seen | f->reasm.half[1].fin_seen << 1);
	f->info.detected = DETECT_HOW_NONE;
	if (!f->closed && !f->ending) {
		list_remove(&f->table->lru, f);
		list_append(&f->table->tombs, f);
	}
}

/* A probed flow found SMTP: a session, fed the probed bytes past any CONNECT part. */
static void promote(struct flow *f)
{
	f->smtp = smtp_session_new_in(f->table->pool, &f->table->cfg.smtp); /* aborts on OOM */
	if (f->midstream)
		smtp_set_midstream(f->smtp);
	f->info.detected = detect_how_of(f->probe);
	for (int d = 0; d < 2; d++)
		f->skip[d] = detect_skip(f->probe, d);
	detect_replay(f->probe, feed_smtp, f);
	probe_release(f);
}

/* Bytes of a flow still probing: copied into the probe (bounded by its caps, detect.h) until
 * it decides; the part of this delivery it did not copy goes to the new session directly. */
static void probe_data(struct flow *f, int dir, const uint8_t *data, size_t len,
                       uint64_t peer_acked, uint64_t ts_us)
{
	struct flow_table *t = f->table;
	if (!f->probe && t->n_probes >= t->cfg.max_probes) {
		t->stats.probes_refused++; /* bounded memory first: this one is not probed */
		entomb(f);
		return;
	}
	if (!f->probe) {
		if (!(f->probe = malloc(sizeof(*f->probe))))
			abort();
		t->n_probes++;
		detect_init(f->probe);
	}
	size_t kept;
	enum detect_verdict v = detect_feed(f->probe, dir, data, len, peer_acked, ts_us, &kept);
	if (v == DETECT_NOT_SMTP)
		entomb(f);
	if (v != DETECT_SMTP)
		return;
	promote(f);
	if (kept < len)
		feed_smtp(f, dir, data + kept, len - kept, peer_acked, ts_us);
}

static void sink_data(void *ctx, int dir, const uint8_t *data, size_t len, uint64_t peer_acked,
                      uint64_t ts_us)
{
	struct flow *f = ctx;
	if (is_session(f))
		feed_smtp(f, dir, data, len, peer_acked, ts_us);
	else if (!f->tomb)
		probe_data(f, dir, data, len, peer_acked, ts_us);
}

/* A gap or a close before the probe has decided ends the probe: not SMTP. */
static void sink_gap(void *ctx, int dir, uint64_t len, uint64_t ts_us)
{
	struct flow *f = ctx;
	if (is_session(f))
		smtp_gap(flow_smtp(f), (enum smtp_dir)dir, len, ts_us);
	else if (!f->tomb)
		entomb(f);
}

static void sink_close(void *ctx, int dir, bool rst, uint64_t ts_us)
{
	struct flow *f = ctx;
	if (is_session(f))
		smtp_close(flow_smtp(f), (enum smtp_dir)dir, rst,
		           smtp_acked(f, dir, reasm_peer_acked(&f->reasm, dir)), ts_us);
	else if (!f->tomb)
		entomb(f);
}

static void sink_overlap(void *ctx, int dir)
{
	struct flow *f = ctx;
	(void)dir;
	if (is_session(f))
		smtp_note(flow_smtp(f), SMTP_AN_OVERLAP_MISMATCH);
}

struct flow_table *flow_table_new(const struct flow_config *cfg, flow_end_fn end, void *ctx)
{
	struct flow_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->cfg = *cfg;
	if (cfg->hash_key[0] || cfg->hash_key[1])
		memcpy(t->key, cfg->hash_key, sizeof(t->key));
	else
		draw_key(t->key);
	t->end = end;
	t->end_ctx = ctx;
	t->n_buckets = t->max_buckets = 1024;
	while (t->max_buckets < cfg->max_flows && t->max_buckets < (1u << 24))
		t->max_buckets <<= 1;
	t->buckets = calloc(t->n_buckets, sizeof(*t->buckets));
	t->pool = smtp_pool_new();
	if (!t->buckets || !t->pool) {
		free(t->buckets);
		smtp_pool_free(t->pool);
		free(t);
		return NULL;
	}
	t->reasm_lim.max_held_per_flow = cfg->max_held_per_flow;
	t->reasm_lim.max_held_total = cfg->max_held_total;
	t->stats.checksum_on = cfg->checksum == FLOW_CSUM_YES;
	t->pre.done = cfg->checksum != FLOW_CSUM_AUTO;
	if (!t->pre.done) {
		t->pre.segs = malloc(PREROLL_SEGS * sizeof(*t->pre.segs));
		t->pre.sources = malloc(PREROLL_SEGS * sizeof(*t->pre.sources));
		t->pre.bytes = malloc(PREROLL_BYTES);
		if (!t->pre.segs || !t->pre.sources || !t->pre.bytes) {
			free(t->pre.segs);
			free(t->pre.sources);
			free(t->pre.bytes);
			free(t->buckets);
			smtp_pool_free(t->pool);
			free(t);
			return NULL;
		}
	}
	return t;
}

void flow_table_set_source(struct flow_table *t, const char *pcap_filename)
{
	t->source = pcap_filename;
}

static bool is_server_port(const struct flow_table *t, uint16_t port)
{
	for (size_t i = 0; i < t->cfg.n_server_ports; i++)
		if (t->cfg.server_ports[i] == port)
			return true;
	return false;
}

/* Which end of seg is the client: 0 its source, 1 its destination, -1 not SMTP. Without a
 * SYN on a flow of other ports (probed), the higher port is taken for the client's until the
 * first data says otherwise (settle_roles). */
static int client_end(const struct flow_table *t, const struct tcp_seg *seg)
{
	bool syn = (seg->flags & TCP_FLAG_SYN) != 0, ack = (seg->flags & TCP_FLAG_ACK) != 0;
	bool dport_srv = is_server_port(t, seg->dport), sport_srv = is_server_port(t, seg->sport);
	if (!dport_srv && !sport_srv && !t->cfg.detect)
		return -1;
	if (syn && !ack)
		return 0;
	if (syn && ack)
		return 1;
	if (!dport_srv && !sport_srv)
		return seg->sport > seg->dport ? 0 : 1;
	return dport_srv ? 0 : 1;
}

/* Payload that starts like a reply line ("250 ", "220-", "354\r"): its sender is the server. */
static bool looks_like_reply(const struct tcp_seg *seg)
{
	const uint8_t *p = seg->payload;
	if (seg->payload_len < 4)
		return false;
	for (int i = 0; i < 3; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return p[0] >= '2' && p[0] <= '5' && (p[3] == ' ' || p[3] == '-' || p[3] == '\r');
}

/* A flow picked up mid-stream between two SMTP ports: --ports cannot say which end is the
 * server, so the first data decides: the side that sends reply lines is the server. Only
 * before any byte was delivered, when swapping the two ends changes nothing else. */
static int settle_roles(struct flow *f, const struct tcp_seg *seg, int dir)
{
	if (!f->roles_guessed || seg->payload_len == 0)
		return dir;
	f->roles_guessed = false;
	if (looks_like_reply(seg) == (dir == SMTP_TO_CLIENT))
		return dir;
	struct flow_info *i = &f->info;
	struct decode_addr a = i->client;
	uint16_t port = i->client_port;
	i->client = i->server;
	i->client_port = i->server_port;
	i->server = a;
	i->server_port = port;
	uint64_t n = i->pkts[0];
	i->pkts[0] = i->pkts[1];
	i->pkts[1] = n;
	struct reasm_half h = f->reasm.half[0];
	f->reasm.half[0] = f->reasm.half[1];
	f->reasm.half[1] = h;
	return 1 - dir;
}

static uint64_t make_flow_id(const struct flow *f)
{
	uint64_t h =
	    tuple_hash(&f->info.client, f->info.client_port, &f->info.server, f->info.server_port);
	/* the tuple and the first packet's time, nothing of this run's order: N --shard runs
	 * give each connection the flow_id a single run gives it */
	h = hash_bytes(h, &f->info.first_ts_us, sizeof(f->info.first_ts_us));
	return h & ((1ULL << 51) - 1);
}

static void flow_free(struct flow_table *t, struct flow *f)
{
	if (t->last == f)
		t->last = NULL;
	reasm_release(&f->reasm);
	smtp_session_free_to(t->pool, f->smtp);
	probe_release(f);
	if (t->n_spare < FLOW_SPARE_MAX) {
		f->hnext = t->spare;
		t->spare = f;
		t->n_spare++;
	} else {
		free(f);
	}
	t->n_flows--;
	t->stats.flows_active = t->n_flows;
}

static void unhash(struct flow_table *t, struct flow *f)
{
	struct flow **pp = &t->buckets[f->hash & (t->n_buckets - 1)];
	t->last = NULL;
	while (*pp && *pp != f)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = f->hnext;
}

const char *flow_kind_name(enum flow_kind k)
{
	static const char *const names[FLOW_KIND_COUNT] = {
	    [FLOW_KIND_SMTP] = "smtp",
	    [FLOW_KIND_REFUSED] = "refused",
	    [FLOW_KIND_NO_HANDSHAKE] = "no_handshake",
	    [FLOW_KIND_NO_SMTP] = "no_smtp",
	};
	return (unsigned)k < FLOW_KIND_COUNT ? names[k] : "unknown";
}

/* A flow that carried no byte is no SMTP session: a SYN refused, unanswered, or a connection
 * (or its half) without data; nor is one whose bytes the probe found not SMTP. */
static enum flow_kind flow_kind_of(const struct flow *f)
{
	if (f->info.bytes[0] + f->info.bytes[1] > 0)
		return is_session(f) ? FLOW_KIND_SMTP : FLOW_KIND_NO_SMTP;
	if (f->syn_seen && !f->synack_seen)
		return f->server_rst ? FLOW_KIND_REFUSED : FLOW_KIND_NO_HANDSHAKE;
	return FLOW_KIND_NO_SMTP;
}

/* Writes the flow's record and frees it: the one way a flow ends. */
static void flow_end(struct flow_table *t, struct flow *f, enum smtp_end_reason why)
{
	list_remove(list_of(t, f), f);
	f->ending = true;
	unhash(t, f);
	if (!f->tomb)
		reasm_flush(&f->reasm, t->now_us);
	if (!is_session(f) && !f->tomb) /* still probing: no more bytes will come */
		entomb(f);
	if (is_session(f)) {
		smtp_set_directions(flow_smtp(f), f->info.pkts[SMTP_TO_SERVER] > 0,
		                    f->info.pkts[SMTP_TO_CLIENT] > 0);
		/* mid-stream, what either side sent before the capture began is not known */
		bool count_unsure[2] = {
		    f->midstream || reasm_count_unsure(&f->reasm, SMTP_TO_SERVER),
		    f->midstream || reasm_count_unsure(&f->reasm, SMTP_TO_CLIENT)};
		smtp_set_tcp_unsure(f->smtp, !f->tomb && reasm_close_unsure(&f->reasm),
		                    count_unsure);
		smtp_finish(f->smtp, why, t->now_us);
	}
	f->info.kind = flow_kind_of(f);
	t->stats.flows_kind[f->info.kind]++;
	t->ending = f;
	t->end(t->end_ctx, &f->info, f->smtp ? smtp_get_record(f->smtp) : NULL);
	t->ending = NULL;
	if (t->kept) /* the callback's now, given back by flow_table_release_session */
		f->smtp = NULL;
	t->kept = false;
	flow_free(t, f);
}

struct smtp_session *flow_table_keep_session(struct flow_table *t)
{
	if (!t->ending || !t->ending->smtp)
		return NULL;
	t->kept = true;
	return t->ending->smtp;
}

void flow_table_release_session(struct flow_table *t, struct smtp_session *s)
{
	smtp_session_free_to(t->pool, s);
}

/* Doubles the buckets once there are more flows than buckets. A table sized for max_flows
 * from the start (512 KiB at the default) is read at random for every packet and pushed out
 * of the cache by the packets' bytes; one sized for the flows open stays in it. Bucket i's
 * flows go to i and i + n, each in the order it had, so a lookup finds what it found before.
 * When memory is short the chains just grow longer. */
static void grow_buckets(struct flow_table *t)
{
	size_t n = t->n_buckets;
	if (t->n_flows <= n || n >= t->max_buckets)
		return;
	struct flow **nb = calloc(2 * n, sizeof(*nb));
	if (!nb)
		return;
	for (size_t i = 0; i < n; i++) {
		struct flow **tail[2] = {&nb[i], &nb[i + n]};
		for (struct flow *f = t->buckets[i], *next; f; f = next) {
			next = f->hnext;
			int up = (f->hash & (2 * n - 1)) != i;
			f->hnext = NULL;
			*tail[up] = f;
			tail[up] = &f->hnext;
		}
	}
	free(t->buckets);
	t->buckets = nb;
	t->n_buckets = 2 * n;
}

/* A zeroed flow, from the ended ones kept when there is one. */
static struct flow *flow_memory(struct flow_table *t)
{
	struct flow *f = t->spare;
	if (!f) {
		if (!(f = calloc(1, sizeof(*f))))
			abort(); /* out of memory is fatal (DESIGN.md section 3) */
		return f;
	}
	t->spare = f->hnext;
	t->n_spare--;
	memset(f, 0, sizeof(*f));
	return f;
}

/* hash: seg_hash(t, seg), as flow_lookup gave it. */
static struct flow *flow_new(struct flow_table *t, const struct tcp_seg *seg, int cend,
                             uint64_t hash)
{
	struct flow *victim = t->tombs.head ? t->tombs.head : t->lru.head;
	if (t->n_flows >= t->cfg.max_flows && victim) {
		t->stats.flows_evicted++;
		if (is_session(victim))
			smtp_note(flow_smtp(victim), SMTP_AN_LIMIT_REACHED);
		flow_end(t, victim, SMTP_END_EVICTED);
	}
	bool by_port = is_server_port(t, seg->sport) || is_server_port(t, seg->dport);
	struct flow *f = flow_memory(t);
	f->lazy = by_port; /* its session is made when first needed (flow_smtp) */
	f->table = t;
	t->stats.flows_probed += !by_port;
	struct flow_info *i = &f->info;
	i->detected = by_port ? DETECT_HOW_PORT : DETECT_HOW_NONE;
	i->client = cend == 0 ? seg->src : seg->dst;
	i->server = cend == 0 ? seg->dst : seg->src;
	i->client_port = cend == 0 ? seg->sport : seg->dport;
	i->server_port = cend == 0 ? seg->dport : seg->sport;
	i->first_ts_us = i->last_ts_us = seg->ts_us;
	for (size_t k = 0; k < t->cfg.n_tls_ports; k++)
		if (t->cfg.tls_ports[k] == i->server_port)
			f->tls_port = true; /* --tls-ports: told to the session (flow_smtp) */
	i->pcap_filename = t->source;
	f->seen_clock_us = t->now_us;
	f->serial = t->next_serial++;
	i->flow_id = make_flow_id(f);
	f->sink = (struct reasm_sink){sink_data, sink_gap, sink_close, sink_overlap, f};
	reasm_init(&f->reasm, &f->sink, &t->reasm_lim, &t->reasm_stats);
	if (!(seg->flags & TCP_FLAG_SYN)) {
		f->midstream = true; /* told to the session (flow_smtp) */
		f->roles_guessed = is_server_port(t, seg->sport) == is_server_port(t, seg->dport);
	}
	f->hash = hash;
	struct flow **b = &t->buckets[hash & (t->n_buckets - 1)];
	f->hnext = *b;
	*b = f;
	t->last = NULL; /* f now comes first in its bucket: it may shadow the flow held */
	list_append(&t->lru, f);
	t->n_flows++;
	t->stats.flows_created++;
	t->stats.flows_active = t->n_flows;
	if (t->n_flows > t->stats.flows_active_max)
		t->stats.flows_active_max = t->n_flows;
	grow_buckets(t);
	return f;
}

/* The flow of seg and seg's direction in it, or NULL; *hash gets seg_hash(t, seg) either
 * way (for flow_new). Packets come in runs of one connection (a segment and its ACK, a window
 * of data), so the flow found last is tried before the keyed hash is computed: its own hash
 * is seg's. A chain's flows are told apart by their hashes before their tuples are read. */
static struct flow *flow_lookup(struct flow_table *t, const struct tcp_seg *seg, int *dir,
                                uint64_t *hash)
{
	if (t->last && (*dir = seg_dir(t->last, seg)) >= 0) {
		*hash = t->last->hash;
		return t->last;
	}
	uint64_t h = *hash = seg_hash(t, seg);
	for (struct flow *f = t->buckets[h & (t->n_buckets - 1)]; f; f = f->hnext) {
		if (f->hash != h)
			continue;
		*dir = seg_dir(f, seg);
		if (*dir >= 0)
			return t->last = f;
	}
	return NULL;
}

/* Ends flows whose time is up on the flow clock: closed ones after the linger, open ones after
 * the idle timeout. The lists are in clock order, so only their heads need looking at. */
static void expire(struct flow_table *t)
{
	while (t->closing.head && t->closing.head->closed_ts_us + FLOW_CLOSE_LINGER_US <= t->now_us)
		flow_end(t, t->closing.head, SMTP_END_CLOSED);
	struct flow_list *open[] = {&t->lru, &t->tombs};
	for (size_t i = 0; i < 2; i++)
		while (open[i]->head &&
		       open[i]->head->seen_clock_us + t->cfg.idle_timeout_us <= t->now_us) {
			t->stats.flows_timed_out++;
			flow_end(t, open[i]->head, SMTP_END_IDLE_TIMEOUT);
		}
}

static void mark_closed_if_done(struct flow_table *t, struct flow *f, bool rst)
{
	const struct reasm_half *h = f->reasm.half;
	bool both = f->tomb ? f->fins == 3 : h[0].closed && h[1].closed;
	if (f->closed || !(rst || both))
		return;
	list_remove(list_of(t, f), f);
	f->closed = true;
	f->closed_ts_us = t->now_us;
	list_append(&t->closing, f);
}

/* A client SYN on a known tuple starts a new connection when the old one has closed, or
 * when its sequence number is not the old SYN's (a retransmitted SYN repeats it). */
static bool is_new_connection(const struct flow *f, const struct tcp_seg *seg, int dir)
{
	if ((seg->flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) != TCP_FLAG_SYN || dir != SMTP_TO_SERVER)
		return false;
	const struct reasm_half *h = &f->reasm.half[SMTP_TO_SERVER];
	return f->closed || !h->started || h->base != seg->seq + 1;
}

/* Whether seg's checksum makes it no segment at all (the receiver dropped it). */
static bool checksum_drops(const struct flow_table *t, const struct tcp_seg *seg)
{
	return t->stats.checksum_on && seg->csum == TCP_CSUM_BAD;
}

/* A segment with a bad checksum while checking is on: counted, and noted on its session. */
static void drop_bad_checksum(struct flow_table *t, const struct tcp_seg *seg)
{
	int dir;
	uint64_t hash;
	struct flow *f = flow_lookup(t, seg, &dir, &hash);
	t->stats.bad_checksums++;
	t->stats.segments_ignored++;
	if (f && is_session(f))
		smtp_note(flow_smtp(f), SMTP_AN_BAD_CHECKSUM);
}

/* What the handshake showed, for the flow's kind. */
static void note_handshake(struct flow *f, const struct tcp_seg *seg, int dir)
{
	uint8_t syn_ack = seg->flags & (TCP_FLAG_SYN | TCP_FLAG_ACK);
	if (dir == SMTP_TO_SERVER && syn_ack == TCP_FLAG_SYN)
		f->syn_seen = true;
	if (dir == SMTP_TO_CLIENT && syn_ack == (TCP_FLAG_SYN | TCP_FLAG_ACK))
		f->synack_seen = true;
	if (dir == SMTP_TO_CLIENT && (seg->flags & TCP_FLAG_RST))
		f->server_rst = true;
}

/* Moves the flow clock (never back) and expires what is due. */
static void clock_to(struct flow_table *t, uint64_t now_us)
{
	if (now_us <= t->now_us)
		return; /* the clock never runs backwards: an older packet expires nothing */
	t->now_us = now_us;
	expire(t);
}

static void feed_now(struct flow_table *t, const struct tcp_seg *seg);

/* AUTO's choice on the segments held (flow.h), then those segments fed in order. */
static void preroll_release(struct flow_table *t)
{
	struct preroll *p = &t->pre;
	struct flow_stats *s = &t->stats;
	if (p->done)
		return;
	p->done = true;
	s->checksum_on =
	    s->csum_sampled > 0 && s->csum_sampled_bad * FLOW_CSUM_BAD_SHARE <= s->csum_sampled;
	const char *source = t->source;
	for (size_t i = 0; i < p->n; i++) {
		t->source = p->sources[i]; /* a flow records the input it started in */
		feed_now(t, &p->segs[i]);
	}
	t->source = source;
	free(p->segs);
	free(p->sources);
	free(p->bytes);
	p->segs = NULL;
	p->sources = NULL;
	p->bytes = NULL;
	p->n = 0;
}

/* Holds a copy of seg while AUTO has not chosen; returns false when seg is to be fed now. */
static bool preroll_hold(struct flow_table *t, const struct tcp_seg *seg)
{
	struct preroll *p = &t->pre;
	struct flow_stats *s = &t->stats;
	if (p->done)
		return false;
	if (p->n == PREROLL_SEGS || seg->payload_len > PREROLL_BYTES - p->used) {
		preroll_release(t); /* the choice on what came so far */
		return false;
	}
	p->sources[p->n] = t->source;
	struct tcp_seg *c = &p->segs[p->n++];
	*c = *seg;
	c->payload = p->bytes + p->used;
	if (seg->payload_len)
		memcpy(p->bytes + p->used, seg->payload, seg->payload_len);
	p->used += seg->payload_len;
	if (seg->csum != TCP_CSUM_UNCHECKED) {
		s->csum_sampled++;
		s->csum_sampled_bad += seg->csum == TCP_CSUM_BAD;
		if (s->csum_sampled == FLOW_CSUM_SAMPLE)
			preroll_release(t);
	}
	return true;
}

void flow_table_advance(struct flow_table *t, uint64_t now_us)
{
	if (!t->pre.done && t->pre.n && now_us >= t->pre.segs[0].ts_us + PREROLL_WAIT_US)
		preroll_release(t);
	clock_to(t, now_us);
}

bool flow_table_wants_checksum(const struct flow_table *t)
{
	return !t->pre.done || t->stats.checksum_on;
}

uint64_t flow_table_now(const struct flow_table *t)
{
	return t->now_us;
}

void flow_table_feed(struct flow_table *t, const struct tcp_seg *seg)
{
	if (!preroll_hold(t, seg))
		feed_now(t, seg);
}

static void feed_now(struct flow_table *t, const struct tcp_seg *seg)
{
	t->stats.segments++;
	clock_to(t, seg->ts_us);
	if (checksum_drops(t, seg)) {
		drop_bad_checksum(t, seg);
		return;
	}
	int dir = -1;
	uint64_t hash;
	struct flow *f = flow_lookup(t, seg, &dir, &hash);
	if (f && is_new_connection(f, seg, dir)) { /* port reuse: a new connection, old tuple */
		flow_end(t, f, f->closed ? SMTP_END_CLOSED : SMTP_END_REUSED);
		f = NULL;
	}
	if (!f) {
		int cend = client_end(t, seg);
		if (cend < 0 || (seg->flags & TCP_FLAG_RST)) {
			t->stats.segments_ignored++;
			return;
		}
		f = flow_new(t, seg, cend, hash);
		dir = cend == 0 ? SMTP_TO_SERVER : SMTP_TO_CLIENT;
	}
	dir = settle_roles(f, seg, dir);
	/* a packet the snap length cut still sent its whole payload */
	uint32_t wire =
	    seg->payload_wire_len > seg->payload_len ? seg->payload_wire_len : seg->payload_len;
	f->info.pkts[dir]++;
	f->info.bytes[dir] += wire;
	f->info.cut[dir] += wire - seg->payload_len;
	note_handshake(f, seg, dir);
	f->info.last_ts_us = seg->ts_us > f->info.last_ts_us ? seg->ts_us : f->info.last_ts_us;
	f->seen_clock_us = t->now_us;
	if (!f->closed) {
		list_remove(list_of(t, f), f);
		list_append(list_of(t, f), f);
	}
	if (!f->tomb) /* a tombstone only counts */
		reasm_feed_wire(&f->reasm, dir, seg->seq, seg->ack, seg->flags, seg->payload,
		                seg->payload_len, wire, seg->ts_us);
	if (f->tomb) { /* decided now or before: nothing held; its FINs close it */
		f->fins |= (uint8_t)((seg->flags & TCP_FLAG_FIN) ? 1u << dir : 0);
		reasm_release(&f->reasm);
	}
	/* after a reset the flow lingers: the other side's last segments may still come */
	mark_closed_if_done(t, f, (seg->flags & TCP_FLAG_RST) != 0);
}

static int by_serial(const void *a, const void *b)
{
	const struct flow *fa = *(struct flow *const *)a, *fb = *(struct flow *const *)b;
	return fa->serial < fb->serial ? -1 : fa->serial > fb->serial;
}

void flow_table_finish(struct flow_table *t)
{
	preroll_release(t);
	while (t->closing.head)
		flow_end(t, t->closing.head, SMTP_END_CLOSED);
	size_t n = t->n_flows, k = 0;
	struct flow **open = n ? malloc(n * sizeof(*open)) : NULL;
	if (n && !open)
		abort();
	for (struct flow *f = t->lru.head; f; f = f->next)
		open[k++] = f;
	for (struct flow *f = t->tombs.head; f; f = f->next)
		open[k++] = f;
	if (k > 1)
		qsort(open, k, sizeof(*open), by_serial);
	for (size_t i = 0; i < k; i++)
		flow_end(t, open[i], SMTP_END_CAPTURE_ENDED);
	free(open);
}

const struct flow_stats *flow_table_stats(struct flow_table *t)
{
	struct flow_stats *s = &t->stats;
	s->held_bytes_max = t->reasm_stats.held_bytes_max;
	s->retransmitted = t->reasm_stats.retransmitted;
	s->overlap_mismatches = t->reasm_stats.overlap_mismatches;
	s->gaps = t->reasm_stats.gaps;
	s->gap_bytes = t->reasm_stats.gap_bytes;
	return s;
}

void flow_table_free(struct flow_table *t)
{
	if (!t)
		return;
	struct flow_list *lists[] = {&t->lru, &t->tombs, &t->closing};
	for (size_t i = 0; i < 3; i++) {
		while (lists[i]->head) {
			struct flow *f = lists[i]->head;
			list_remove(lists[i], f);
			flow_free(t, f);
		}
	}
	free(t->pre.segs);
	free(t->pre.sources);
	free(t->pre.bytes);
	free(t->buckets);
	while (t->spare) {
		struct flow *f = t->spare;
		t->spare = f->hnext;
		free(f);
	}
	smtp_pool_free(t->pool);
	free(t);
}
