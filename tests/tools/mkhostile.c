/* mkhostile: writes the hostile captures of the bad-input matrix (tests/badinput/README.md):
 * damaged capture files (draft-ietf-opsawg-pcap, -pcapng), absurd and lying lengths in link,
 * IPv4/IPv6 (RFC 791, RFC 8200) and TCP (RFC 9293) headers, a SYN flood, and SMTP input that
 * never ends or breaks every limit (RFC 5321, RFC 3030), each next to a normal session; and
 * the crafted golden captures of samples/ that a real client cannot make (bad checksums, time
 * going backwards, port reuse, scanners).
 *   mkhostile CASE OUT.pcap      (mkhostile -l lists the cases) */
#include <pcap/dlt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pcapw.h"

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif

#define CLIENT_IP  "192.0.2.10"
#define SERVER_IP  "198.51.100.5"
#define CLIENT_IP6 "2001:db8::10"
#define SERVER_IP6 "2001:db8::5"

enum {
	SMTP_PORT = 25,
	PORT_GOOD_BEFORE = 40001, /* the normal session before the hostile part */
	PORT_GOOD_AFTER = 40002,  /* the normal session after it */
	PORT_GOOD_ALONE = 40009,  /* the "good" case: a file of its own */
	PORT_HOSTILE = 41000,     /* hostile sessions: 41000, 41001, ... */
	ETH_HLEN = 14,
	IP4_HLEN = 20,
	IP6_HLEN = 40,
	TCP_HLEN = 20,
	L2L3 = ETH_HLEN + IP4_HLEN, /* where TCP starts in an Ethernet IPv4 frame */
	FRAME_BUF = 65535 + 4096,
	BIG_MSS = 65000, /* payload per segment for the bulk cases */
	FLOOD_SYNS = 100000,
	LONG_LINE = 100 << 20, /* the line without an end: 100 MiB */
	LONG_REPLY = 8 << 20,  /* the server's line without an end: 8 MiB */
	RCPTS = 1000000,
	RCPTS_PER_ROUND = 500, /* RCPT commands pipelined per segment */
	TEXT_BLOCKS = 256,     /* 64 KiB blocks of 1024-byte lines, before and after */
	TEXT_LONG = 2 << 20,   /* then one text line of 2 MiB */
	ACK_EVERY = 16,        /* the receiver of a bulk send acknowledges every 16 segments */
};

static const uint64_t T0 = 1795874831000000ull; /* 2026-11-28 14:07:11 UTC */
static const struct pcapw_link eth = {.dlt = DLT_EN10MB};

static uint8_t frame[FRAME_BUF]; /* one frame being crafted */
static bool failed;              /* a write failed */

static void check(int rc)
{
	if (rc != 0)
		failed = true;
}

/* ---- dialogues: each send one act; "CL" from the client, "SV" from the server ---- */

struct act {
	bool client;
	const char *p;
	size_t n; /* explicit, so that NUL bytes are sent */
};

/* clang-format off */
#define CL(s) {true, s, sizeof(s) - 1}
#define SV(s) {false, s, sizeof(s) - 1}
/* clang-format on */
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static void play(struct pcapw_conn *c, const struct act *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		check(pcapw_conn_send(c, a[i].client, a[i].p, a[i].n));
}

static void send_str(struct pcapw_conn *c, bool client, const char *s)
{
	check(pcapw_conn_send(c, client, s, strlen(s)));
}

/* Starts a connection from the client's cport at ts, with its handshake. */
static void conn_open(struct pcapw_conn *c, struct pcapw *w, const struct pcapw_link *link,
                      uint16_t cport, uint64_t ts)
{
	pcapw_conn_init(c, w, link, CLIENT_IP, cport, SERVER_IP, SMTP_PORT, 1000u * cport,
	                7000u * cport);
	c->ts_us = ts;
	check(pcapw_conn_handshake(c));
}

/* The same without the handshake. */
static void conn_open_bare(struct pcapw_conn *c, struct pcapw *w, uint16_t cport, uint64_t ts)
{
	pcapw_conn_init(c, w, &eth, CLIENT_IP, cport, SERVER_IP, SMTP_PORT, 1000u * cport,
	                7000u * cport);
	c->ts_us = ts;
}

/* Client FIN, server FIN, the client's last ACK. Returns the time after. */
static uint64_t conn_close(struct pcapw_conn *c)
{
	check(pcapw_conn_fin(c, true));
	check(pcapw_conn_fin(c, false));
	check(pcapw_conn_send(c, true, NULL, 0));
	return c->ts_us;
}

/* The normal session: one message committed, ended with QUIT, the client closing first. */
static const struct act good_acts[] = {
    SV("220 mx.example.net ESMTP\r\n"),
    CL("EHLO client.example\r\n"),
    SV("250-mx.example.net\r\n250-PIPELINING\r\n250 8BITMIME\r\n"),
    CL("MAIL FROM:<a@example.org>\r\n"),
    SV("250 2.1.0 Ok\r\n"),
    CL("RCPT TO:<b@example.net>\r\n"),
    SV("250 2.1.5 Ok\r\n"),
    CL("DATA\r\n"),
    SV("354 End data with <CR><LF>.<CR><LF>\r\n"),
    CL("Subject: test\r\nFrom: <a@example.org>\r\nTo: <b@example.net>\r\n\r\nHello.\r\n"),
    CL(".\r\n"),
    SV("250 2.0.0 Ok: queued as 4F3\r\n"),
    CL("QUIT\r\n"),
    SV("221 2.0.0 Bye\r\n"),
};

static uint64_t good_session(struct pcapw *w, const struct pcapw_link *link, uint16_t cport,
                             uint64_t ts)
{
	struct pcapw_conn c;

	conn_open(&c, w, link, cport, ts);
	play(&c, good_acts, N_OF(good_acts));
	return conn_close(&c);
}

/* The start of a session up to the 354: greeting, EHLO (PIPELINING, CHUNKING), MAIL, RCPT,
 * DATA. */
static const struct act to_data_acts[] = {
    SV("220 mx.example.net ESMTP\r\n"),
    CL("EHLO client.example\r\n"),
    SV("250-mx.example.net\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 8BITMIME\r\n"),
    CL("MAIL FROM:<a@example.org>\r\n"),
    SV("250 2.1.0 Ok\r\n"),
    CL("RCPT TO:<b@example.net>\r\n"),
    SV("250 2.1.5 Ok\r\n"),
    CL("DATA\r\n"),
    SV("354 End data with <CR><LF>.<CR><LF>\r\n"),
};

/* The same up to the RCPT's 250, for BDAT. */
#define TO_RCPT_ACTS 7

/* ---- crafted frames ---- */

/* Frames one segment of c with its current numbers into frame[], sending nothing. Returns
 * the frame length. */
static size_t conn_frame(const struct pcapw_conn *c, bool from_client, uint8_t flags,
                         const void *payload, size_t len)
{
	struct pcapw_tcp seg = {
	    .src = from_client ? c->client : c->server,
	    .dst = from_client ? c->server : c->client,
	    .sport = from_client ? c->cport : c->sport,
	    .dport = from_client ? c->sport : c->cport,
	    .seq = from_client ? c->cseq : c->sseq,
	    .ack = from_client ? c->sseq : c->cseq,
	    .flags = flags,
	    .window = 65535,
	    .payload = payload,
	    .len = (uint32_t)len,
	};
	size_t n = pcapw_frame_tcp(&c->link, &seg, frame, sizeof(frame));

	if (n == 0)
		failed = true;
	return n;
}

/* Writes frame[] as one record at c's clock, with the given lengths. */
static void conn_write_raw(struct pcapw_conn *c, uint32_t caplen, uint32_t wirelen)
{
	check(pcapw_write_raw(c->w, c->ts_us, frame, caplen, wirelen));
	c->ts_us += c->step_us;
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Cuts the last n bytes off the file at path. */
static void cut_tail(const char *path, long n)
{
	FILE *fp = fopen(path, "rb+");
	long size;

	if (!fp || fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) < n ||
	    ftruncate(fileno(fp), size - n) != 0)
		failed = true;
	if (fp)
		fclose(fp);
}

static void append(const char *path, const void *p, size_t n)
{
	FILE *fp = fopen(path, "ab");

	if (!fp || fwrite(p, 1, n, fp) != n)
		failed = true;
	if (fp && fclose(fp) != 0)
		failed = true;
}

/* ---- file-level damage ---- */

static void write_good(struct pcapw *w)
{
	/* a minute after the others, so that it follows any other file in packet time */
	good_session(w, &eth, PORT_GOOD_ALONE, T0 + 60 * 1000000ull);
}

static void write_not_capture(const char *path)
{
	static const char text[] = "220 mx.example.net ESMTP\r\nEHLO client.example\r\n"
	                           "This is an SMTP transcript, not a packet capture.\r\n";

	append(path, text, sizeof(text) - 1);
}

/* A session left in its message text; the caller writes its last segment. */
static void session_in_text(struct pcapw_conn *c, struct pcapw *w, uint64_t ts)
{
	conn_open(c, w, &eth, PORT_HOSTILE, ts);
	play(c, to_data_acts, N_OF(to_data_acts));
	send_str(c, true, "Subject: cut short\r\n\r\n");
}

/* A normal session, then a session in its message text whose last record is cut so that
 * only its first keep bytes (16 of record header, then the frame) are left in the file. */
static void write_cut_record(struct pcapw *w, const char *path, long keep)
{
	static const char text[] = "This line is in the record that the file cuts short.\r\n";
	struct pcapw_conn c;
	size_t n;

	session_in_text(&c, w, good_session(w, &eth, PORT_GOOD_BEFORE, T0));
	n = conn_frame(&c, true, TCP_FLAG_ACK | TCP_FLAG_PSH, text, sizeof(text) - 1);
	conn_write_raw(&c, (uint32_t)n, (uint32_t)n);
	check(pcapw_close(w));
	cut_tail(path, (long)(16 + n) - keep);
}

/* caplen above the file's snaplen (1500): a 3000-byte frame recorded whole. */
static void write_caplen_snaplen(struct pcapw *w)
{
	static char text[3000 - L2L3 - TCP_HLEN];
	struct pcapw_conn c;
	size_t n, i;
	uint64_t ts = good_session(w, &eth, PORT_GOOD_BEFORE, T0);

	/* 46 lines of 62 'x' and CRLF, then an empty line: 2946 bytes */
	for (i = 0; i + 64 <= sizeof(text); i += 64) {
		memset(text + i, 'x', 62);
		memcpy(text + i + 62, "\r\n", 2);
	}
	memcpy(text + i, "\r\n", 2);
	conn_open(&c, w, &eth, PORT_HOSTILE, ts);
	play(&c, to_data_acts, N_OF(to_data_acts));
	n = conn_frame(&c, true, TCP_FLAG_ACK | TCP_FLAG_PSH, text, sizeof(text));
	conn_write_raw(&c, (uint32_t)n, (uint32_t)n);
	c.cseq += sizeof(text);
	send_str(&c, true, ".\r\n");
	send_str(&c, false, "250 2.0.0 Ok: queued as 4F4\r\n");
	send_str(&c, true, "QUIT\r\n");
	send_str(&c, false, "221 2.0.0 Bye\r\n");
	good_session(w, &eth, PORT_GOOD_AFTER, conn_close(&c));
}

/* caplen above the wire length: every client segment of the hostile session is recorded
 * with a wire length 20 bytes short of what was captured, one with wire length 0. */
static void write_caplen_wirelen(struct pcapw *w)
{
	struct pcapw_conn c;
	uint64_t ts = good_session(w, &eth, PORT_GOOD_BEFORE, T0);

	conn_open(&c, w, &eth, PORT_HOSTILE, ts);
	for (size_t i = 0; i < N_OF(good_acts); i++) {
		const struct act *a = &good_acts[i];
		size_t n;

		if (!a->client) {
			check(pcapw_conn_send(&c, false, a->p, a->n));
			continue;
		}
		n = conn_frame(&c, true, TCP_FLAG_ACK | TCP_FLAG_PSH, a->p, a->n);
		conn_write_raw(&c, (uint32_t)n, i == 1 ? 0 : (uint32_t)n - 20);
		c.cseq += (uint32_t)a->n;
	}
	good_session(w, &eth, PORT_GOOD_AFTER, conn_close(&c));
}

/* ---- absurd lengths in every header ---- */

/* A client SYN of the hostile connection in frame[] (Ethernet, IPv4): 60 bytes. */
static size_t syn4(struct pcapw_conn *c)
{
	return conn_frame(c, true, TCP_FLAG_SYN, NULL, 0);
}

/* The same over IPv6: Ethernet, IPv6, TCP: 74 bytes. */
static size_t syn6(void)
{
	struct pcapw_tcp seg = {.sport = PORT_HOSTILE,
	                        .dport = SMTP_PORT,
	                        .seq = 1,
	                        .flags = TCP_FLAG_SYN,
	                        .window = 65535};
	size_t n;

	pcapw_addr(CLIENT_IP6, &seg.src);
	pcapw_addr(SERVER_IP6, &seg.dst);
	n = pcapw_frame_tcp(&eth, &seg, frame, sizeof(frame));
	if (n == 0)
		failed = true;
	return n;
}

/* Writes frame[] as edited: its TCP checksum made right for what its IPv4 header now says,
 * so that the lie under test, not a checksum, decides what becomes of it. */
static void raw(struct pcapw_conn *c, size_t caplen)
{
	if (caplen > ETH_HLEN && frame[12] == 0x08 && frame[13] == 0x00)
		pcapw_fix_tcp_checksum4(frame + ETH_HLEN, caplen - ETH_HLEN);
	conn_write_raw(c, (uint32_t)caplen, (uint32_t)caplen);
}

/* Moves the IPv6 SYN's TCP header n bytes on, for extension headers; fixes the type. */
static size_t ipv6_make_room(size_t n, uint8_t first_nh)
{
	memmove(frame + ETH_HLEN + IP6_HLEN + n, frame + ETH_HLEN + IP6_HLEN, TCP_HLEN);
	frame[ETH_HLEN + 6] = first_nh;
	return ETH_HLEN + IP6_HLEN + n + TCP_HLEN;
}

/* Every header with a length that cannot be right, each in a packet of its own; all are
 * SYNs to port 25, so that one misread would show as a flow. Seven decode as truncated,
 * four as malformed, one as not IP. */
static void absurd_frames(struct pcapw_conn *c)
{
	size_t n, i;

	n = syn4(c); /* a record of no bytes, and a frame of 5 */
	raw(c, 0);
	conn_write_raw(c, 5, (uint32_t)n);

	n = syn4(c); /* 64 stacked 802.1Q tags */
	memmove(frame + 12 + 64 * 4, frame + 12, n - 12);
	for (i = 0; i < 64; i++) {
		put_be16(frame + 12 + 4 * i, 0x8100);
		put_be16(frame + 14 + 4 * i, (uint16_t)(i + 1));
	}
	raw(c, n + 64 * 4);

	syn4(c); /* IPv4: IHL 15 and total length 65535 in a 60-byte frame */
	frame[ETH_HLEN] = 0x4f;
	put_be16(frame + ETH_HLEN + 2, 0xffff);
	raw(c, 60);

	n = syn4(c); /* IHL 15 with its 60 bytes of header there, then 10 bytes of TCP */
	memmove(frame + ETH_HLEN + 60, frame + L2L3, TCP_HLEN);
	memset(frame + L2L3, 1, 40); /* NOP options */
	frame[ETH_HLEN] = 0x4f;
	put_be16(frame + ETH_HLEN + 2, 0xffff);
	raw(c, ETH_HLEN + 60 + 10);

	syn4(c); /* IHL 2 */
	frame[ETH_HLEN] = 0x42;
	raw(c, 60);

	syn4(c); /* total length 10, shorter than its own header */
	put_be16(frame + ETH_HLEN + 2, 10);
	raw(c, 60);

	syn6(); /* IPv6: payload length 65535, 10 bytes of TCP */
	put_be16(frame + ETH_HLEN + 4, 0xffff);
	raw(c, ETH_HLEN + IP6_HLEN + 10);

	syn6(); /* a hop-by-hop header claiming 2048 bytes */
	n = ipv6_make_room(8, 0);
	memset(frame + ETH_HLEN + IP6_HLEN, 0, 8);
	frame[ETH_HLEN + IP6_HLEN] = 6;
	frame[ETH_HLEN + IP6_HLEN + 1] = 255;
	put_be16(frame + ETH_HLEN + 4, 0xffff);
	raw(c, n);

	syn6(); /* 20 hop-by-hop headers in a chain */
	n = ipv6_make_room(20 * 8, 0);
	memset(frame + ETH_HLEN + IP6_HLEN, 0, 20 * 8);
	for (i = 0; i < 20; i++)
		frame[ETH_HLEN + IP6_HLEN + 8 * i] = i == 19 ? 6 : 0;
	put_be16(frame + ETH_HLEN + 4, (uint16_t)(20 * 8 + TCP_HLEN));
	raw(c, n);

	syn4(c); /* TCP: data offset 15 in a 20-byte header */
	frame[L2L3 + 12] = 0xf0;
	raw(c, 60);

	syn4(c); /* data offset 0 */
	frame[L2L3 + 12] = 0x00;
	raw(c, 60);
}

/* The record header after the second good session: caplen and wire length 0xffffffff. */
static void write_absurd(struct pcapw *w, const char *path)
{
	struct pcapw_conn c;
	uint64_t ts = good_session(w, &eth, PORT_GOOD_BEFORE, T0);
	uint32_t hdr[4] = {(uint32_t)(ts / 1000000 + 1), 0, 0xffffffffu, 0xffffffffu};
	uint8_t junk[64];

	pcapw_conn_init(&c, w, &eth, "192.0.2.66", PORT_HOSTILE, SERVER_IP, SMTP_PORT, 1, 2);
	c.ts_us = ts;
	absurd_frames(&c);
	good_session(w, &eth, PORT_GOOD_AFTER, c.ts_us);
	check(pcapw_close(w));
	memset(junk, 'J', sizeof(junk));
	append(path, hdr, sizeof(hdr));
	append(path, junk, sizeof(junk));
}

/* Linux cooked captures cut short: v1 (16-byte header) or v2 (20 bytes). Four decode as
 * truncated. */
static void write_absurd_sll(struct pcapw *w, int dlt)
{
	struct pcapw_link link = {.dlt = dlt};
	struct pcapw_conn c;
	size_t hlen = dlt == DLT_LINUX_SLL ? 16 : 20;
	uint64_t ts = good_session(w, &link, PORT_GOOD_BEFORE, T0);

	pcapw_conn_init(&c, w, &link, "192.0.2.66", PORT_HOSTILE, SERVER_IP, SMTP_PORT, 1, 2);
	c.ts_us = ts;
	conn_frame(&c, true, TCP_FLAG_SYN, NULL, 0);
	raw(&c, 0);         /* nothing */
	raw(&c, hlen - 6);  /* the link header cut */
	raw(&c, hlen);      /* the link header and no IP header */
	raw(&c, hlen + 10); /* half an IP header */
	good_session(w, &link, PORT_GOOD_AFTER, c.ts_us);
}

/* pcapng: an Enhanced Packet Block whose total length is 0xfffffff0. */
static void write_absurd_pcapng(struct pcapw *w, const char *path)
{
	uint32_t epb[7] = {6, 0xfffffff0u, 0, 0, 0, 60, 60};

	good_session(w, &eth, PORT_GOOD_BEFORE, T0);
	check(pcapw_close(w));
	append(path, epb, sizeof(epb));
	append(path, frame, 60);
}

static void write_unknown_link(struct pcapw *w)
{
	memset(frame, 0xab, 64);
	for (int i = 0; i < 3; i++)
		check(pcapw_write_raw(w, T0 + (uint64_t)i * 1000, frame, 64, 64));
}

/* ---- lying lengths inside a session ---- */

/* Sends s from the client as one segment whose IPv4 total length is totlen; junk bytes
 * follow the datagram in the frame. Advances the client's sequence number when advance. */
static void send_lying(struct pcapw_conn *c, const char *s, uint16_t totlen, const char *junk,
                       bool advance)
{
	size_t len = strlen(s), n = conn_frame(c, true, TCP_FLAG_ACK | TCP_FLAG_PSH, s, len);
	size_t jl = junk ? strlen(junk) : 0;

	put_be16(frame + ETH_HLEN + 2, totlen);
	memcpy(frame + n, junk ? junk : "", jl);
	raw(c, n + jl);
	if (advance)
		c->cseq += (uint32_t)len;
}

static void write_ip_len_lies(struct pcapw *w)
{
	static const char mail[] = "MAIL FROM:<a@example.org>\r\n";
	static const char text[] = "Subject: t\r\n\r\nHello.\r\n";
	struct pcapw_conn c;
	uint64_t ts = good_session(w, &eth, PORT_GOOD_BEFORE, T0);

	conn_open(&c, w, &eth, PORT_HOSTILE, ts);
	send_str(&c, false, "220 mx.example.net ESMTP\r\n");
	send_str(&c, true, "EHLO client.example\r\n");
	send_str(&c, false, "250-mx.example.net\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
	/* shorter than the segment: 7 bytes of MAIL; then the segment again, whole */
	send_lying(&c, mail, IP4_HLEN + TCP_HLEN + 7, NULL, false);
	send_str(&c, true, mail);
	send_str(&c, false, "250 2.1.0 Ok\r\n");
	/* longer than the frame */
	send_lying(&c, "RCPT TO:<b@example.net>\r\n", 0xffff, NULL, true);
	send_str(&c, false, "250 2.1.5 Ok\r\n");
	/* zero: the captured bytes decide */
	send_lying(&c, "DATA\r\n", 0, NULL, true);
	send_str(&c, false, "354 End data with <CR><LF>.<CR><LF>\r\n");
	/* shorter than the IP header itself; then the segment again, whole */
	send_lying(&c, text, 12, NULL, false);
	send_str(&c, true, text);
	send_str(&c, true, ".\r\n");
	send_str(&c, false, "250 2.0.0 Ok: queued as 4F5\r\n");
	/* right, with bytes after the datagram that are not part of it */
	send_lying(&c, "NOOP\r\n", IP4_HLEN + TCP_HLEN + 6, "RSET\r\nVRFY x\r\nXX\r\n", true);
	send_str(&c, false, "250 2.0.0 Ok\r\n");
	send_str(&c, true, "QUIT\r\n");
	send_str(&c, false, "221 2.0.0 Bye\r\n");
	ts = conn_close(&c);

	/* a normal session but for a bare ACK before QUIT with total length 0, padded to
	 * Ethernet's 60 bytes: the 6 bytes of padding are no payload (taken as payload they
	 * would stand where QUIT is sent next) */
	conn_open(&c, w, &eth, PORT_HOSTILE + 1, ts);
	play(&c, good_acts, N_OF(good_acts) - 2);
	conn_frame(&c, true, TCP_FLAG_ACK, NULL, 0);
	put_be16(frame + ETH_HLEN + 2, 0);
	raw(&c, 60);
	play(&c, good_acts + N_OF(good_acts) - 2, 2);
	good_session(w, &eth, PORT_GOOD_AFTER, conn_close(&c));
}

/* Sends s from the client twice: first with the TCP data offset set to doff (a bad one:
 * the packet must be dropped), then as it should be. */
static void send_bad_doff(struct pcapw_conn *c, const char *s, uint8_t doff)
{
	size_t n = conn_frame(c, true, TCP_FLAG_ACK | TCP_FLAG_PSH, s, strlen(s));

	frame[L2L3 + 12] = (uint8_t)(doff << 4);
	raw(c, n);
	send_str(c, true, s);
}

/* A segment with 40 bytes of NOP options (data offset 15) before its payload: valid. */
static void send_long_options(struct pcapw_conn *c, const char *s)
{
	size_t len = strlen(s), n = conn_frame(c, true, TCP_FLAG_ACK | TCP_FLAG_PSH, s, len);

	memmove(frame + L2L3 + 60, frame + L2L3 + TCP_HLEN, n - L2L3 - TCP_HLEN);
	memset(frame + L2L3 + TCP_HLEN, 1, 40);
	frame[L2L3 + 12] = 0xf0;
	put_be16(frame + ETH_HLEN + 2, (uint16_t)(IP4_HLEN + 60 + len));
	raw(c, L2L3 + 60 + len);
	c->cseq += (uint32_t)len;
}

static void write_tcp_doff(struct pcapw *w)
{
	struct pcapw_conn c;
	uint64_t ts = good_session(w, &eth, PORT_GOOD_BEFORE, T0);

	conn_open(&c, w, &eth, PORT_HOSTILE, ts);
	send_str(&c, false, "220 mx.example.net ESMTP\r\n");
	send_str(&c, true, "EHLO client.example\r\n");
	send_str(&c, false, "250-mx.example.net\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
	send_bad_doff(&c, "MAIL FROM:<a@example.org>\r\n", 4); /* below 5: malformed */
	send_str(&c, false, "250 2.1.0 Ok\r\n");
	send_bad_doff(&c, "RCPT TO:<b@example.net>\r\n", 15); /* 60 > 45: past the packet */
	send_str(&c, false, "250 2.1.5 Ok\r\n");
	send_bad_doff(&c, "DATA\r\n", 8); /* 32 > 26: past the packet */
	send_str(&c, false, "354 End data with <CR><LF>.<CR><LF>\r\n");
	send_str(&c, true, "Subject: t\r\n\r\nHello.\r\n.\r\n");
	send_str(&c, false, "250 2.0.0 Ok: queued as 4F6\r\n");
	send_long_options(&c, "NOOP\r\n");
	send_str(&c, false, "250 2.0.0 Ok\r\n");
	send_str(&c, true, "QUIT\r\n");
	send_str(&c, false, "221 2.0.0 Bye\r\n");
	good_session(w, &eth, PORT_GOOD_AFTER, conn_close(&c));
}

/* ---- crafted golden captures (samples/, tests/TESTLIST) ---- */

/* One segment of c with these flags and c's numbers, written as framed (its checksum made
 * wrong when bad), sending nothing: c's numbers do not move. */
static void seg_out(struct pcapw_conn *c, bool from_client, uint8_t flags, const char *s, bool bad)
{
	size_t n = conn_frame(c, from_client, flags, s, s ? strlen(s) : 0);

	if (bad)
		frame[L2L3 + 16] ^= 1;
	conn_write_raw(c, (uint32_t)n, (uint32_t)n);
}

/* A session whose client sends a copy of "RSET" with a bad TCP checksum where its DATA goes,
 * then the DATA: the server never saw the RSET (its receiver dropped the copy), so the message
 * is committed; taken as data, first copy wins, the RSET would reset the transaction. A normal
 * session comes first, so that the checksum check has seen enough good segments. */
static void write_bad_checksum(struct pcapw *w)
{
	struct pcapw_conn c;
	uint64_t ts = good_session(w, &eth, PORT_GOOD_BEFORE, T0);

	conn_open(&c, w, &eth, PORT_HOSTILE, ts);
	play(&c, good_acts, 7);
	seg_out(&c, true, TCP_FLAG_ACK | TCP_FLAG_PSH, "RSET\r\n", true);
	play(&c, good_acts + 7, N_OF(good_acts) - 7);
	good_session(w, &eth, PORT_GOOD_AFTER, conn_close(&c));
}

/* Two normal sessions, the second two hours before the first (files merged out of order):
 * more than the idle timeout back in time. part 1 writes the first alone, part 2 the second
 * alone, 0 both. */
static void write_time_backwards(struct pcapw *w, int part)
{
	const uint64_t later = T0 + 7200ull * 1000000ull;

	if (part != 2)
		good_session(w, &eth, PORT_GOOD_BEFORE, later);
	if (part != 1)
		good_session(w, &eth, PORT_GOOD_AFTER, T0);
}

/* A session left open after its EHLO reply, then a new SYN from the same client port with a
 * new initial sequence number, and a whole session on the tuple. */
static void write_port_reuse(struct pcapw *w)
{
	struct pcapw_conn c;

	conn_open_bare(&c, w, PORT_HOSTILE, T0);
	c.cseq += 123456789u; /* not the ISN the next connection's SYN takes */
	check(pcapw_conn_handshake(&c));
	play(&c, good_acts, 3);
	good_session(w, &eth, PORT_HOSTILE, c.ts_us + 1000000);
}

/* Scanners on port 25: SYNs answered by a RST (closed), SYNs never answered (sent twice), a
 * half-open scan (SYN, SYN-ACK, the scanner's RST), a connection made and closed with no
 * byte; then one real session. */
static void write_scanners(struct pcapw *w)
{
	struct pcapw_conn c;
	uint64_t ts = T0;

	for (uint16_t i = 0; i < 3; i++, ts += 1000) {
		conn_open_bare(&c, w, (uint16_t)(42000 + i), ts);
		seg_out(&c, true, TCP_FLAG_SYN, NULL, false);
		c.cseq++;
		c.sseq = 0;
		seg_out(&c, false, TCP_FLAG_RST | TCP_FLAG_ACK, NULL, false);
	}
	for (uint16_t i = 0; i < 2; i++, ts += 1000) {
		conn_open_bare(&c, w, (uint16_t)(43000 + i), ts);
		seg_out(&c, true, TCP_FLAG_SYN, NULL, false);
		seg_out(&c, true, TCP_FLAG_SYN, NULL, false);
	}
	conn_open_bare(&c, w, 44000, ts);
	seg_out(&c, true, TCP_FLAG_SYN, NULL, false);
	c.cseq++;
	seg_out(&c, false, TCP_FLAG_SYN | TCP_FLAG_ACK, NULL, false);
	c.sseq++;
	seg_out(&c, true, TCP_FLAG_RST, NULL, false);
	conn_open(&c, w, &eth, 44001, c.ts_us + 1000);
	ts = conn_close(&c);
	good_session(w, &eth, PORT_GOOD_BEFORE, ts + 1000);
}

/* ---- floods and input without end ---- */

/* 100,000 SYNs from distinct clients, none answered, 10 us apart. */
static void write_syn_flood(struct pcapw *w)
{
	uint64_t ts = good_session(w, &eth, PORT_GOOD_BEFORE, T0);
	struct pcapw_tcp seg = {.dport = SMTP_PORT, .flags = TCP_FLAG_SYN, .window = 65535};

	pcapw_addr(SERVER_IP, &seg.dst);
	pcapw_addr("10.0.0.0", &seg.src);
	for (uint32_t i = 0; i < FLOOD_SYNS; i++) {
		seg.src.bytes[1] = (uint8_t)(i >> 16);
		seg.src.bytes[2] = (uint8_t)(i >> 8);
		seg.src.bytes[3] = (uint8_t)i;
		seg.sport = (uint16_t)(1024 + i % 30000); /* below the good sessions' ports */
		seg.seq = i * 7919u;
		check(pcapw_write_tcp(w, &eth, ts, &seg));
		ts += 10;
	}
	good_session(w, &eth, PORT_GOOD_AFTER, ts + 1000);
}

/* Sends len bytes of buf (repeated as needed) from one side in BIG_MSS segments, the other
 * side acknowledging every ACK_EVERY segments. */
static void bulk(struct pcapw_conn *c, bool client, const char *buf, size_t buflen, uint64_t len)
{
	uint64_t left = len;
	unsigned k = 0;

	c->mss = BIG_MSS;
	while (left > 0) {
		size_t n = left < buflen ? (size_t)left : buflen;

		check(pcapw_conn_send(c, client, buf, n));
		left -= n;
		if (++k % ACK_EVERY == 0)
			check(pcapw_conn_send(c, !client, NULL, 0));
	}
	c->mss = 0;
}

static void write_long_line(struct pcapw *w)
{
	static char buf[BIG_MSS];
	struct pcapw_conn c;
	uint64_t ts = good_session(w, &eth, PORT_GOOD_BEFORE, T0);

	/* 100 MiB of a MAIL command that never ends */
	conn_open(&c, w, &eth, PORT_HOSTILE, ts);
	send_str(&c, false, "220 mx.example.net ESMTP\r\n");
	send_str(&c, true, "EHLO client.example\r\n");
	send_str(&c, false, "250-mx.example.net\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "MAIL FROM:<", 11);
	check(pcapw_conn_send(&c, true, buf, sizeof(buf)));
	memset(buf, 'a', 11);
	bulk(&c, true, buf, sizeof(buf), LONG_LINE - sizeof(buf));
	ts = conn_close(&c);

	/* 8 MiB of a greeting that never ends */
	conn_open(&c, w, &eth, PORT_HOSTILE + 1, ts);
	memset(buf, 'x', sizeof(buf));
	memcpy(buf, "220 ", 4);
	check(pcapw_conn_send(&c, false, buf, sizeof(buf)));
	memset(buf, 'x', 4);
	bulk(&c, false, buf, sizeof(buf), LONG_REPLY - sizeof(buf));
	good_session(w, &eth, PORT_GOOD_AFTER, conn_close(&c));
}

static void write_million_rcpt(struct pcapw *w)
{
	static char cmds[RCPTS_PER_ROUND * 32 + 1], replies[RCPTS_PER_ROUND * 14];
	struct pcapw_conn c;
	uint64_t ts = good_session(w, &eth, PORT_GOOD_BEFORE, T0);
	size_t ncmd, i;

	for (i = 0; i < RCPTS_PER_ROUND; i++)
		memcpy(replies + 14 * i, "250 2.1.5 Ok\r\n", 14);
	conn_open(&c, w, &eth, PORT_HOSTILE, ts);
	c.mss = BIG_MSS;
	play(&c, to_data_acts, 5);
	for (uint32_t r = 0; r < RCPTS; r += RCPTS_PER_ROUND) {
		ncmd = 0;
		for (i = 0; i < RCPTS_PER_ROUND; i++) /* 31 bytes each */
			ncmd += (size_t)sprintf(cmds + ncmd, "RCPT TO:<r%07u@example.net>\r\n",
			                        (unsigned)(r + i));
		check(pcapw_conn_send(&c, true, cmds, ncmd));
		check(pcapw_conn_send(&c, false, replies, RCPTS_PER_ROUND * 14));
	}
	play(&c, to_data_acts + 7, 2);
	send_str(&c, true, "Subject: many\r\n\r\nHello.\r\n.\r\n");
	send_str(&c, false, "250 2.0.0 Ok: queued as 4F7\r\n");
	send_str(&c, true, "QUIT\r\n");
	send_str(&c, false, "221 2.0.0 Bye\r\n");
	good_session(w, &eth, PORT_GOOD_AFTER, conn_close(&c));
}

/* Message text that never ends: 16 MiB of 1024-byte lines, one line of 2 MiB + CRLF, 16 MiB
 * more, and the capture ends with no end of data. The normal session after it starts
 * later in packet time, while this one is still open. */
static void write_endless_text(struct pcapw *w)
{
	static char block[64 * 1024], buf[BIG_MSS];
	struct pcapw_conn c;
	uint64_t ts = good_session(w, &eth, PORT_GOOD_BEFORE, T0);

	for (size_t i = 0; i < sizeof(block); i += 1024) {
		memset(block + i, 't', 1022);
		memcpy(block + i + 1022, "\r\n", 2);
	}
	conn_open(&c, w, &eth, PORT_HOSTILE, ts);
	play(&c, to_data_acts, N_OF(to_data_acts));
	bulk(&c, true, block, sizeof(block), (uint64_t)TEXT_BLOCKS * sizeof(block));
	memset(buf, 'y', sizeof(buf));
	bulk(&c, true, buf, sizeof(buf), TEXT_LONG);
	send_str(&c, true, "\r\n");
	bulk(&c, true, block, sizeof(block), (uint64_t)TEXT_BLOCKS * sizeof(block));
	good_session(w, &eth, PORT_GOOD_AFTER, c.ts_us + 1000);
}

/* ---- SMTP content ---- */

/* BDAT whose size does not parse (20 digits), then a good BDAT; and a session whose BDAT
 * size parses (2^63 - 1) and whose client sends 1000 bytes and closes. */
static void write_bdat_huge(struct pcapw *w)
{
	static const struct act acts[] = {
	    CL("BDAT 99999999999999999999 LAST\r\n"),
	    SV("501 5.5.4 Syntax: BDAT count [LAST]\r\n"),
	    CL("BDAT 12 LAST\r\nSubject: x\r\n"),
	    SV("250 2.0.0 Ok: queued as 4F8\r\n"),
	    CL("QUIT\r\n"),
	    SV("221 2.0.0 Bye\r\n"),
	};
	static char chunk[1000];
	struct pcapw_conn c;
	uint64_t ts = good_session(w, &eth, PORT_GOOD_BEFORE, T0);

	conn_open(&c, w, &eth, PORT_HOSTILE, ts);
	play(&c, to_data_acts, TO_RCPT_ACTS);
	play(&c, acts, N_OF(acts));
	ts = conn_close(&c);
	conn_open(&c, w, &eth, PORT_HOSTILE + 1, ts);
	play(&c, to_data_acts, TO_RCPT_ACTS);
	send_str(&c, true, "BDAT 9223372036854775807 LAST\r\n");
	memset(chunk, 'z', sizeof(chunk));
	check(pcapw_conn_send(&c, true, chunk, sizeof(chunk)));
	good_session(w, &eth, PORT_GOOD_AFTER, conn_close(&c));
}

static void write_bdat_negative(struct pcapw *w)
{
	static const struct act acts[] = {
	    CL("BDAT -5\r\n"),
	    SV("501 5.5.4 Syntax: BDAT count [LAST]\r\n"),
	    CL("BDAT -0 LAST\r\n"),
	    SV("501 5.5.4 Syntax: BDAT count [LAST]\r\n"),
	    CL("BDAT 12 LAST\r\nSubject: x\r\n"),
	    SV("250 2.0.0 Ok: queued as 4F9\r\n"),
	    CL("QUIT\r\n"),
	    SV("221 2.0.0 Bye\r\n"),
	};
	struct pcapw_conn c;
	uint64_t ts = good_session(w, &eth, PORT_GOOD_BEFORE, T0);

	conn_open(&c, w, &eth, PORT_HOSTILE, ts);
	play(&c, to_data_acts, TO_RCPT_ACTS);
	play(&c, acts, N_OF(acts));
	good_session(w, &eth, PORT_GOOD_AFTER, conn_close(&c));
}

static void write_nul_bytes(struct pcapw *w)
{
	static const struct act acts[] = {
	    SV("220 mx.example.net ESMTP\r\n"),
	    CL("EHLO cl\0ient.example\r\n"),
	    SV("250-mx.example.net\r\n250-PIPELINING\r\n250 8BITMIME\r\n"),
	    CL("MA\0IL FROM:<a@example.org>\r\n"),
	    SV("500 5.5.2 Error: bad syntax\r\n"),
	    CL("MAIL FROM:<a\0b@example.org>\r\n"),
	    SV("250 2.1.0 Ok\r\n"),
	    CL("RCPT TO:<c\0d@example.net>\r\n"),
	    SV("250 2.1.5 Ok\r\n"),
	    CL("\0\0\0\0\r\n"),
	    SV("500 5.5.2 Error: bad syntax\r\n"),
	    CL("DATA\r\n"),
	    SV("354 End data with <CR><LF>.<CR><LF>\r\n"),
	    CL("Subject: \0\r\n\r\nbody\0\r\n.\r\n"),
	    SV("250 2.0.0 Ok: queued as 4FA\r\n"),
	    CL("QUIT\0\r\n"),
	    SV("500 5.5.2 Error: bad syntax\r\n"),
	    CL("QUIT\r\n"),
	    SV("221 2.0.0 Bye\r\n"),
	};
	struct pcapw_conn c;
	uint64_t ts = good_session(w, &eth, PORT_GOOD_BEFORE, T0);

	conn_open(&c, w, &eth, PORT_HOSTILE, ts);
	play(&c, acts, N_OF(acts));
	good_session(w, &eth, PORT_GOOD_AFTER, conn_close(&c));
}

/* Bytes that are not UTF-8 in every text field the record carries: a lone 0xff, an
 * overlong form (c0 af), a surrogate (ed a0 80), a code point past U+10FFFF (f4 90 80 80),
 * sequences cut short (e2 82, c3), a backslash, and valid UTF-8 (c3 a9) beside them. */
static void write_non_utf8(struct pcapw *w)
{
	static const struct act acts[] = {
	    SV("220 mx.example.net ESMTP \xff\xfe caf\xc3\xa9\r\n"),
	    CL("EHLO cl\xc0\xafient\\x\r\n"),
	    SV("250-mx.example.net\r\n250-PIPELINING\r\n250-X-\xed\xa0\x80SURR\r\n"
	       "250-AUTH PLAIN \xf4\x90\x80\x80\r\n250 8BITMIME\r\n"),
	    CL("AUTH X\xe2\x82\x41\r\n"),
	    SV("504 5.5.4 Unrecognized \xa0mechanism\r\n"),
	    CL("MAIL FROM:<s\xe9nder@example.org> SIZE=10 X=\x80\r\n"),
	    SV("250 2.1.0 Ok \xc3\r\n"),
	    CL("RCPT TO:<r\xc3\xa9\xff@example.net>\r\n"),
	    SV("250 2.1.5 Ok\r\n"),
	    CL("RCPT TO:<\xff\xfe@example.net>\r\n"),
	    SV("550 5.1.1 <\xff\xfe@example.net>: Recipient address rejected\r\n"),
	    CL("DATA\r\n"),
	    SV("354 End data \xfe\r\n"),
	    CL("Subject: \xff\xfe\r\n\r\n\xc0\xaf\r\n.\r\n"),
	    SV("250 2.0.0 Ok: queued as \xe2\x82\r\n"),
	    CL("QUIT\r\n"),
	    SV("221 2.0.0 Bye \xff\r\n"),
	};
	struct pcapw_conn c;
	uint64_t ts = good_session(w, &eth, PORT_GOOD_BEFORE, T0);

	conn_open(&c, w, &eth, PORT_HOSTILE, ts);
	play(&c, acts, N_OF(acts));
	good_session(w, &eth, PORT_GOOD_AFTER, conn_close(&c));
}

/* ---- the cases ---- */

enum writer {
	W_GOOD,
	W_EMPTY,
	W_NOT_CAPTURE,
	W_SHORT_HEADER,
	W_CUT_RECORD,
	W_CUT_RECORD_HEADER,
	W_CAPLEN_SNAPLEN,
	W_CAPLEN_WIRELEN,
	W_ABSURD,
	W_ABSURD_SLL,
	W_ABSURD_SLL2,
	W_ABSURD_PCAPNG,
	W_UNKNOWN_LINK,
	W_IP_LEN_LIES,
	W_TCP_DOFF,
	W_SYN_FLOOD,
	W_LONG_LINE,
	W_MILLION_RCPT,
	W_ENDLESS_TEXT,
	W_BDAT_HUGE,
	W_BDAT_NEGATIVE,
	W_NUL_BYTES,
	W_NON_UTF8,
	W_BAD_CHECKSUM,
	W_TIME_BACK,
	W_TIME_BACK_1,
	W_TIME_BACK_2,
	W_PORT_REUSE,
	W_SCANNERS,
};

struct hcase {
	const char *name;
	enum writer writer;
	int dlt;          /* -1: not a capture written by pcapw */
	uint32_t snaplen; /* 0: the default */
	enum pcapw_format fmt;
	const char *what;
};

static const struct hcase cases[] = {
    {"good", W_GOOD, DLT_EN10MB, 0, PCAPW_PCAP, "one normal session alone (port 40009)"},
    {"empty-file", W_EMPTY, -1, 0, PCAPW_PCAP, "no bytes at all"},
    {"not-a-capture", W_NOT_CAPTURE, -1, 0, PCAPW_PCAP, "SMTP text, not a capture"},
    {"truncated-global-header", W_SHORT_HEADER, DLT_EN10MB, 0, PCAPW_PCAP,
     "20 of the 24 bytes of a pcap file header"},
    {"truncated-record", W_CUT_RECORD, DLT_EN10MB, 0, PCAPW_PCAP,
     "the last record cut 30 bytes into its data, in a session's message text"},
    {"truncated-record-header", W_CUT_RECORD_HEADER, DLT_EN10MB, 0, PCAPW_PCAP,
     "the last record cut 7 bytes into its 16-byte header"},
    {"caplen-above-snaplen", W_CAPLEN_SNAPLEN, DLT_EN10MB, 1500, PCAPW_PCAP,
     "snaplen 1500, one record of 3000 captured bytes"},
    {"caplen-above-wirelen", W_CAPLEN_WIRELEN, DLT_EN10MB, 0, PCAPW_PCAP,
     "client records with a wire length under their captured length, one of 0"},
    {"absurd-lengths", W_ABSURD, DLT_EN10MB, 0, PCAPW_PCAP,
     "impossible lengths in Ethernet, VLAN, IPv4, IPv6, TCP headers; a last record header "
     "with caplen 0xffffffff"},
    {"absurd-sll", W_ABSURD_SLL, DLT_LINUX_SLL, 0, PCAPW_PCAP, "Linux cooked v1 headers cut short"},
    {"absurd-sll2", W_ABSURD_SLL2, DLT_LINUX_SLL2, 0, PCAPW_PCAP,
     "Linux cooked v2 headers cut short"},
    {"absurd-pcapng", W_ABSURD_PCAPNG, DLT_EN10MB, 0, PCAPW_PCAPNG,
     "pcapng: a last block with total length 0xfffffff0"},
    {"unknown-link-type", W_UNKNOWN_LINK, 65000, 0, PCAPW_PCAP, "link type 65000"},
    {"ip-total-length-lies", W_IP_LEN_LIES, DLT_EN10MB, 0, PCAPW_PCAP,
     "IPv4 total lengths shorter than the segment, longer than the frame, 0, shorter than "
     "the header, and junk after the datagram"},
    {"tcp-data-offset", W_TCP_DOFF, DLT_EN10MB, 0, PCAPW_PCAP,
     "TCP data offsets 4, 15 and 8 past the packet (each resent right), and 15 with options"},
    {"syn-flood", W_SYN_FLOOD, DLT_EN10MB, 0, PCAPW_PCAP, "100,000 unanswered SYNs"},
    {"long-line", W_LONG_LINE, DLT_EN10MB, 0, PCAPW_PCAP,
     "a 100 MiB command line and an 8 MiB greeting line, neither ended"},
    {"million-rcpt", W_MILLION_RCPT, DLT_EN10MB, 0, PCAPW_PCAP,
     "1,000,000 RCPT commands in one transaction, committed"},
    {"endless-text", W_ENDLESS_TEXT, DLT_EN10MB, 0, PCAPW_PCAP,
     "34 MiB of message text with a 2 MiB line and no end of data"},
    {"bdat-huge", W_BDAT_HUGE, DLT_EN10MB, 0, PCAPW_PCAP,
     "BDAT 99999999999999999999 LAST, then BDAT 12 LAST; BDAT 2^63-1 LAST then a close"},
    {"bdat-negative", W_BDAT_NEGATIVE, DLT_EN10MB, 0, PCAPW_PCAP,
     "BDAT -5, BDAT -0 LAST, then BDAT 12 LAST"},
    {"nul-bytes", W_NUL_BYTES, DLT_EN10MB, 0, PCAPW_PCAP, "NUL bytes in commands and text"},
    {"non-utf8", W_NON_UTF8, DLT_EN10MB, 0, PCAPW_PCAP,
     "bytes that are not UTF-8 in every text field of the record"},
    {"bad-checksum", W_BAD_CHECKSUM, DLT_EN10MB, 0, PCAPW_PCAP,
     "golden: a bad-checksum RSET sent where the DATA goes, then the DATA"},
    {"time-backwards", W_TIME_BACK, DLT_EN10MB, 0, PCAPW_PCAP,
     "golden: two sessions, the second two hours before the first"},
    {"time-backwards-1", W_TIME_BACK_1, DLT_EN10MB, 0, PCAPW_PCAP,
     "golden: the first of them alone"},
    {"time-backwards-2", W_TIME_BACK_2, DLT_EN10MB, 0, PCAPW_PCAP,
     "golden: the second of them alone"},
    {"port-reuse", W_PORT_REUSE, DLT_EN10MB, 0, PCAPW_PCAP,
     "golden: a session left open, then a new SYN on its tuple and a whole session"},
    {"scanners", W_SCANNERS, DLT_EN10MB, 0, PCAPW_PCAP,
     "golden: refused, unanswered and half-open SYNs, an empty connection, one session"},
};

/* Writes what goes through pcapw; the file-level cases finish (and close w) themselves.
 * Returns true when w is still to be closed. */
static bool write_case(const struct hcase *hc, struct pcapw *w, const char *path)
{
	switch (hc->writer) {
	case W_GOOD:
		write_good(w);
		break;
	case W_CUT_RECORD:
		write_cut_record(w, path, 16 + 30);
		return false;
	case W_CUT_RECORD_HEADER:
		write_cut_record(w, path, 7);
		return false;
	case W_CAPLEN_SNAPLEN:
		write_caplen_snaplen(w);
		break;
	case W_CAPLEN_WIRELEN:
		write_caplen_wirelen(w);
		break;
	case W_ABSURD:
		write_absurd(w, path);
		return false;
	case W_ABSURD_SLL:
		write_absurd_sll(w, DLT_LINUX_SLL);
		break;
	case W_ABSURD_SLL2:
		write_absurd_sll(w, DLT_LINUX_SLL2);
		break;
	case W_ABSURD_PCAPNG:
		write_absurd_pcapng(w, path);
		return false;
	case W_UNKNOWN_LINK:
		write_unknown_link(w);
		break;
	case W_IP_LEN_LIES:
		write_ip_len_lies(w);
		break;
	case W_TCP_DOFF:
		write_tcp_doff(w);
		break;
	case W_SYN_FLOOD:
		write_syn_flood(w);
		break;
	case W_LONG_LINE:
		write_long_line(w);
		break;
	case W_MILLION_RCPT:
		write_million_rcpt(w);
		break;
	case W_ENDLESS_TEXT:
		write_endless_text(w);
		break;
	case W_BDAT_HUGE:
		write_bdat_huge(w);
		break;
	case W_BDAT_NEGATIVE:
		write_bdat_negative(w);
		break;
	case W_NUL_BYTES:
		write_nul_bytes(w);
		break;
	case W_NON_UTF8:
		write_non_utf8(w);
		break;
	case W_BAD_CHECKSUM:
		write_bad_checksum(w);
		break;
	case W_TIME_BACK:
	case W_TIME_BACK_1:
	case W_TIME_BACK_2:
		write_time_backwards(w, (int)(hc->writer - W_TIME_BACK));
		break;
	case W_PORT_REUSE:
		write_port_reuse(w);
		break;
	case W_SCANNERS:
		write_scanners(w);
		break;
	case W_SHORT_HEADER:
		check(pcapw_close(w));
		cut_tail(path, 4);
		return false;
	default:
		break;
	}
	return true;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: mkhostile CASE OUT.pcap\n       mkhostile -l\ncases:\n");
	for (size_t i = 0; i < N_OF(cases); i++)
		fprintf(out, "  %-24s %s\n", cases[i].name, cases[i].what);
}

static const struct hcase *case_find(const char *name)
{
	for (size_t i = 0; i < N_OF(cases); i++)
		if (strcmp(cases[i].name, name) == 0)
			return &cases[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const struct hcase *hc;
	const char *path;
	struct pcapw *w;

	if (argc == 2 && strcmp(argv[1], "-l") == 0) {
		usage(stdout);
		return 0;
	}
	if (argc != 3 || !(hc = case_find(argv[1])) || strcmp(argv[2], "-") == 0) {
		usage(stderr);
		return 2;
	}
	path = argv[2];
	if (hc->dlt < 0) {
		FILE *fp = fopen(path, "wb");

		if (!fp || fclose(fp) != 0)
			failed = true;
		if (hc->writer == W_NOT_CAPTURE)
			write_not_capture(path);
	} else {
		w = pcapw_open(path, hc->dlt, hc->fmt, hc->snaplen);
		if (!w) {
			perror(path);
			return 1;
		}
		if (write_case(hc, w, path))
			check(pcapw_close(w));
	}
	if (failed) {
		fprintf(stderr, "mkhostile: %s: write failed\n", path);
		return 1;
	}
	return 0;
}
