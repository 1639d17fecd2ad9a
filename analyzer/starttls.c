/* starttls: the SMTP session's bytes handed to the TLS parser after the 220 to STARTTLS
 * (RFC 3207) and on implicit-TLS ports (RFC 8314); plaintext after STARTTLS read on as SMTP
 * (RFC 3207 4.2), and plaintext injected around it, sent before the other side could have
 * read on (CVE-2011-0411 for the client's commands; the same for the server's replies). */
#include "starttls.h"

#include <stdbool.h>
#include <stdlib.h>

#include "smtp_int.h"
#include "tls.h"

/* A TLS handshake record (content type 22, version 3.x) where SMTP text should start. */
static bool looks_like_tls(const uint8_t *p, size_t len)
{
	/* 0x16 starts neither a command (letters) nor a reply (digits): one byte decides */
	return len >= 1 && p[0] == 0x16 && (len < 2 || p[1] == 0x03);
}

/* Plaintext SMTP's first byte: a reply starts with a digit, a command with a letter. */
static bool looks_like_smtp(enum smtp_dir dir, uint8_t b)
{
	uint8_t lower = (uint8_t)(b | 0x20);
	return dir == SMTP_TO_CLIENT ? b >= '0' && b <= '9' : lower >= 'a' && lower <= 'z';
}

static void go_opaque(struct smtp_session *s)
{
	smtp_set_mode(s, CM_OPAQUE);
	s->server_opaque = true;
	if (!s->rec.tls)
		s->rec.tls = tls_new();
}

void starttls_set_tls_port(struct smtp_session *s)
{
	s->st.tls_port = true;
}

/* The connection's first bytes: TLS on an implicit-TLS port unless they start plaintext
 * SMTP; elsewhere, TLS when they are a handshake record. */
static void first_bytes(struct smtp_session *s, enum smtp_dir dir, const uint8_t *p, size_t len)
{
	bool tls = s->st.tls_port ? !looks_like_smtp(dir, p[0]) : looks_like_tls(p, len);
	if (tls) {
		s->rec.implicit_tls = true;
		go_opaque(s);
		for (int d = 0; d < 2; d++) /* lost before the first byte seen: the handshake's */
			tls_gap(s->rec.tls, (enum tls_dir)d, s->rec.gap_bytes[d]);
		if (s->rec.midstream)
			tls_start_unseen(s->rec.tls);
	} else if (s->st.tls_port) {
		smtp_note(s, SMTP_AN_TLS_PORT_PLAINTEXT);
	}
}

/* The client's bytes after the 220 to STARTTLS are not TLS but SMTP (a decrypted or
 * inspected capture): the session is read on as SMTP (RFC 3207 section 4.2: a new EHLO). */
static void plaintext(struct smtp_session *s)
{
	if (s->rec.implicit_tls)
		return;
	tls_free(s->rec.tls);
	s->rec.tls = NULL;
	s->rec.starttls_plaintext = true; /* a state, whatever a gap does to the anomaly */
	smtp_note(s, SMTP_AN_STARTTLS_PLAINTEXT);
	smtp_set_mode(s, CM_COMMAND);
	s->server_opaque = false;
}

static void handshake(struct smtp_session *s, enum smtp_dir dir, const uint8_t *p, size_t len)
{
	bool to_server = dir == SMTP_TO_SERVER;
	if (to_server)
		s->st.client_on = true;
	else
		s->st.server_on = true;
	if (tls_feed(s->rec.tls, to_server ? TLS_TO_SERVER : TLS_TO_CLIENT, p, len) ==
	    TLS_FEED_NOT_TLS)
		plaintext(s);
}

/* Bytes after STARTTLS's 220 sent before the other side could have read on: the client's
 * when its segment does not acknowledge the 220, the server's when its segment acknowledges
 * none of the client's bytes after STARTTLS; without an ACK number, by capture order. */
static bool injected(struct smtp_session *s, enum smtp_dir dir, uint64_t peer_acked)
{
	bool known = peer_acked != UINT64_MAX;
	if (dir == SMTP_TO_SERVER) {
		if (s->st.client_on || !known || peer_acked >= s->st.reply_end)
			return false;
		smtp_note(s, SMTP_AN_STARTTLS_COMMAND_INJECTION);
		return true;
	}
	if (s->st.server_on || (known ? peer_acked > s->st.client_start : s->st.client_on))
		return false;
	smtp_note(s, SMTP_AN_STARTTLS_RESPONSE_INJECTION);
	return true;
}

void starttls_feed(struct smtp_session *s, enum smtp_dir dir, const uint8_t *data, size_t len,
                   uint64_t peer_acked)
{
	if (len == 0)
		return;
	if (!s->rec.seen_client_bytes && !s->rec.seen_server_bytes)
		first_bytes(s, dir, data, len);
	if (!s->rec.tls || (!s->rec.implicit_tls && injected(s, dir, peer_acked)))
		return;
	handshake(s, dir, data, len);
}

void starttls_gap(struct smtp_session *s, enum smtp_dir dir, uint64_t len)
{
	if (s->rec.tls)
		tls_gap(s->rec.tls, dir == SMTP_TO_SERVER ? TLS_TO_SERVER : TLS_TO_CLIENT, len);
}

/* Client bytes held since STARTTLS, sent after the 220 had reached the client (its ACK
 * covers it): the handshake, or plaintext SMTP read as commands. */
static void held_handshake(struct smtp_session *s)
{
	uint8_t *buf = s->hold;
	size_t n = s->hold_len;
	uint64_t acked = s->hold_acked;
	s->hold = NULL;
	s->hold_len = 0;
	handshake(s, SMTP_TO_SERVER, buf, n);
	if (!s->rec.tls) {
		s->cpos = s->st.client_start;
		smtp_client_feed(s, buf, n, acked);
	}
	free(buf);
}

void starttls_accepted(struct smtp_session *s)
{
	s->rec.starttls_accepted = true;
	go_opaque(s);
	s->st.reply_end = s->server_offset;
	s->st.client_start = s->hold_len ? s->hold_pos : s->cpos;
	if (s->hold_len == 0)
		return;
	if (s->hold_acked != UINT64_MAX && s->hold_acked >= s->st.reply_end) {
		held_handshake(s);
		return;
	}
	/* sent with STARTTLS or after it, before its 220: never read as SMTP (RFC 3207 4.2) */
	smtp_note(s, SMTP_AN_STARTTLS_COMMAND_INJECTION);
	smtp_drop_hold(s);
}

void starttls_server_rest(struct smtp_session *s, const uint8_t *data, size_t len)
{
	(void)data;
	if (len == 0 || !s->rec.tls || s->rec.implicit_tls || s->st.server_on)
		return;
	smtp_note(s, SMTP_AN_STARTTLS_RESPONSE_INJECTION);
}
