/* smtp_gap_tls: losses around STARTTLS and the greeting: a TLS record that shows a lost
 * STARTTLS and its 220, plaintext held behind a STARTTLS, a greeting the gap held (RFC 3207
 * 4, 5; RFC 5321 3.1; DESIGN.md section 4, "What the capture lacks"). */
#include "smtp_int.h"
#include "tls.h"

#include <string.h>

/* The lost client bytes that a TLS record after them proves a STARTTLS were just that
 * command (its length) and no EHLO or HELO: the extensions and helo_command hold again. */
static void run_was_starttls(struct smtp_session *s, uint64_t lost)
{
	if (lost == STARTTLS_LEN && s->helo_by_run) /* no HELO either */
		s->rec.helo_unknown = false;
	if (lost != STARTTLS_LEN || !s->ext_by_run || !s->rec.extensions_unknown)
		return;
	s->rec.extensions_unknown = false;
	s->ehlo_whole = s->ext_by_run_whole;
	s->ext_by_run = false;
}

/* A TLS record's first bytes: ChangeCipherSpec, alert, handshake or application data (20..23)
 * and version 3.x (when the second byte is there). No SMTP command starts so. */
static bool tls_record_start(const uint8_t *p, size_t len)
{
	return len >= 1 && p[0] >= 0x14 && p[0] <= 0x17 && (len < 2 || p[1] == 0x03);
}

/* The STARTTLS that heads the queue, behind lost commands only: its index, or pq_len. */
static uint32_t starttls_behind_gaps(struct smtp_session *s)
{
	uint32_t i = 0;
	while (i < s->pq_len && smtp_pq_at(s, i)->kind == PK_GAP)
		i++;
	if (i < s->pq_len && smtp_pq_at(s, i)->kind == PK_COMMAND &&
	    smtp_pq_at(s, i)->verb == SMTP_V_STARTTLS && !smtp_pq_at(s, i)->shadow)
		return i;
	return s->pq_len;
}

/* The entries up to and including i leave the queue: their replies came before the one
 * the client acted on (it waits for STARTTLS's, RFC 3207 4). */
static void pop_through(struct smtp_session *s, uint32_t i)
{
	struct pending gone;
	for (uint32_t k = 0; k <= i; k++)
		smtp_pq_pop(s, &gone);
}

/* Client bytes sent with server bytes in hand that no seen reply accounts for. */
bool smtp_gap_after_lost_reply(const struct smtp_session *s, uint64_t acked)
{
	return acked != UINT64_MAX && acked > s->last_reply_end;
}

/* Held bytes sent with server bytes in hand that came after the STARTTLS at i was sent (its
 * reply: the client waits for it) and that no seen reply accounts for. */
static bool after_starttls_reply(struct smtp_session *s, uint32_t i, uint64_t acked)
{
	uint64_t sent = smtp_pq_at(s, i)->peer_acked;
	return smtp_gap_after_lost_reply(s, acked) && (sent == UINT64_MAX || acked > sent);
}

/* STARTTLS at the head of the queue (behind lost commands only), its reply not seen, server
 * bytes lost, and client bytes held behind it that acknowledge the lost bytes: the client
 * waits for STARTTLS's reply (RFC 3207 4), so the lost bytes held it. When the bytes sent
 * with them in hand start a TLS record, it was a 220: STARTTLS accepted (inferred), and
 * they are the handshake (bytes held before them, sent before the 220, are injected). When
 * they are plaintext commands, a refusal and a 220 in a decrypted capture both make them
 * commands: they are read so, and whether STARTTLS was accepted is unknown. */
void smtp_gap_starttls_hold(struct smtp_session *s)
{
	uint32_t i = starttls_behind_gaps(s);
	if (i == s->pq_len || s->cmode != CM_HOLD || s->reply.active ||
	    !s->rec.gap_bytes[SMTP_TO_CLIENT] || !s->hold_len)
		return;
	size_t at = after_starttls_reply(s, i, s->hold_acked)        ? 0
	            : after_starttls_reply(s, i, s->hold_tail_acked) ? s->hold_tail
	                                                             : s->hold_len;
	if (at < s->hold_len && tls_record_start(s->hold + at, s->hold_len - at)) {
		pop_through(s, i);
		s->rec.inferred |= SMTP_INF_STARTTLS;
		starttls_accepted(s);
		return;
	}
	uint8_t lower = (uint8_t)(s->hold[0] | 0x20);
	if (at != 0 || lower < 'a' || lower > 'z')
		return;
	pop_through(s, i);
	s->rec.starttls_unknown = true;
	smtp_set_mode(s, CM_COMMAND);
	smtp_release_hold(s);
}

/* A TLS record where a command line should start, after lost client bytes (only they, and
 * EHLOs the client waited for, await replies) and lost server bytes (or acknowledged before
 * the capture shows them): a client starts TLS only after a 220 to its STARTTLS (RFC 3207
 * 4), so both were lost. STARTTLS accepted (inferred); the server bytes the client had
 * acknowledged were the 220, not the handshake's. */
bool smtp_gap_tls_command(struct smtp_session *s, const uint8_t *p, size_t len, uint64_t acked)
{
	if (s->cline.len || s->cline.overflow || !tls_record_start(p, len) || !s->pq_len ||
	    s->reply.active || s->rec.tls || smtp_pq_at(s, s->pq_len - 1)->kind != PK_GAP ||
	    (!s->rec.gap_bytes[SMTP_TO_CLIENT] &&
	     (acked == UINT64_MAX || acked <= s->server_offset)))
		return false;
	for (uint32_t i = 0; i < s->pq_len; i++) { /* lost commands, and EHLOs waited for */
		const struct pending *e = smtp_pq_at(s, i);
		if (e->kind != PK_GAP &&
		    (e->kind != PK_COMMAND || !(smtp_verb_row(e->verb)->flags & SMTP_VF_SYNC)))
			return false;
	}
	uint64_t lost = 0;
	while (s->pq_len) {
		struct pending gone;
		smtp_pq_pop(s, &gone);
		if (gone.kind == PK_COMMAND) /* its reply came before the lost bytes were sent */
			smtp_gap_reply_lost(s, &gone);
		lost = gone.kind == PK_GAP && gone.lost && lost != UINT64_MAX ? lost + gone.lost
		                                                              : UINT64_MAX;
	}
	run_was_starttls(s, lost);
	s->rec.inferred |= SMTP_INF_STARTTLS;
	s->gap_sync = false;
	starttls_accepted(s);
	if (acked > s->st.reply_end)
		s->st.reply_end = acked;
	starttls_feed(s, SMTP_TO_SERVER, p, len, acked);
	return true;
}

/* A reply that cannot answer the STARTTLS at the head of the queue (a 250), after server
 * bytes were lost since the last reply, while the client waits: STARTTLS's reply was in
 * the gap, 220 or a refusal, and this one answers nothing the client sent (the server's
 * own bytes after a 220, or the like). STARTTLS stays at the head for what the client does
 * next to decide (smtp_gap_starttls_hold); until then, whether it was accepted is unknown. */
bool smtp_gap_starttls_reply(struct smtp_session *s, uint16_t code)
{
	if (!s->rec.gap_bytes[SMTP_TO_CLIENT] || s->cmode != CM_HOLD ||
	    starttls_behind_gaps(s) != 0 || smtp_plausible(PK_COMMAND, SMTP_V_STARTTLS, code) ||
	    s->reply.start_pos <= s->last_reply_end)
		return false;
	const struct pending *h = smtp_pq_at(s, 0);
	if (h->peer_acked != UINT64_MAX && s->reply.start_pos <= h->peer_acked)
		return false; /* the lost server bytes came before STARTTLS */
	s->rec.starttls_unknown = true;
	if (s->cpos > h->end_pos + s->hold_len) { /* client bytes lost after it: a new EHLO */
		smtp_clear_extensions(&s->rec);   /* (RFC 3207 4.2) may be among them, and this */
		s->rec.extensions_unknown = true; /* reply its */
		s->ehlo_whole = false;
		s->rec.helo_unknown = true;
	}
	return true;
}

/* A reply while the greeting is still awaited, after lost server bytes, that starts where a
 * queued command's sender already had server bytes: the greeting is the server's first
 * reply (RFC 5321 3.1) and the client had it before that command, so it was in the gap and
 * this reply is a later one. */
void smtp_gap_greeting_lost(struct smtp_session *s)
{
	struct pending gone;
	if (!s->pq_len || smtp_pq_at(s, 0)->kind != PK_GREETING || s->rec.greeting_seen ||
	    !s->rec.gap_bytes[SMTP_TO_CLIENT])
		return;
	/* a reply no greeting can be (a 250, RFC 5321 4.3.2) after lost server bytes: the
	 * greeting came first (RFC 5321 3.1), in the gap, even when no command shows when the
	 * client had it (lost ones ahead of this reply) */
	if (!smtp_plausible(PK_GREETING, SMTP_V_UNKNOWN, s->reply.first.code) &&
	    s->server_gap_end > 0 && s->reply.start_pos >= s->server_gap_end) {
		smtp_pq_pop(s, &gone);
		return;
	}
	for (uint32_t i = 1; i < s->pq_len; i++) {
		uint64_t had = smtp_pq_at(s, i)->peer_acked;
		if (had != UINT64_MAX && had > 0 && s->reply.start_pos >= had) {
			smtp_pq_pop(s, &gone);
			return;
		}
	}
}
