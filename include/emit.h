/* emit: one session record to one JSON line (JSON Lines, EVE-compatible envelope);
 * the only user of jansson. Community ID v1 (corelight/community-id-spec). */
#ifndef SMTPTRACE_EMIT_H
#define SMTPTRACE_EMIT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "classify.h"
#include "decode.h"
#include "flow.h"
#include "smtp.h"

struct emit;

/* Opens the output: path NULL or "-" is stdout. Returns a new emitter (free with
 * emit_close), or NULL with one line in err. */
struct emit *emit_open(const char *path, char *err, size_t errlen);

/* Writes one record. Returns 0, or -1 on a write error (see emit_error). */
int emit_session(struct emit *e, const struct flow_info *info, const struct smtp_record *rec,
                 const struct cls_verdict *v);

/* Flushes and closes; returns 0, or -1 when a write failed. NULL is ignored. */
int emit_close(struct emit *e);

const char *emit_error(const struct emit *e);

/* Community ID v1 of a TCP flow (proto 6) with seed, base64 form: "1:..." into out
 * (at least 64 bytes). The tuple's order does not matter. */
void emit_community_id(const struct decode_addr *a, uint16_t aport, const struct decode_addr *b,
                       uint16_t bport, uint16_t seed, char *out, size_t outlen);

/* Escapes wire bytes to valid UTF-8: valid UTF-8 sequences kept, every other byte
 * written as \xHH (four characters). Returns the length written (NUL-terminated,
 * truncated to outlen-1). */
size_t emit_escape_utf8(const char *in, size_t len, char *out, size_t outlen);

#endif
