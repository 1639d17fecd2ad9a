/* emit_int: the record builder's own helpers, shared by its files (emit.c: the session and
 * stats records; emit_records.c: transaction and --eve-strict records, the size bound,
 * redaction). Not for other stages: only the record builder includes jansson. */
#ifndef SMTPTRACE_EMIT_INT_H
#define SMTPTRACE_EMIT_INT_H

#include <jansson.h>

#include "emit.h"

/* Wire bytes as a JSON string, escaped to valid UTF-8 (docs/record.md). New reference. */
json_t *wire_json(const char *data, size_t len);
json_t *bytes_json(const struct smtp_bytes *b);

/* Between begin and end, jansson's allocations come from one reused block, given back whole
 * when the record's tree is freed (emit_arena.c); outside, from malloc. Every public function
 * that builds a record runs between them. */
void emit_arena_begin(void);
void emit_arena_end(void);

/* Set a member of o; each returns jansson's status (0, or -1 on failure). */
int set_str(json_t *o, const char *key, const char *s);
int set_uint(json_t *o, const char *key, uint64_t v);
int set_bytes(json_t *o, const char *key, const struct smtp_bytes *b); /* absent: left out */
int set_ip(json_t *o, const char *key, const struct decode_addr *a);
int set_filename(json_t *o, const char *name);

/* Takes o; returns it, or NULL (o freed) when rc says a member failed. */
json_t *done(json_t *o, int rc);

/* Suricata's timestamp: "2026-11-28T14:07:11.123456+0000", as gmtime_r and "%04d" would
 * write it for any us (emit_fmt.c); cut to len - 1 bytes and a NUL. */
void format_ts(uint64_t us, char *out, size_t len);

/* b as a dotted quad, as inet_ntop writes it, with a NUL; returns its length (emit_fmt.c). */
size_t emit_format_ipv4(const uint8_t b[4], char out[16]);
/* The same for IPv6, as glibc's inet_ntop writes it (emit_fmt.c). */
size_t emit_format_ipv6(const uint8_t b[16], char out[46]);

/* Set a member of o whose key is a literal and whose value s is ASCII the program made (a
 * name, a timestamp, an address): neither is checked for UTF-8 again. */
int set_name(json_t *o, const char *key, const char *s);

/* A reply: code, enhanced, text. New reference. */
json_t *reply_json(const struct smtp_reply *r);

/* A transaction's recipients, and the whole transaction object of smtp_session.transactions.
 * New references. */
json_t *rcpt_list(const struct smtp_tx *tx);
json_t *tx_json(const struct smtp_tx *tx, const struct cls_tx_verdict *tv);

/* The session's tls object (emit_tls.c). New reference. */
struct tls_state;
json_t *tls_json(const struct tls_state *t);

/* The EVE envelope of a flow's record (timestamp: the flow's first packet). New reference. */
json_t *emit_envelope(const struct flow_info *info, const char *event_type);

/* Takes root: redacts and bounds it as the options say, and writes it as one line (or hands it
 * to the writer thread, which does). 0, or -1 when root is NULL or a write failed (with the
 * writer thread: this record's or an earlier one's). */
int emit_line(struct emit *e, json_t *root);

/* Takes root (NULL: -1): redacted, dumped, bounded and written to e's sink, by the thread that
 * writes records. 0, or -1 on failure. */
int emit_write_tree(struct emit *e, json_t *root);

/* ---- the writer thread (emit_writer.c) ---- */

/* Records handed over and not yet written, at most; each has its own arena block. */
enum { EMIT_QUEUE_DEPTH = 64 }; /* 16 took four times the thread switches, 14,000 on the bench */

struct emit_writer;

/* Starts the one writer thread for e (borrowed; e's sink, buffer and options are the writer's
 * from now on); eager: woken for each record (per-record output), else a batch at a time.
 * Returns it, or NULL when it could not start or one runs already. */
struct emit_writer *emit_writer_start(struct emit *e, bool eager);

/* The arena block the next record is built in: waits while the queue is full. 0 without a
 * writer thread. */
unsigned emit_writer_claim(void);

/* A session record to build on the writer thread (emit_session_later): what its tree is made
 * of, owned or kept unchanged until release is called. */
struct emit_job {
	struct flow_info info;
	struct cls_verdict v;
	const struct smtp_record *rec;
	void *owner;
	emit_release_fn release;
	void *release_ctx;
};

/* Takes j (copied), to be built in the block emit_writer_claim() gave, and queues it. 0, or
 * -1 (j released at once) when an earlier record failed. */
int emit_writer_push_job(struct emit_writer *w, const struct emit_job *j);

/* The tree of a job's session record, built in arena block (the writer thread). */
json_t *emit_job_tree(const struct emit_job *j, unsigned block);

/* Builds in the given arena block until emit_arena_end (the writer thread, for a job). */
void emit_arena_use(unsigned block);

/* Takes root, built in the block emit_writer_claim() gave, and queues it. 0, or -1 (root freed)
 * when an earlier record failed: nothing more is written then. */
int emit_writer_push(struct emit_writer *w, json_t *root);

/* Waits until every record queued is written; 0, or -1 when one failed. */
int emit_writer_drain(struct emit_writer *w);
bool emit_writer_failed(struct emit_writer *w);

/* Writes everything queued, ends the thread and frees w (NULL: nothing); 0, or -1 when a record
 * failed. */
int emit_writer_stop(struct emit_writer *w);

/* Fits root into max bytes when dumped (lists cut, with counts of what was left out), and
 * returns root, or a smaller record that replaces it (root freed then). */
json_t *emit_bound(json_t *root, size_t max);

/* Replaces mailbox local parts and HELO names by a keyed hash (--redact). */
void emit_redact(json_t *root, const uint8_t *key, size_t key_len);

#endif
