/* smtp_int: the SMTP stage's private state, shared by its files: smtp.c (the session's
 * inputs), smtp_state.c (the shared state and its doors), smtp_verb.c (the verb table),
 * smtp_client.c (what the client sends), smtp_reply.c (what the server answers),
 * smtp_frame.c (line framing), smtp_lenient.c (the smuggling reading), smtp_gap.c (lost
 * bytes), smtp_gap_reply.c (replies across lost bytes), smtp_gap_tls.c (STARTTLS and
 * greeting losses), smtp_cmdlog.c. Not for other stages. */
#ifndef SMTPTRACE_SMTP_INT_H
#define SMTPTRACE_SMTP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp.h"
#include "starttls.h"

#define SMTP_CMD_LINE_MAX   512          /* RFC 5321 4.5.3.1.4, including CRLF */
#define SMTP_TEXT_LINE_MAX  1000         /* RFC 5321 4.5.3.1.6, including CRLF */
#define SMTP_REPLY_LINE_MAX 512          /* RFC 5321 4.5.3.1.5, including CRLF */
#define SMTP_KEEP_TEXT      512          /* bytes of any wire text kept in the record */
#define SMTP_TEXT_BLOCK     256          /* a session's block for its record's first texts */
#define SMTP_HOLD_MAX       (256 * 1024) /* client bytes held while a reply decides their meaning */
#define SMTP_ERROR_RUN      3            /* 5xx replies in a row that make repeated_errors */
#define SMTP_SHADOW_MAX     16 /* commands followed in the lenient reading of smuggled text */

/* How the client's bytes read: X(ENUM, "name"). Changed only by smtp_set_mode(). */
#define SMTP_MODE_LIST(X)                                                                          \
	X(COMMAND, "command")     /* command lines */                                              \
	X(TEXT, "text")           /* DATA message text, until <CRLF>.<CRLF> */                     \
	X(BDAT, "bdat")           /* a BDAT chunk: bdat_left octets */                             \
	X(HOLD, "hold")           /* waiting for the reply to DATA, STARTTLS or AUTH */            \
	X(AUTH_LINE, "auth_line") /* the next line answers a 334: credentials, never kept */       \
	X(OPAQUE, "opaque")       /* after STARTTLS's 220, or implicit TLS */
#define CM_ENUM(name, str) CM_##name,
enum client_mode { SMTP_MODE_LIST(CM_ENUM) CM_COUNT };
#undef CM_ENUM

/* A command awaiting its reply. The greeting and the end of data take a place too. */
/* PK_GAP stands for client command bytes the capture lost: zero or more commands, whose
 * replies it takes until a reply fits the command after it (DESIGN.md section 4). */
enum pending_kind { PK_COMMAND = 0, PK_GREETING, PK_EOD, PK_GAP };

struct pending {
	enum pending_kind kind;
	enum smtp_verb verb;
	bool shadow;         /* read from smuggled text: its reply changes no client mode */
	bool decide_smuggle; /* an EOD after a look-alike: the reply after its own decides */
	uint32_t arg;        /* recipient index for RCPT; 1 for BDAT LAST */
	int64_t tx;          /* the transaction it belongs to, -1 for none */
	uint64_t end_pos;    /* client stream offset just after the command line */
	uint64_t peer_acked; /* server bytes the client had when it sent this */
	uint32_t log;        /* 1 + its entry in rec.cmds; 0 for none */
	uint32_t answered;   /* PK_GAP: replies it took */
	uint64_t lost;       /* PK_GAP: client bytes its run lost, counted (0: not counted) */
	uint32_t ans_before; /* PK_GAP: replies the runs of lost commands just before took */
	uint64_t srv_gap;    /* PK_GAP: last_reply_end when it began */
	/* PK_GAP: the client bytes the server had acknowledged when it began the first reply it
	 * took, whole or cut (UINT64_MAX: none); two_cmds: an earlier run merged into it held
	 * two or more commands (smtp_gap.c, run_holds_two) */
	uint64_t reply_acked;
	bool two_cmds;
	uint64_t run_from; /* PK_GAP: client offset of the line its run began in (0: unknown) */
	/* lost server bytes may hold its reply, or a reply after it may be its: the reply the
	 * queue gives it is not known to be its (smtp_gap_replies_unsure) */
	bool reply_unsure;
};

struct line_buf {
	uint8_t *buf; /* grown on demand up to the line cap: most lines never need it */
	uint32_t len, cap;
	bool overflow;       /* the line passed the cap: the rest up to LF is dropped */
	bool last_cr;        /* the last byte taken so far was a CR */
	uint64_t total;      /* bytes of the line so far, kept or not */
	uint64_t peer_acked; /* of the line's first byte */
};

/* The reply being assembled from its lines. */
struct reply_acc {
	bool active;
	uint64_t start_pos;   /* server offset of its first line */
	uint64_t start_acked; /* client bytes the server had acknowledged at its first line */
	uint16_t code;
	struct smtp_reply first;
	bool is_ehlo;
	bool cut;         /* a gap cut it before its last line: it may have ended in the gap */
	uint64_t cut_end; /* server offset just after that gap */
	/* where first.text's bytes are kept: one buffer for the session's replies, grown up to
	 * SMTP_KEEP_TEXT + 1, not one allocation per reply (smtp_reply_text_set) */
	char *text_buf;
	uint32_t text_cap;
};

/* The lenient reading of message text after an end-of-data look-alike: what a server that
 * took the look-alike as the end would have read as commands, and the replies it would
 * owe for them (DESIGN.md section 5, smuggling_eod). */
struct shadow_cmd {
	enum pending_kind kind; /* PK_COMMAND, or PK_EOD for a smuggled message's end */
	enum smtp_verb verb;
	struct smtp_bytes arg; /* the path of MAIL and RCPT */
	uint64_t size;         /* PK_EOD: the smuggled message's octets */
	uint64_t text_acked;   /* PK_EOD: server bytes its first text line acknowledged */
};

struct smuggle {
	bool active;   /* a look-alike was seen in the open message */
	bool deciding; /* the EOD was answered: the next reply says which reading fits */
	bool in_text;  /* the lenient reading is inside a smuggled message's text */
	bool followed; /* text came after the look-alike: without any it is a bare-LF end */
	enum smtp_lookalike kind;
	bool unsure;       /* its kind, or whether text followed it, rests on lost bytes */
	uint64_t la_total; /* octets of the look-alike's own line, counted as text */
	uint64_t cgap;     /* client bytes lost before the look-alike came */
	uint64_t la_acked; /* server bytes the look-alike's sender had */
	uint64_t text_size, text_acked; /* of the smuggled message being read */
	int64_t tx;
	struct shadow_cmd cmds[SMTP_SHADOW_MAX];
	uint32_t n;
	/* adopted while the strict reading was still in text: 1 + that transaction, and the
	 * client offset then; a client gap right there may hold more of its strict text */
	uint32_t mid_tx1;
	uint64_t mid_cpos;
};

/* Scanner state inside DATA message text. */
struct text_state {
	uint8_t head[3];       /* first bytes of the current line */
	bool prev_crlf;        /* the previous line ended in CRLF (true at the start) */
	bool first_line;       /* the next line is the first of the text */
	bool start_lost;       /* client bytes were lost just before the next line: how the
	                        * line before it ended, or whether it starts a line, is unknown */
	uint64_t reply354_end; /* server offset just after the 354 */
	uint64_t gap_at_354;   /* server bytes lost before the 354 was taken */
};

struct smtp_session {
	struct smtp_limits lim;
	struct smtp_record rec;
	enum client_mode cmode;
	bool server_opaque;
	struct line_buf cline, sline;
	struct text_state text;
	uint64_t bdat_left;
	bool bdat_last;
	uint8_t *hold;
	size_t hold_len;
	uint64_t hold_acked;
	uint64_t hold_pos;        /* client stream offset of the first held byte */
	enum smtp_verb hold_verb; /* the command whose reply decides how held bytes read */
	bool starttls_offered;    /* an EHLO reply listed STARTTLS (RFC 3207 4), kept when a later
	                           * one lists it no more */
	bool ehlo_whole;       /* the last EHLO reply was seen whole (its extensions are known) */
	bool ext_by_run;       /* extensions unknown only for a lost run (list kept, smtp_gap.c) */
	bool ext_by_run_whole; /* ehlo_whole before that run */
	bool helo_by_run;      /* helo_command unknown only for a lost run (smtp_gap.c) */
	size_t hold_tail;      /* offset in hold of the held bytes sent with the last ACK */
	uint64_t hold_tail_acked; /* that ACK: server bytes the client had when it sent them */
	/* DATA was refused and the held bytes were sent before that reply: the server reads
	 * them as commands only if it answers again; if it closes first, it never read them */
	bool hold_unread;
	/* client bytes were lost while holding: 1 + the held bytes before the first such gap
	 * (0: none); the held bytes are not contiguous there */
	size_t hold_gap;
	uint64_t cpos;         /* client stream offset of the bytes being read */
	uint64_t line_end_pos; /* client stream offset just after the line being acted on */
	struct smtp_bytes helo_pending; /* EHLO/HELO argument, kept once the reply is 2xx */
	bool helo_first;                /* rec.helo holds the first EHLO/HELO, not yet accepted */
	bool text_gap;                  /* client bytes were lost while in message text */
	bool gap_sync; /* after a client gap: lines up to the first known verb may be a tail */
	bool gap_since_mail; /* client bytes lost since the last MAIL seen: a MAIL among them */
	bool reply_text_cut; /* the reply line being read lost its end: its text is unknown */
	struct pending *pq;  /* a ring of pq_cap entries, grown up to lim.max_pending */
	uint32_t pq_head, pq_len, pq_cap;
	struct reply_acc reply;
	int64_t cur_tx; /* index of the open transaction, -1 when none */
	uint32_t error_run;
	bool client_closed, server_closed;
	bool eod_2xx_last; /* the last thing the client received was the 2xx to EOD */
	struct smuggle smug;
	/* a command line ended in a bare LF: the client's bytes after it are held until its
	 * reply, and whether the server read them as commands its next act says (Postfix
	 * takes LF as a line end; with smtpd_forbid_bare_newline it answers once and closes) */
	bool lf_hold;
	bool lf_by_order; /* those bytes came before its reply by capture order alone (no ACKs) */
	bool syncing;     /* picked up mid-stream: no command recognised yet */
	bool trace_modes; /* SMTPTRACE_TRACE is set: each change of cmode is told on stderr */
	uint64_t client_offset, client_chunk_start; /* client bytes received */
	uint64_t sync_offset;  /* replies acknowledging less answer commands before the pickup */
	uint64_t server_acked; /* client bytes the server had acknowledged with its last bytes */
	/* anomalies inferred from capture order alone, kept only if the direction they rest on
	 * turns out to be in the capture: [dir] is the direction whose absence voids them */
	uint64_t inferred[2];
	int64_t eod_tx;           /* the transaction of the last end of data, -1 before any */
	uint32_t residue;         /* non-command lines since that end of data */
	bool unstuffed_open;      /* only non-command lines since that end of data */
	uint32_t eod_pending;     /* ends of data in the queue, awaiting their replies */
	uint64_t server_offset;   /* server bytes processed */
	uint64_t server_gap_end;  /* server offset just after the last lost server bytes */
	uint64_t last_reply_end;  /* server offset at the end of the last complete reply */
	struct pending last_done; /* the command the last complete reply answered */
	uint64_t client_ts;
	struct starttls_state st; /* the TLS handshake's start (starttls.c) */
	/* server offset after the last gap that began between replies (whole replies may be in
	 * it; a cut line's gap ends that reply): PK_GAP.srv_gap */
	uint64_t reply_gap_end;
	/* The record's texts (helo, greeting, extensions, envelopes, replies to the end of data)
	 * are copied one after another into this block of SMTP_TEXT_BLOCK bytes while they fit,
	 * and freed with it at the session's end: not one allocation each. A text replaced
	 * leaves its bytes unused; those that do not fit are allocated alone (smtp_bytes_keep). */
	char *text_block;
	uint32_t text_block_used;
};

struct line {
	const uint8_t *p; /* the line without its end, borrowed from the input or the buffer */
	size_t len;
	uint64_t total;    /* its full length on the wire, including the line end */
	bool crlf;         /* ended in CRLF (else a bare LF) */
	const uint8_t *cr; /* the first CR inside p[0..len), NULL when none (most lines) */
};

/* The command log (smtp_cmdlog.c): appends a command; returns 1 + its index, or 0 when not
 * logging or full. Fills in the reply that answered entry log (as returned; 0: nothing).
 * Frees it all. */
uint32_t smtp_cmdlog_command(struct smtp_session *s, const struct smtp_command *c, bool pipelined);
void smtp_cmdlog_reply(struct smtp_session *s, uint32_t log, const struct smtp_reply *r);
void smtp_cmdlog_free(struct smtp_record *r);

/* ---- smtp_state.c: the state every file shares, and its doors. Nothing outside the stage
 * uses them. ---- */
void *smtp_xcalloc(size_t n, size_t size);
void *smtp_xrealloc(void *p, size_t size);
void smtp_bytes_set(struct smtp_bytes *b, const uint8_t *p, size_t len);
void smtp_bytes_free(struct smtp_bytes *b);
/* As smtp_bytes_set, for a text the record keeps until the session's end: in the session's
 * text block while it has room (b->in_block), else allocated alone. */
void smtp_bytes_keep(struct smtp_session *s, struct smtp_bytes *b, const uint8_t *p, size_t len);
/* The text of the reply being assembled (s->reply.first.text): set to a copy of at most
 * SMTP_KEEP_TEXT bytes of p in the session's reply buffer, or cleared (no text). Whoever keeps
 * it past the reply copies it (smtp_bytes_set). */
void smtp_reply_text_set(struct smtp_session *s, const uint8_t *p, size_t len);
void smtp_reply_text_clear(struct smtp_session *s);
/* As smtp_reply_text_set, but the text is p itself (at most SMTP_KEEP_TEXT bytes of it, not
 * NUL-terminated: read it by its length), for a one-line reply that ends while p lasts. */
void smtp_reply_text_borrow(struct smtp_session *s, const uint8_t *p, size_t len);
size_t smtp_first_word_len(const uint8_t *p, size_t len);
void smtp_note_tx(struct smtp_session *s, enum smtp_anomaly an);
/* a client act overtook the reply to (kind, verb): early talking or pipelining */
void smtp_note_overtook(struct smtp_session *s, enum pending_kind kind, enum smtp_verb verb,
                        bool by_order);
bool smtp_noted(struct smtp_session *s, enum smtp_anomaly an);
void smtp_note_inferred(struct smtp_session *s, enum smtp_anomaly an, enum smtp_dir rests_on);
void smtp_trace_verb(struct smtp_session *s, enum smtp_verb v);
void smtp_trace_code(struct smtp_session *s, uint16_t code);

/* the pending-command queue: replies come in command order (RFC 2920 section 3) */
/* Entry i from the head (inline: the queue is read for every command and reply). */
static inline struct pending *smtp_pq_at(struct smtp_session *s, uint32_t i)
{
	uint32_t k = s->pq_head + i; /* below 2 * pq_cap for any i < pq_cap: no division */
	return &s->pq[k < s->pq_cap ? k : k >= 2 * s->pq_cap ? k % s->pq_cap : k - s->pq_cap];
}
void smtp_pq_push(struct smtp_session *s, struct pending p);
void smtp_pq_push_front(struct smtp_session *s, struct pending p);
void smtp_pq_push_gap(struct smtp_session *s, int64_t tx);
bool smtp_pq_pop(struct smtp_session *s, struct pending *out);

/* The client's reading mode: every change passes through smtp_set_mode (with
 * SMTPTRACE_TRACE set, one line "old -> new" on stderr each). smtp_mode_allowed says which
 * changes the model makes; another is traced as unexpected. */
void smtp_set_mode(struct smtp_session *s, enum client_mode m);
bool smtp_mode_allowed(enum client_mode from, enum client_mode to);
const char *smtp_mode_name(enum client_mode m);

/* transactions: the open one, the one a pending entry belongs to, and the steps of one */
struct smtp_tx *smtp_cur_tx(struct smtp_session *s);
struct smtp_tx *smtp_tx_of(struct smtp_session *s, const struct pending *p);
/* begins a transaction, which becomes the open one (owned by the record) */
struct smtp_tx *smtp_tx_begin(struct smtp_session *s);
void smtp_tx_add_rcpt(struct smtp_session *s, struct smtp_tx *tx, const uint8_t *p, size_t n);
/* 354: message text under way */
void smtp_tx_data_start(struct smtp_tx *tx);
/* the end of data was sent at ts (UINT64_MAX: not seen, the time is left as it was) */
void smtp_tx_eod_sent(struct smtp_tx *tx, uint64_t ts);
/* ends tx as SMTP did (committed, rejected at, reset, aborted by QUIT); it is no longer the
 * open one */
void smtp_tx_end(struct smtp_session *s, struct smtp_tx *tx, enum smtp_tx_end end,
                 enum smtp_reject_at at);
/* the connection closed while tx was open: how far it had come */
void smtp_tx_closed(struct smtp_tx *tx);
/* frees what tx owns (not tx itself) */
void smtp_tx_free(struct smtp_tx *tx);
/* held bytes the server never read (it closed first): wiped and freed, never read */
void smtp_drop_hold(struct smtp_session *s);

/* ---- smtp_frame.c: line framing, both directions ---- */
/* The scan over a line's bytes (message text above all): returns the bytes up to and
 * including the first LF in p[0..len), len when there is none; *cr gets the first CR before
 * that point, NULL when none. The one inner loop over the stream: a vectorised scan may
 * replace its body. */
size_t smtp_scan_line(const uint8_t *p, size_t len, const uint8_t **cr);
/* Takes bytes up to the next LF into lb (capped at cap); returns the bytes consumed, and
 * *done when a whole line is in *out (borrowed from p or lb). */
size_t smtp_take_line(struct line_buf *lb, uint32_t cap, const uint8_t *p, size_t len,
                      struct line *out, bool *done);
void smtp_line_reset(struct line_buf *lb);

/* ---- the two directions. smtp.c feeds both; the reply side calls the client side only
 * to release held bytes (DESIGN.md section 4). ---- */
void smtp_client_feed(struct smtp_session *s, const uint8_t *p, size_t len, uint64_t acked);
/* the reply that decides how the held bytes read has come (the mode is set): read them */
void smtp_release_hold(struct smtp_session *s);
/* bytes were lost while those after a bare-LF command were held: read them as commands */
void smtp_lf_release(struct smtp_session *s);
void smtp_server_feed(struct smtp_session *s, const uint8_t *p, size_t len, uint64_t ts);
void smtp_take_helo(struct smtp_session *s);

/* ---- smtp_lenient.c: the lenient reading of text after an end-of-data look-alike (fed by
 * the client side) and the decision between the readings (made by the reply side) ---- */
bool smtp_is_dot_line(const struct line *l);
void smtp_smuggle_clear(struct smuggle *sm);
/* a text line that may be, or follow, a look-alike; cr as in struct line */
void smtp_text_lookalike(struct smtp_session *s, const struct line *l, bool prev_crlf,
                         const uint8_t *cr, uint64_t acked);
/* the strict end of data: ends the lenient reading; true when one was under way */
bool smtp_smuggle_end(struct smtp_session *s);
bool smtp_smuggle_decide(struct smtp_session *s, uint16_t code);
void smtp_smuggle_adopt_now(struct smtp_session *s);
void smtp_smuggle_adopt_mid_text(struct smtp_session *s);
void smtp_smuggle_gap_after(struct smtp_session *s);
void smtp_smuggle_by_causality(struct smtp_session *s);

/* the capture lost bytes (smtp_gap*.c): what the gap hides, and what the other side makes
 * certain (DESIGN.md section 4) */
bool smtp_any_gap(const struct smtp_session *s);
struct smtp_tx *smtp_tx_after_gap(struct smtp_session *s);
void smtp_gap_client(struct smtp_session *s, uint64_t len);
/* a MAIL or RCPT line a gap cut, acted on as sent (smtp_client.c) */
void smtp_cut_command(struct smtp_session *s);
void smtp_gap_server(struct smtp_session *s, uint64_t len, uint64_t ts);
void smtp_reply_cut(struct smtp_session *s, uint64_t ts);
/* a command read while a gap cut a multi-line reply: whether that reply ended in the gap */
void smtp_reply_cut_ended(struct smtp_session *s, uint64_t acked);
/* a command sent after a lost reply to the command the client waited for (smtp_gap.c) */
void smtp_sync_reply_lost(struct smtp_session *s, uint64_t acked);
/* held TLS bytes after STARTTLS whose 220 was lost: STARTTLS accepted (smtp_gap_tls.c) */
void smtp_gap_starttls_hold(struct smtp_session *s);
/* a reply after the bytes a command's sender had, the greeting unseen: it was lost */
void smtp_gap_greeting_lost(struct smtp_session *s);
/* a TLS record where a command should start, after lost client and server bytes: a STARTTLS
 * and its 220 were lost; true when it took the bytes (smtp_gap_tls.c) */
bool smtp_gap_tls_command(struct smtp_session *s, const uint8_t *p, size_t len, uint64_t acked);
/* a reply that cannot answer the STARTTLS at the head after lost server bytes: its reply
 * was in the gap; true when it took the reply (smtp_gap_tls.c) */
bool smtp_gap_starttls_reply(struct smtp_session *s, uint16_t code);
bool smtp_gap_reply(struct smtp_session *s, const struct smtp_reply *r);
/* A run of lost commands queued, with room for an EHLO, whose replies lost server bytes may
 * hold: an EHLO or HELO may be among them (helo_command unknown). */
bool smtp_gap_helo_run_queued(struct smtp_session *s);
/* a text line after a look-alike, sent after a reply the capture lost (smtp_gap_reply.c) */
void smtp_gap_lookalike_reply(struct smtp_session *s, uint64_t acked);
void smtp_gap_text_quit(struct smtp_session *s);
/* a RCPT answered 503: no recipient, and a transaction a RCPT alone opened none */
void smtp_rcpt_without_mail(struct smtp_session *s, const struct pending *p);
void smtp_gap_drop_guessed_txs(struct smtp_session *s);
/* the server closed: the commands it never answered it never read (smtp_client.c) */
void smtp_drop_unread_commands(struct smtp_session *s);
/* a lost reply to a DATA that client bytes held behind it acknowledge (smtp_gap_reply.c) */
void smtp_gap_data_reply_lost(struct smtp_session *s);
bool smtp_gap_ended_tx(struct smtp_session *s);
void smtp_lost_replies(struct smtp_session *s, uint16_t code);
/* a reply after lost server bytes that an end of data or the command after it may own */
void smtp_gap_eod_reply_unsure(struct smtp_session *s, uint16_t code);
/* a reply after lost server bytes that several commands the server had read may own */
void smtp_gap_replies_unsure(struct smtp_session *s, uint16_t code);
void smtp_gap_finish(struct smtp_session *s);
void smtp_clear_extensions(struct smtp_record *rec);

/* shared by the three gap files (smtp_gap.c, smtp_gap_reply.c, smtp_gap_tls.c) */
/* The shortest EHLO a server accepts, "EHLO x" CRLF (RFC 5321 4.1.1.1; a refused one leaves
 * the state as it was, 4.1.4), and the STARTTLS command with its CRLF (RFC 3207 4). */
#define EHLO_MIN     8
#define STARTTLS_LEN 10

void smtp_gap_tx_touched(struct smtp_tx *tx);
bool smtp_gap_answers_quit(const struct smtp_reply *r);
/* a reply whose code names the command it answers (221, 354, 220, 334) after a gap */
void smtp_gap_infer_from_code(struct smtp_session *s, const struct smtp_reply *r);
void smtp_gap_run_took_reply(struct smtp_session *s, const struct smtp_reply *r);
/* a command whose reply the capture lost */
void smtp_gap_reply_lost(struct smtp_session *s, const struct pending *p);
void smtp_gap_lost_commands(struct smtp_session *s, struct smtp_tx *tx);
void smtp_gap_helo_lost_reset(struct smtp_session *s, const struct pending *gone);
bool smtp_gap_after_lost_reply(const struct smtp_session *s, uint64_t acked);

/* ---- the verb table (smtp_verb.c): one row per verb, both halves ---- */

/* What the server does when it reads a command (smtp_client.c); p is the entry that will
 * await its reply. */
typedef void (*smtp_cmd_fn)(struct smtp_session *s, const struct smtp_command *c,
                            struct pending *p);
/* What the reply to it does (smtp_reply.c). */
typedef void (*smtp_reply_fn)(struct smtp_session *s, const struct pending *p,
                              const struct smtp_reply *r);

/* The reply codes that can answer a command (RFC 5321 4.3.2, loosely). */
enum {
	SMTP_FIT_220 = 1 << 0,   /* STARTTLS's go-ahead */
	SMTP_FIT_221 = 1 << 1,   /* QUIT's */
	SMTP_FIT_235 = 1 << 2,   /* AUTH's success */
	SMTP_FIT_334 = 1 << 3,   /* AUTH's challenge */
	SMTP_FIT_354 = 1 << 4,   /* DATA's go-ahead */
	SMTP_FIT_FINAL = 1 << 5, /* any other 2xx or 3xx */
	SMTP_FIT_4XX = 1 << 6,
	SMTP_FIT_5XX = 1 << 7,
	SMTP_FIT_ERR = SMTP_FIT_4XX | SMTP_FIT_5XX,
};

enum {
	SMTP_VF_HOLD = 1 << 0,    /* its reply decides how the bytes after it read: hold them */
	SMTP_VF_TX_STEP = 1 << 1, /* a step of the transaction: counts in a smuggled one too */
	SMTP_VF_ENDS_TX = 1 << 2, /* ends the open transaction (before its end of data) when
	                           * the server reads it, as ends_tx */
	SMTP_VF_SYNC = 1 << 3,    /* the client waits for its reply even with PIPELINING: the
	                           * EHLO reply is what advertises it (RFC 2920) */
};

struct smtp_verb_row {
	smtp_cmd_fn cmd;     /* NULL: reading it changes nothing but the queue */
	smtp_reply_fn reply; /* NULL: its reply changes nothing */
	uint8_t fit;         /* SMTP_FIT_* */
	uint8_t flags;       /* SMTP_VF_* */
	enum smtp_tx_end ends_tx;
};

/* The row of v (the UNKNOWN row for a value out of range). Borrowed, static. */
const struct smtp_verb_row *smtp_verb_row(enum smtp_verb v);
/* The SMTP_FIT_* bits of a reply code. */
uint8_t smtp_code_fit(uint16_t code);
/* Whether code can answer a pending entry of this kind and verb. */
bool smtp_plausible(enum pending_kind kind, enum smtp_verb verb, uint16_t code);

/* the halves the rows name */
void smtp_cmd_unknown(struct smtp_session *s, const struct smtp_command *c, struct pending *p);
void smtp_cmd_helo(struct smtp_session *s, const struct smtp_command *c, struct pending *p);
void smtp_cmd_mail(struct smtp_session *s, const struct smtp_command *c, struct pending *p);
void smtp_cmd_rcpt(struct smtp_session *s, const struct smtp_command *c, struct pending *p);
void smtp_cmd_data(struct smtp_session *s, const struct smtp_command *c, struct pending *p);
void smtp_cmd_bdat(struct smtp_session *s, const struct smtp_command *c, struct pending *p);
void smtp_cmd_quit(struct smtp_session *s, const struct smtp_command *c, struct pending *p);
void smtp_cmd_auth(struct smtp_session *s, const struct smtp_command *c, struct pending *p);
void smtp_reply_helo(struct smtp_session *s, const struct pending *p, const struct smtp_reply *r);
void smtp_reply_mail(struct smtp_session *s, const struct pending *p, const struct smtp_reply *r);
void smtp_reply_rcpt(struct smtp_session *s, const struct pending *p, const struct smtp_reply *r);
void smtp_reply_data(struct smtp_session *s, const struct pending *p, const struct smtp_reply *r);
void smtp_reply_bdat(struct smtp_session *s, const struct pending *p, const struct smtp_reply *r);
void smtp_reply_starttls(struct smtp_session *s, const struct pending *p,
                         const struct smtp_reply *r);
void smtp_reply_auth(struct smtp_session *s, const struct pending *p, const struct smtp_reply *r);

#endif
