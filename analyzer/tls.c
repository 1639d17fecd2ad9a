/* tls: TLS records and handshake messages read in the clear, one bounded parser per connection
 * (RFC 8446 sections 4 and 5, RFC 5246, RFC 6066 server_name, RFC 7301 ALPN, RFC 5280 and
 * X.690 DER for the first certificate, FoxIO's JA4 client fingerprint). */
#include "tls.h"

#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rd.h" /* the cursor: every read of handshake bytes goes through it */

enum {
	CT_CCS = 20,
	CT_ALERT = 21,
	CT_HANDSHAKE = 22,
	CT_APP_DATA = 23,
	CT_HEARTBEAT = 24,
	REC_MAX = 16384 + 2048, /* RFC 5246 6.2.3: the longest ciphertext record */
	HT_CLIENT_HELLO = 1,
	HT_SERVER_HELLO = 2,
	HT_CERTIFICATE = 11,
	EXT_SNI = 0x0000,
	EXT_SIGALGS = 0x000d,
	EXT_ALPN = 0x0010,
	EXT_VERSIONS = 0x002b,
};

/* One direction: the record being read and the handshake message being reassembled. */
struct tls_half {
	uint8_t hdr[5];
	uint32_t hdr_len;
	uint32_t rec_left;
	uint8_t rec_type;
	uint8_t alert[2];
	uint32_t alert_len;
	uint8_t mhdr[4];
	uint32_t mhdr_len;
	uint32_t msg_left;
	bool keep;    /* the message is one that is parsed: its body goes to buf */
	uint8_t *buf; /* grown per message up to TLS_HS_CAP, never per packet */
	uint32_t buf_len, buf_cap;
	uint32_t hs_total;
	uint64_t seen;
	bool encrypted, stopped;
	bool hs_lost; /* a gap cut the handshake messages: their bytes are no longer parsed */
};

struct tls_state {
	struct tls_info info;
	struct tls_half half[2];
};

/* ---- strings ---- */

static const char hex[] = "0123456789abcdef";

struct sbuf {
	char *s;
	size_t cap, len;
};

static void sb_char(struct sbuf *b, char ch)
{
	if (b->len + 1 < b->cap) {
		b->s[b->len++] = ch;
		b->s[b->len] = 0;
	}
}

static void sb_str(struct sbuf *b, const char *s)
{
	while (*s)
		sb_char(b, *s++);
}

/* Wire bytes as printable ASCII; any other byte, and the backslash, as \xNN. */
static void sb_esc(struct sbuf *b, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\') {
			sb_char(b, (char)p[i]);
			continue;
		}
		if (b->len + 4 >= b->cap)
			return;
		sb_str(b, "\\x");
		sb_char(b, hex[p[i] >> 4]);
		sb_char(b, hex[p[i] & 15]);
	}
}

static void copy_esc(char *dst, size_t cap, const uint8_t *p, size_t n)
{
	struct sbuf b = {dst, cap, 0};
	dst[0] = 0;
	sb_esc(&b, p, n);
}

static void hex_digest(const uint8_t *data, size_t n, uint8_t out[SHA256_DIGEST_SIZE])
{
	struct sha256_ctx ctx;
	sha256_init(&ctx);
	sha256_update(&ctx, n, data);
	sha256_digest(&ctx, SHA256_DIGEST_SIZE, out);
}

/* ---- JA4 (FoxIO, "JA4: TLS Client Fingerprinting") ---- */

struct ja4_in {
	uint16_t legacy, max_version;
	bool sni;
	uint16_t ciphers[TLS_MAX_CIPHERS], exts[TLS_MAX_EXTS], sigalgs[TLS_MAX_SIGALGS];
	uint32_t n_ciphers, n_exts, n_sigalgs; /* counted in full, kept up to the array */
	const uint8_t *alpn;                   /* the first ALPN protocol, borrowed */
	size_t alpn_len;
};

/* RFC 8701: 0x0a0a, 0x1a1a, ... 0xfafa */
static bool is_grease(uint16_t v)
{
	return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

static void keep_u16(uint16_t *arr, uint32_t *n, uint32_t cap, uint16_t v)
{
	if (*n < cap)
		arr[*n] = v;
	(*n)++;
}

static int cmp_u16(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static const char *ja4_version(uint16_t v)
{
	switch (v) {
	case 0x0304:
		return "13";
	case 0x0303:
		return "12";
	case 0x0302:
		return "11";
	case 0x0301:
		return "10";
	case 0x0300:
		return "s3";
	case 0x0002:
		return "s2";
	default:
		return "00";
	}
}

static bool is_alnum(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* The first and last characters of the first ALPN protocol, or of its hex form. */
static void ja4_alpn(const struct ja4_in *j, char out[3])
{
	out[0] = out[1] = '0';
	out[2] = 0;
	if (!j->alpn || j->alpn_len == 0)
		return;
	uint8_t first = j->alpn[0], last = j->alpn[j->alpn_len - 1];
	if (is_alnum(first) && is_alnum(last)) {
		out[0] = (char)first;
		out[1] = (char)last;
	} else {
		out[0] = hex[first >> 4];
		out[1] = hex[last & 15];
	}
}

/* The first 12 hex digits of the SHA-256 of list ("000000000000" for an empty one). */
static void ja4_hash(const char *list, char out[13])
{
	uint8_t d[SHA256_DIGEST_SIZE];
	if (!*list) {
		memcpy(out, "000000000000", 13);
		return;
	}
	hex_digest((const uint8_t *)list, strlen(list), d);
	for (int i = 0; i < 6; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[12] = 0;
}

static void join_hex(struct sbuf *b, const uint16_t *v, uint32_t n)
{
	char one[8];
	for (uint32_t i = 0; i < n; i++) {
		snprintf(one, sizeof(one), "%s%04x", i ? "," : "", v[i]);
		sb_str(b, one);
	}
}

static void ja4_make(struct ja4_in *j, char *out, size_t cap)
{
	char list[TLS_MAX_EXTS * 5 + TLS_MAX_SIGALGS * 5 + 8], hb[13], hc[13], alpn[3];
	struct sbuf b = {list, sizeof(list), 0};
	uint32_t nc = j->n_ciphers < TLS_MAX_CIPHERS ? j->n_ciphers : TLS_MAX_CIPHERS;
	uint32_t ne = j->n_exts < TLS_MAX_EXTS ? j->n_exts : TLS_MAX_EXTS;
	uint32_t ns = j->n_sigalgs < TLS_MAX_SIGALGS ? j->n_sigalgs : TLS_MAX_SIGALGS;
	uint16_t exts[TLS_MAX_EXTS];
	uint32_t nx = 0;

	list[0] = 0;
	qsort(j->ciphers, nc, sizeof(j->ciphers[0]), cmp_u16);
	join_hex(&b, j->ciphers, nc);
	ja4_hash(list, hb);
	for (uint32_t i = 0; i < ne; i++)
		if (j->exts[i] != EXT_SNI && j->exts[i] != EXT_ALPN)
			exts[nx++] = j->exts[i];
	qsort(exts, nx, sizeof(exts[0]), cmp_u16);
	b.len = 0;
	list[0] = 0;
	join_hex(&b, exts, nx);
	if (ns > 0) {
		sb_char(&b, '_');
		join_hex(&b, j->sigalgs, ns);
	}
	ja4_hash(list, hc);
	ja4_alpn(j, alpn);
	snprintf(out, cap, "t%s%c%02u%02u%s_%s_%s",
	         ja4_version(j->max_version ? j->max_version : j->legacy), j->sni ? 'd' : 'i',
	         j->n_ciphers > 99 ? 99 : j->n_ciphers, j->n_exts > 99 ? 99 : j->n_exts, alpn, hb,
	         hc);
}

/* ---- ClientHello and ServerHello (RFC 8446 section 4.1) ---- */

static void client_sni(struct tls_info *i, struct rd body)
{
	struct rd list = rd_vec(&body, 2);
	while (list.len > 0 && !list.bad) {
		uint8_t type = (uint8_t)rd_uint(&list, 1);
		struct rd name = rd_vec(&list, 2);
		if (type == 0 && !name.bad && !i->sni[0]) {
			copy_esc(i->sni, sizeof(i->sni), name.p, name.len);
			return;
		}
	}
}

static void client_alpn(struct tls_info *i, struct ja4_in *j, struct rd body)
{
	struct rd list = rd_vec(&body, 2);
	while (list.len > 0 && !list.bad) {
		struct rd proto = rd_vec(&list, 1);
		if (proto.bad)
			return;
		if (!j->alpn) {
			j->alpn = proto.p;
			j->alpn_len = proto.len;
		}
		if (i->n_alpn < TLS_MAX_ALPN)
			copy_esc(i->alpn[i->n_alpn++], sizeof(i->alpn[0]), proto.p,
			         proto.len < TLS_ALPN_MAX ? proto.len : TLS_ALPN_MAX);
	}
}

static void client_ext(struct tls_info *i, struct ja4_in *j, uint16_t type, struct rd body)
{
	if (is_grease(type))
		return;
	keep_u16(j->exts, &j->n_exts, TLS_MAX_EXTS, type);
	if (type == EXT_SNI) {
		j->sni = true;
		i->sni_seen = true;
		client_sni(i, body);
	} else if (type == EXT_ALPN) {
		client_alpn(i, j, body);
	} else if (type == EXT_VERSIONS) {
		struct rd l = rd_vec(&body, 1);
		while (l.len >= 2) {
			uint16_t v = (uint16_t)rd_uint(&l, 2);
			if (!is_grease(v) && v > j->max_version)
				j->max_version = v;
		}
	} else if (type == EXT_SIGALGS) {
		struct rd l = rd_vec(&body, 2);
		while (l.len >= 2) {
			uint16_t v = (uint16_t)rd_uint(&l, 2);
			if (!is_grease(v))
				keep_u16(j->sigalgs, &j->n_sigalgs, TLS_MAX_SIGALGS, v);
		}
	}
}

static bool parse_client_hello(struct tls_info *i, struct rd c)
{
	struct ja4_in j;
	memset(&j, 0, sizeof(j));
	j.legacy = (uint16_t)rd_uint(&c, 2);
	rd_take(&c, 32);
	rd_vec(&c, 1);
	struct rd cs = rd_vec(&c, 2);
	while (cs.len >= 2) {
		uint16_t v = (uint16_t)rd_uint(&cs, 2);
		if (!is_grease(v))
			keep_u16(j.ciphers, &j.n_ciphers, TLS_MAX_CIPHERS, v);
	}
	rd_vec(&c, 1);
	if (c.len > 0 && !c.bad) {
		struct rd ex = rd_vec(&c, 2);
		while (ex.len > 0 && !ex.bad) {
			uint16_t type = (uint16_t)rd_uint(&ex, 2);
			struct rd body = rd_vec(&ex, 2);
			if (!ex.bad)
				client_ext(i, &j, type, body);
		}
		c.bad |= ex.bad;
	}
	if (c.bad || cs.len != 0) {
		i->sni[0] = 0;
		i->sni_seen = false;
		i->n_alpn = 0;
		return false;
	}
	i->client_hello = true;
	ja4_make(&j, i->ja4, sizeof(i->ja4));
	return true;
}

static bool parse_server_hello(struct tls_info *i, struct rd c)
{
	uint16_t version = (uint16_t)rd_uint(&c, 2), selected = 0;
	rd_take(&c, 32);
	rd_vec(&c, 1);
	uint16_t cipher = (uint16_t)rd_uint(&c, 2);
	rd_uint(&c, 1);
	if (c.len > 0 && !c.bad) {
		struct rd ex = rd_vec(&c, 2);
		while (ex.len > 0 && !ex.bad) {
			uint16_t type = (uint16_t)rd_uint(&ex, 2);
			struct rd body = rd_vec(&ex, 2);
			if (type == EXT_VERSIONS && body.len == 2)
				selected = (uint16_t)rd_uint(&body, 2);
		}
		c.bad |= ex.bad;
	}
	if (c.bad)
		return false;
	i->server_hello = true;
	i->version = selected ? selected : version;
	i->cipher = cipher;
	return true;
}

/* ---- the first certificate (RFC 5280 section 4.1, X.690 DER) ---- */

/* One DER element: its tag and its contents. Only the low-tag-number form, and definite
 * lengths of up to three octets (a certificate message is itself under 2^24). */
static uint8_t der_next(struct rd *c, struct rd *val)
{
	uint8_t tag = (uint8_t)rd_uint(c, 1);
	uint32_t len = rd_uint(c, 1);
	if (len & 0x80) {
		size_t n = len & 0x7f;
		if (n == 0 || n > 3) {
			c->bad = true;
			c->len = 0;
		}
		len = rd_uint(c, n);
	}
	*val = rd_sub(c, len);
	return c->bad ? 0 : tag;
}

static const struct {
	const char *name;
	uint8_t len;
	uint8_t der[10];
} attr_names[] = {
    {"CN", 3, {0x55, 4, 3}},
    {"C", 3, {0x55, 4, 6}},
    {"L", 3, {0x55, 4, 7}},
    {"ST", 3, {0x55, 4, 8}},
    {"O", 3, {0x55, 4, 10}},
    {"OU", 3, {0x55, 4, 11}},
    {"serialNumber", 3, {0x55, 4, 5}},
    {"emailAddress", 9, {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 9, 1}},
    {"DC", 10, {0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 1, 25}},
};

/* An attribute type: its short name, or its dotted form (X.690 8.19). */
static void oid_name(struct sbuf *b, struct rd oid)
{
	for (size_t k = 0; k < sizeof(attr_names) / sizeof(attr_names[0]); k++)
		if (oid.len == attr_names[k].len && !memcmp(oid.p, attr_names[k].der, oid.len)) {
			sb_str(b, attr_names[k].name);
			return;
		}
	uint64_t v = 0;
	bool first = true;
	char num[48];
	while (oid.len > 0) {
		uint8_t x = (uint8_t)rd_uint(&oid, 1);
		v = v << 7 | (x & 0x7f);
		if (v > UINT32_MAX)
			return;
		if (x & 0x80)
			continue;
		if (first)
			snprintf(num, sizeof(num), "%u.%u", v < 80 ? (unsigned)(v / 40) : 2u,
			         (unsigned)(v < 80 ? v % 40 : v - 80));
		else
			snprintf(num, sizeof(num), ".%u", (unsigned)v);
		sb_str(b, num);
		first = false;
		v = 0;
	}
}

/* A Name as "CN=..., O=...", in the certificate's order. */
static void der_name(char *dst, size_t cap, struct rd name)
{
	struct sbuf b = {dst, cap, 0};
	dst[0] = 0;
	while (name.len > 0 && !name.bad) {
		struct rd set, atv, oid, val;
		if (der_next(&name, &set) != 0x31)
			return;
		while (set.len > 0 && !set.bad) {
			if (der_next(&set, &atv) != 0x30 || der_next(&atv, &oid) != 0x06)
				return;
			der_next(&atv, &val);
			if (b.len)
				sb_str(&b, ", ");
			oid_name(&b, oid);
			sb_char(&b, '=');
			sb_esc(&b, val.p, val.len);
		}
	}
}

static bool digits(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return true;
}

/* UTCTime (YYMMDDHHMMSSZ, RFC 5280 4.1.2.5.1) or GeneralizedTime as YYYY-MM-DDTHH:MM:SS;
 * anything else as sent. */
static void der_time(char *dst, size_t cap, uint8_t tag, struct rd t)
{
	char y[5];
	const uint8_t *p = t.p;
	if (tag == 0x17 && t.len == 13 && digits(p, 12) && p[12] == 'Z') {
		snprintf(y, sizeof(y), "%s%c%c", p[0] < '5' ? "20" : "19", p[0], p[1]);
		p += 2;
	} else if (tag == 0x18 && t.len == 15 && digits(p, 14) && p[14] == 'Z') {
		snprintf(y, sizeof(y), "%c%c%c%c", p[0], p[1], p[2], p[3]);
		p += 4;
	} else {
		copy_esc(dst, cap, t.p, t.len);
		return;
	}
	snprintf(dst, cap, "%s-%c%c-%c%cT%c%c:%c%c:%c%c", y, p[0], p[1], p[2], p[3], p[4], p[5],
	         p[6], p[7], p[8], p[9]);
}

static void cert_fingerprint(struct tls_cert *c, const uint8_t *der, size_t n)
{
	uint8_t d[SHA256_DIGEST_SIZE];
	hex_digest(der, n, d);
	for (int i = 0; i < SHA256_DIGEST_SIZE; i++) {
		c->sha256[3 * i] = hex[d[i] >> 4];
		c->sha256[3 * i + 1] = hex[d[i] & 15];
		c->sha256[3 * i + 2] = i + 1 < SHA256_DIGEST_SIZE ? ':' : 0;
	}
}

static bool parse_cert(struct tls_cert *out, struct rd der)
{
	struct rd whole = der, cert, tbs, el, issuer, validity, subject, t1, t2;
	if (der_next(&der, &cert) != 0x30 || der_next(&cert, &tbs) != 0x30)
		return false;
	uint8_t tag = der_next(&tbs, &el);
	if (tag == 0xa0) /* [0] version */
		tag = der_next(&tbs, &el);
	if (tag != 0x02 || der_next(&tbs, &el) != 0x30 || der_next(&tbs, &issuer) != 0x30 ||
	    der_next(&tbs, &validity) != 0x30 || der_next(&tbs, &subject) != 0x30)
		return false;
	uint8_t tag1 = der_next(&validity, &t1), tag2 = der_next(&validity, &t2);
	if (validity.bad)
		return false;
	der_name(out->subject, sizeof(out->subject), subject);
	der_name(out->issuer, sizeof(out->issuer), issuer);
	der_time(out->not_before, sizeof(out->not_before), tag1, t1);
	der_time(out->not_after, sizeof(out->not_after), tag2, t2);
	cert_fingerprint(out, whole.p, whole.len);
	out->seen = true;
	return true;
}

/* Certificate (RFC 5246 7.4.2): a list of DER certificates, the server's own first. */
static bool parse_certificate(struct tls_info *i, struct rd c)
{
	struct rd list = rd_vec(&c, 3);
	struct rd first = rd_vec(&list, 3);
	if (list.bad || c.bad)
		return false;
	return parse_cert(&i->cert, first);
}

/* ---- handshake messages, reassembled across records ---- */

static bool wanted(const struct tls_state *t, enum tls_dir dir, uint8_t type)
{
	if (dir == TLS_TO_SERVER)
		return type == HT_CLIENT_HELLO && !t->info.client_hello;
	return type == HT_SERVER_HELLO ||
	       (type == HT_CERTIFICATE && !t->info.cert.seen && t->info.version < 0x0304);
}

static void stop(struct tls_state *t, enum tls_dir dir, bool capped)
{
	t->half[dir].stopped = true;
	if (capped)
		t->info.capped[dir] = true;
	else
		t->info.malformed[dir] = true;
}

static void msg_end(struct tls_state *t, enum tls_dir dir)
{
	struct tls_half *h = &t->half[dir];
	struct rd c = {h->buf, h->buf_len, false};
	bool ok = true;
	h->mhdr_len = 0;
	if (!h->keep)
		return;
	if (h->mhdr[0] == HT_CLIENT_HELLO)
		ok = parse_client_hello(&t->info, c);
	else if (h->mhdr[0] == HT_SERVER_HELLO)
		ok = parse_server_hello(&t->info, c);
	else
		ok = parse_certificate(&t->info, c);
	if (!ok)
		t->info.malformed[dir] = true;
}

static void msg_start(struct tls_state *t, enum tls_dir dir)
{
	struct tls_half *h = &t->half[dir];
	uint32_t len = (uint32_t)h->mhdr[1] << 16 | (uint32_t)h->mhdr[2] << 8 | h->mhdr[3];
	h->msg_left = len;
	h->buf_len = 0;
	h->keep = wanted(t, dir, h->mhdr[0]);
	if (h->hs_total + len > TLS_HS_CAP) {
		stop(t, dir, true);
		return;
	}
	if (h->keep && len > h->buf_cap) {
		uint8_t *nb = realloc(h->buf, len);
		if (!nb)
			abort();
		h->buf = nb;
		h->buf_cap = len;
	}
	if (len == 0)
		msg_end(t, dir);
}

static void hs_bytes(struct tls_state *t, enum tls_dir dir, const uint8_t *p, size_t n)
{
	struct tls_half *h = &t->half[dir];
	while (n > 0 && !h->stopped) {
		size_t take;
		if (h->mhdr_len < 4) {
			take = 4 - h->mhdr_len < n ? 4 - h->mhdr_len : n;
			memcpy(h->mhdr + h->mhdr_len, p, take);
			h->mhdr_len += (uint32_t)take;
			h->hs_total += (uint32_t)take;
			if (h->mhdr_len == 4)
				msg_start(t, dir);
		} else {
			take = h->msg_left < n ? h->msg_left : n;
			if (h->keep)
				memcpy(h->buf + h->buf_len, p, take);
			h->buf_len += (uint32_t)take;
			h->msg_left -= (uint32_t)take;
			h->hs_total += (uint32_t)take;
			if (h->msg_left == 0)
				msg_end(t, dir);
		}
		p += take;
		n -= take;
	}
}

/* ---- records (RFC 8446 section 5.1, RFC 5246 section 6.2.1) ---- */

static void alert_bytes(struct tls_state *t, struct tls_half *h, const uint8_t *p, size_t n)
{
	for (size_t k = 0; k < n && h->alert_len < 2; k++)
		h->alert[h->alert_len++] = p[k];
	if (h->alert_len == 2 && !t->info.alert_seen) {
		t->info.alert_seen = true;
		t->info.alert_level = h->alert[0];
		t->info.alert_desc = h->alert[1];
	}
}

static void record_body(struct tls_state *t, enum tls_dir dir, const uint8_t *p, size_t n)
{
	struct tls_half *h = &t->half[dir];
	switch (h->rec_type) {
	case CT_HANDSHAKE:
		if (!h->encrypted && !h->hs_lost)
			hs_bytes(t, dir, p, n);
		break;
	case CT_ALERT:
		if (!h->encrypted)
			alert_bytes(t, h, p, n);
		break;
	default:
		break;
	}
}

static void record_start(struct tls_state *t, enum tls_dir dir)
{
	struct tls_half *h = &t->half[dir];
	uint8_t type = h->hdr[0];
	uint32_t len = (uint32_t)h->hdr[3] << 8 | h->hdr[4];
	if (type < CT_CCS || type > CT_HEARTBEAT || h->hdr[1] != 3 || len > REC_MAX) {
		stop(t, dir, false);
		return;
	}
	h->rec_type = type;
	h->rec_left = len;
	h->alert_len = 0;
	if (type == CT_CCS) { /* from here this side encrypts (TLS 1.3: compatibility only) */
		t->info.ccs[dir] = true;
		h->encrypted = true;
	} else if (type == CT_APP_DATA) { /* TLS 1.3 sends its encrypted handshake so */
		t->info.app_data[dir] = true;
		h->encrypted = true;
	}
	if (len == 0)
		h->hdr_len = 0;
}

/* The client's first three bytes: a record type and a 3.x version, or not TLS at all. */
static bool client_start_ok(const struct tls_half *h, const uint8_t *p, size_t n)
{
	for (uint64_t k = h->seen; k < 2 && k - h->seen < n; k++) {
		uint8_t b = p[k - h->seen];
		if (k == 0 ? (b < CT_CCS || b > CT_APP_DATA) : b != 3)
			return false;
	}
	return true;
}

enum tls_feed_result tls_feed(struct tls_state *t, enum tls_dir dir, const uint8_t *data,
                              size_t len)
{
	struct tls_half *h = &t->half[dir];
	if (dir == TLS_TO_SERVER && !client_start_ok(h, data, len)) {
		h->stopped = true;
		return TLS_FEED_NOT_TLS;
	}
	h->seen += len;
	while (len > 0 && !h->stopped) {
		size_t take;
		if (h->hdr_len < 5) {
			take = 5 - h->hdr_len < len ? 5 - h->hdr_len : len;
			memcpy(h->hdr + h->hdr_len, data, take);
			h->hdr_len += (uint32_t)take;
			if (h->hdr_len == 5)
				record_start(t, dir);
		} else {
			take = h->rec_left < len ? h->rec_left : len;
			record_body(t, dir, data, take);
			h->rec_left -= (uint32_t)take;
			if (h->rec_left == 0)
				h->hdr_len = 0;
		}
		data += take;
		len -= take;
	}
	return TLS_FEED_OK;
}

/* Bytes the capture lacks, of known length. Inside the body of the record being read the
 * record framing holds (the next header is where the record's length says) but the
 * handshake messages it carried are lost; past the record's end the framing is lost too and
 * nothing more of this direction is read: a ChangeCipherSpec or an alert may have been in
 * the gap (DESIGN.md section 4). */
void tls_gap(struct tls_state *t, enum tls_dir dir, uint64_t len)
{
	struct tls_half *h = &t->half[dir];
	if (h->stopped || len == 0)
		return;
	h->seen += len;
	if (h->hdr_len == 5 && len <= h->rec_left) {
		h->rec_left -= (uint32_t)len;
		if (h->rec_left == 0)
			h->hdr_len = 0;
		if (h->rec_type == CT_HANDSHAKE)
			h->hs_lost = true;
		if (h->rec_type == CT_ALERT)
			h->alert_len = 2; /* the rest of this alert is not read as another */
		return;
	}
	h->stopped = true;
	t->info.gap[dir] = true;
}

/* ---- the connection ---- */

struct tls_state *tls_new(void)
{
	struct tls_state *t = calloc(1, sizeof(*t));
	if (!t)
		abort();
	return t;
}

void tls_free(struct tls_state *t)
{
	if (!t)
		return;
	free(t->half[0].buf);
	free(t->half[1].buf);
	free(t);
}

void tls_start_unseen(struct tls_state *t)
{
	t->info.start_unseen = true;
}

void tls_close(struct tls_state *t)
{
	t->info.closed = true;
}

const struct tls_info *tls_get_info(const struct tls_state *t)
{
	return &t->info;
}

enum tls_handshake tls_handshake_state(const struct tls_info *i)
{
	if ((i->ccs[0] && i->ccs[1]) || (i->app_data[0] && i->app_data[1]))
		return TLS_HS_COMPLETED;
	if (i->alert_seen)
		return TLS_HS_FAILED;
	if (i->gap[0] || i->gap[1] || i->start_unseen)
		return TLS_HS_UNKNOWN;
	if (i->capped[0] || i->capped[1] || i->malformed[0] || i->malformed[1])
		return TLS_HS_PARTIAL;
	return i->closed ? TLS_HS_FAILED : TLS_HS_PARTIAL;
}
