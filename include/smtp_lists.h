/* smtp_lists: the names the record is made of, each declared once (DESIGN.md section 5): the
 * anomalies, the command verbs (RFC 5321 4.1, RFC 3030, RFC 3207, RFC 4954) and the outcomes.
 * Each X-macro list makes its enum and its name table; nothing keeps a copy in order by hand.
 * Adding an anomaly is one line here, the place that detects it, and the docs (docs/record.md,
 * docs/schema/, the man page). One entry per line, so that additions merge. */
#ifndef SMTPTRACE_SMTP_LISTS_H
#define SMTPTRACE_SMTP_LISTS_H

/* X(ENUM, "name", survives_gap): survives_gap is 1 for an anomaly that rests on no timing and
 * no unseen bytes, so a gap in the capture does not void it (DESIGN.md section 4). Record
 * order: the enum, the session's anomalies list and the stats counters follow it. */
#define SMTP_ANOMALY_LIST(X)                                                                       \
	X(EARLY_TALKER, "early_talker", 0)                                                         \
	X(PIPELINING_UNADVERTISED, "pipelining_unadvertised", 0)                                   \
	X(DATA_BEFORE_354, "data_before_354", 0)                                                   \
	X(RESIDUE_AFTER_EOD, "residue_after_eod", 0)                                               \
	X(UNSTUFFED_DOT, "unstuffed_dot", 0)                                                       \
	X(BARE_LF, "bare_lf", 0)                                                                   \
	X(BARE_CR, "bare_cr", 0)                                                                   \
	X(SMUGGLING_EOD, "smuggling_eod", 0)                                                       \
	X(REPEATED_ERRORS, "repeated_errors", 0)                                                   \
	X(UNKNOWN_COMMAND, "unknown_command", 0)                                                   \
	X(LINE_TOO_LONG, "line_too_long", 0)                                                       \
	X(AUTH_ATTEMPT, "auth_attempt", 1)                                                         \
	X(BDAT, "bdat", 1)                                                                         \
	X(MIDSTREAM, "midstream", 1)                                                               \
	X(TCP_GAP, "tcp_gap", 1)                                                                   \
	X(OVERLAP_MISMATCH, "overlap_mismatch", 1)                                                 \
	X(REPLY_WITHOUT_COMMAND, "reply_without_command", 0)                                       \
	X(LIMIT_REACHED, "limit_reached", 1)                                                       \
	X(BAD_CHECKSUM, "bad_checksum", 0)                                                         \
	X(STARTTLS_PLAINTEXT, "starttls_plaintext", 0) /* SMTP after STARTTLS's 220 */         \
	X(STARTTLS_COMMAND_INJECTION, "starttls_command_injection", 0) /* before its 220 */      \
	X(STARTTLS_RESPONSE_INJECTION, "starttls_response_injection", 0) /* after its 220 */     \
	X(TLS_PORT_PLAINTEXT, "tls_port_plaintext", 0) /* plaintext on an implicit-TLS port */

/* X(ENUM, "name"): the verbs the server model knows, as written in the record; UNKNOWN first
 * (0), for a command it cannot name. What the server does with each is its row in the verb
 * table (smtp_verb.c). */
#define SMTP_VERB_LIST(X)                                                                          \
	X(UNKNOWN, "?")                                                                            \
	X(EHLO, "EHLO")                                                                            \
	X(HELO, "HELO")                                                                            \
	X(MAIL, "MAIL")                                                                            \
	X(RCPT, "RCPT")                                                                            \
	X(DATA, "DATA")                                                                            \
	X(BDAT, "BDAT")                                                                            \
	X(RSET, "RSET")                                                                            \
	X(NOOP, "NOOP")                                                                            \
	X(VRFY, "VRFY")                                                                            \
	X(EXPN, "EXPN")                                                                            \
	X(HELP, "HELP")                                                                            \
	X(QUIT, "QUIT")                                                                            \
	X(STARTTLS, "STARTTLS")                                                                    \
	X(AUTH, "AUTH")

/* X(ENUM, "name"): a transaction's outcome (transactions[].outcome), DESIGN.md section 5. */
#define CLS_TX_OUTCOME_LIST(X)                                                                     \
	X(COMMITTED, "committed")                                                                  \
	X(REJECTED, "rejected")                                                                    \
	X(RESET, "reset")                                                                          \
	X(ABORTED_BY_QUIT, "aborted_by_quit")                                                      \
	X(ABANDONED_BEFORE_EOD, "abandoned_before_eod")                                            \
	X(EOD_UNACKNOWLEDGED, "eod_unacknowledged")                                                \
	X(INCOMPLETE, "incomplete")

/* X(ENUM, "name"): the session's headline outcome, in the order of DESIGN.md section 5: the
 * first that applies. */
#define CLS_OUTCOME_LIST(X)                                                                        \
	X(TLS, "tls")                                                                              \
	X(INCOMPLETE, "incomplete")                                                                \
	X(ABANDONED_BEFORE_EOD, "abandoned_before_eod")                                            \
	X(EOD_UNACKNOWLEDGED, "eod_unacknowledged")                                                \
	X(RFC821_DROP, "rfc821_drop")                                                              \
	X(CLOSED_WITHOUT_QUIT, "closed_without_quit")                                              \
	X(SERVER_CLOSED, "server_closed")                                                          \
	X(COMMITTED, "committed")                                                                  \
	X(NO_MAIL, "no_mail")

#endif
