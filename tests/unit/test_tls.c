/* test_tls: the TLS stage on handshakes built here byte by byte (RFC 8446, RFC 5246): TLS 1.2
 * and 1.3 shapes, records cut at every offset, a message across records, truncated and lying
 * lengths, GREASE, alerts, the first certificate, JA4 against values worked out by hand; the
 * shared cursor (rd.h); the SMTP session's hand-off after STARTTLS (starttls.c, RFC 3207):
 * bytes held before the 220, injection by ACK number. */
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rd.h"
#include "smtp.h"
#include "tap.h"
#include "tls.h"

/* ---- building wire bytes ---- */

struct bb {
	uint8_t b[16384];
	size_t n;
};

static void put(struct bb *b, const void *p, size_t n)
{
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void put_uint(struct bb *b, uint32_t v, int bytes)
{
	while (bytes-- > 0)
		b->b[b->n++] = (uint8_t)(v >> (8 * bytes));
}

/* A length prefix of `bytes` octets, filled in by vec_end. */
static size_t vec_begin(struct bb *b, int bytes)
{
	size_t at = b->n;
	put_uint(b, 0, bytes);
	return at;
}

static void vec_end(struct bb *b, size_t at, int bytes)
{
	uint32_t len = (uint32_t)(b->n - at - (size_t)bytes);
	for (int i = 0; i < bytes; i++)
		b->b[at + (size_t)i] = (uint8_t)(len >> (8 * (bytes - 1 - i)));
}

static void ext_begin(struct bb *b, uint16_t type, size_t *at)
{
	put_uint(b, type, 2);
	*at = vec_begin(b, 2);
}

static void u16_list(struct bb *b, const uint16_t *v, size_t n, int lenbytes)
{
	size_t at = vec_begin(b, lenbytes);
	for (size_t i = 0; i < n; i++)
		put_uint(b, v[i], 2);
	vec_end(b, at, lenbytes);
}

/* A handshake message of type `type` around body. */
static void handshake(struct bb *out, uint8_t type, const struct bb *body)
{
	put_uint(out, type, 1);
	put_uint(out, (uint32_t)body->n, 3);
	put(out, body->b, body->n);
}

/* Records of type `type` carrying payload, cut into records of at most `max` bytes. */
static void records(struct bb *out, uint8_t type, const struct bb *payload, size_t max)
{
	for (size_t off = 0; off < payload->n; off += max) {
		size_t n = payload->n - off < max ? payload->n - off : max;
		put_uint(out, type, 1);
		put_uint(out, 0x0303, 2);
		put_uint(out, (uint32_t)n, 2);
		put(out, payload->b + off, n);
	}
}

static void record_bytes(struct bb *out, uint8_t type, const uint8_t *p, size_t n)
{
	put_uint(out, type, 1);
	put_uint(out, 0x0303, 2);
	put_uint(out, (uint32_t)n, 2);
	put(out, p, n);
}

static const uint8_t zeros[64];

/* ClientHello of a TLS 1.3 client: GREASE cipher, extension and version, SNI, two ALPN
 * protocols, groups, signature algorithms, versions, key share. */
static void client_hello_13(struct bb *m)
{
	static const uint16_t ciphers[] = {0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b};
	static const uint16_t sigalgs[] = {0x0403, 0x0804, 0x0401};
	static const uint16_t versions[] = {0x2a2a, 0x0304, 0x0303};
	static const uint16_t groups[] = {0x001d};
	struct bb body = {.n = 0};
	size_t ext, at, in;

	put_uint(&body, 0x0303, 2);
	put(&body, zeros, 32);
	put_uint(&body, 32, 1);
	put(&body, zeros, 32);
	u16_list(&body, ciphers, 5, 2);
	put_uint(&body, 1, 1);
	put_uint(&body, 0, 1);
	ext = vec_begin(&body, 2);
	ext_begin(&body, 0x1a1a, &at); /* GREASE, empty */
	vec_end(&body, at, 2);
	ext_begin(&body, 0x0000, &at);
	in = vec_begin(&body, 2);
	put_uint(&body, 0, 1);
	put_uint(&body, 14, 2);
	put(&body, "mx.example.org", 14);
	vec_end(&body, in, 2);
	vec_end(&body, at, 2);
	ext_begin(&body, 0x0010, &at);
	in = vec_begin(&body, 2);
	put_uint(&body, 4, 1);
	put(&body, "smtp", 4);
	put_uint(&body, 2, 1);
	put(&body, "h2", 2);
	vec_end(&body, in, 2);
	vec_end(&body, at, 2);
	ext_begin(&body, 0x000a, &at);
	u16_list(&body, groups, 1, 2);
	vec_end(&body, at, 2);
	ext_begin(&body, 0x000d, &at);
	u16_list(&body, sigalgs, 3, 2);
	vec_end(&body, at, 2);
	ext_begin(&body, 0x002b, &at);
	u16_list(&body, versions, 3, 1);
	vec_end(&body, at, 2);
	ext_begin(&body, 0x0033, &at);
	put(&body, "\x00\x04\x00\x1d\x00\x00", 6);
	vec_end(&body, at, 2);
	vec_end(&body, ext, 2);
	handshake(m, 1, &body);
}

/* ServerHello choosing cipher, with supported_versions when sv is not 0. */
static void server_hello(struct bb *m, uint16_t cipher, uint16_t sv)
{
	struct bb body = {.n = 0};
	size_t ext, at;
	put_uint(&body, 0x0303, 2);
	put(&body, zeros, 32);
	put_uint(&body, 0, 1);
	put_uint(&body, cipher, 2);
	put_uint(&body, 0, 1);
	ext = vec_begin(&body, 2);
	if (sv) {
		ext_begin(&body, 0x002b, &at);
		put_uint(&body, sv, 2);
		vec_end(&body, at, 2);
	}
	ext_begin(&body, 0xff01, &at); /* renegotiation_info */
	put_uint(&body, 0, 1);
	vec_end(&body, at, 2);
	vec_end(&body, ext, 2);
	handshake(m, 2, &body);
}

/* ClientHello of a TLS 1.2 client: no SNI, no supported_versions. */
static void client_hello_12(struct bb *m)
{
	static const uint16_t ciphers[] = {0xc02f, 0xfafa, 0xc02b, 0x002f};
	static const uint16_t sigalgs[] = {0x0401};
	static const uint16_t groups[] = {0x0017};
	struct bb body = {.n = 0};
	size_t ext, at, in;
	put_uint(&body, 0x0303, 2);
	put(&body, zeros, 32);
	put_uint(&body, 0, 1);
	u16_list(&body, ciphers, 4, 2);
	put_uint(&body, 1, 1);
	put_uint(&body, 0, 1);
	ext = vec_begin(&body, 2);
	ext_begin(&body, 0x0010, &at);
	in = vec_begin(&body, 2);
	put_uint(&body, 2, 1);
	put(&body, "h2", 2);
	put_uint(&body, 8, 1);
	put(&body, "http/1.1", 8);
	vec_end(&body, in, 2);
	vec_end(&body, at, 2);
	ext_begin(&body, 0x000a, &at);
	u16_list(&body, groups, 1, 2);
	vec_end(&body, at, 2);
	ext_begin(&body, 0x000d, &at);
	u16_list(&body, sigalgs, 1, 2);
	vec_end(&body, at, 2);
	vec_end(&body, ext, 2);
	handshake(m, 1, &body);
}

/* ---- a DER certificate ---- */

static void der(struct bb *out, uint8_t tag, const struct bb *content)
{
	put_uint(out, tag, 1);
	if (content->n < 128) {
		put_uint(out, (uint32_t)content->n, 1);
	} else {
		put_uint(out, 0x82, 1);
		put_uint(out, (uint32_t)content->n, 2);
	}
	put(out, content->b, content->n);
}

static void der_raw(struct bb *out, uint8_t tag, const void *p, size_t n)
{
	struct bb c = {.n = 0};
	put(&c, p, n);
	der(out, tag, &c);
}

/* Name: one RDN per attribute, each (oid last byte under 2.5.4, string). */
static void name(struct bb *out, const uint8_t *attrs, const char *const *values, size_t n)
{
	struct bb seq = {.n = 0};
	for (size_t i = 0; i < n; i++) {
		struct bb atv = {.n = 0}, set = {.n = 0};
		uint8_t oid[3] = {0x55, 4, attrs[i]};
		der_raw(&atv, 0x06, oid, 3);
		der_raw(&atv, 0x0c, values[i], strlen(values[i]));
		der(&set, 0x30, &atv);
		der(&seq, 0x31, &set);
	}
	der(out, 0x30, &seq);
}

static void certificate_der(struct bb *out)
{
	static const uint8_t cn_o[] = {3, 10}, c_cn[] = {6, 3};
	static const char *const issuer[] = {"Test CA", "Example"};
	static const char *const subject[] = {"DE", "mx.example.org"};
	static const uint8_t sha256rsa[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 1, 11};
	struct bb tbs = {.n = 0}, t = {.n = 0}, alg = {.n = 0}, cert = {.n = 0}, v = {.n = 0};
	der_raw(&v, 0x02, "\x02", 1);
	der(&tbs, 0xa0, &v);
	der_raw(&tbs, 0x02, "\x01\x23", 2);
	der_raw(&alg, 0x06, sha256rsa, sizeof(sha256rsa));
	der(&tbs, 0x30, &alg);
	name(&tbs, cn_o, issuer, 2);
	der_raw(&t, 0x17, "260101000000Z", 13);
	der_raw(&t, 0x18, "20361231235959Z", 15);
	der(&tbs, 0x30, &t);
	name(&tbs, c_cn, subject, 2);
	der(&cert, 0x30, &tbs);
	der(&cert, 0x30, &alg);
	der_raw(&cert, 0x03, "\x00\xaa\xbb", 3);
	der(out, 0x30, &cert);
}

static void certificate_msg(struct bb *m, const struct bb *cert)
{
	struct bb body = {.n = 0};
	size_t list = vec_begin(&body, 3), one = vec_begin(&body, 3);
	put(&body, cert->b, cert->n);
	vec_end(&body, one, 3);
	vec_end(&body, list, 3);
	handshake(m, 11, &body);
}

/* ---- feeding ---- */

static struct tls_state *feed_all(const struct bb *c, const struct bb *s)
{
	struct tls_state *t = tls_new();
	CHECK_EQ_INT(tls_feed(t, TLS_TO_SERVER, c->b, c->n), TLS_FEED_OK);
	CHECK_EQ_INT(tls_feed(t, TLS_TO_CLIENT, s->b, s->n), TLS_FEED_OK);
	return t;
}

/* The client's flight, then the server's, each cut at `cut` (and once more half way on). */
static struct tls_state *feed_cut(const struct bb *c, const struct bb *s, size_t cut)
{
	struct tls_state *t = tls_new();
	const struct bb *b[2] = {c, s};
	for (int d = 0; d < 2; d++) {
		size_t a = cut < b[d]->n ? cut : b[d]->n, m = a + (b[d]->n - a) / 2;
		size_t at[4] = {0, a, m, b[d]->n};
		for (int k = 0; k < 3; k++)
			CHECK_EQ_INT(
			    tls_feed(t, (enum tls_dir)d, b[d]->b + at[k], at[k + 1] - at[k]),
			    TLS_FEED_OK);
	}
	return t;
}

static void flights_13(struct bb *c, struct bb *s, size_t maxrec)
{
	struct bb ch = {.n = 0}, sh = {.n = 0};
	client_hello_13(&ch);
	server_hello(&sh, 0x1302, 0x0304);
	c->n = s->n = 0;
	records(c, 22, &ch, maxrec);
	records(s, 22, &sh, maxrec);
	record_bytes(s, 20, (const uint8_t *)"\x01", 1);
	record_bytes(s, 23, zeros, 30); /* EncryptedExtensions ... Finished */
	record_bytes(c, 20, (const uint8_t *)"\x01", 1);
	record_bytes(c, 23, zeros, 20); /* Finished */
}

static void check_13(const struct tls_state *t)
{
	const struct tls_info *i = tls_get_info(t);
	char vb[24];
	CHECK_EQ_INT(tls_handshake_state(i), TLS_HS_COMPLETED);
	CHECK(i->client_hello && i->server_hello);
	CHECK_EQ_STR(tls_version_name(i->version, vb, sizeof(vb)), "TLS 1.3");
	CHECK_EQ_STR(tls_cipher_name(i->cipher), "TLS_AES_256_GCM_SHA384");
	CHECK_EQ_STR(i->sni, "mx.example.org");
	CHECK_EQ_INT(i->n_alpn, 2);
	CHECK_EQ_STR(i->alpn[0], "smtp");
	CHECK_EQ_STR(i->alpn[1], "h2");
	/* by hand: t, 13 (supported_versions), d, 4 ciphers, 6 extensions (GREASE out), "sp";
	 * sha256("1301,1302,1303,c02b") and sha256("000a,000d,002b,0033_0403,0804,0401") */
	CHECK_EQ_STR(i->ja4, "t13d0406sp_39e807bd56df_5d4d534e3685");
	CHECK(!i->cert.seen);
	CHECK(!i->alert_seen);
}

static void test_tls13_whole(void)
{
	struct bb c, s;
	flights_13(&c, &s, 16384);
	struct tls_state *t = feed_all(&c, &s);
	check_13(t);
	tls_free(t);
}

static void test_tls13_cut_everywhere(void)
{
	struct bb c, s;
	flights_13(&c, &s, 16384);
	size_t most = c.n > s.n ? c.n : s.n;
	for (size_t cut = 0; cut <= most; cut++) {
		struct tls_state *t = feed_cut(&c, &s, cut);
		check_13(t);
		tls_free(t);
	}
}

static void test_tls13_one_byte_at_a_time(void)
{
	struct bb c, s;
	flights_13(&c, &s, 16384);
	struct tls_state *t = tls_new();
	for (size_t k = 0; k < c.n; k++)
		CHECK_EQ_INT(tls_feed(t, TLS_TO_SERVER, c.b + k, 1), TLS_FEED_OK);
	for (size_t k = 0; k < s.n; k++)
		CHECK_EQ_INT(tls_feed(t, TLS_TO_CLIENT, s.b + k, 1), TLS_FEED_OK);
	check_13(t);
	tls_free(t);
}

/* The ClientHello spread over records of 1, 7 and 50 bytes: one message across records. */
static void test_message_across_records(void)
{
	static const size_t sizes[] = {1, 7, 50};
	for (size_t k = 0; k < 3; k++) {
		struct bb c, s;
		flights_13(&c, &s, sizes[k]);
		struct tls_state *t = feed_all(&c, &s);
		check_13(t);
		tls_free(t);
	}
}

static void flights_12(struct bb *c, struct bb *s, struct bb *cert)
{
	struct bb ch = {.n = 0}, sh = {.n = 0};
	client_hello_12(&ch);
	server_hello(&sh, 0xc02f, 0);
	cert->n = 0;
	certificate_der(cert);
	certificate_msg(&sh, cert);
	put(&sh, "\x0e\x00\x00\x00", 4); /* ServerHelloDone */
	c->n = s->n = 0;
	records(c, 22, &ch, 16384);
	records(s, 22, &sh, 100);       /* the Certificate across records */
	record_bytes(c, 22, zeros, 40); /* ClientKeyExchange */
	record_bytes(c, 20, (const uint8_t *)"\x01", 1);
	record_bytes(c, 22, zeros, 40); /* encrypted Finished: not read */
	record_bytes(s, 20, (const uint8_t *)"\x01", 1);
	record_bytes(s, 22, zeros, 40);
}

static void test_tls12_certificate(void)
{
	struct bb c, s, cert;
	flights_12(&c, &s, &cert);
	struct tls_state *t = feed_all(&c, &s);
	const struct tls_info *i = tls_get_info(t);
	char vb[24], want[96];
	uint8_t d[SHA256_DIGEST_SIZE];
	struct sha256_ctx ctx;

	CHECK_EQ_INT(tls_handshake_state(i), TLS_HS_COMPLETED);
	CHECK_EQ_STR(tls_version_name(i->version, vb, sizeof(vb)), "TLS 1.2");
	CHECK_EQ_STR(tls_cipher_name(i->cipher), "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
	CHECK_EQ_STR(i->sni, "");
	CHECK(!i->sni_seen);
	CHECK_EQ_INT(i->n_alpn, 2);
	CHECK_EQ_STR(i->alpn[1], "http/1.1");
	/* by hand: 12 from the ClientHello version, i (no SNI), 3 ciphers, 3 extensions, "h2";
	 * sha256("002f,c02b,c02f") and sha256("000a,000d_0401") */
	CHECK_EQ_STR(i->ja4, "t12i0303h2_6653654bab36_4f3e98f48336");
	CHECK(i->cert.seen);
	CHECK_EQ_STR(i->cert.subject, "C=DE, CN=mx.example.org");
	CHECK_EQ_STR(i->cert.issuer, "CN=Test CA, O=Example");
	CHECK_EQ_STR(i->cert.not_before, "2026-01-01T00:00:00");
	CHECK_EQ_STR(i->cert.not_after, "2036-12-31T23:59:59");
	sha256_init(&ctx);
	sha256_update(&ctx, cert.n, cert.b);
	sha256_digest(&ctx, sizeof(d), d);
	for (int k = 0; k < SHA256_DIGEST_SIZE; k++)
		snprintf(want + 3 * k, 4, "%02x%s", d[k], k + 1 < SHA256_DIGEST_SIZE ? ":" : "");
	CHECK_EQ_STR(i->cert.sha256, want);
	CHECK_EQ_INT(strlen(i->cert.sha256), 95);
	tls_free(t);
}

static void test_tls12_cut_everywhere(void)
{
	struct bb c, s, cert;
	flights_12(&c, &s, &cert);
	for (size_t cut = 0; cut <= s.n; cut++) {
		struct tls_state *t = feed_cut(&c, &s, cut);
		const struct tls_info *i = tls_get_info(t);
		CHECK_EQ_INT(tls_handshake_state(i), TLS_HS_COMPLETED);
		CHECK_EQ_STR(i->cert.subject, "C=DE, CN=mx.example.org");
		CHECK_EQ_INT(i->cipher, 0xc02f);
		tls_free(t);
	}
}

/* A handshake_failure alert in answer to the ClientHello, then the close. */
static void test_alert(void)
{
	struct bb c = {.n = 0}, s = {.n = 0}, ch = {.n = 0};
	client_hello_12(&ch);
	records(&c, 22, &ch, 16384);
	record_bytes(&s, 21, (const uint8_t *)"\x02\x28", 2);
	struct tls_state *t = feed_all(&c, &s);
	const struct tls_info *i = tls_get_info(t);
	CHECK_EQ_INT(tls_handshake_state(i), TLS_HS_FAILED);
	CHECK(i->alert_seen);
	CHECK_EQ_INT(i->alert_level, 2);
	CHECK_EQ_STR(tls_alert_name(i->alert_desc), "handshake_failure");
	CHECK(!i->server_hello);
	CHECK(i->client_hello);
	tls_free(t);
}

/* Closed after the ClientHello: failed; not closed: partial. */
static void test_close_before_completion(void)
{
	struct bb c = {.n = 0}, ch = {.n = 0}, s = {.n = 0};
	client_hello_13(&ch);
	records(&c, 22, &ch, 16384);
	struct tls_state *t = feed_all(&c, &s);
	CHECK_EQ_INT(tls_handshake_state(tls_get_info(t)), TLS_HS_PARTIAL);
	tls_close(t);
	CHECK_EQ_INT(tls_handshake_state(tls_get_info(t)), TLS_HS_FAILED);
	tls_free(t);
}

/* SMTP where TLS should start: a decrypted capture; and a record header that is not. */
static void test_not_tls(void)
{
	struct tls_state *t = tls_new();
	CHECK_EQ_INT(tls_feed(t, TLS_TO_SERVER, (const uint8_t *)"EHLO x\r\n", 8),
	             TLS_FEED_NOT_TLS);
	tls_free(t);
	t = tls_new();
	CHECK_EQ_INT(tls_feed(t, TLS_TO_SERVER, (const uint8_t *)"\x16", 1), TLS_FEED_OK);
	CHECK_EQ_INT(tls_feed(t, TLS_TO_SERVER, (const uint8_t *)"\x04", 1), TLS_FEED_NOT_TLS);
	tls_free(t);
	t = tls_new();
	CHECK_EQ_INT(tls_feed(t, TLS_TO_SERVER, (const uint8_t *)"\x18\x03\x03", 3),
	             TLS_FEED_NOT_TLS); /* heartbeat cannot start a connection */
	tls_free(t);
}

/* Every truncation of the ClientHello message, told as if whole (a lying length). */
static void test_truncated_and_lying(void)
{
	struct bb ch = {.n = 0};
	client_hello_13(&ch);
	for (size_t n = 4; n < ch.n; n++) {
		struct bb body = {.n = 0}, c = {.n = 0};
		put(&body, ch.b + 4, n - 4);
		struct bb msg = {.n = 0};
		handshake(&msg, 1, &body);
		records(&c, 22, &msg, 16384);
		struct tls_state *t = tls_new();
		CHECK_EQ_INT(tls_feed(t, TLS_TO_SERVER, c.b, c.n), TLS_FEED_OK);
		const struct tls_info *i = tls_get_info(t);
		/* the extensions are optional: cut exactly before them it is a whole hello */
		CHECK(i->client_hello ? i->ja4[0] == 't' : i->malformed[0]);
		CHECK(i->client_hello || (i->sni[0] == 0 && i->n_alpn == 0));
		tls_free(t);
	}
	/* an extension length running past its list */
	struct bb c = {.n = 0};
	ch.b[ch.n - 8] = 0xff;
	records(&c, 22, &ch, 16384);
	struct tls_state *t = tls_new();
	tls_feed(t, TLS_TO_SERVER, c.b, c.n);
	CHECK(!tls_get_info(t)->client_hello);
	CHECK(tls_get_info(t)->malformed[0]);
	CHECK_EQ_STR(tls_get_info(t)->ja4, "");
	tls_free(t);
}

/* A handshake message announced larger than the cap, and a record too long. */
static void test_caps(void)
{
	struct tls_state *t = tls_new();
	static const uint8_t big[] = {22, 3, 3, 0x40, 0x00, 11, 0x01, 0x00, 0x00};
	CHECK_EQ_INT(tls_feed(t, TLS_TO_CLIENT, big, sizeof(big)), TLS_FEED_OK);
	CHECK(tls_get_info(t)->capped[1]);
	CHECK_EQ_INT(tls_handshake_state(tls_get_info(t)), TLS_HS_PARTIAL);
	tls_close(t);
	CHECK_EQ_INT(tls_handshake_state(tls_get_info(t)), TLS_HS_PARTIAL);
	tls_free(t);
	t = tls_new();
	static const uint8_t huge[] = {23, 3, 3, 0xff, 0xff};
	tls_feed(t, TLS_TO_CLIENT, huge, sizeof(huge));
	CHECK(tls_get_info(t)->malformed[1]);
	tls_free(t);
}

static void test_names(void)
{
	char b[24];
	CHECK_EQ_STR(tls_version_name(0x0301, b, sizeof(b)), "TLSv1");
	CHECK_EQ_STR(tls_version_name(0x0302, b, sizeof(b)), "TLS 1.1");
	CHECK_EQ_STR(tls_version_name(0x0300, b, sizeof(b)), "SSLv3");
	CHECK_EQ_STR(tls_version_name(0x7f1c, b, sizeof(b)), "TLS 1.3 draft-28");
	CHECK_EQ_STR(tls_version_name(0x0505, b, sizeof(b)), "0x0505");
	CHECK_EQ_STR(tls_cipher_name(0x1301), "TLS_AES_128_GCM_SHA256");
	CHECK(tls_cipher_name(0x1399) == NULL);
	CHECK_EQ_STR(tls_alert_name(0), "close_notify");
	CHECK(tls_alert_name(255) == NULL);
	CHECK_EQ_STR(tls_handshake_name(TLS_HS_FAILED), "failed");
}

/* The cursor both parsers share (include/rd.h): checked reads leave it unchanged when the
 * bytes are not there; sticky reads empty it and set bad, and every read after gives zeros. */
static void test_cursor(void)
{
	static const uint8_t wire[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x02, 0xaa, 0xbb, 0x09};
	struct rd r = {wire, 3, false};
	uint32_t v32 = 0;
	uint16_t v16 = 0;
	CHECK(!rd_be32(&r, &v32));
	CHECK(r.p == wire && r.len == 3 && !r.bad);
	CHECK(rd_be16(&r, &v16));
	CHECK_EQ_INT(v16, 0x0102);
	rd_limit(&r, 5);
	CHECK_EQ_INT(r.len, 1);
	struct rd s = {wire + 5, 4, false};
	struct rd vec = rd_vec(&s, 1); /* length 2: aa bb */
	CHECK(!vec.bad && vec.len == 2 && vec.p[0] == 0xaa);
	CHECK_EQ_INT(rd_uint(&s, 1), 0x09);
	CHECK(!s.bad);
	CHECK_EQ_INT(rd_uint(&s, 2), 0); /* past the end */
	CHECK(s.bad && s.len == 0);
	struct rd after = rd_sub(&s, 0);
	CHECK(after.bad && after.len == 0 && rd_take(&s, 0) == NULL);
	struct rd lying = {wire + 5, 2, false}; /* says 2 bytes follow, holds 1 */
	CHECK(rd_vec(&lying, 1).bad && lying.bad);
}

/* ---- the SMTP session's hand-off to TLS (analyzer/starttls.c, RFC 3207) ---- */

static const char greet[] = "220 mx ESMTP\r\n", ehlo_reply[] = "250 mx\r\n",
                  ready[] = "220 2.0.0 Ready to start TLS\r\n";

static void feed_str(struct smtp_session *s, enum smtp_dir dir, const char *text, uint64_t acked)
{
	smtp_feed(s, dir, (const uint8_t *)text, strlen(text), acked, 0);
}

/* A session fed the greeting, EHLO and its reply, and STARTTLS; the server's 220 will end at
 * server offset *ready_end. */
static struct smtp_session *up_to_starttls(uint64_t *ready_end)
{
	struct smtp_limits lim;
	smtp_limits_default(&lim);
	struct smtp_session *s = smtp_session_new(&lim);
	feed_str(s, SMTP_TO_CLIENT, greet, 0);
	feed_str(s, SMTP_TO_SERVER, "EHLO c\r\n", strlen(greet));
	feed_str(s, SMTP_TO_CLIENT, ehlo_reply, 8);
	feed_str(s, SMTP_TO_SERVER, "STARTTLS\r\n", strlen(greet) + strlen(ehlo_reply));
	*ready_end = strlen(greet) + strlen(ehlo_reply) + strlen(ready);
	return s;
}

static bool has_anomaly(const struct smtp_session *s, enum smtp_anomaly an)
{
	return (smtp_get_record(s)->anomalies & UINT64_C(1) << an) != 0;
}

/* The client's handshake captured before the 220 it answers (its ACK covers the 220): held
 * while the reply is awaited, then read as the handshake, not as injection. */
static void test_starttls_handshake_before_its_220(void)
{
	uint64_t end;
	struct smtp_session *s = up_to_starttls(&end);
	struct bb ch = {.n = 0}, c = {.n = 0};
	client_hello_13(&ch);
	records(&c, 22, &ch, 16384);
	smtp_feed(s, SMTP_TO_SERVER, c.b, c.n, end, 0);
	feed_str(s, SMTP_TO_CLIENT, ready, 18);
	const struct smtp_record *r = smtp_get_record(s);
	CHECK(r->starttls_accepted && r->tls != NULL);
	CHECK(r->tls && tls_get_info(r->tls)->client_hello);
	CHECK(!has_anomaly(s, SMTP_AN_STARTTLS_COMMAND_INJECTION));
	CHECK(!has_anomaly(s, SMTP_AN_STARTTLS_PLAINTEXT));
	smtp_session_free(s);
}

/* The same order with plaintext SMTP (a decrypted capture): read on as commands. */
static void test_starttls_plaintext_before_its_220(void)
{
	uint64_t end;
	struct smtp_session *s = up_to_starttls(&end);
	uint32_t before = smtp_get_record(s)->commands;
	feed_str(s, SMTP_TO_SERVER, "EHLO c\r\n", end);
	feed_str(s, SMTP_TO_CLIENT, ready, 18);
	const struct smtp_record *r = smtp_get_record(s);
	CHECK(r->starttls_accepted && r->tls == NULL);
	CHECK(has_anomaly(s, SMTP_AN_STARTTLS_PLAINTEXT));
	CHECK(!has_anomaly(s, SMTP_AN_STARTTLS_COMMAND_INJECTION));
	CHECK_EQ_INT(r->commands, before + 1);
	smtp_session_free(s);
}

/* Injected both ways, by ACK number: the client's RSET does not acknowledge the 220, the
 * server's 250 acknowledges none of the client's bytes after STARTTLS; neither reaches the
 * TLS parser, which still reads the ClientHello that follows. */
static void test_starttls_injection_by_ack(void)
{
	uint64_t end;
	struct smtp_session *s = up_to_starttls(&end);
	uint64_t c_after = strlen("EHLO c\r\nSTARTTLS\r\n");
	feed_str(s, SMTP_TO_CLIENT, ready, c_after);
	feed_str(s, SMTP_TO_SERVER, "RSET\r\n", end - strlen(ready));
	feed_str(s, SMTP_TO_CLIENT, "250 ok\r\n", c_after);
	CHECK(has_anomaly(s, SMTP_AN_STARTTLS_COMMAND_INJECTION));
	CHECK(has_anomaly(s, SMTP_AN_STARTTLS_RESPONSE_INJECTION));
	struct bb ch = {.n = 0}, c = {.n = 0};
	client_hello_13(&ch);
	records(&c, 22, &ch, 16384);
	smtp_feed(s, SMTP_TO_SERVER, c.b, c.n, end, 0);
	const struct smtp_record *r = smtp_get_record(s);
	CHECK(r->tls && tls_get_info(r->tls)->client_hello);
	CHECK(!has_anomaly(s, SMTP_AN_STARTTLS_PLAINTEXT));
	smtp_session_free(s);
}

/* ---- seeds for tests/fuzz/fuzz_tls.c (its framing: a byte of direction and length) ---- */

static void seed_chunks(FILE *f, const struct bb *b, enum tls_dir dir)
{
	for (size_t off = 0; off < b->n; off += 127) {
		size_t n = b->n - off < 127 ? b->n - off : 127;
		fputc((int)(n << 1 | (size_t)dir), f);
		fwrite(b->b + off, 1, n, f);
	}
}

static void write_seed(const char *dir, const char *name, const struct bb *c, const struct bb *s)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f)
		return;
	seed_chunks(f, c, TLS_TO_SERVER);
	seed_chunks(f, s, TLS_TO_CLIENT);
	fputc(0xff, f);
	fclose(f);
}

/* test_tls DIR: writes the flights built here into DIR as seeds instead of testing. */
static void write_seeds(const char *dir)
{
	struct bb c, s, cert, ch = {.n = 0};
	flights_13(&c, &s, 16384);
	write_seed(dir, "tls13", &c, &s);
	flights_13(&c, &s, 50);
	write_seed(dir, "tls13-small-records", &c, &s);
	flights_12(&c, &s, &cert);
	write_seed(dir, "tls12-certificate", &c, &s);
	client_hello_12(&ch);
	c.n = s.n = 0;
	records(&c, 22, &ch, 16384);
	record_bytes(&s, 21, (const uint8_t *)"\x02\x28", 2);
	write_seed(dir, "alert", &c, &s);
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		write_seeds(argv[1]);
		return 0;
	}
	RUN_TEST(test_tls13_whole);
	RUN_TEST(test_tls13_cut_everywhere);
	RUN_TEST(test_tls13_one_byte_at_a_time);
	RUN_TEST(test_message_across_records);
	RUN_TEST(test_tls12_certificate);
	RUN_TEST(test_tls12_cut_everywhere);
	RUN_TEST(test_alert);
	RUN_TEST(test_close_before_completion);
	RUN_TEST(test_not_tls);
	RUN_TEST(test_truncated_and_lying);
	RUN_TEST(test_caps);
	RUN_TEST(test_names);
	RUN_TEST(test_cursor);
	RUN_TEST(test_starttls_handshake_before_its_220);
	RUN_TEST(test_starttls_plaintext_before_its_220);
	RUN_TEST(test_starttls_injection_by_ack);
	TAP_EXIT();
}
