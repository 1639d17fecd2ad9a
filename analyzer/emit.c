/* emit: session records as JSON Lines with an EVE-style envelope (RFC 8259 JSON, RFC 3629
 * UTF-8, RFC 4648 base64, RFC 5952 IPv6 text, Community ID v1 of corelight/community-id-spec).
 * The only user of jansson. */
#include "emit.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <nettle/sha1.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "emit_int.h"

enum {
	EMIT_BUF_MIN = 64 * 1024, /* the record buffer's first size */
	EMIT_WIRE_STACK = 4096,   /* wire strings up to this long are escaped on the stack */
	EMIT_CID_LEN = 64,
	EMIT_TS_LEN = 96, /* room for any int in every field, so the format is never cut */
};

/* ---- UTF-8 escaping (RFC 3629 section 4) ---- */

/* Length of the valid UTF-8 sequence at p (1 to 4), or 0 when p[0] does not start one. */
static size_t utf8_valid_len(const uint8_t *p, size_t avail)
{
	uint8_t c = p[0], lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (c < 0x80)
		return 1;
	if (c < 0xc2 || c > 0xf4)
		return 0; /* continuation, overlong 2-byte lead, or beyond U+10FFFF */
	n = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	if (c == 0xe0)
		lo = 0xa0; /* overlong 3-byte */
	else if (c == 0xed)
		hi = 0x9f; /* surrogates U+D800..U+DFFF */
	else if (c == 0xf0)
		lo = 0x90; /* overlong 4-byte */
	else if (c == 0xf4)
		hi = 0x8f; /* beyond U+10FFFF */
	if (avail < n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* How many bytes from p, at most room, are ASCII other than the backslash: kept as they are.
 * Sixteen bytes a step with SSE2 (a byte's top bit, or a backslash, ends the run). */
static size_t ascii_run(const uint8_t *p, size_t avail, size_t room)
{
	size_t n = 0, most = avail < room ? avail : room;
#ifdef __SSE2__
	const __m128i bs = _mm_set1_epi8('\\');
	for (; n + 16 <= most; n += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + n));
		unsigned stop = (unsigned)_mm_movemask_epi8(_mm_or_si128(v, _mm_cmpeq_epi8(v, bs)));
		if (stop)
			return n + (size_t)__builtin_ctz(stop);
	}
#endif
	while (n < most && p[n] < 0x80 && p[n] != '\\')
		n++;
	return n;
}

size_t emit_escape_utf8(const char *in, size_t len, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *p = (const uint8_t *)in;
	size_t i = 0, o = 0, n;

	if (!out || outlen == 0)
		return 0;
	while (i < len) {
		n = ascii_run(p + i, len - i, outlen - 1 - o);
		if (n > 0) { /* the common case: plain ASCII, copied as one run */
			memcpy(out + o, p + i, n);
			o += n;
			i += n;
			continue;
		}
		n = p[i] == '\\' ? 0 : utf8_valid_len(p + i, len - i);
		if (n > 0) {
			if (o + n > outlen - 1)
				break;
			memcpy(out + o, p + i, n);
			o += n;
			i += n;
			continue;
		}
		if (o + 4 > outlen - 1)
			break;
		out[o++] = '\\';
		out[o++] = 'x';
		out[o++] = hex[p[i] >> 4];
		out[o++] = hex[p[i] & 0xf];
		i++;
	}
	out[o] = '\0';
	return o;
}

/* A new JSON string of wire bytes, escaped; NULL on out of memory. */
json_t *wire_json(const char *data, size_t len)
{
	char stack[4 * EMIT_WIRE_STACK + 1];
	char *out = stack, *heap = NULL;
	size_t cap = sizeof(stack), n;
	json_t *j;

	if (!data)
		len = 0;
	if (data && ascii_run((const uint8_t *)data, len, len + 1) == len)
		return json_stringn_nocheck(data, len); /* nothing to escape: no copy of it first */
	if (len > EMIT_WIRE_STACK && len <= (SIZE_MAX - 1) / 4) {
		heap = malloc(4 * len + 1);
		if (heap) {
			out = heap;
			cap = 4 * len + 1;
		} /* else: cut to what the stack buffer holds */
	}
	n = emit_escape_utf8(data ? data : "", len, out, cap);
	/* valid UTF-8 by construction (RFC 3629's table, as jansson's own check): not checked twice
	 */
	j = json_stringn_nocheck(out, n);
	free(heap);
	return j;
}

json_t *bytes_json(const struct smtp_bytes *b)
{
	return wire_json(b->data, b->len);
}

/* ---- Community ID v1 ---- */

static size_t addr_len(const struct decode_addr *a)
{
	return a->family == 4 ? 4 : a->family == 6 ? 16 : 0;
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void base64_encode(const uint8_t *in, size_t len, char *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, o = 0;
	uint32_t v;

	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = tab[(v >> 6) & 63];
		out[o++] = tab[v & 63];
	}
	if (i < len) {
		v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
}

void emit_community_id(const struct decode_addr *a, uint16_t aport, const struct decode_addr *b,
                       uint16_t bport, uint16_t seed, char *out, size_t outlen)
{
	uint8_t digest[SHA1_DIGEST_SIZE], hdr[2], tail[6];
	char b64[4 * ((SHA1_DIGEST_SIZE + 2) / 3) + 1];
	size_t alen = addr_len(a);
	struct sha1_ctx c;
	int cmp;

	if (!out || outlen == 0)
		return;
	out[0] = '\0';
	if (alen == 0 || alen != addr_len(b))
		return;
	/* the smaller (address, port) endpoint first, so both directions hash alike */
	cmp = memcmp(a->bytes, b->bytes, alen);
	if (!(cmp < 0 || (cmp == 0 && aport < bport))) {
		const struct decode_addr *ta = a;
		uint16_t tp = aport;

		a = b;
		b = ta;
		aport = bport;
		bport = tp;
	}
	put_be16(hdr, seed);
	tail[0] = 6; /* IPPROTO_TCP */
	tail[1] = 0; /* padding */
	put_be16(tail + 2, aport);
	put_be16(tail + 4, bport);
	sha1_init(&c);
	sha1_update(&c, sizeof(hdr), hdr);
	sha1_update(&c, alen, a->bytes);
	sha1_update(&c, alen, b->bytes);
	sha1_update(&c, sizeof(tail), tail);
	sha1_digest(&c, sizeof(digest), digest);
	base64_encode(digest, sizeof(digest), b64);
	snprintf(out, outlen, "1:%s", b64);
}

/* ---- small builders: each returns 0, or -1 when the value could not be made ---- */

int set_str(json_t *o, const char *key, const char *s)
{
	return json_object_set_new_nocheck(o, key, json_string(s ? s : "unknown"));
}

int set_name(json_t *o, const char *key, const char *s)
{
	return json_object_set_new_nocheck(o, key, json_string_nocheck(s ? s : "unknown"));
}

int set_uint(json_t *o, const char *key, uint64_t v)
{
	return json_object_set_new_nocheck(o, key,
	                                   json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v));
}

/* Absent wire bytes (data NULL) leave the key out. */
int set_bytes(json_t *o, const char *key, const struct smtp_bytes *b)
{
	if (!b->data)
		return 0;
	return json_object_set_new_nocheck(o, key, bytes_json(b));
}

/* Takes o; returns it, or NULL (o freed) when rc says a member failed. */
json_t *done(json_t *o, int rc)
{
	if (rc != 0 || !o) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int set_ip(json_t *o, const char *key, const struct decode_addr *a)
{
	char buf[INET6_ADDRSTRLEN];

	if (a->family == 4)
		emit_format_ipv4(a->bytes, buf);
	else if (a->family == 6)
		emit_format_ipv6(a->bytes, buf);
	else
		return 0; /* the flow table holds only IPv4 and IPv6: cannot happen */
	return set_name(o, key, buf);
}

/* Names of the anomaly bits set in mask, in enum order. */
static json_t *anomaly_list(uint64_t mask)
{
	json_t *a = json_array();
	int rc = 0, i;

	for (i = 0; i < SMTP_AN_COUNT; i++) {
		const char *name = smtp_anomaly_name((enum smtp_anomaly)i);

		if ((mask & (UINT64_C(1) << i)) && name)
			rc |= json_array_append_new(a, json_string(name));
	}
	return done(a, rc);
}

static uint64_t anomaly_mask(uint64_t bits)
{
	return bits & ((UINT64_C(1) << SMTP_AN_COUNT) - 1);
}

/* {code, enhanced (when present), text (when present)} */
json_t *reply_json(const struct smtp_reply *r)
{
	json_t *o = json_object();
	size_t elen = strnlen(r->enhanced, sizeof(r->enhanced));
	int rc = set_uint(o, "code", r->code);

	if (elen > 0)
		rc |= json_object_set_new_nocheck(o, "enhanced", wire_json(r->enhanced, elen));
	rc |= set_bytes(o, "text", &r->text);
	return done(o, rc);
}

/* ---- the record ---- */

json_t *rcpt_list(const struct smtp_tx *tx)
{
	json_t *a = json_array();
	uint32_t i;
	int rc = 0;

	for (i = 0; i < tx->n_rcpts; i++)
		rc |= json_array_append_new(a, bytes_json(&tx->rcpts[i].addr));
	return done(a, rc);
}

static bool rcpt_refused(const struct smtp_rcpt *r)
{
	return r->code >= 400;
}

/* rcpt_refused: [{"to": ..., "code": N}], left out when no recipient was refused. */
static int set_refused(json_t *o, const struct smtp_tx *tx)
{
	json_t *a = json_array();
	uint32_t i;
	int rc = 0;

	for (i = 0; i < tx->n_rcpts; i++) {
		const struct smtp_rcpt *r = &tx->rcpts[i];
		json_t *e;

		if (!rcpt_refused(r))
			continue;
		e = json_object();
		rc |= json_object_set_new_nocheck(e, "to", bytes_json(&r->addr));
		rc |= set_uint(e, "code", r->code);
		rc |= json_array_append_new(a, done(e, rc));
	}
	if (rc == 0 && a && json_array_size(a) == 0) {
		json_decref(a);
		return 0;
	}
	return json_object_set_new_nocheck(o, "rcpt_refused", done(a, rc));
}

static const char *method_name(enum smtp_method m)
{
	return m == SMTP_METHOD_DATA ? "data" : m == SMTP_METHOD_BDAT ? "bdat" : NULL;
}

/* reply, reply_after_close and eod_reply_ms of a transaction. */
static int set_eod_reply(json_t *o, const struct smtp_tx *tx)
{
	const struct smtp_reply *r = &tx->eod_reply;
	int rc = 0;

	if (r->code == 0)
		return 0;
	rc |= json_object_set_new_nocheck(o, "reply", reply_json(r));
	if (tx->eod_reply_after_close)
		rc |= json_object_set_new_nocheck(o, "reply_after_close", json_true());
	if (tx->eod_ts_us && r->ts_us) {
		double ms = (double)(int64_t)(r->ts_us - tx->eod_ts_us) / 1000.0;

		rc |= json_object_set_new_nocheck(o, "eod_reply_ms", json_real(ms));
	}
	return rc;
}

/* One transaction, with the verdicts classify gave it. */
json_t *tx_json(const struct smtp_tx *tx, const struct cls_tx_verdict *tv)
{
	enum cls_tx_outcome out = tv->outcome;
	json_t *o = json_object();
	int rc = set_uint(o, "tx_id", tx->id);

	rc |= set_bytes(o, "mail_from", &tx->mail_from);
	if (tx->mail_params.len > 0)
		rc |= set_bytes(o, "mail_params", &tx->mail_params);
	if (tv->rcpts_known) { /* a gap may have hidden a RCPT: then the list is not known */
		rc |= json_object_set_new_nocheck(o, "rcpt_to", rcpt_list(tx));
		if (tv->refused_known) /* a lost reply to a RCPT may have refused it */
			rc |= set_refused(o, tx);
	}
	if (method_name(tx->method) && !tx->env_unknown) /* lost commands blurred which tx */
		rc |= set_name(o, "method", method_name(tx->method));
	if (tv->size_known)
		rc |= set_uint(o, "size", tx->size);
	rc |= set_name(o, "outcome", classify_tx_outcome_name(out));
	if (out == CLS_TX_REJECTED)
		rc |= set_name(o, "rejected_at", classify_reject_at_name(tx->rejected_at));
	if (!tx->env_unknown)
		rc |= set_eod_reply(o, tx);
	if (tx->smuggled)
		rc |= json_object_set_new_nocheck(o, "smuggled", json_true());
	if (anomaly_mask(tx->anomalies))
		rc |= json_object_set_new_nocheck(o, "anomalies", anomaly_list(tx->anomalies));
	return done(o, rc);
}

static json_t *tx_list(const struct smtp_record *rec, const struct cls_verdict *v)
{
	json_t *a = json_array();
	uint32_t i;
	int rc = 0;

	for (i = 0; i < rec->n_txs; i++)
		rc |= json_array_append_new(a, tx_json(&rec->txs[i], &v->txs[i]));
	return done(a, rc);
}

/* Suricata-style "smtp": helo, and the last transaction's sender. Its recipients are in its
 * transaction only: a record names each recipient once (the smtp_transaction and
 * --eve-strict records carry smtp.rcpt_to, one transaction each). */
static int set_smtp(json_t *root, const struct smtp_record *rec)
{
	const struct smtp_tx *last = rec->n_txs ? &rec->txs[rec->n_txs - 1] : NULL;
	json_t *o = json_object();
	int rc = set_bytes(o, "helo", &rec->helo);

	if (last)
		rc |= set_bytes(o, "mail_from", &last->mail_from);
	if (rc == 0 && o && json_object_size(o) == 0) {
		json_decref(o);
		return 0;
	}
	return json_object_set_new_nocheck(root, "smtp", done(o, rc));
}

/* outcome, close, close_by, close_how, client_style, duration */
static int set_verdict(json_t *o, const struct flow_info *info, const struct cls_verdict *v)
{
	uint64_t first = info->first_ts_us, last = info->last_ts_us;
	uint64_t us = last > first ? last - first : 0;
	int rc = set_name(o, "outcome", classify_outcome_name(v->outcome));

	rc |= set_name(o, "close", classify_close_name(v->close));
	rc |= set_name(o, "close_by", classify_side_name(v->close_by));
	rc |= set_name(o, "close_how", classify_how_name(v->close_how));
	rc |= set_name(o, "client_style", classify_style_name(v->client_style));
	rc |= json_object_set_new_nocheck(o, "duration", json_real((double)us / 1e6));
	return rc;
}

static json_t *extension_list(const struct smtp_record *rec)
{
	json_t *a = json_array();
	uint32_t i;
	int rc = 0;

	for (i = 0; i < rec->n_extensions; i++)
		rc |= json_array_append_new(a, bytes_json(&rec->extensions[i]));
	return done(a, rc);
}

/* greeting, helo_command, extensions, starttls, auth */
static int set_dialogue(json_t *o, const struct smtp_record *rec)
{
	int rc = 0;

	if (rec->greeting_seen)
		rc |= json_object_set_new_nocheck(o, "greeting", reply_json(&rec->greeting));
	if ((rec->ehlo || rec->helo.data) && !rec->helo_unknown) /* the last one sent */
		rc |= set_name(o, "helo_command", rec->ehlo ? "EHLO" : "HELO");
	if (rec->n_extensions > 0 && rec->extensions && !rec->extensions_unknown)
		rc |= json_object_set_new_nocheck(o, "extensions", extension_list(rec));
	if (rec->starttls_accepted || !rec->starttls_unknown) /* left out when a gap hid it */
		rc |= json_object_set_new_nocheck(o, "starttls",
		                                  json_boolean(rec->starttls_accepted));
	if (rec->auth_mechanism.data) {
		/* the mechanism and the result only: never anything the client sent after it */
		json_t *a = json_object();
		int arc = set_bytes(a, "mechanism", &rec->auth_mechanism);

		/* a gap may hold attempts or their replies: then none of these is certain */
		bool gap = rec->gap_bytes[SMTP_TO_SERVER] || rec->gap_bytes[SMTP_TO_CLIENT];

		if (rec->auth_result && !gap)
			arc |= set_uint(a, "result", rec->auth_result);
		if (!gap) {
			arc |= set_uint(a, "attempts", rec->auth_attempts);
			arc |= set_uint(a, "failures", rec->auth_failures);
		}
		rc |= json_object_set_new_nocheck(o, "auth", done(a, arc));
	}
	return rc;
}

static json_t *pair_json(const char *k1, uint64_t v1, const char *k2, uint64_t v2)
{
	json_t *o = json_object();
	int rc = set_uint(o, k1, v1);

	rc |= set_uint(o, k2, v2);
	return done(o, rc);
}

/* command_verbs and reply_codes (--trace): the dialogue as the server model followed it */
static int set_trace(json_t *o, const struct smtp_record *rec)
{
	json_t *verbs = json_array(), *codes = json_array();
	int rc = 0;

	for (uint32_t i = 0; i < rec->n_trace_verbs; i++)
		rc |= json_array_append_new(
		    verbs, json_string(smtp_verb_name((enum smtp_verb)rec->trace_verbs[i])));
	for (uint32_t i = 0; i < rec->n_trace_codes; i++)
		rc |= json_array_append_new(codes, json_integer(rec->trace_codes[i]));
	rc |= json_object_set_new_nocheck(o, "command_verbs", done(verbs, 0));
	rc |= json_object_set_new_nocheck(o, "reply_codes", done(codes, 0));
	return rc;
}

/* policy: each count left out when a transaction or the close it depends on is not known */
static json_t *policy_json(const struct cls_verdict *v)
{
	json_t *o = json_object();
	int rc = 0;

	if (v->rfc5321_known)
		rc |= set_uint(o, "rfc5321_delivered", v->rfc5321_delivered);
	if (v->strict_known)
		rc |= set_uint(o, "strict_quit_delivered", v->strict_quit_delivered);
	return done(o, rc);
}

/* The payload bytes dir sent: those of the captured packets (a snap length's cut included),
 * and the gaps TCP revealed between them that no cut accounts for: lost packets (DESIGN.md
 * section 4, "sizes and counters count what was sent"). */
static uint64_t bytes_sent(const struct flow_info *info, const struct smtp_record *rec, int dir)
{
	uint64_t gap = rec->gap_bytes[dir], cut = info->cut[dir];
	return info->bytes[dir] + (gap > cut ? gap - cut : 0);
}

/* policy, anomalies, gap_bytes, and the counters */
static int set_tail(json_t *o, const struct flow_info *info, const struct smtp_record *rec,
                    const struct cls_verdict *v)
{
	int rc = json_object_set_new_nocheck(o, "policy", policy_json(v));

	rc |= json_object_set_new_nocheck(o, "anomalies", anomaly_list(rec->anomalies));
	if (rec->lookalike != SMTP_LA_NONE) {
		json_t *sm = json_object();
		int src = set_name(sm, "lookalike", smtp_lookalike_name(rec->lookalike));
		src |= set_name(sm, "server_acted", smtp_acted_name(rec->lookalike_acted));
		rc |= json_object_set_new_nocheck(o, "smuggling", done(sm, src));
	}
	if (rec->gap_bytes[SMTP_TO_SERVER] || rec->gap_bytes[SMTP_TO_CLIENT])
		rc |= json_object_set_new_nocheck(
		    o, "gap_bytes",
		    pair_json("toserver", rec->gap_bytes[SMTP_TO_SERVER], "toclient",
		              rec->gap_bytes[SMTP_TO_CLIENT]));
	rc |= set_uint(o, "commands", rec->commands);
	rc |= set_uint(o, "replies", rec->replies);
	if (rec->traced)
		rc |= set_trace(o, rec);
	rc |= set_uint(o, "pkts_toserver", info->pkts[SMTP_TO_SERVER]);
	rc |= set_uint(o, "pkts_toclient", info->pkts[SMTP_TO_CLIENT]);
	/* left out where TCP leaves the count unsure (a lost FIN, or lost bytes of unknown size) */
	if (!rec->count_unsure[SMTP_TO_SERVER])
		rc |= set_uint(o, "bytes_toserver", bytes_sent(info, rec, SMTP_TO_SERVER));
	if (!rec->count_unsure[SMTP_TO_CLIENT])
		rc |= set_uint(o, "bytes_toclient", bytes_sent(info, rec, SMTP_TO_CLIENT));
	return rc;
}

/* inferred: the fields certain only from the other direction across a gap, by name
 * ("close", "transactions[0].outcome"); left out when there is none. */
static int set_inferred(json_t *o, const struct smtp_record *rec)
{
	static const char *const tx_fields[] = {"method", "outcome"};
	char name[64];
	json_t *a = json_array();
	int rc = 0;

	if (rec->inferred & SMTP_INF_CLOSE) {
		rc |= json_array_append_new(a, json_string("close"));
		rc |= json_array_append_new(a, json_string("client_style"));
	}
	if (rec->inferred & SMTP_INF_STARTTLS)
		rc |= json_array_append_new(a, json_string("starttls"));
	for (uint32_t i = 0; i < rec->n_txs; i++)
		for (unsigned f = 0; f < sizeof(tx_fields) / sizeof(tx_fields[0]); f++)
			if (rec->txs[i].inferred & (1u << f)) {
				snprintf(name, sizeof(name), "transactions[%u].%s", i,
				         tx_fields[f]);
				rc |= json_array_append_new(a, json_string(name));
			}
	if (rc == 0 && a && json_array_size(a) == 0) {
		json_decref(a);
		return 0;
	}
	return json_object_set_new_nocheck(o, "inferred", done(a, rc));
}

static json_t *session_json(const struct flow_info *info, const struct smtp_record *rec,
                            const struct cls_verdict *v)
{
	json_t *o = json_object();
	int rc = set_verdict(o, info, v);

	rc |= set_name(o, "detected", detect_how_name(info->detected));
	rc |= set_dialogue(o, rec);
	if (rec->tls)
		rc |= json_object_set_new_nocheck(o, "tls", tls_json(rec->tls));
	if (v->txs_known) /* none seen and client bytes lost: they may have held one */
		rc |= json_object_set_new_nocheck(o, "transactions", tx_list(rec, v));
	rc |= set_inferred(o, rec);
	rc |= set_tail(o, info, rec, v);
	return done(o, rc);
}

/* The input's name as given when it is valid UTF-8; escaped like wire bytes otherwise. */
int set_filename(json_t *o, const char *name)
{
	json_t *j = json_string(name);

	if (!j)
		j = wire_json(name, strlen(name));
	return json_object_set_new_nocheck(o, "pcap_filename", j);
}

json_t *emit_envelope(const struct flow_info *info, const char *event_type)
{
	emit_arena_begin(); /* ended by emit_line, which every record builder ends with */
	char buf[EMIT_TS_LEN > EMIT_CID_LEN ? EMIT_TS_LEN : EMIT_CID_LEN];
	json_t *o = json_object();
	int rc;

	format_ts(info->first_ts_us, buf, sizeof(buf));
	rc = set_name(o, "timestamp", buf);
	rc |= set_uint(o, "flow_id", info->flow_id);
	rc |= set_name(o, "event_type", event_type);
	rc |= set_ip(o, "src_ip", &info->client);
	rc |= set_uint(o, "src_port", info->client_port);
	rc |= set_ip(o, "dest_ip", &info->server);
	rc |= set_uint(o, "dest_port", info->server_port);
	rc |= set_name(o, "proto", "TCP");
	rc |= set_name(o, "app_proto", "smtp");
	emit_community_id(&info->client, info->client_port, &info->server, info->server_port, 0,
	                  buf, sizeof(buf));
	if (buf[0])
		rc |= set_name(o, "community_id", buf);
	if (info->pcap_filename)
		rc |= set_filename(o, info->pcap_filename);
	return done(o, rc);
}

static json_t *record_json(const struct flow_info *info, const struct smtp_record *rec,
                           const struct cls_verdict *v)
{
	json_t *o = emit_envelope(info, "smtp_session");
	int rc = o ? 0 : -1;

	rc |= set_smtp(o, rec);
	rc |= json_object_set_new_nocheck(o, "smtp_session", session_json(info, rec, v));
	return done(o, rc);
}

/* ---- the stats record ---- */

static json_t *counter_object(const char *const *names, const uint64_t *values, size_t n)
{
	json_t *o = json_object();
	int rc = 0;
	for (size_t i = 0; i < n && o; i++)
		rc |= set_uint(o, names[i], values[i]);
	return done(o, rc);
}

static json_t *capture_json(const struct stats *s)
{
	json_t *o = json_object();
	int rc = set_uint(o, "packets", s->packets);
	rc |= set_uint(o, "bytes", s->bytes);
	rc |= set_uint(o, "files", s->files);
	rc |= set_uint(o, "file_errors", s->file_errors);
	if (s->have_kernel) {
		rc |= set_uint(o, "kernel_packets", s->kernel_packets);
		rc |= set_uint(o, "kernel_drops", s->kernel_drops);
		rc |= set_uint(o, "if_drops", s->if_drops);
	}
	return done(o, rc);
}

static json_t *decoder_json(const struct stats *s)
{
	const char *names[DECODE_STATUS_COUNT];
	for (int i = 0; i < DECODE_STATUS_COUNT; i++)
		names[i] = i == DECODE_OK ? "tcp" : decode_status_name((enum decode_status)i);
	return counter_object(names, s->decode, DECODE_STATUS_COUNT);
}

static json_t *sessions_json(const struct stats *s, const struct flow_stats *fs)
{
	_Static_assert((int)CLS_OUT_COUNT <= (int)STATS_MAX_OUTCOMES, "a counter for each outcome");
	const char *names[CLS_OUT_COUNT];
	size_t n = CLS_OUT_COUNT;
	for (size_t i = 0; i < n; i++)
		names[i] = classify_outcome_name((enum cls_outcome)i);
	json_t *o = json_object();
	int rc = set_uint(o, "open", fs->flows_active);
	rc |= set_uint(o, "ended", s->sessions);
	rc |= json_object_set_new_nocheck(o, "by_outcome", counter_object(names, s->by_outcome, n));
	const char *an[SMTP_AN_COUNT];
	for (int i = 0; i < SMTP_AN_COUNT; i++)
		an[i] = smtp_anomaly_name((enum smtp_anomaly)i);
	rc |= json_object_set_new_nocheck(o, "anomalies",
	                                  counter_object(an, s->anomalies, SMTP_AN_COUNT));
	return done(o, rc);
}

static json_t *flows_json(const struct flow_stats *fs)
{
	const char *names[] = {
	    "created",          "active_max", "evicted",      "timed_out", "segments",
	    "segments_ignored", "refused",    "no_handshake", "no_smtp",   "probed"};
	uint64_t v[] = {fs->flows_created,
	                fs->flows_active_max,
	                fs->flows_evicted,
	                fs->flows_timed_out,
	                fs->segments,
	                fs->segments_ignored,
	                fs->flows_kind[FLOW_KIND_REFUSED],
	                fs->flows_kind[FLOW_KIND_NO_HANDSHAKE],
	                fs->flows_kind[FLOW_KIND_NO_SMTP],
	                fs->flows_probed};
	return counter_object(names, v, sizeof(v) / sizeof(v[0]));
}

/* The checksum policy's outcome: whether segments were checked, and how many were bad. */
static json_t *checksum_json(const struct flow_stats *fs)
{
	json_t *o = json_object();
	int rc = set_uint(o, "checked", fs->checksum_on); /* counters only: 1 checked, 0 not */
	rc |= set_uint(o, "bad", fs->bad_checksums);
	rc |= set_uint(o, "sampled", fs->csum_sampled);
	rc |= set_uint(o, "sampled_bad", fs->csum_sampled_bad);
	return done(o, rc);
}

static json_t *tcp_json(const struct flow_stats *fs)
{
	const char *names[] = {"retransmitted", "overlap_mismatches", "gaps", "gap_bytes",
	                       "held_bytes_max"};
	uint64_t v[] = {fs->retransmitted, fs->overlap_mismatches, fs->gaps, fs->gap_bytes,
	                fs->held_bytes_max};
	return counter_object(names, v, sizeof(v) / sizeof(v[0]));
}

static json_t *stats_json(const struct stats *s, const struct flow_stats *fs, uint64_t now_us)
{
	json_t *o = json_object();
	int rc = json_object_set_new_nocheck(
	    o, "uptime",
	    json_real(now_us > s->start_wall_us ? (double)(now_us - s->start_wall_us) / 1e6 : 0));
	rc |= json_object_set_new_nocheck(o, "capture", capture_json(s));
	rc |= json_object_set_new_nocheck(o, "decoder", decoder_json(s));
	rc |= json_object_set_new_nocheck(o, "flows", flows_json(fs));
	rc |= json_object_set_new_nocheck(o, "sessions", sessions_json(s, fs));
	rc |= json_object_set_new_nocheck(o, "tcp", tcp_json(fs));
	rc |= json_object_set_new_nocheck(o, "checksum", checksum_json(fs));
	const char *cap_names[] = {"flows_evicted", "limit_reached", "probes_refused"};
	uint64_t caps[] = {fs->flows_evicted, s->anomalies[SMTP_AN_LIMIT_REACHED],
	                   fs->probes_refused};
	rc |= json_object_set_new_nocheck(o, "caps", counter_object(cap_names, caps, 3));
	const char *mem_names[] = {"peak_rss_kib"};
	uint64_t mem[] = {stats_peak_rss_kib()};
	rc |= json_object_set_new_nocheck(o, "memory", counter_object(mem_names, mem, 1));
	if (s->have_output) { /* the Kafka sink: records delivered, failed, dropped so far */
		const char *k_names[] = {"written", "delivered", "failed", "dropped", "in_flight"};
		uint64_t k[] = {s->out_written, s->out_delivered, s->out_failed, s->out_dropped,
		                s->out_in_flight};
		rc |= json_object_set_new_nocheck(o, "output", counter_object(k_names, k, 5));
	}
	if (s->workers) { /* --workers: whose counters these are; worker 0 is their total */
		const char *w_names[] = {"id", "of"};
		uint64_t w[] = {s->worker, s->workers};
		rc |= json_object_set_new_nocheck(o, "worker", counter_object(w_names, w, 2));
	}
	return done(o, rc);
}

/* ---- output ---- */

struct emit {
	struct sink *out;
	bool own_sink;
	struct emit_options opt;
	char *buf; /* the last record's text, reused (by the writer thread when there is one) */
	size_t cap;
	struct emit_writer *writer; /* NULL: records are written by the thread that builds them */
};

void emit_options_default(struct emit_options *o)
{
	memset(o, 0, sizeof(*o));
	o->max_record = 16384;
}

struct emit *emit_new(struct sink *out, const struct emit_options *opt)
{
	struct emit *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->out = out;
	if (opt)
		e->opt = *opt;
	else
		emit_options_default(&e->opt);
	return e;
}

bool emit_start_writer(struct emit *e, bool eager)
{
	if (!e->writer)
		e->writer = emit_writer_start(e, eager);
	return e->writer != NULL;
}

int emit_sync(struct emit *e)
{
	return e && e->writer ? emit_writer_drain(e->writer) : 0;
}

bool emit_failed(struct emit *e)
{
	return e && e->writer && emit_writer_failed(e->writer);
}

int emit_flush(struct emit *e)
{
	if (!e) /* not open yet */
		return 0;
	emit_sync(e);
	return sink_flush(e->out);
}

int emit_reopen(struct emit *e)
{
	if (!e)
		return 0;
	emit_sync(e);
	return sink_reopen(e->out);
}

void emit_free(struct emit *e)
{
	if (!e)
		return;
	emit_writer_stop(e->writer);
	free(e->buf);
	free(e);
}

/* Dumps root into the reused buffer, growing it when the text is longer. Returns the text's
 * length (without a NUL), 0 on failure. */
static size_t dump_reused(struct emit *e, const json_t *root)
{
	size_t n = json_dumpb(root, e->buf, e->cap, EMIT_DUMP_FLAGS);
	if (n + 1 > e->cap && n > 0) {
		size_t cap = n + 1 > EMIT_BUF_MIN ? n + 1 : EMIT_BUF_MIN;
		char *b = realloc(e->buf, cap);
		if (!b)
			return 0;
		e->buf = b;
		e->cap = cap;
		n = json_dumpb(root, e->buf, e->cap, EMIT_DUMP_FLAGS);
	}
	return n + 1 > e->cap ? 0 : n;
}

/* Renders root (taken over) into the reused buffer: redacted when asked, bounded to
 * --max-record. A record is dumped once when it fits (nearly always); only one over the bound
 * is cut (emit_bound) and dumped again. Returns the text's length, 0 on failure. */
static size_t render(struct emit *e, json_t *root)
{
	if (!root)
		return 0;
	if (e->opt.redact)
		emit_redact(root, e->opt.redact_key, e->opt.redact_key_len);
	size_t n = dump_reused(e, root);
	if (n > 0 && e->opt.max_record && n + 1 > e->opt.max_record) {
		if (!(root = emit_bound(root, e->opt.max_record)))
			return 0;
		n = dump_reused(e, root);
	}
	json_decref(root);
	return n;
}

int emit_write_tree(struct emit *e, json_t *root)
{
	size_t n = render(e, root);
	if (n == 0)
		return -1;
	e->buf[n] = '\n';
	return sink_write(e->out, e->buf, n + 1);
}

/* Writes root (taken over) as one line to the sink, or hands it to the writer thread; ends the
 * record's arena (emit_arena.c). */
int emit_line(struct emit *e, json_t *root)
{
	if (!e->writer) {
		int rc = emit_write_tree(e, root);
		emit_arena_end();
		return rc;
	}
	emit_arena_end();
	return root ? emit_writer_push(e->writer, root) : -1;
}

int emit_session(struct emit *e, const struct flow_info *info, const struct smtp_record *rec,
                 const struct cls_verdict *v)
{
	return emit_line(e, record_json(info, rec, v));
}

bool emit_builds_later(const struct emit *e)
{
	return e && e->writer;
}

int emit_session_later(struct emit *e, const struct flow_info *info, const struct smtp_record *rec,
                       struct cls_verdict *v, void *owner, emit_release_fn release, void *ctx)
{
	struct emit_job j = {.info = *info,
	                     .v = *v,
	                     .rec = rec,
	                     .owner = owner,
	                     .release = release,
	                     .release_ctx = ctx};
	if (v->txs == v->inline_txs) /* the copy's own */
		j.v.txs = j.v.inline_txs;
	return emit_writer_push_job(e->writer, &j);
}

json_t *emit_job_tree(const struct emit_job *j, unsigned block)
{
	emit_arena_use(block);
	json_t *root = record_json(&j->info, j->rec, &j->v);
	emit_arena_end();
	return root;
}

int emit_stats(struct emit *e, const struct stats *s, const struct flow_stats *fs, uint64_t now_us)
{
	char ts[EMIT_TS_LEN];
	emit_arena_begin();
	json_t *o = json_object();
	format_ts(now_us, ts, sizeof(ts));
	int rc = set_name(o, "timestamp", ts);
	rc |= set_name(o, "event_type", "stats");
	rc |= json_object_set_new_nocheck(o, "stats", stats_json(s, fs, now_us));
	return emit_line(e, done(o, rc));
}

struct emit *emit_open(const char *path, char *err, size_t errlen)
{
	const struct sink_file_options o = {.overwrite = true};
	struct sink *out = sink_open_file(path, &o, err, errlen);
	struct emit *e = out ? emit_new(out, NULL) : NULL;
	if (!e) {
		sink_close(out);
		return NULL;
	}
	e->own_sink = true;
	return e;
}

int emit_close(struct emit *e)
{
	if (!e)
		return 0;
	int rc = e->own_sink ? sink_close(e->out) : 0;
	emit_free(e);
	return rc;
}

const char *emit_error(const struct emit *e)
{
	return e ? sink_error(e->out) : sink_close_error();
}

const char *emit_library_version(void)
{
	static char line[64];
	snprintf(line, sizeof(line), "jansson %s", jansson_version_str());
	return line;
}
