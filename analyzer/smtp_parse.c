/* smtp_parse: pure parsers for SMTP command and reply lines (RFC 5321 sections 4.1 and
 * 4.2, RFC 3030 BDAT, RFC 3463 enhanced status codes). No allocation, no state. */
#include <ctype.h>
#include <string.h>

#include "smtp.h"

#define VERB_NAME(name, str) str,
static const char *const verb_names[SMTP_V_COUNT] = {SMTP_VERB_LIST(VERB_NAME)};
#undef VERB_NAME

const char *smtp_verb_name(enum smtp_verb v)
{
	return (unsigned)v < SMTP_V_COUNT ? verb_names[v] : "?";
}

static bool is_space(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static bool ieq(const uint8_t *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);
	if (alen != blen)
		return false;
	for (size_t i = 0; i < blen; i++)
		if (toupper(a[i]) != (unsigned char)b[i])
			return false;
	return true;
}

void smtp_parse_command(const uint8_t *line, size_t len, struct smtp_command *out)
{
	size_t v = 0;
	while (v < len && !is_space(line[v]))
		v++;
	out->verb = SMTP_V_UNKNOWN;
	for (int i = SMTP_V_UNKNOWN + 1; i < SMTP_V_COUNT; i++) {
		if (ieq(line, v, verb_names[i])) {
			out->verb = (enum smtp_verb)i;
			break;
		}
	}
	size_t a = v;
	while (a < len && is_space(line[a]))
		a++;
	size_t end = len;
	while (end > a && is_space(line[end - 1]))
		end--;
	out->arg = line + a;
	out->arg_len = end - a;
}

bool smtp_parse_path(const uint8_t *arg, size_t len, const char *keyword, const uint8_t **path,
                     size_t *path_len, const uint8_t **params, size_t *params_len)
{
	size_t kw = strlen(keyword) - 1; /* without the colon */
	size_t i = 0;
	for (; i < kw; i++)
		if (i >= len || toupper(arg[i]) != (unsigned char)keyword[i])
			return false;
	while (i < len && is_space(arg[i]))
		i++;
	if (i >= len || arg[i] != ':')
		return false;
	i++;
	while (i < len && is_space(arg[i]))
		i++;
	size_t start = i;
	if (i < len && arg[i] == '<') {
		const uint8_t *close = memchr(arg + i, '>', len - i);
		i = close ? (size_t)(close - arg) + 1 : len;
	} else {
		while (i < len && !is_space(arg[i]))
			i++;
	}
	*path = arg + start;
	*path_len = i - start;
	while (i < len && is_space(arg[i]))
		i++;
	*params = arg + i;
	*params_len = len - i;
	return true;
}

bool smtp_parse_bdat(const uint8_t *arg, size_t len, uint64_t *size, bool *last)
{
	size_t i = 0;
	uint64_t n = 0;
	if (len == 0 || !isdigit(arg[0]))
		return false;
	for (; i < len && isdigit(arg[i]); i++) {
		if (n > (UINT64_MAX >> 1) / 10)
			return false;
		n = n * 10 + (uint64_t)(arg[i] - '0');
	}
	if (i < len && !is_space(arg[i]))
		return false;
	while (i < len && is_space(arg[i]))
		i++;
	*last = false;
	if (i < len) {
		if (!ieq(arg + i, len - i, "LAST"))
			return false;
		*last = true;
	}
	*size = n;
	return true;
}

bool smtp_parse_reply_line(const uint8_t *line, size_t len, struct smtp_reply_line *out)
{
	if (len < 3 || line[0] < '2' || line[0] > '5' || !isdigit(line[1]) || !isdigit(line[2]))
		return false;
	out->code = (uint16_t)((line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0'));
	if (len == 3) {
		out->last = true;
		out->text = line + 3;
		out->text_len = 0;
		return true;
	}
	if (line[3] != ' ' && line[3] != '-')
		return false;
	out->last = line[3] == ' ';
	out->text = line + 4;
	out->text_len = len - 4;
	return true;
}

/* Reads 1 to max digits at text[*i]; false when there are none. */
static bool digits(const uint8_t *text, size_t len, size_t *i, size_t max)
{
	size_t start = *i;
	while (*i < len && *i - start < max && isdigit(text[*i]))
		(*i)++;
	return *i > start;
}

size_t smtp_parse_enhanced(const uint8_t *text, size_t len, char out[16])
{
	size_t i = 0;
	out[0] = '\0';
	if (len == 0 || (text[0] != '2' && text[0] != '4' && text[0] != '5'))
		return 0;
	i = 1;
	if (i >= len || text[i++] != '.' || !digits(text, len, &i, 3))
		return 0;
	if (i >= len || text[i++] != '.' || !digits(text, len, &i, 3))
		return 0;
	if (i < len && !is_space(text[i]))
		return 0;
	memcpy(out, text, i);
	out[i] = '\0';
	while (i < len && is_space(text[i]))
		i++;
	return i;
}
