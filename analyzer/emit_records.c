/* emit_records: the flat smtp_transaction records, Suricata's own "smtp" shape for
 * --eve-strict, the size bound of every record (--max-record), and --redact's keyed hashes
 * (HMAC-SHA1, RFC 2104). Part of the record builder, the only user of jansson. */
#include <nettle/hmac.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "emit_int.h"

#define DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))

enum {
	BOUND_ROUNDS = 256,     /* cuts tried before the record is replaced by a minimal one */
	BOUND_MIN_STRING = 128, /* strings are cut no shorter than this */
	REDACT_HEX = 16,        /* hex digits of the hash kept */
};

/* ---- smtp_transaction: one flat record per transaction ---- */

/* The session's verdicts a transaction record repeats, so it can be filtered alone. */
static json_t *session_brief(const struct cls_verdict *v)
{
	json_t *o = json_object();
	int rc = set_str(o, "outcome", classify_outcome_name(v->outcome));
	rc |= set_str(o, "close", classify_close_name(v->close));
	rc |= set_str(o, "client_style", classify_style_name(v->client_style));
	return done(o, rc);
}

/* Suricata's smtp object for one transaction: helo, mail_from, rcpt_to (at least one). */
static json_t *smtp_object(const struct smtp_record *rec, const struct smtp_tx *tx,
                           const struct cls_tx_verdict *tv)
{
	json_t *o = json_object();
	int rc = set_bytes(o, "helo", &rec->helo);
	if (tx) {
		rc |= set_bytes(o, "mail_from", &tx->mail_from);
		if (tx->n_rcpts > 0 && tv->rcpts_known)
			rc |= json_object_set_new(o, "rcpt_to", rcpt_list(tx));
	}
	return done(o, rc);
}

int emit_transactions(struct emit *e, const struct flow_info *info, const struct smtp_record *rec,
                      const struct cls_verdict *v)
{
	for (uint32_t i = 0; i < rec->n_txs; i++) {
		const struct smtp_tx *tx = &rec->txs[i];
		json_t *root = emit_envelope(info, "smtp_transaction");
		json_t *t = tx_json(tx, &v->txs[i]);
		int rc = root && t ? 0 : -1;
		rc |= json_object_set_new(root, "smtp", smtp_object(rec, tx, &v->txs[i]));
		rc |= json_object_set_new(t, "session", session_brief(v));
		rc |= json_object_set_new(root, "smtp_transaction", t);
		if (emit_line(e, done(root, rc)) != 0)
			return -1;
	}
	return 0;
}

/* ---- flow: a connection that never carried SMTP ---- */

int emit_flow(struct emit *e, const struct flow_info *info)
{
	uint64_t first = info->first_ts_us, last = info->last_ts_us;
	json_t *root = emit_envelope(info, "flow"), *f = json_object();
	int rc = root && f ? 0 : -1;
	json_object_del(root, "app_proto"); /* no application protocol was seen */
	rc |= set_str(f, "outcome", flow_kind_name(info->kind));
	rc |= set_str(f, "detected", detect_how_name(info->detected));
	rc |= json_object_set_new(f, "duration",
	                          json_real(last > first ? (double)(last - first) / 1e6 : 0));
	rc |= set_uint(f, "pkts_toserver", info->pkts[SMTP_TO_SERVER]);
	rc |= set_uint(f, "pkts_toclient", info->pkts[SMTP_TO_CLIENT]);
	rc |= set_uint(f, "bytes_toserver", info->bytes[SMTP_TO_SERVER]);
	rc |= set_uint(f, "bytes_toclient", info->bytes[SMTP_TO_CLIENT]);
	rc |= json_object_set_new(root, "flow", f);
	return emit_line(e, done(root, rc));
}

/* ---- smtp_command: one record per command and its reply ---- */

static json_t *command_json(const struct smtp_cmd_log *c, uint32_t seq)
{
	json_t *o = json_object();
	int rc = set_uint(o, "seq", seq);
	rc |= set_str(o, "verb", smtp_verb_name((enum smtp_verb)c->verb));
	rc |= set_bytes(o, "args", &c->arg);
	rc |= json_object_set_new(o, "pipelined", json_boolean(c->pipelined));
	if (c->answered) {
		rc |= json_object_set_new(o, "reply", reply_json(&c->reply));
		if (c->ts_us && c->reply.ts_us >= c->ts_us)
			rc |= json_object_set_new(
			    o, "latency_ms",
			    json_real((double)(c->reply.ts_us - c->ts_us) / 1000.0));
	}
	return done(o, rc);
}

int emit_commands(struct emit *e, const struct flow_info *info, const struct smtp_record *rec)
{
	char ts[96];
	for (uint32_t i = 0; i < rec->n_cmds; i++) {
		const struct smtp_cmd_log *c = &rec->cmds[i];
		json_t *root = emit_envelope(info, "smtp_command");
		int rc = root ? 0 : -1;
		if (c->ts_us) { /* the command's own time, not the session's start */
			format_ts(c->ts_us, ts, sizeof(ts));
			rc |= set_str(root, "timestamp", ts);
		}
		rc |= json_object_set_new(root, "smtp_command", command_json(c, i));
		if (emit_line(e, done(root, rc)) != 0)
			return -1;
	}
	return 0;
}

/* ---- --eve-strict: Suricata's "smtp" event ---- */

static int add_flowvar(json_t *vars, const char *key, const char *value)
{
	json_t *o = json_object();
	int rc = set_str(o, "key", key);
	rc |= set_str(o, "value", value);
	return json_array_append_new(vars, done(o, rc));
}

/* smtptrace's verdicts where Suricata's schema has room for more: metadata.flowvars. */
static json_t *verdict_metadata(const struct cls_tx_verdict *tv, const struct cls_verdict *v)
{
	json_t *vars = json_array(), *meta = json_object();
	int rc = 0;
	if (tv)
		rc |= add_flowvar(vars, "smtptrace.outcome", classify_tx_outcome_name(tv->outcome));
	rc |= add_flowvar(vars, "smtptrace.session_outcome", classify_outcome_name(v->outcome));
	rc |= add_flowvar(vars, "smtptrace.close", classify_close_name(v->close));
	rc |= add_flowvar(vars, "smtptrace.client_style", classify_style_name(v->client_style));
	rc |= json_object_set_new(meta, "flowvars", done(vars, rc));
	return done(meta, rc);
}

int emit_eve_smtp(struct emit *e, const struct flow_info *info, const struct smtp_record *rec,
                  const struct cls_verdict *v)
{
	uint32_t n = rec->n_txs ? rec->n_txs : 1;
	for (uint32_t i = 0; i < n; i++) {
		const struct smtp_tx *tx = rec->n_txs ? &rec->txs[i] : NULL;
		json_t *root = emit_envelope(info, "smtp");
		int rc = root ? 0 : -1;
		rc |= set_uint(root, "tx_id", tx ? tx->id : 0);
		rc |=
		    json_object_set_new(root, "smtp", smtp_object(rec, tx, tx ? &v->txs[i] : NULL));
		rc |= json_object_set_new(root, "metadata",
		                          verdict_metadata(tx ? &v->txs[i] : NULL, v));
		if (emit_line(e, done(root, rc)) != 0)
			return -1;
	}
	return 0;
}

/* ---- the size bound ---- */

static size_t dumped_len(const json_t *j)
{
	return json_dumpb(j, NULL, 0, DUMP_FLAGS);
}

/* Where the biggest list (or string) of a record is: in object parent, under key. */
struct site {
	json_t *parent;
	const char *key;
	json_t *value;
	size_t len;
};

/* Finds, under j, the array of two or more items (want_string: the string longer than
 * BOUND_MIN_STRING) that takes the most room. */
static void find_biggest(json_t *j, bool want_string, struct site *best)
{
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_array(j)) {
		json_array_foreach(j, i, v) find_biggest(v, want_string, best);
		return;
	}
	if (!json_is_object(j))
		return;
	json_object_foreach(j, key, v)
	{
		bool fits = want_string
		                ? json_is_string(v) && json_string_length(v) > BOUND_MIN_STRING
		                : json_is_array(v) && json_array_size(v) >= 2;
		size_t len = fits ? dumped_len(v) : 0;
		if (fits && len > best->len)
			*best = (struct site){j, key, v, len};
		if (json_is_object(v) || json_is_array(v))
			find_biggest(v, want_string, best);
	}
}

/* Where a count of what was left out goes: beside the list ("rcpt_to_truncated"), except for
 * Suricata's smtp object, which is closed: then in the record's own object
 * ("smtp_session.smtp_rcpt_to_truncated"), or in an --eve-strict record in metadata.flowints. */
static void note_cut(json_t *root, const struct site *s, uint64_t left_out)
{
	char name[96];
	json_t *target = s->parent;
	snprintf(name, sizeof(name), "%s_truncated", s->key);
	const char *type = json_string_value(json_object_get(root, "event_type"));
	bool eve = type && strcmp(type, "smtp") == 0;
	json_t *own = type && !eve ? json_object_get(root, type) : NULL;
	if (json_object_get(root, "smtp") == s->parent && own && json_is_object(own)) {
		target = own;
		snprintf(name, sizeof(name), "smtp_%s_truncated", s->key);
	} else if (json_object_get(root, "smtp") == s->parent && eve) {
		json_t *meta = json_object_get(root, "metadata");
		if (!meta) {
			meta = json_object();
			json_object_set_new(root, "metadata", meta);
		}
		target = json_object_get(meta, "flowints");
		if (!target) {
			target = json_object();
			json_object_set_new(meta, "flowints", target);
		}
		snprintf(name, sizeof(name), "smtptrace_%s_truncated", s->key);
	}
	json_t *old = json_object_get(target, name);
	json_object_set_new(
	    target, name, json_integer((json_int_t)left_out + (old ? json_integer_value(old) : 0)));
}

/* Halves the biggest list, keeping its first items. False when there is none to cut. */
static bool cut_list(json_t *root)
{
	struct site s = {0};
	find_biggest(root, false, &s);
	if (!s.value)
		return false;
	size_t n = json_array_size(s.value), keep = n / 2;
	json_t *cut = json_array();
	for (size_t i = 0; i < keep; i++)
		json_array_append(cut, json_array_get(s.value, i));
	note_cut(root, &s, n - keep);
	json_object_set_new(s.parent, s.key, cut);
	return true;
}

/* Halves the longest string at a UTF-8 character boundary. False when none is long. */
static bool cut_string(json_t *root)
{
	struct site s = {0};
	find_biggest(root, true, &s);
	if (!s.value)
		return false;
	const char *text = json_string_value(s.value);
	size_t n = json_string_length(s.value) / 2;
	while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
		n--;
	/* nor inside a "\xHH" escape of wire bytes (docs/record.md): a backslash in the last
	 * three characters kept starts one that the cut would break */
	for (size_t k = 1; k <= 3 && k <= n; k++)
		if (text[n - k] == '\\') {
			n -= k;
			break;
		}
	json_object_set_new(s.parent, s.key, json_stringn(text, n));
	note_cut(root, &s, 1);
	return true;
}

/* The envelope's scalars and the record's verdict words, marked truncated: what is left when
 * nothing else fits. */
static json_t *minimal_record(json_t *root)
{
	static const char *const keep[] = {"timestamp", "flow_id",      "event_type", "src_ip",
	                                   "src_port",  "dest_ip",      "dest_port",  "proto",
	                                   "app_proto", "community_id", "tx_id"};
	json_t *o = json_object();
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		json_t *v = json_object_get(root, keep[i]);
		if (v)
			json_object_set(o, keep[i], v);
	}
	json_t *ss = json_object_get(root, "smtp_session");
	if (ss) {
		json_t *brief = json_object();
		json_object_set(brief, "outcome", json_object_get(ss, "outcome"));
		json_object_set(brief, "close", json_object_get(ss, "close"));
		json_object_set_new(brief, "truncated", json_true());
		json_object_set_new(o, "smtp_session", brief);
	}
	json_decref(root);
	return o;
}

json_t *emit_bound(json_t *root, size_t max)
{
	for (int round = 0; round < BOUND_ROUNDS; round++) {
		if (dumped_len(root) + 1 <= max)
			return root;
		if (!cut_list(root) && !cut_string(root))
			break;
	}
	return dumped_len(root) + 1 <= max ? root : minimal_record(root);
}

/* ---- --redact ---- */

/* HMAC-SHA1 of data under key (RFC 2104, nettle's), as REDACT_HEX hex digits. */
static void keyed_hash(const uint8_t *key, size_t key_len, const char *data, size_t len,
                       char out[REDACT_HEX + 1])
{
	uint8_t mac[SHA1_DIGEST_SIZE];
	struct hmac_sha1_ctx c;
	hmac_sha1_set_key(&c, key_len, key);
	hmac_sha1_update(&c, len, (const uint8_t *)data);
	hmac_sha1_digest(&c, sizeof(mac), mac);
	for (int i = 0; i < REDACT_HEX / 2; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

/* "<local@domain>" to "<HASH@domain>"; without an '@', the whole text is the hash. "<>" (the
 * null sender) stays. Returns a new string. */
static json_t *redact_mailbox(const char *s, const uint8_t *key, size_t key_len)
{
	char hash[REDACT_HEX + 1], out[512];
	size_t len = strlen(s);
	bool angle = len >= 2 && s[0] == '<' && s[len - 1] == '>';
	const char *local = angle ? s + 1 : s;
	size_t local_len = angle ? len - 2 : len;
	if (local_len == 0)
		return json_string(s);
	const char *at = memrchr(local, '@', local_len);
	size_t hashed = at ? (size_t)(at - local) : local_len;
	keyed_hash(key, key_len, local, hashed, hash);
	snprintf(out, sizeof(out), "%s%s%.*s%s", angle ? "<" : "", hash,
	         at ? (int)(local_len - hashed) : 0, at ? at : "", angle ? ">" : "");
	return json_string(out);
}

static void redact_value(json_t *parent, const char *key, json_t *v, const uint8_t *k, size_t kl)
{
	char hash[REDACT_HEX + 1], name[REDACT_HEX + 3];
	if (strcmp(key, "helo") == 0 && json_is_string(v)) {
		keyed_hash(k, kl, json_string_value(v), json_string_length(v), hash);
		snprintf(name, sizeof(name), "h-%s", hash);
		json_object_set_new(parent, key, json_string(name));
	} else if ((strcmp(key, "mail_from") == 0 || strcmp(key, "to") == 0) && json_is_string(v)) {
		json_object_set_new(parent, key, redact_mailbox(json_string_value(v), k, kl));
	} else if (strcmp(key, "rcpt_to") == 0 && json_is_array(v)) {
		size_t i;
		json_t *item;
		json_array_foreach(v, i, item) if (json_is_string(item))
		    json_array_set_new(v, i, redact_mailbox(json_string_value(item), k, kl));
	}
}

void emit_redact(json_t *root, const uint8_t *key, size_t key_len)
{
	const char *name;
	json_t *v;
	size_t i;
	if (json_is_array(root)) {
		json_array_foreach(root, i, v) emit_redact(v, key, key_len);
		return;
	}
	if (!json_is_object(root))
		return;
	json_object_foreach(root, name, v)
	{
		redact_value(root, name, v, key, key_len);
		v = json_object_get(root, name);
		if (json_is_object(v) || json_is_array(v))
			emit_redact(v, key, key_len);
	}
}
