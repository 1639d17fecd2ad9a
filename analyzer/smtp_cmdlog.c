/* smtp_cmdlog: each command and the reply matched to it, for smtp_command records (RFC 5321
 * 4.1, RFC 2920 pipelining); AUTH keeps its mechanism only (RFC 4954: what follows it is a
 * credential). Bounded by the trace cap. */
#include <stdlib.h>
#include <string.h>

#include "smtp_int.h"

enum { CMDLOG_ARG_MAX = 512, CMDLOG_GROW = 64 };

uint32_t smtp_cmdlog_command(struct smtp_session *s, const struct smtp_command *c, bool pipelined)
{
	struct smtp_record *r = &s->rec;
	if (!s->lim.log_commands)
		return 0;
	if (r->n_cmds >= s->lim.max_trace) {
		smtp_note(s, SMTP_AN_LIMIT_REACHED);
		return 0;
	}
	if (r->n_cmds % CMDLOG_GROW == 0)
		r->cmds = smtp_xrealloc(r->cmds, (r->n_cmds + CMDLOG_GROW) * sizeof(*r->cmds));
	struct smtp_cmd_log *e = &r->cmds[r->n_cmds];
	memset(e, 0, sizeof(*e));
	e->verb = (uint8_t)c->verb;
	e->pipelined = pipelined;
	e->ts_us = s->client_ts;
	size_t len = c->arg_len;
	if (c->verb == SMTP_V_AUTH) /* the mechanism; an initial response is a credential */
		len = smtp_first_word_len(c->arg, c->arg_len);
	if (c->verb != SMTP_V_UNKNOWN && len > 0)
		smtp_bytes_set(&e->arg, c->arg, len > CMDLOG_ARG_MAX ? CMDLOG_ARG_MAX : len);
	return ++r->n_cmds;
}

void smtp_cmdlog_reply(struct smtp_session *s, uint32_t log, const struct smtp_reply *r)
{
	if (log == 0 || log > s->rec.n_cmds)
		return;
	struct smtp_cmd_log *e = &s->rec.cmds[log - 1];
	if (e->answered)
		return;
	e->answered = true;
	e->reply.code = r->code;
	memcpy(e->reply.enhanced, r->enhanced, sizeof(e->reply.enhanced));
	e->reply.ts_us = r->ts_us;
	if (r->text.data)
		smtp_bytes_set(&e->reply.text, (const uint8_t *)r->text.data, r->text.len);
}

void smtp_cmdlog_free(struct smtp_record *r)
{
	for (uint32_t i = 0; i < r->n_cmds; i++) {
		smtp_bytes_free(&r->cmds[i].arg);
		smtp_bytes_free(&r->cmds[i].reply.text);
	}
	free(r->cmds);
	r->cmds = NULL;
	r->n_cmds = 0;
}
