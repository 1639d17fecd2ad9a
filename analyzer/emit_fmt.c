/* emit_fmt: the record's timestamps (Suricata's form of ISO 8601 / RFC 3339 in UTC) and IP
 * addresses (RFC 791 dotted quad; RFC 5952 for IPv6) as text without stdio: a snprintf per
 * field cost more than building the rest of the record's envelope. Part of the record
 * builder. */
#include <stdint.h>
#include <string.h>

#include "emit_int.h"

/* v in decimal, at least width digits (zeros in front); returns the end. out has room. */
static char *put_dec(char *out, uint64_t v, int width)
{
	char tmp[20];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	while (n < width)
		tmp[n++] = '0';
	while (n > 0)
		*out++ = tmp[--n];
	return out;
}

/* The proleptic Gregorian date of a count of days since 1970-01-01 (the civil-from-days
 * method: 400-year eras of 146097 days, years starting in March). */
static void civil_from_days(uint64_t days, uint64_t *year, unsigned *month, unsigned *day)
{
	uint64_t z = days + 719468, era = z / 146097, doe = z % 146097;
	uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
	*day = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*month = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*year = yoe + era * 400 + (*month <= 2);
}

void format_ts(uint64_t us, char *out, size_t len)
{
	char buf[48], *p = buf;
	uint64_t sec = us / 1000000, year;
	unsigned month, day, tod = (unsigned)(sec % 86400);
	civil_from_days(sec / 86400, &year, &month, &day);
	p = put_dec(p, year, 4);
	*p++ = '-';
	p = put_dec(p, month, 2);
	*p++ = '-';
	p = put_dec(p, day, 2);
	*p++ = 'T';
	p = put_dec(p, tod / 3600, 2);
	*p++ = ':';
	p = put_dec(p, tod / 60 % 60, 2);
	*p++ = ':';
	p = put_dec(p, tod % 60, 2);
	*p++ = '.';
	p = put_dec(p, us % 1000000, 6);
	memcpy(p, "+0000", 6);
	p += 5;
	if (len == 0)
		return;
	size_t n = (size_t)(p - buf) < len ? (size_t)(p - buf) : len - 1;
	memcpy(out, buf, n);
	out[n] = '\0';
}

size_t emit_format_ipv4(const uint8_t b[4], char out[16])
{
	char *p = out;
	for (int i = 0; i < 4; i++) {
		if (i > 0)
			*p++ = '.';
		p = put_dec(p, b[i], 1);
	}
	*p = '\0';
	return (size_t)(p - out);
}

/* The longest run of two or more zero 16-bit words (the first of equal ones), or len 0. */
static void zero_run(const uint16_t w[8], int *base, int *len)
{
	*base = -1;
	*len = 0;
	for (int i = 0; i < 8;) {
		int j = i;
		while (j < 8 && w[j] == 0)
			j++;
		if (j - i > *len && j - i >= 2) {
			*base = i;
			*len = j - i;
		}
		i = j > i ? j : i + 1;
	}
}

static char *put_hex16(char *p, uint16_t v)
{
	static const char hex[] = "0123456789abcdef";
	int shift = 12;
	while (shift > 0 && (v >> shift) == 0)
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		*p++ = hex[(v >> shift) & 0xf];
	return p;
}

/* As glibc's inet_ntop writes IPv6 (RFC 5952 section 4: lower case, no leading zeros, the
 * longest zero run as "::"), with the last 32 bits as a dotted quad after "::" or
 * "::ffff:" (RFC 4291 sections 2.5.5.1 and 2.5.5.2). */
size_t emit_format_ipv6(const uint8_t b[16], char out[46])
{
	uint16_t w[8];
	for (int i = 0; i < 8; i++)
		w[i] = (uint16_t)(b[2 * i] << 8 | b[2 * i + 1]);
	int base, len;
	zero_run(w, &base, &len);
	char *p = out;
	for (int i = 0; i < 8; i++) {
		if (i == base) {
			*p++ = ':';
			i += len - 1;
			continue;
		}
		if (i > 0)
			*p++ = ':';
		if (i == 6 && base == 0 && (len == 6 || (len == 5 && w[5] == 0xffff))) {
			p += emit_format_ipv4(b + 12, p);
			*p = '\0';
			return (size_t)(p - out);
		}
		p = put_hex16(p, w[i]);
	}
	if (base >= 0 && base + len == 8)
		*p++ = ':';
	*p = '\0';
	return (size_t)(p - out);
}
