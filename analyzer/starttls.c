/* starttls: the SMTP session's bytes handed to the TLS parser after the 220 to STARTTLS
 * (RFC 3207) and on implicit-TLS ports (RFC 8314); plaintext after STARTTLS read on as SMTP
 * (RFC 3207 4.2), and plaintext injected around it, sent before the other side could have
 * read on (CVE-2011-0411 for the client's commands; the same for the server's replies). */
#include "starttls.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

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

/* The session went on in plaintext after STARTTLS's 220 (a decrypted capture) though the
 * client's first bytes after it were lost: no TLS record starts with a digit (0x14..0x18),
 * nor reads as a command line. The lost client bytes were commands (the new EHLO of RFC 3207
 * 4.2 among them: the old extensions no longer hold). */
static void plaintext_after_gap(struct smtp_session *s)
{
	plaintext(s);
	smtp_clear_extensions(&s->rec);
	s->rec.extensions_unknown = true;
	s->gap_sync = true;
	smtp_pq_push_gap(s, s->cur_tx);
}

/* A client segment that starts with a whole command line of a known verb: after lost bytes
 * it may start anywhere in a TLS record, but no record body reads as one (its CRLF within
 * the command line limit, RFC 5321 4.5.3.1.4). */
static bool command_line_start(const uint8_t *p, size_t len)
{
	struct smtp_command c;
	size_t n = len < SMTP_CMD_LINE_MAX ? len : SMTP_CMD_LINE_MAX;
	const uint8_t *lf = memchr(p, '\n', n);
	if (!lf || lf == p || lf[-1] != '\r' || !looks_like_smtp(SMTP_TO_SERVER, p[0]))
		return false;
	smtp_parse_command(p, (size_t)(lf - 1 - p), &c);
	return c.verb != SMTP_V_UNKNOWN;
}

/* After client bytes lost at the start of the TLS phase (none read yet): the server's first
 * bytes start a reply (a digit), or the client's next bytes are a command line: the session
 * went on in plaintext. */
static bool plaintext_after_client_gap(struct smtp_session *s, enum smtp_dir dir, const uint8_t *p,
                                       size_t len)
{
	if (s->st.client_on || !s->st.client_gap)
		return false;
	if (dir == SMTP_TO_CLIENT ? s->st.server_on || !looks_like_smtp(dir, p[0])
	                          : !command_line_start(p, len))
		return false;
	plaintext_after_gap(s);
	return true;
}

static void handshake(struct smtp_session *s, enum smtp_dir dir, const uint8_t *p, size_t len)
{
	bool to_server = dir == SMTP_TO_SERVER;
	if (plaintext_after_client_gap(s, dir, p, len))
		return;
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
	if (dir == SMTP_TO_SERVER && s->rec.tls && !s->rec.implicit_tls && !s->st.client_on)
		s->st.client_gap = true;
	/* server bytes before the 220's end (known from the client's ACK when the 220 itself
	 * was lost, smtp_gap_tls_command) are the 220's, not the handshake's */
	if (dir == SMTP_TO_CLIENT && s->rec.tls && !s->rec.implicit_tls &&
	    s->server_offset + len <= s->st.reply_end)
		return;
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

/* The last segment held was sent after the 220 had reached the client (only a 220 the
 * capture lost lets the bytes before it be held with it): the bytes before it, injected,
 * are wiped; it is the handshake's start. Returns whether it was. */
static bool held_tail_after_reply(struct smtp_session *s)
{
	size_t t = s->hold_tail;
	if (t == 0 || t >= s->hold_len || s->hold_tail_acked == UINT64_MAX ||
	    s->hold_tail_acked < s->st.reply_end)
		return false;
	memset(s->hold, 0, t);
	memmove(s->hold, s->hold + t, s->hold_len - t);
	s->hold_len -= t;
	s->hold_pos += t;
	s->hold_acked = s->hold_tail_acked;
	s->hold_tail = 0;
	s->st.client_start = s->hold_pos;
	return true;
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
	if (held_tail_after_reply(s)) {
		held_handshake(s);
		return;
	}
	smtp_drop_hold(s);
}

void starttls_server_rest(struct smtp_session *s, const uint8_t *data, size_t len)
{
	(void)data;
	if (len == 0 || !s->rec.tls || s->rec.implicit_tls || s->st.server_on)
		return;
	smtp_note(s, SMTP_AN_STARTTLS_RESPONSE_INJECTION);
}
