/* fuzz_parse: the pure parsers on untrusted bytes: SMTP command, path, BDAT, reply line and
 * enhanced status code (RFC 5321, RFC 3030, RFC 3463), and decode_packet for every link type.
 * Input: one byte choosing the link type, then the bytes: decoded whole as one packet, and
 * parsed line by line (split at LF, a CR before it removed, as the SMTP layer frames them).
 * Every slice handed to a parser is a copy of exactly its size. */
#include <pcap/dlt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "fuzz.h"
#include "smtp.h"

/* Link types decode.c knows, under every number files use, and one it does not (PPP). */
static const int link_types[] = {
    DLT_EN10MB,   DLT_LINUX_SLL,           276 /* LINUX_SLL2 */,   DLT_NULL,       108 /* LOOP */,
    12 /* RAW */, 14 /* RAW on OpenBSD */, 101 /* LINKTYPE_RAW */, 228 /* IPV4 */, 229 /* IPV6 */,
    9 /* PPP */,
};

static bool inside(const uint8_t *p, size_t n, const uint8_t *base, size_t len)
{
	return p >= base && p <= base + len && n <= (size_t)(base + len - p);
}

static void parse_path(const uint8_t *arg, size_t len, const char *keyword)
{
	const uint8_t *path, *params;
	size_t path_len, params_len;
	if (!smtp_parse_path(arg, len, keyword, &path, &path_len, &params, &params_len))
		return;
	FUZZ_CHECK(inside(path, path_len, arg, len));
	FUZZ_CHECK(inside(params, params_len, arg, len));
	FUZZ_CHECK(params >= path + path_len);
}

static void parse_enhanced(const uint8_t *text, size_t len)
{
	char code[16];
	memset(code, 'x', sizeof(code));
	size_t n = smtp_parse_enhanced(text, len, code);
	FUZZ_CHECK(n <= len);
	FUZZ_CHECK(memchr(code, 0, sizeof(code)) != NULL);
	FUZZ_CHECK(n == 0 || strlen(code) <= n);
}

/* Everything the SMTP layer asks of one line. */
static void parse_line(const uint8_t *line, size_t len)
{
	struct smtp_command c;
	smtp_parse_command(line, len, &c);
	FUZZ_CHECK(c.verb >= SMTP_V_UNKNOWN && c.verb < SMTP_V_COUNT);
	FUZZ_CHECK(inside(c.arg, c.arg_len, line, len));
	parse_path(c.arg, c.arg_len, "FROM:");
	parse_path(c.arg, c.arg_len, "TO:");

	uint64_t size = 0;
	bool last = false;
	if (smtp_parse_bdat(c.arg, c.arg_len, &size, &last))
		FUZZ_CHECK(size <= (UINT64_MAX >> 1));

	struct smtp_reply_line r;
	if (smtp_parse_reply_line(line, len, &r)) {
		FUZZ_CHECK(r.code >= 200 && r.code <= 599);
		FUZZ_CHECK(inside(r.text, r.text_len, line, len));
		parse_enhanced(r.text, r.text_len);
	}
	parse_enhanced(line, len);
}

static void decode(int dlt, const uint8_t *pkt, size_t len)
{
	struct tcp_seg seg;
	uint32_t caplen = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
	enum decode_status st = decode_packet(dlt, pkt, caplen, &seg);
	FUZZ_CHECK(st >= DECODE_OK && st < DECODE_STATUS_COUNT);
	FUZZ_CHECK(decode_status_name(st) != NULL);
	if (st != DECODE_OK)
		return;
	FUZZ_CHECK(seg.src.family == 4 || seg.src.family == 6);
	FUZZ_CHECK(seg.dst.family == seg.src.family);
	FUZZ_CHECK(seg.payload_len == 0 || inside(seg.payload, seg.payload_len, pkt, len));
	volatile uint8_t sum = 0;
	for (uint32_t i = 0; i < seg.payload_len; i++)
		sum += seg.payload[i];
	(void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	int dlt = link_types[fuzz_u8(&in) % (sizeof(link_types) / sizeof(link_types[0]))];
	size_t n;
	uint8_t *all = fuzz_take(&in, in.left, &n);
	(void)decode_dlt_supported(dlt);
	decode(dlt, all, n);
	free(all);

	in = (struct fuzz_in){data + (size > 0), size - (size > 0)};
	while (in.left > 0) {
		const uint8_t *lf = memchr(in.p, '\n', in.left);
		size_t len = lf ? (size_t)(lf - in.p) : in.left;
		size_t keep = len && in.p[len - 1] == '\r' ? len - 1 : len;
		uint8_t *line = fuzz_take(&in, keep, &n);
		parse_line(line, n);
		free(line);
		in.p += len - keep + (lf != NULL);
		in.left -= len - keep + (lf != NULL);
	}
	return 0;
}
