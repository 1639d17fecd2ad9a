/* starttls: where the SMTP session hands its bytes to the TLS parser, after the 220 to
 * STARTTLS (RFC 3207) and on implicit-TLS ports (RFC 8314); plaintext after STARTTLS, and the
 * injection of plaintext around it (CVE-2011-0411 and its server-side twin). */
#ifndef SMTPTRACE_STARTTLS_H
#define SMTPTRACE_STARTTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp.h"

/* The session's part (struct smtp_session's st). */
struct starttls_state {
	bool tls_port;         /* the server port is an implicit-TLS port */
	bool client_on;        /* a client byte after STARTTLS went to the TLS parser */
	bool server_on;        /* a server byte after STARTTLS's 220 went to it */
	uint64_t reply_end;    /* server offset just after the 220 to STARTTLS */
	uint64_t client_start; /* client offset of the first byte after STARTTLS */
	bool client_gap;       /* client bytes after STARTTLS's 220 lost before any was read */
};

/* The flow's server port is an implicit-TLS port (--tls-ports): the session is TLS from its
 * first byte, unless that byte starts plaintext SMTP (the tls_port_plaintext anomaly). */
void starttls_set_tls_port(struct smtp_session *s);

/* Bytes of one direction (borrowed) before the SMTP layer reads them: the first bytes of an
 * implicit-TLS connection, and after STARTTLS's 220 the handshake, which goes to the TLS
 * parser unless it is plaintext sent before the other side could have read on. */
void starttls_feed(struct smtp_session *s, enum smtp_dir dir, const uint8_t *data, size_t len,
                   uint64_t peer_acked);

/* len bytes of one direction the capture lacks: in the TLS phase, the handshake's. */
void starttls_gap(struct smtp_session *s, enum smtp_dir dir, uint64_t len);

/* The server answered STARTTLS with 220 (its last line ends at s->server_offset): both sides
 * speak TLS from here; client bytes held since STARTTLS are injected, or the handshake. */
void starttls_accepted(struct smtp_session *s);

/* Server bytes (borrowed) left in the segment after the 220 to STARTTLS: sent before the
 * client's handshake could have reached the server. */
void starttls_server_rest(struct smtp_session *s, const uint8_t *data, size_t len);

#endif
