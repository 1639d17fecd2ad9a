/* classify: pure verdicts from a finished session record (RFC 5321 3.3, 3.8, 4.1.1.10;
 * RFC 1047). No I/O: a record in, verdicts out (allocated only past CLS_TX_INLINE
 * transactions). */
#ifndef SMTPTRACE_CLASSIFY_H
#define SMTPTRACE_CLASSIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "smtp.h"

/* Outcomes (include/smtp_lists.h). */
#define CLS_TX_ENUM(name, str) CLS_TX_##name,
enum cls_tx_outcome { CLS_TX_OUTCOME_LIST(CLS_TX_ENUM) CLS_TX_COUNT };
#undef CLS_TX_ENUM
#define CLS_OUT_ENUM(name, str) CLS_OUT_##name,
enum cls_outcome { CLS_OUTCOME_LIST(CLS_OUT_ENUM) CLS_OUT_COUNT };
#undef CLS_OUT_ENUM

enum cls_close {
	CLS_CLOSE_QUIT = 0,
	CLS_CLOSE_CLIENT_WITHOUT_QUIT,
	CLS_CLOSE_SERVER_CLOSED,
	CLS_CLOSE_IDLE_TIMEOUT,
	CLS_CLOSE_CAPTURE_ENDED,
	CLS_CLOSE_UNKNOWN,
	CLS_CLOSE_REUSED,
};

enum cls_style { CLS_STYLE_UNKNOWN = 0, CLS_STYLE_RFC821, CLS_STYLE_RFC5321 };

/* One transaction's verdicts, and which of its fields the capture makes certain. */
struct cls_tx_verdict {
	enum cls_tx_outcome outcome;
	bool size_known;  /* the message's size as sent: not when a gap hid where text began
	                   * or ended (DESIGN.md section 4) */
	bool rcpts_known; /* every RCPT was seen: no client command was lost while it was open */
	/* which recipients were refused is known: no reply to a RCPT was lost in a gap */
	bool refused_known;
};

enum { CLS_TX_INLINE = 8 }; /* transactions judged without an allocation */

struct cls_verdict {
	enum cls_outcome outcome;
	enum cls_close close;
	enum smtp_side close_by;
	enum smtp_close_how close_how;
	enum cls_style client_style;
	uint32_t rfc5321_delivered;     /* transactions committed (of those decided) */
	uint32_t strict_quit_delivered; /* the same, but 0 unless the session ended with QUIT */
	/* whether each count is certain: not when a transaction is incomplete (it may have been
	 * committed), nor the strict count when the close is unknown (DESIGN.md section 4) */
	bool rfc5321_known, strict_known;
	/* the transactions are known: some were seen, or no client bytes were lost (lost ones
	 * may have held a whole transaction when none was seen; DESIGN.md section 4) */
	bool txs_known;
	/* one per transaction of the record, in order: inline_txs, or allocated for more
	 * (classify_free releases it) */
	uint32_t n_txs;
	struct cls_tx_verdict *txs;
	struct cls_tx_verdict inline_txs[CLS_TX_INLINE];
};

/* The outcome of one transaction of rec. */
enum cls_tx_outcome classify_tx(const struct smtp_record *rec, const struct smtp_tx *tx);

/* Fills *out with the session's verdicts, each transaction's computed once here. */
void classify_session(const struct smtp_record *rec, struct cls_verdict *out);

/* Releases what classify_session allocated for a session of many transactions. */
void classify_free(struct cls_verdict *v);

/* Names as written in the record ("abandoned_before_eod"). */
const char *classify_tx_outcome_name(enum cls_tx_outcome o);
const char *classify_outcome_name(enum cls_outcome o);
const char *classify_close_name(enum cls_close c);
const char *classify_style_name(enum cls_style s);
const char *classify_side_name(enum smtp_side s);
const char *classify_how_name(enum smtp_close_how h);
const char *classify_reject_at_name(enum smtp_reject_at r);

#endif
