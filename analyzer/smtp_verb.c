/* smtp_verb: one row per command verb holding both halves of it, as OpenSMTPD's command
 * table does: what the server does when it reads the command, what its reply does, the reply
 * codes that can answer it, and its flags (RFC 5321 4.1, 4.3.2; RFC 2920; RFC 3030;
 * RFC 3207; RFC 4954). */
#include "smtp_int.h"

#define FINAL_OR_ERR (SMTP_FIT_FINAL | SMTP_FIT_ERR)

/* NOOP, VRFY, EXPN and HELP change nothing; their reply is matched like any other. RSET and
 * QUIT end the open transaction when the server reads them (a MAIL pipelined after them
 * opens a new one; RSET is always answered 250, RFC 5321 4.1.1.5). */
static const struct smtp_verb_row verb_rows[SMTP_V_COUNT] = {
    [SMTP_V_UNKNOWN] = {.cmd = smtp_cmd_unknown, .fit = SMTP_FIT_5XX},
    [SMTP_V_EHLO] = {smtp_cmd_helo, smtp_reply_helo, FINAL_OR_ERR, SMTP_VF_SYNC, 0},
    [SMTP_V_HELO] = {smtp_cmd_helo, smtp_reply_helo, FINAL_OR_ERR, SMTP_VF_SYNC, 0},
    [SMTP_V_MAIL] = {smtp_cmd_mail, smtp_reply_mail, FINAL_OR_ERR, SMTP_VF_TX_STEP, 0},
    [SMTP_V_RCPT] = {smtp_cmd_rcpt, smtp_reply_rcpt, FINAL_OR_ERR, SMTP_VF_TX_STEP, 0},
    [SMTP_V_DATA] = {smtp_cmd_data, smtp_reply_data, SMTP_FIT_354 | SMTP_FIT_ERR,
                     SMTP_VF_TX_STEP | SMTP_VF_HOLD, 0},
    [SMTP_V_BDAT] = {smtp_cmd_bdat, smtp_reply_bdat, FINAL_OR_ERR, SMTP_VF_TX_STEP, 0},
    [SMTP_V_RSET] = {NULL, NULL, FINAL_OR_ERR, SMTP_VF_ENDS_TX, SMTP_TX_RESET},
    [SMTP_V_NOOP] = {.fit = FINAL_OR_ERR},
    [SMTP_V_VRFY] = {.fit = FINAL_OR_ERR},
    [SMTP_V_EXPN] = {.fit = FINAL_OR_ERR},
    [SMTP_V_HELP] = {.fit = FINAL_OR_ERR},
    [SMTP_V_QUIT] = {smtp_cmd_quit, NULL, SMTP_FIT_221, SMTP_VF_ENDS_TX, SMTP_TX_ABORTED_BY_QUIT},
    [SMTP_V_STARTTLS] = {NULL, smtp_reply_starttls, SMTP_FIT_220 | SMTP_FIT_ERR, SMTP_VF_HOLD, 0},
    [SMTP_V_AUTH] = {smtp_cmd_auth, smtp_reply_auth, SMTP_FIT_334 | SMTP_FIT_235 | SMTP_FIT_ERR,
                     SMTP_VF_HOLD, 0},
};

/* What answers an end of data: a final reply, never an intermediate one. */
#define EOD_FIT FINAL_OR_ERR

const struct smtp_verb_row *smtp_verb_row(enum smtp_verb v)
{
	return &verb_rows[(unsigned)v < SMTP_V_COUNT ? v : SMTP_V_UNKNOWN];
}

/* The SMTP_FIT_* bits a reply code stands for: 220, 221, 334 and 354 are intermediate (they
 * answer only their own commands); 235 is also an ordinary final reply. */
uint8_t smtp_code_fit(uint16_t code)
{
	switch (code) {
	case 220:
		return SMTP_FIT_220;
	case 221:
		return SMTP_FIT_221;
	case 334:
		return SMTP_FIT_334;
	case 354:
		return SMTP_FIT_354;
	case 235:
		return SMTP_FIT_235 | SMTP_FIT_FINAL;
	default:
		return code < 400 ? SMTP_FIT_FINAL : code < 500 ? SMTP_FIT_4XX : SMTP_FIT_5XX;
	}
}

/* Whether code can answer a pending entry of this kind and verb. The greeting takes the
 * UNKNOWN row, as it always has: only a 5xx fits it when resync looks past it. */
bool smtp_plausible(enum pending_kind kind, enum smtp_verb verb, uint16_t code)
{
	if (kind == PK_GAP)
		return true;
	if (kind == PK_GREETING) /* RFC 5321 4.3.2: 220, or a refusal (554, 421) */
		return code == 220 || code >= 400;
	uint8_t fit = kind == PK_EOD ? EOD_FIT : smtp_verb_row(verb)->fit;
	return (fit & smtp_code_fit(code)) != 0;
}
