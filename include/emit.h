/* emit: the record builder: sessions and stats to JSON lines (JSON Lines, EVE-compatible
 * envelope), handed whole to a sink; the only user of jansson. Community ID v1
 * (corelight/community-id-spec). */
#ifndef SMTPTRACE_EMIT_H
#define SMTPTRACE_EMIT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "classify.h"
#include "decode.h"
#include "flow.h"
#include "sink.h"
#include "smtp.h"
#include "stats.h"

/* json_dumpb's flags for every record (jansson.h's JSON_*; the benchmark's dump floor,
 * tests/tools/dumpfloor.c, uses the same). Reals with 15 significant digits print a
 * microsecond-derived value without binary noise. */
#define EMIT_DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))

struct emit;

enum { EMIT_REDACT_KEY_MAX = 64 };

struct emit_options {
	size_t max_record; /* --max-record: the longest line written, in bytes; 0: no bound */
	bool redact;       /* --redact: mailbox local parts and HELO names by keyed hash */
	uint8_t redact_key[EMIT_REDACT_KEY_MAX];
	size_t redact_key_len;
};

void emit_options_default(struct emit_options *o); /* max_record 16384, no redaction */

/* Returns a new builder that writes to out (borrowed: it must outlive the builder), or NULL
 * on out of memory. opt is copied; NULL: the defaults. Free with emit_free. */
struct emit *emit_new(struct sink *out, const struct emit_options *opt);
void emit_free(struct emit *e);

/* Starts a writer thread: from now on the records built are handed to it through a bounded
 * queue (the caller waits while it is full), and it dumps and writes them, in the order they
 * were built, so the output is the same byte for byte. The sink is the writer's then: reach it
 * only through emit_flush, emit_reopen, or after emit_sync. emit_free writes everything queued
 * and ends the thread. Returns true, or false when it could not start (records are then
 * written by the caller, as without it). eager: each record is written as soon as it is
 * handed over (live, pipes, -U: whatever the sink, a Kafka one too); else a batch at a time. */
bool emit_start_writer(struct emit *e, bool eager);

/* Waits until every record handed to the writer thread is written (the sink is then idle).
 * Returns 0, or -1 when one of them failed (the sink's error says which). 0 without a writer
 * thread: each emit_* call reports its own failure. */
int emit_sync(struct emit *e);

/* Whether a record handed to the writer thread failed (false without one). These four take
 * NULL (an output not open yet): 0, false. */
bool emit_failed(struct emit *e);

/* emit_sync, then sink_flush or sink_reopen of the sink. 0 or -1 as those. */
int emit_flush(struct emit *e);
int emit_reopen(struct emit *e);

/* Writes one session record. Returns 0, or -1 when it could not be built or written (the
 * sink's error says which). */
int emit_session(struct emit *e, const struct flow_info *info, const struct smtp_record *rec,
                 const struct cls_verdict *v);

/* Gives back what a session record built later held: the verdict (for classify_free) and the
 * owner of its record (the session). Called on the thread that hands records over. */
typedef void (*emit_release_fn)(void *ctx, void *owner, struct cls_verdict *v);

/* Whether emit_session_later builds records later: a writer thread runs. */
bool emit_builds_later(const struct emit *e);

/* As emit_session, but the record's tree is built by the writer thread, in its turn, so the
 * output is the same. Takes *v (the caller may read it until its end callback returns, and no
 * longer frees it) and keeps info's copy; rec must stay unchanged until release(ctx, owner, v)
 * gives everything back, which happens on this thread once the record is written (or at once
 * when -1 is returned), at the latest in emit_free. */
int emit_session_later(struct emit *e, const struct flow_info *info, const struct smtp_record *rec,
                       struct cls_verdict *v, void *owner, emit_release_fn release, void *ctx);

/* Writes one smtp_transaction record per transaction of the session (none without one):
 * flat, joined to the session by flow_id and community_id. Returns 0 or -1. */
int emit_transactions(struct emit *e, const struct flow_info *info, const struct smtp_record *rec,
                      const struct cls_verdict *v);

/* Writes one flow record for a connection that never carried SMTP (info->kind: refused,
 * no_handshake, no_smtp). Returns 0 or -1. */
int emit_flow(struct emit *e, const struct flow_info *info);

/* Writes one smtp_command record per command the session logged (smtp_limits.log_commands):
 * verb, arguments (AUTH: its mechanism only), pipelined, the reply, its latency. */
int emit_commands(struct emit *e, const struct flow_info *info, const struct smtp_record *rec);

/* --eve-strict: one event_type "smtp" record per transaction (one for a session without any)
 * in Suricata's own shape, valid against its EVE schema. Returns 0 or -1. */
int emit_eve_smtp(struct emit *e, const struct flow_info *info, const struct smtp_record *rec,
                  const struct cls_verdict *v);

/* Writes one stats record (event_type "stats") stamped now_us. Returns 0 or -1. */
int emit_stats(struct emit *e, const struct stats *s, const struct flow_stats *fs, uint64_t now_us);

/* A builder over a file sink of its own that overwrites path (NULL or "-": stdout), for
 * tools and tests. Returns NULL with one line in err. emit_close flushes, closes the sink
 * and frees; it returns 0, or -1 when a write failed. NULL is ignored. */
struct emit *emit_open(const char *path, char *err, size_t errlen);
int emit_close(struct emit *e);

/* The output's first error ("out.json: No space left on device"), "" when none; with NULL,
 * the error of the last emit_close(). Borrowed. */
const char *emit_error(const struct emit *e);

/* jansson's version ("jansson 2.14"). */
const char *emit_library_version(void);

/* Community ID v1 of a TCP flow (proto 6) with seed, base64 form: "1:..." into out
 * (at least 64 bytes). The tuple's order does not matter. */
void emit_community_id(const struct decode_addr *a, uint16_t aport, const struct decode_addr *b,
                       uint16_t bport, uint16_t seed, char *out, size_t outlen);

/* Escapes wire bytes to valid UTF-8: valid UTF-8 sequences kept, every other byte
 * written as \xHH (four characters). Returns the length written (NUL-terminated,
 * truncated to outlen-1). */
size_t emit_escape_utf8(const char *in, size_t len, char *out, size_t outlen);

#endif
