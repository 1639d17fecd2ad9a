/* tls: the TLS handshake read in the clear after STARTTLS or on implicit-TLS ports: records,
 * handshake messages, version, cipher, SNI, ALPN, certificate, alerts, JA4 (RFC 8446, RFC 5246,
 * RFC 6066, RFC 7301, RFC 5280, FoxIO's JA4). Bounded: nothing is allocated per packet. */
#ifndef SMTPTRACE_TLS_H
#define SMTPTRACE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLS_HS_CAP      (64 * 1024) /* handshake bytes read per direction; past it: partial */
#define TLS_NAME_MAX    256         /* SNI, certificate names: kept up to this, cut */
#define TLS_MAX_ALPN    8           /* ALPN protocols kept */
#define TLS_ALPN_MAX    32          /* bytes of each ALPN protocol kept */
#define TLS_MAX_CIPHERS 128         /* ClientHello cipher suites kept for JA4 */
#define TLS_MAX_EXTS    64          /* ClientHello extensions kept for JA4 */
#define TLS_MAX_SIGALGS 64          /* ClientHello signature algorithms kept for JA4 */

enum tls_handshake {
	TLS_HS_PARTIAL = 0, /* neither completed nor failed: capture ended, cap reached, ... */
	TLS_HS_COMPLETED,   /* both sides changed cipher spec, or sent application data */
	TLS_HS_FAILED,      /* an alert in the clear, or a close before completion */
	TLS_HS_UNKNOWN,     /* neither, and a gap in the capture may hold what decides it */
};

/* Direction of the bytes fed: as enum smtp_dir (0 client to server, 1 server to client). */
enum tls_dir { TLS_TO_SERVER = 0, TLS_TO_CLIENT = 1 };

enum tls_feed_result {
	TLS_FEED_OK = 0,
	TLS_FEED_NOT_TLS, /* the client's first bytes are no TLS record header */
};

struct tls_cert {
	bool seen;
	char subject[TLS_NAME_MAX], issuer[TLS_NAME_MAX];
	char not_before[24], not_after[24]; /* "2026-11-28T15:07:25" */
	char sha256[96];                    /* lowercase hex pairs joined by ':' */
};

/* What was read; strings are NUL-terminated, printable ASCII (other bytes as \xNN). */
struct tls_info {
	bool client_hello, server_hello;
	uint16_t version; /* negotiated: ServerHello supported_versions, else its version */
	uint16_t cipher;  /* with server_hello */
	char sni[TLS_NAME_MAX];
	bool sni_seen;
	char alpn[TLS_MAX_ALPN][TLS_ALPN_MAX * 4 + 1];
	uint32_t n_alpn;
	bool alert_seen; /* the first alert read in the clear */
	uint8_t alert_level, alert_desc;
	struct tls_cert cert;
	char ja4[40]; /* empty without a ClientHello */
	bool ccs[2], app_data[2];
	bool capped[2];    /* TLS_HS_CAP reached, or a record too long: reading stopped */
	bool malformed[2]; /* a record or handshake message that does not parse */
	bool closed;       /* a side closed the connection */
	bool gap[2];       /* a gap past a record's end: this direction's framing is lost */
	bool start_unseen; /* picked up mid-stream: the handshake may be before the capture */
};

struct tls_state;

/* A new parser for one connection; owned by the caller, freed by tls_free. Never NULL
 * (aborts when out of memory, as the SMTP layer does). */
struct tls_state *tls_new(void);
void tls_free(struct tls_state *t);

/* Bytes of one direction in stream order; data is borrowed. TLS_FEED_NOT_TLS when the
 * client's first bytes are not a TLS record header; the bytes are then not consumed and the
 * caller may read them as something else (nothing more is parsed). */
enum tls_feed_result tls_feed(struct tls_state *t, enum tls_dir dir, const uint8_t *data,
                              size_t len);

/* len bytes of one direction the capture lacks (a gap of known size), in stream order. */
void tls_gap(struct tls_state *t, enum tls_dir dir, uint64_t len);

/* The connection was picked up mid-stream: its start, the handshake's, was not seen. */
void tls_start_unseen(struct tls_state *t);

/* A side closed the connection (FIN or RST). */
void tls_close(struct tls_state *t);

/* Borrowed; valid until tls_free. */
const struct tls_info *tls_get_info(const struct tls_state *t);
enum tls_handshake tls_handshake_state(const struct tls_info *i);

/* Names for output: static strings. tls_cipher_name and tls_alert_name return NULL for a
 * value not in their tables; tls_version_name writes into buf (at least 16 bytes). */
const char *tls_handshake_name(enum tls_handshake h);
const char *tls_version_name(uint16_t v, char *buf, size_t len);
const char *tls_cipher_name(uint16_t c);
const char *tls_alert_name(uint8_t desc);

#endif
