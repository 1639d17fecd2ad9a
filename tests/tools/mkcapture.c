/* mkcapture: writes one short SMTP session (RFC 5321) as a capture file in a chosen
 * framing, or a deliberately broken capture file, for golden and error-path tests.
 *   mkcapture SCENARIO OUT.pcap      (mkcapture -l lists the scenarios) */
#include <pcap/dlt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pcapw.h"

enum {
	SC_V6 = 1 << 0, /* IPv6 rather than IPv4 */
	SC_IPV4_OPTIONS = 1 << 1,
	SC_IPV6_EXT = 1 << 2,
	SC_PCAPNG = 1 << 3,
	SC_CUT_LAST = 1 << 4, /* cut the last record in the middle */
	SC_OPAQUE = 1 << 5,   /* a few records of junk rather than a session */
};

struct scenario {
	const char *name;
	int dlt;
	uint16_t vlan[2];
	int flags;
	const char *what;
};

static const struct scenario scenarios[] = {
    {"vlan", DLT_EN10MB, {100, 0}, 0, "Ethernet, one 802.1Q tag"},
    {"qinq", DLT_EN10MB, {100, 200}, 0, "Ethernet, 802.1ad outer and 802.1Q inner tag"},
    {"sll", DLT_LINUX_SLL, {0, 0}, 0, "Linux cooked v1"},
    {"sll2", DLT_LINUX_SLL2, {0, 0}, 0, "Linux cooked v2"},
    {"null", DLT_NULL, {0, 0}, 0, "BSD loopback, host byte order"},
    {"loop", DLT_LOOP, {0, 0}, 0, "OpenBSD loopback, network byte order"},
    {"raw4", DLT_RAW, {0, 0}, 0, "raw IP (LINKTYPE_RAW), IPv4"},
    {"raw6", DLT_RAW, {0, 0}, SC_V6, "raw IP (LINKTYPE_RAW), IPv6"},
    {"ipv4", DLT_IPV4, {0, 0}, 0, "DLT_IPV4"},
    {"ipv6", DLT_IPV6, {0, 0}, SC_V6, "DLT_IPV6"},
    {"ipv4opts", DLT_EN10MB, {0, 0}, SC_IPV4_OPTIONS, "Ethernet, IPv4 with options"},
    {"ipv6ext", DLT_EN10MB, {0, 0}, SC_V6 | SC_IPV6_EXT, "Ethernet, IPv6 extension headers"},
    {"truncated-record", DLT_EN10MB, {0, 0}, SC_CUT_LAST, "Ethernet, last record cut short"},
    {"pcapng", DLT_EN10MB, {0, 0}, SC_PCAPNG, "Ethernet, pcapng format"},
    {"user0", 147, {0, 0}, SC_OPAQUE, "link type USER0 (147), not decoded"},
};

/* One committed message, ended with QUIT; the client closes first. */
static const char *const dialogue[] = {
    "S220 mx.example.net ESMTP\r\n",
    "CEHLO client.example\r\n",
    "S250-mx.example.net\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
    "CMAIL FROM:<a@example.org>\r\n",
    "S250 2.1.0 Ok\r\n",
    "CRCPT TO:<b@example.net>\r\n",
    "S250 2.1.5 Ok\r\n",
    "CDATA\r\n",
    "S354 End data with <CR><LF>.<CR><LF>\r\n",
    ("CSubject: test\r\nFrom: <a@example.org>\r\nTo: <b@example.net>\r\n\r\nHello.\r\n"
     "This is a test.\r\n"),
    "C\r\n.\r\n",
    "S250 2.0.0 Ok: queued as 4F3\r\n",
    "CQUIT\r\n",
    "S221 2.0.0 Bye\r\n",
};

static int write_session(struct pcapw *w, const struct scenario *s)
{
	struct pcapw_link link = {
	    .dlt = s->dlt,
	    .vlan = {s->vlan[0], s->vlan[1]},
	    .ipv4_options = s->flags & SC_IPV4_OPTIONS,
	    .ipv6_ext = s->flags & SC_IPV6_EXT,
	};
	struct pcapw_conn c;
	int rc = 0;

	if (s->flags & SC_V6)
		pcapw_conn_init(&c, w, &link, "2001:db8::10", 40000, "2001:db8::5", 25, 1000, 2000);
	else
		pcapw_conn_init(&c, w, &link, "192.0.2.10", 40000, "198.51.100.5", 25, 1000, 2000);
	rc |= pcapw_conn_handshake(&c);
	for (size_t i = 0; i < sizeof(dialogue) / sizeof(dialogue[0]); i++)
		rc |= pcapw_conn_send(&c, dialogue[i][0] == 'C', dialogue[i] + 1,
		                      strlen(dialogue[i] + 1));
	rc |= pcapw_conn_fin(&c, true);
	rc |= pcapw_conn_fin(&c, false);
	rc |= pcapw_conn_send(&c, true, NULL, 0);
	return rc ? -1 : 0;
}

/* A capture whose link type smtptrace does not decode: a few opaque records. */
static int write_opaque(struct pcapw *w)
{
	static const uint8_t frame[32] = {0xde, 0xad, 0xbe, 0xef};
	int rc = 0;

	for (int i = 0; i < 3; i++)
		rc |= pcapw_write_raw(w, 1795874831000000ull + (uint64_t)i * 1000, frame,
		                      sizeof(frame), sizeof(frame));
	return rc ? -1 : 0;
}

/* Cuts the file so its last record (a 54-byte bare ACK padded to 60) loses half its bytes,
 * as a capture killed mid-write leaves it. */
static int cut_last_record(const char *path)
{
	FILE *fp = fopen(path, "rb+");
	long size;
	int rc = -1;

	if (!fp)
		return -1;
	if (fseek(fp, 0, SEEK_END) == 0 && (size = ftell(fp)) > 30)
		rc = ftruncate(fileno(fp), size - 30);
	fclose(fp);
	return rc;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: mkcapture SCENARIO OUT.pcap\n       mkcapture -l\nscenarios:\n");
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		fprintf(out, "  %-17s %s\n", scenarios[i].name, scenarios[i].what);
}

static const struct scenario *scenario_find(const char *name)
{
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		if (strcmp(scenarios[i].name, name) == 0)
			return &scenarios[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const struct scenario *s;
	struct pcapw *w;
	int rc;

	if (argc == 2 && strcmp(argv[1], "-l") == 0) {
		usage(stdout);
		return 0;
	}
	if (argc != 3 || !(s = scenario_find(argv[1]))) {
		usage(stderr);
		return 2;
	}
	if ((s->flags & SC_CUT_LAST) && strcmp(argv[2], "-") == 0) {
		fprintf(stderr, "mkcapture: %s needs a file, not stdout\n", s->name);
		return 2;
	}
	w = pcapw_open(argv[2], s->dlt, s->flags & SC_PCAPNG ? PCAPW_PCAPNG : PCAPW_PCAP, 0);
	if (!w) {
		perror(argv[2]);
		return 1;
	}
	rc = s->flags & SC_OPAQUE ? write_opaque(w) : write_session(w, s);
	rc |= pcapw_close(w);
	if (rc == 0 && (s->flags & SC_CUT_LAST))
		rc = cut_last_record(argv[2]);
	if (rc != 0) {
		fprintf(stderr, "mkcapture: %s: write failed\n", argv[2]);
		return 1;
	}
	return 0;
}
