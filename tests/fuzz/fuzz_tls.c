/* fuzz_tls: the TLS stage (RFC 8446, RFC 5246) fed both directions of one connection in chunks.
 * Input: records of one byte each, then bytes: the byte's low bit is the direction, the rest
 * (0-127) the chunk's length; 0xff instead closes the connection. Each chunk is a copy of
 * exactly its size. After the client's first bytes are refused as not TLS, that direction is
 * fed no more, as the SMTP layer then reads it itself. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "tls.h"

/* NUL-terminated inside its array, printable ASCII only (so valid UTF-8 for jansson). */
static void check_str(const char *s, size_t cap)
{
	const char *nul = memchr(s, 0, cap);
	FUZZ_CHECK(nul != NULL);
	for (const char *p = s; p < nul; p++)
		FUZZ_CHECK(*p >= 0x20 && *p < 0x7f);
}

static void check_info(const struct tls_info *i)
{
	char vb[24];
	enum tls_handshake h = tls_handshake_state(i);
	FUZZ_CHECK(h == TLS_HS_PARTIAL || h == TLS_HS_COMPLETED || h == TLS_HS_FAILED);
	FUZZ_CHECK(tls_handshake_name(h) != NULL);
	FUZZ_CHECK(tls_version_name(i->version, vb, sizeof(vb)) != NULL);
	FUZZ_CHECK(i->n_alpn <= TLS_MAX_ALPN);
	for (uint32_t k = 0; k < i->n_alpn; k++)
		check_str(i->alpn[k], sizeof(i->alpn[k]));
	check_str(i->sni, sizeof(i->sni));
	check_str(i->ja4, sizeof(i->ja4));
	FUZZ_CHECK(i->client_hello == (i->ja4[0] == 't'));
	FUZZ_CHECK(!i->client_hello || strlen(i->ja4) == 36);
	check_str(i->cert.subject, sizeof(i->cert.subject));
	check_str(i->cert.issuer, sizeof(i->cert.issuer));
	check_str(i->cert.not_before, sizeof(i->cert.not_before));
	check_str(i->cert.not_after, sizeof(i->cert.not_after));
	check_str(i->cert.sha256, sizeof(i->cert.sha256));
	FUZZ_CHECK(!i->cert.seen || strlen(i->cert.sha256) == 95);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	struct tls_state *t = tls_new();
	bool refused = false;
	while (in.left > 0) {
		uint8_t h = fuzz_u8(&in);
		if (h == 0xff) {
			tls_close(t);
			continue;
		}
		enum tls_dir dir = (enum tls_dir)(h & 1);
		size_t n;
		uint8_t *chunk = fuzz_take(&in, h >> 1, &n);
		if (!(dir == TLS_TO_SERVER && refused)) {
			enum tls_feed_result r = tls_feed(t, dir, chunk, n);
			FUZZ_CHECK(r == TLS_FEED_OK ||
			           (r == TLS_FEED_NOT_TLS && dir == TLS_TO_SERVER));
			refused = r == TLS_FEED_NOT_TLS;
		}
		free(chunk);
		check_info(tls_get_info(t));
	}
	tls_free(t);
	return 0;
}
