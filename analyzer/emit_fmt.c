/* emit_fmt: the record's timestamps (Suricata's form of ISO 8601 / RFC 3339 in UTC) and IPv4
 * addresses (RFC 791 dotted quad) as text without stdio: a snprintf per field cost more than
 * building the rest of the record's envelope. Part of the record builder. */
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
