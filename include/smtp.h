/* smtp: a passive model of the server's side of an SMTP session (RFC 5321, RFC 1869,
 * RFC 2920 pipelining, RFC 3030 BDAT, RFC 3207 STARTTLS, RFC 4954 AUTH, RFC 3463). */
#ifndef SMTPTRACE_SMTP_H
#define SMTPTRACE_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp_lists.h"

enum smtp_dir { SMTP_TO_SERVER = 0, SMTP_TO_CLIENT = 1 };

/* Wire bytes kept for the record: owned by the session, not NUL-safe (may hold any byte),
 * capped in length. data is NULL when absent. */
struct smtp_bytes {
	char *data;
	uint32_t len;
	bool in_block; /* data is in its session's text block (smtp_bytes_keep): not freed alone */
};

struct smtp_reply {
	uint16_t code;          /* 0: none */
	char enhanced[16];      /* RFC 3463 "x.y.z", "" when absent */
	struct smtp_bytes text; /* first line's text after the code (and the enhanced code) */
	uint64_t ts_us;
};

/* Anomalies (include/smtp_lists.h); a session keeps a bit and a count of each. */
#define SMTP_AN_ENUM(name, str, survives_gap) SMTP_AN_##name,
enum smtp_anomaly { SMTP_ANOMALY_LIST(SMTP_AN_ENUM) SMTP_AN_COUNT };
#undef SMTP_AN_ENUM
_Static_assert(SMTP_AN_COUNT <= 64, "anomalies are bits of a uint64_t");

/* How SMTP itself ended a transaction; OPEN when it had not ended when the connection did. */
enum smtp_tx_end {
	SMTP_TX_OPEN = 0,
	SMTP_TX_COMMITTED,
	SMTP_TX_REJECTED,
	SMTP_TX_RESET,
	SMTP_TX_ABORTED_BY_QUIT,
};

/* How far a transaction had come (the last step the server had accepted or been sent). */
enum smtp_tx_phase {
	SMTP_PH_MAIL = 0, /* MAIL sent */
	SMTP_PH_RCPT,     /* at least one recipient accepted */
	SMTP_PH_DATA,     /* 354 received (or a BDAT chunk sent): message text under way */
	SMTP_PH_EOD_SENT, /* end of data sent, its reply not yet seen */
	SMTP_PH_DONE,     /* ended by SMTP (see end) */
};

/* End-of-data look-alikes inside message text (SMTP smuggling, 2023). */
enum smtp_lookalike {
	SMTP_LA_NONE = 0,
	SMTP_LA_LF_DOT_LF,   /* <LF>.<LF> */
	SMTP_LA_CRLF_DOT_LF, /* <CR><LF>.<LF> */
	SMTP_LA_LF_DOT_CRLF, /* <LF>.<CR><LF> */
	SMTP_LA_CR_DOT_CR,   /* <CR>.<CR> */
};

/* Whether the server took a look-alike as the end of data, by which reading of the client
 * stream its replies fit. */
enum smtp_acted { SMTP_ACTED_UNKNOWN = 0, SMTP_ACTED_YES, SMTP_ACTED_NO };

enum smtp_reject_at {
	SMTP_REJ_NONE = 0,
	SMTP_REJ_MAIL,
	SMTP_REJ_RCPT,
	SMTP_REJ_DATA,
	SMTP_REJ_EOD
};
enum smtp_method { SMTP_METHOD_NONE = 0, SMTP_METHOD_DATA, SMTP_METHOD_BDAT };

struct smtp_rcpt {
	struct smtp_bytes addr;
	uint16_t code; /* reply code, 0 when none seen */
};

struct smtp_tx {
	uint32_t id;
	struct smtp_bytes mail_from;   /* "<a@b>" as sent */
	struct smtp_bytes mail_params; /* ESMTP parameters after the path */
	uint16_t mail_code;
	uint16_t data_refused; /* a 4xx/5xx to DATA: the transaction goes on, but ends rejected
	                        * unless a later DATA is accepted */
	struct smtp_rcpt *rcpts;
	uint32_t n_rcpts, cap_rcpts;
	enum smtp_method method;
	uint64_t
	    size; /* message octets as sent (text lines including CRLF, without the EOD line) */
	enum smtp_tx_end end;
	enum smtp_tx_phase phase;
	enum smtp_reject_at rejected_at;
	/* phase when the connection was first closed by either side while the transaction was
	 * open */
	bool closed_while_open;
	enum smtp_tx_phase phase_at_close;
	bool gap_hid_end; /* a gap in the capture swallowed the end of this transaction */
	/* a gap hid one of its steps (a command or a reply): only a seen reply to its end of
	 * data still decides it (DESIGN.md section 4) */
	bool uncertain;
	bool size_unknown; /* the end of data was in a gap: its size cannot be counted */
	uint8_t inferred;  /* SMTP_INF_TX_* bits: fields certain only from the other side */
	/* client commands were lost while it was open: a RCPT may be among them */
	bool rcpts_unknown;
	/* its MAIL's reply was lost: a refusal leaves the RCPTs sent after it in none */
	bool mail_reply_lost;
	uint64_t eod_ts_us;
	struct smtp_reply eod_reply; /* code 0 when none */
	bool eod_reply_after_close;  /* the reply came after the client had closed */
	bool smuggled;  /* a message the server read inside another's text (a look-alike EOD) */
	bool from_rcpt; /* opened by a RCPT after a client gap, no MAIL seen: until a 2xx to a
	                 * RCPT (or a 354) proves the server had it open, a guess */
	/* lost commands may have ended it and opened another that what followed belongs to:
	 * its envelope, method, size, reply and outcome are not known (smtp_gap.c) */
	bool env_unknown;
	uint64_t eod_reply_end; /* server stream offset just after the reply to EOD */
	uint64_t anomalies;     /* bit (1 << enum smtp_anomaly) */
};

/* Fields known only by inference from the other direction across a gap (`inferred`). */
enum {
	SMTP_INF_TX_METHOD = 1 << 0,  /* a 354 answered a DATA the capture lost */
	SMTP_INF_TX_OUTCOME = 1 << 1, /* a 2xx answered an end of data the capture lost */
};
enum {
	SMTP_INF_CLOSE = 1 << 0, /* a 221 answered a QUIT the capture lost */
	/* a 220 answered a STARTTLS the capture lost */
	SMTP_INF_STARTTLS = 1 << 1,
};

/* UNKNOWN: TCP leaves unsure which side closed first, or how (a lost FIN, reasm.h) */
enum smtp_side { SMTP_SIDE_NONE = 0, SMTP_SIDE_CLIENT, SMTP_SIDE_SERVER, SMTP_SIDE_UNKNOWN };
enum smtp_close_how { SMTP_HOW_NONE = 0, SMTP_HOW_FIN, SMTP_HOW_RST, SMTP_HOW_UNKNOWN };

/* Why the session's record is being written. */
enum smtp_end_reason {
	SMTP_END_CLOSED = 0,    /* both sides closed, or one reset */
	SMTP_END_IDLE_TIMEOUT,  /* no packet for longer than the idle timeout */
	SMTP_END_CAPTURE_ENDED, /* still open at the end of input */
	SMTP_END_EVICTED,       /* dropped to make room under the flow cap */
	SMTP_END_REUSED,        /* a new connection (a new client SYN) took the tuple */
};

/* What the client did last before it closed, as far as the server's stream shows. */
enum smtp_client_last {
	SMTP_LAST_OTHER = 0,
	SMTP_LAST_EOD_2XX, /* the last thing before the close was receiving the 2xx to EOD */
};

struct tls_state;

struct smtp_record {
	bool greeting_seen;
	struct smtp_reply greeting;
	struct smtp_bytes helo; /* argument of the last EHLO/HELO */
	bool ehlo;
	struct smtp_bytes *extensions; /* EHLO keywords with parameters, as advertised */
	uint32_t n_extensions, cap_extensions;
	bool pipelining_advertised;
	bool starttls_accepted;
	bool implicit_tls;
	bool starttls_plaintext; /* SMTP, not TLS, after STARTTLS's 220: read on as SMTP */
	bool starttls_unknown;   /* a gap hid STARTTLS's reply: accepted or refused, unknown */
	bool helo_unknown;       /* lost commands may hold a later EHLO or HELO */
	struct tls_state *tls;   /* the handshake after STARTTLS's 220 or on implicit TLS; owned */
	struct smtp_bytes auth_mechanism; /* never any credential */
	uint16_t auth_result;             /* 235, 535, ... 0 when none: the last attempt's */
	uint32_t auth_attempts;           /* AUTH commands the server read */
	uint32_t auth_failures;           /* of them, answered 4xx or 5xx at the end */
	struct smtp_tx *txs;
	uint32_t n_txs, cap_txs;
	uint64_t anomalies; /* bit (1 << enum smtp_anomaly) */
	uint32_t commands, replies;
	/* with smtp_limits.trace: each command's verb and each reply's code, in order */
	struct smtp_cmd_log *cmds; /* with lim.log_commands */
	uint32_t n_cmds;
	uint8_t *trace_verbs; /* enum smtp_verb */
	uint16_t *trace_codes;
	uint32_t n_trace_verbs, n_trace_codes;
	bool traced;
	bool seen_client_bytes, seen_server_bytes;
	bool client_dir_seen, server_dir_seen; /* any packet of each direction was captured */
	bool quit_sent;
	/* TCP closes, told in stream order */
	enum smtp_side closed_first;
	enum smtp_close_how
	    how[2]; /* indexed by enum smtp_dir of the closing side's sending direction */
	/* TCP leaves unsure which close came first (a lost FIN may have been before it), and
	 * each direction's byte count (a lost FIN or lost bytes of unknown size, reasm.h) */
	bool close_unsure;
	bool count_unsure[2];
	enum smtp_client_last client_last; /* at the client's close */
	enum smtp_end_reason end_reason;
	bool gap_hid_end; /* a gap or missing direction hides how the session ended */
	bool midstream;
	uint64_t gap_bytes[2];
	bool extensions_unknown;       /* the EHLO reply was (partly) in a gap */
	bool quit_unknown;             /* client bytes no reply accounts for may have held a QUIT */
	uint8_t inferred;              /* SMTP_INF_* bits */
	enum smtp_lookalike lookalike; /* the first end-of-data look-alike seen */
	enum smtp_acted lookalike_acted;
};

/* Limits for one session; every buffer and table the session holds is capped by them. */
struct smtp_limits {
	uint32_t max_line;       /* longest line framed whole; longer ones are cut (default 4096) */
	uint32_t max_rcpts;      /* recipients kept per transaction (default 1000) */
	uint32_t max_txs;        /* transactions kept per session (default 1000) */
	uint32_t max_pending;    /* commands awaiting a reply (default 1000) */
	uint32_t max_extensions; /* EHLO keywords kept (default 64) */
	uint32_t max_trace;      /* verbs and codes kept with trace (default 10000) */
	bool trace;              /* keep the sequence of command verbs and reply codes */
	bool log_commands;       /* keep each command and its reply (smtp_command records),
	                          * at most max_trace of them */
};

/* One command and the reply that answered it (--records command). The argument is kept as
 * sent, except AUTH's: only its mechanism, never the initial response. */
struct smtp_cmd_log {
	uint8_t verb;          /* enum smtp_verb */
	bool pipelined;        /* sent before the reply to the command before it had arrived */
	bool answered;         /* reply holds the reply matched to it */
	struct smtp_bytes arg; /* capped at 512 octets; absent for unknown commands */
	uint64_t ts_us;        /* when its first byte was seen */
	struct smtp_reply reply;
};

void smtp_limits_default(struct smtp_limits *lim);

struct smtp_session;

/* Returns a new session (owned by the caller, free with smtp_session_free), or NULL on
 * out of memory. lim is copied. */
struct smtp_session *smtp_session_new(const struct smtp_limits *lim);
void smtp_session_free(struct smtp_session *s);

/* Finished sessions' memory kept for new ones (a flow table's, one thread's): a session
 * ends and another begins for every connection, and each would otherwise be a large block
 * freed and allocated again. At most SMTP_POOL_MAX are kept; what a session grew (texts,
 * transactions, a longer queue) is freed when it ends, as smtp_session_free frees it. */
enum { SMTP_POOL_MAX = 64 };
struct smtp_pool;

/* Returns a new, empty pool (free with smtp_pool_free), or NULL on out of memory. */
struct smtp_pool *smtp_pool_new(void);
/* Frees the pool and the sessions' memory it keeps. */
void smtp_pool_free(struct smtp_pool *pool);
/* Sessions kept now, for tests. */
size_t smtp_pool_kept(const struct smtp_pool *pool);
/* As smtp_session_new, from the pool's memory when it keeps any (pool may be NULL); the
 * session starts as a new one does, whatever its memory held before. Aborts on out of memory
 * (as smtp_session_new). */
struct smtp_session *smtp_session_new_in(struct smtp_pool *pool, const struct smtp_limits *lim);
/* As smtp_session_free, keeping the session's memory in the pool when it has room (pool may
 * be NULL). s is no longer the caller's. */
void smtp_session_free_to(struct smtp_pool *pool, struct smtp_session *s);

/* Feeds bytes of one direction in stream order. data is borrowed for the call only.
 * peer_acked: how many bytes of the other direction the sender had acknowledged when
 * it sent these bytes (UINT64_MAX when unknown). */
void smtp_feed(struct smtp_session *s, enum smtp_dir dir, const uint8_t *data, size_t len,
               uint64_t peer_acked, uint64_t ts_us);

/* Bytes of dir that were never captured: len bytes are missing at this point. */
void smtp_gap(struct smtp_session *s, enum smtp_dir dir, uint64_t len, uint64_t ts_us);

/* The sender of dir closed (FIN, or RST when rst). Told after its last byte. peer_acked:
 * bytes of the other direction the closing segment acknowledged (UINT64_MAX unknown). */
void smtp_close(struct smtp_session *s, enum smtp_dir dir, bool rst, uint64_t peer_acked,
                uint64_t ts_us);

/* Marks the session as picked up without its handshake. */
void smtp_set_midstream(struct smtp_session *s);

/* Records a TCP-level anomaly (overlap mismatch, limit reached) against the session. */
void smtp_note(struct smtp_session *s, enum smtp_anomaly an);

/* Tells which directions had any packet captured (a one-sided capture lacks one). */
void smtp_set_directions(struct smtp_session *s, bool client_seen, bool server_seen);

/* What TCP leaves unsure at the flow's end (reasm_close_unsure, reasm_count_unsure), before
 * smtp_finish: the first close, and the byte count of each direction (enum smtp_dir). */
void smtp_set_tcp_unsure(struct smtp_session *s, bool close, const bool count[2]);

/* Ends the session: flushes partial lines and held bytes; the record is final after it. */
void smtp_finish(struct smtp_session *s, enum smtp_end_reason why, uint64_t ts_us);

/* The session's record. Borrowed: valid until smtp_session_free(). */
const struct smtp_record *smtp_get_record(const struct smtp_session *s);

/* Name of an anomaly as written in the record ("early_talker"). */
const char *smtp_anomaly_name(enum smtp_anomaly an);

/* The look-alike as written in the record ("<LF>.<LF>"), "" for none. */
const char *smtp_lookalike_name(enum smtp_lookalike la);
const char *smtp_acted_name(enum smtp_acted a);

/* ---- Parsers (smtp_parse.c): pure, no allocation, input is (pointer, length) without
 * the line end, never NUL-terminated. Out-pointers borrow from the input. ---- */

/* Command verbs (include/smtp_lists.h); SMTP_V_UNKNOWN is 0. */
#define SMTP_V_ENUM(name, str) SMTP_V_##name,
enum smtp_verb { SMTP_VERB_LIST(SMTP_V_ENUM) SMTP_V_COUNT };
#undef SMTP_V_ENUM

struct smtp_command {
	enum smtp_verb verb;
	const uint8_t *arg; /* after the verb and its spaces; may be empty */
	size_t arg_len;     /* trailing spaces removed */
};

/* The verb's name as written in the record ("MAIL"; "?" for an unknown command). */
const char *smtp_verb_name(enum smtp_verb v);

/* Splits a command line into verb and argument; the verb is matched case-insensitively. */
void smtp_parse_command(const uint8_t *line, size_t len, struct smtp_command *out);

/* Parses the argument of MAIL or RCPT: keyword is "FROM:" or "TO:" (case-insensitive,
 * spaces allowed around the colon as real clients send them). *path gets "<...>" (or the
 * bare address), *params what follows. Returns false when the keyword is missing. */
bool smtp_parse_path(const uint8_t *arg, size_t len, const char *keyword, const uint8_t **path,
                     size_t *path_len, const uint8_t **params, size_t *params_len);

/* Parses "BDAT <size> [LAST]". Returns false for a missing, negative, non-numeric or
 * over-large (more than 2^63) size. */
bool smtp_parse_bdat(const uint8_t *arg, size_t len, uint64_t *size, bool *last);

struct smtp_reply_line {
	uint16_t code;
	bool last;           /* "ddd " or "ddd" ends the reply; "ddd-" continues it */
	const uint8_t *text; /* after the separator */
	size_t text_len;
};

/* Parses one reply line (RFC 5321 4.2). Returns false when it is not a reply line. */
bool smtp_parse_reply_line(const uint8_t *line, size_t len, struct smtp_reply_line *out);

/* Reads an RFC 3463 enhanced status code "c.s.d" at the start of text into out (NUL-
 * terminated, at most 15 characters). Returns the bytes it spans including the following
 * spaces, 0 when text does not start with one. */
size_t smtp_parse_enhanced(const uint8_t *text, size_t len, char out[16]);

#endif
