/* smtp_int: the SMTP stage's private state, shared by its files (smtp.c: the session,
 * queue and transactions; smtp_client.c: what the client sends; smtp_reply.c: what the
 * server answers). Not for other stages. */
#ifndef SMTPTRACE_SMTP_INT_H
#define SMTPTRACE_SMTP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp.h"

#define SMTP_CMD_LINE_MAX   512          /* RFC 5321 4.5.3.1.4, including CRLF */
#define SMTP_TEXT_LINE_MAX  1000         /* RFC 5321 4.5.3.1.6, including CRLF */
#define SMTP_REPLY_LINE_MAX 512          /* RFC 5321 4.5.3.1.5, including CRLF */
#define SMTP_KEEP_TEXT      512          /* bytes of any wire text kept in the record */
#define SMTP_HOLD_MAX       (256 * 1024) /* client bytes held while a reply decides their meaning */
#define SMTP_ERROR_RUN      3            /* 5xx replies in a row that make repeated_errors */
#define SMTP_SHADOW_MAX     16 /* commands followed in the lenient reading of smuggled text */

enum client_mode {
	CM_COMMAND,   /* command lines */
	CM_TEXT,      /* DATA message text, until <CRLF>.<CRLF> */
	CM_BDAT,      /* a BDAT chunk: bdat_left octets */
	CM_HOLD,      /* waiting for the reply to DATA, STARTTLS or AUTH */
	CM_AUTH_LINE, /* the next line answers a 334: credentials, never kept */
	CM_OPAQUE,    /* after STARTTLS: TLS */
};

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
	uint64_t la_total;              /* octets of the look-alike's own line, counted as text */
	uint64_t text_size, text_acked; /* of the smuggled message being read */
	int64_t tx;
	struct shadow_cmd cmds[SMTP_SHADOW_MAX];
	uint32_t n;
};

/* Scanner state inside DATA message text. */
struct text_state {
	uint32_t line_len;
	uint8_t head[3];       /* first bytes of the current line */
	bool prev_crlf;        /* the previous line ended in CRLF (true at the start) */
	bool last_was_cr;      /* last byte seen was CR */
	bool first_line;       /* the next line is the first of the text */
	uint64_t reply354_end; /* server offset just after the 354 */
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
	/* DATA was refused and the held bytes were sent before that reply: the server reads
	 * them as commands only if it answers again; if it closes first, it never read them */
	bool hold_unread;
	uint64_t cpos;         /* client stream offset of the bytes being read */
	uint64_t line_end_pos; /* client stream offset just after the line being acted on */
	struct smtp_bytes helo_pending; /* EHLO/HELO argument, kept once the reply is 2xx */
	bool helo_first;                /* rec.helo holds the first EHLO/HELO, not yet accepted */
	bool text_gap;                  /* client bytes were lost while in message text */
	bool gap_sync; /* after a client gap: lines up to the first known verb may be a tail */
	bool reply_text_cut; /* the reply line being read lost its end: its text is unknown */
	struct pending *pq;  /* a ring of pq_cap entries, grown up to lim.max_pending */
	uint32_t pq_head, pq_len, pq_cap;
	struct reply_acc reply;
	int64_t cur_tx; /* index of the open transaction, -1 when none */
	uint32_t error_run;
	bool client_closed, server_closed;
	bool eod_2xx_last; /* the last thing the client received was the 2xx to EOD */
	struct smuggle smug;
	bool syncing; /* picked up mid-stream: no command recognised yet */
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
	uint64_t last_reply_end;  /* server offset at the end of the last complete reply */
	struct pending last_done; /* the command the last complete reply answered */
	uint64_t client_ts;
};

struct line {
	const uint8_t *p; /* the line without its end, borrowed from the input or the buffer */
	size_t len;
	uint64_t total; /* its full length on the wire, including the line end */
	bool crlf;      /* ended in CRLF (else a bare LF) */
};

/* The command log (smtp_cmdlog.c): appends a command; returns 1 + its index, or 0 when not
 * logging or full. Fills in the reply that answered entry log (as returned; 0: nothing).
 * Frees it all. */
uint32_t smtp_cmdlog_command(struct smtp_session *s, const struct smtp_command *c, bool pipelined);
void smtp_cmdlog_reply(struct smtp_session *s, uint32_t log, const struct smtp_reply *r);
void smtp_cmdlog_free(struct smtp_record *r);

/* Shared by smtp.c, smtp_client.c and smtp_reply.c; nothing outside the stage uses them. */
void *smtp_xcalloc(size_t n, size_t size);
void *smtp_xrealloc(void *p, size_t size);
void smtp_bytes_set(struct smtp_bytes *b, const uint8_t *p, size_t len);
void smtp_bytes_free(struct smtp_bytes *b);
size_t smtp_first_word_len(const uint8_t *p, size_t len);
void smtp_note_tx(struct smtp_session *s, enum smtp_anomaly an);
bool smtp_noted(struct smtp_session *s, enum smtp_anomaly an);
void smtp_note_inferred(struct smtp_session *s, enum smtp_anomaly an, enum smtp_dir rests_on);
void smtp_trace_verb(struct smtp_session *s, enum smtp_verb v);
void smtp_trace_code(struct smtp_session *s, uint16_t code);

/* the pending-command queue: replies come in command order (RFC 2920 section 3) */
struct pending *smtp_pq_at(struct smtp_session *s, uint32_t i);
void smtp_pq_push(struct smtp_session *s, struct pending p);
void smtp_pq_push_front(struct smtp_session *s, struct pending p);
bool smtp_pq_pop(struct smtp_session *s, struct pending *out);

/* transactions: the open one, by index, opening and ending */
struct smtp_tx *smtp_cur_tx(struct smtp_session *s);
struct smtp_tx *smtp_tx_of(struct smtp_session *s, const struct pending *p);
struct smtp_tx *smtp_tx_open(struct smtp_session *s);
void smtp_tx_end(struct smtp_session *s, enum smtp_tx_end end, enum smtp_reject_at at);
void smtp_add_rcpt(struct smtp_session *s, struct smtp_tx *tx, const uint8_t *p, size_t n);

/* line framing, both directions */
size_t smtp_take_line(struct line_buf *lb, uint32_t cap, const uint8_t *p, size_t len,
                      struct line *out, bool *done);
void smtp_line_reset(struct line_buf *lb);

/* the two directions */
void smtp_client_feed(struct smtp_session *s, const uint8_t *p, size_t len, uint64_t acked);
void smtp_release_hold(struct smtp_session *s);
void smtp_drop_hold(struct smtp_session *s);
void smtp_read_unread(struct smtp_session *s);
void smtp_note_overtook(struct smtp_session *s, enum pending_kind kind, enum smtp_verb verb,
                        bool by_order);
void smtp_server_feed(struct smtp_session *s, const uint8_t *p, size_t len, uint64_t ts);

/* smuggling: the lenient reading (smtp_client.c) and the decision (smtp_reply.c) */
void smtp_smuggle_clear(struct smuggle *sm);
bool smtp_smuggle_decide(struct smtp_session *s, uint16_t code);
void smtp_smuggle_adopt_now(struct smtp_session *s);
void smtp_take_helo(struct smtp_session *s);

/* the capture lost bytes (smtp_gap.c): what the gap hides, and what the other side makes
 * certain (DESIGN.md section 4) */
bool smtp_any_gap(const struct smtp_session *s);
struct smtp_tx *smtp_tx_after_gap(struct smtp_session *s);
void smtp_gap_client(struct smtp_session *s, uint64_t len);
void smtp_gap_server(struct smtp_session *s, uint64_t len, uint64_t ts);
void smtp_reply_cut(struct smtp_session *s, uint64_t ts);
bool smtp_gap_reply(struct smtp_session *s, const struct smtp_reply *r);
void smtp_gap_text_quit(struct smtp_session *s);
bool smtp_gap_ended_tx(struct smtp_session *s);
void smtp_lost_replies(struct smtp_session *s, uint16_t code);
void smtp_gap_finish(struct smtp_session *s);
void smtp_clear_extensions(struct smtp_record *rec);
bool smtp_plausible(enum pending_kind kind, enum smtp_verb verb, uint16_t code);

#endif
