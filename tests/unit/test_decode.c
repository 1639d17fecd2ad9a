/* test_decode: every link type, IPv4 options and fragments, IPv6 extension headers, lying
 * lengths and every truncation of a frame (RFC 791, RFC 8200, RFC 9293; IEEE 802.1Q). */
#include <pcap/dlt.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "pcapw.h"
#include "tap.h"

enum { FRAME_CAP = 4096 };

static const char mail_from[] = "MAIL FROM:<a@example.org>\r\n";

/* A segment with every field distinct, so a field read from the wrong place shows. */
static struct pcapw_tcp seg_make(int family, const char *payload)
{
	struct pcapw_tcp s = {
	    .sport = 40000,
	    .dport = 25,
	    .seq = 0x01020304,
	    .ack = 0xa0b0c0d0,
	    .flags = TCP_FLAG_ACK | TCP_FLAG_PSH,
	    .window = 0x1234,
	    .payload = (const uint8_t *)payload,
	    .len = payload ? (uint32_t)strlen(payload) : 0,
	};

	pcapw_addr(family == 4 ? "192.0.2.10" : "2001:db8::10", &s.src);
	pcapw_addr(family == 4 ? "198.51.100.5" : "2001:db8::5", &s.dst);
	return s;
}

static size_t frame_make(const struct pcapw_link *link, const struct pcapw_tcp *seg, uint8_t *frame)
{
	size_t n = pcapw_frame_tcp(link, seg, frame, FRAME_CAP);

	CHECK(n > 0);
	return n;
}

/* Decodes the first len bytes of frame from an exactly sized heap copy, so that ASan
 * reports any read past the captured length. *copy is the caller's to free. */
static enum decode_status decode_exact(int dlt, const uint8_t *frame, size_t len,
                                       struct tcp_seg *out, uint8_t **copy)
{
	*copy = malloc(len ? len : 1);
	if (len)
		memcpy(*copy, frame, len);
	memset(out, 0xa5, sizeof(*out));
	out->ts_us = 77;
	return decode_packet(dlt, *copy, (uint32_t)len, out);
}

static void check_seg(const struct tcp_seg *got, const struct pcapw_tcp *want, uint32_t plen)
{
	CHECK_EQ_INT(got->src.family, want->src.family);
	CHECK_EQ_INT(got->dst.family, want->dst.family);
	CHECK(memcmp(got->src.bytes, want->src.bytes, DECODE_ADDR_MAX) == 0);
	CHECK(memcmp(got->dst.bytes, want->dst.bytes, DECODE_ADDR_MAX) == 0);
	CHECK_EQ_INT(got->sport, want->sport);
	CHECK_EQ_INT(got->dport, want->dport);
	CHECK_EQ_INT(got->seq, want->seq);
	CHECK_EQ_INT(got->ack, want->ack);
	CHECK_EQ_INT(got->flags, want->flags);
	CHECK_EQ_INT(got->window, want->window);
	CHECK_EQ_INT(got->payload_len, plen);
	CHECK_EQ_INT(got->ts_us, 77); /* decode leaves the time to its caller */
	if (got->payload_len == plen && plen > 0)
		CHECK(memcmp(got->payload, want->payload, plen) == 0);
}

/* Frames seg for link, decodes it and checks every field of the result. */
static void check_roundtrip(const struct pcapw_link *link, const struct pcapw_tcp *seg)
{
	uint8_t frame[FRAME_CAP], *copy;
	struct tcp_seg out;
	size_t n = frame_make(link, seg, frame);

	CHECK_EQ_INT(decode_exact(link->dlt, frame, n, &out, &copy), DECODE_OK);
	check_seg(&out, seg, seg->len);
	free(copy);
}

static void check_link(const struct pcapw_link *link, bool v4, bool v6)
{
	struct pcapw_tcp s4 = seg_make(4, mail_from), s6 = seg_make(6, mail_from);
	struct pcapw_tcp e4 = seg_make(4, NULL), e6 = seg_make(6, NULL);

	if (v4) {
		check_roundtrip(link, &s4);
		check_roundtrip(link, &e4);
	}
	if (v6) {
		check_roundtrip(link, &s6);
		check_roundtrip(link, &e6);
	}
}

/* Decodes a hand-built frame of len bytes and returns the status. */
static enum decode_status status_of(int dlt, const uint8_t *frame, size_t len)
{
	struct tcp_seg out;
	uint8_t *copy;
	enum decode_status st = decode_exact(dlt, frame, len, &out, &copy);

	free(copy);
	return st;
}

/* ---- link types ---- */

static void test_en10mb(void)
{
	struct pcapw_link link = {.dlt = DLT_EN10MB};

	check_link(&link, true, true);
}

static void test_vlan(void)
{
	struct pcapw_link link = {.dlt = DLT_EN10MB, .vlan = {100, 0}};

	check_link(&link, true, true);
}

static void test_qinq(void)
{
	struct pcapw_link link = {.dlt = DLT_EN10MB, .vlan = {100, 200}};
	struct pcapw_tcp s = seg_make(4, mail_from);
	uint8_t frame[FRAME_CAP], *copy;
	struct tcp_seg out;
	size_t n;

	check_link(&link, true, true);
	/* The older 0x9100 outer tag reads the same. */
	n = frame_make(&link, &s, frame);
	CHECK(frame[12] == 0x88 && frame[13] == 0xa8);
	frame[12] = 0x91;
	frame[13] = 0x00;
	CHECK_EQ_INT(decode_exact(DLT_EN10MB, frame, n, &out, &copy), DECODE_OK);
	check_seg(&out, &s, s.len);
	free(copy);
}

/* Up to four stacked tags are followed; a fifth is not traffic to follow. */
static void test_vlan_stack_limit(void)
{
	struct pcapw_link link = {.dlt = DLT_EN10MB};
	struct pcapw_tcp s = seg_make(4, mail_from);
	uint8_t plain[FRAME_CAP], frame[FRAME_CAP];
	size_t n = frame_make(&link, &s, plain);

	for (int tags = 1; tags <= 5; tags++) {
		memcpy(frame, plain, 12);
		for (int i = 0; i < tags; i++) {
			uint8_t tag[4] = {0x81, 0x00, 0x00, (uint8_t)(10 + i)};
			memcpy(frame + 12 + 4 * i, tag, 4);
		}
		memcpy(frame + 12 + 4 * tags, plain + 12, n - 12);
		CHECK_EQ_INT(status_of(DLT_EN10MB, frame, n + 4 * (size_t)tags),
		             tags <= 4 ? DECODE_OK : DECODE_NOT_IP);
	}
}

static void test_sll(void)
{
	struct pcapw_link link = {.dlt = DLT_LINUX_SLL};

	check_link(&link, true, true);
}

static void test_sll2(void)
{
	struct pcapw_link link = {.dlt = DLT_LINUX_SLL2};

	check_link(&link, true, true);
}

static void test_null(void)
{
	struct pcapw_link link = {.dlt = DLT_NULL};

	check_link(&link, true, true);
}

/* DLT_NULL written on a host of the other byte order, and every OS's AF_INET6. */
static void test_null_foreign(void)
{
	struct pcapw_link link = {.dlt = DLT_NULL};
	struct pcapw_tcp s4 = seg_make(4, mail_from), s6 = seg_make(6, mail_from);
	uint8_t frame[FRAME_CAP], *copy;
	static const uint8_t af6[] = {10, 24, 28, 30};
	struct tcp_seg out;
	size_t n = frame_make(&link, &s4, frame);
	uint8_t t;

	t = frame[0], frame[0] = frame[3], frame[3] = t;
	t = frame[1], frame[1] = frame[2], frame[2] = t;
	CHECK_EQ_INT(decode_exact(DLT_NULL, frame, n, &out, &copy), DECODE_OK);
	check_seg(&out, &s4, s4.len);
	free(copy);
	n = frame_make(&link, &s6, frame);
	for (size_t i = 0; i < sizeof(af6); i++) {
		uint8_t le[4] = {af6[i], 0, 0, 0}, be[4] = {0, 0, 0, af6[i]};
		memcpy(frame, le, 4);
		CHECK_EQ_INT(status_of(DLT_NULL, frame, n), DECODE_OK);
		memcpy(frame, be, 4);
		CHECK_EQ_INT(status_of(DLT_NULL, frame, n), DECODE_OK);
		CHECK_EQ_INT(status_of(DLT_LOOP, frame, n), DECODE_OK);
	}
	frame[3] = 7; /* AF_UNIX-ish: not IP */
	CHECK_EQ_INT(status_of(DLT_LOOP, frame, n), DECODE_NOT_IP);
}

static void test_loop(void)
{
	struct pcapw_link link = {.dlt = DLT_LOOP};

	check_link(&link, true, true);
}

static void test_raw_v4(void)
{
	struct pcapw_link link = {.dlt = DLT_RAW};

	check_link(&link, true, false);
}

static void test_raw_v6(void)
{
	struct pcapw_link link = {.dlt = DLT_RAW};

	check_link(&link, false, true);
}

/* LINKTYPE_RAW (101) and DLT_RAW's other number (14) decode like DLT_RAW. */
static void test_raw_aliases(void)
{
	struct pcapw_link l101 = {.dlt = 101}, l14 = {.dlt = DLT_RAW};
	struct pcapw_tcp s = seg_make(6, mail_from);
	uint8_t frame[FRAME_CAP], *copy;
	struct tcp_seg out;
	size_t n;

	check_link(&l101, true, true);
	n = frame_make(&l14, &s, frame);
	CHECK_EQ_INT(decode_exact(14, frame, n, &out, &copy), DECODE_OK);
	check_seg(&out, &s, s.len);
	free(copy);
	frame[0] = 0x50; /* version 5 */
	CHECK_EQ_INT(status_of(DLT_RAW, frame, n), DECODE_NOT_IP);
}

static void test_dlt_ipv4(void)
{
	struct pcapw_link link = {.dlt = DLT_IPV4};
	struct pcapw_tcp s6 = seg_make(6, mail_from);
	uint8_t frame[FRAME_CAP];
	size_t n;

	check_link(&link, true, false);
	/* An IPv6 packet under DLT_IPV4 is a broken IPv4 header. */
	link.dlt = DLT_RAW;
	n = frame_make(&link, &s6, frame);
	CHECK_EQ_INT(status_of(DLT_IPV4, frame, n), DECODE_MALFORMED);
}

static void test_dlt_ipv6(void)
{
	struct pcapw_link link = {.dlt = DLT_IPV6};
	struct pcapw_tcp s4 = seg_make(4, mail_from);
	uint8_t frame[FRAME_CAP];
	size_t n;

	check_link(&link, false, true);
	link.dlt = DLT_RAW;
	n = frame_make(&link, &s4, frame);
	CHECK_EQ_INT(status_of(DLT_IPV6, frame, n), DECODE_MALFORMED);
}

static void test_unsupported_dlt(void)
{
	static const int yes[] = {
	    DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL, DLT_LOOP, DLT_RAW, 12,
	    14,         101,           DLT_IPV4,       DLT_IPV6};
	static const int no[] = {-1, 2, 9, 105, 127, 147, 162, 1000000};
	uint8_t frame[64] = {0};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		CHECK(decode_dlt_supported(yes[i]));
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		CHECK(!decode_dlt_supported(no[i]));
		CHECK_EQ_INT(status_of(no[i], frame, sizeof(frame)), DECODE_NOT_IP);
	}
}

/* ---- IPv4 ---- */

static void test_ipv4_options(void)
{
	struct pcapw_link link = {.dlt = DLT_EN10MB, .ipv4_options = true};

	check_link(&link, true, false);
	link.dlt = DLT_RAW;
	check_link(&link, true, false);
}

static void test_ipv4_fragment(void)
{
	struct pcapw_link link = {.dlt = DLT_RAW};
	struct pcapw_tcp s = seg_make(4, mail_from);
	uint8_t frame[FRAME_CAP];
	size_t n = frame_make(&link, &s, frame);

	CHECK_EQ_INT(status_of(DLT_RAW, frame, n), DECODE_OK); /* DF alone is no fragment */
	frame[6] = 0x20; /* MF, offset 0: the first fragment */
	frame[7] = 0x00;
	CHECK_EQ_INT(status_of(DLT_RAW, frame, n), DECODE_FRAGMENT);
	frame[6] = 0x00; /* offset 8 octets, last fragment */
	frame[7] = 0x01;
	CHECK_EQ_INT(status_of(DLT_RAW, frame, n), DECODE_FRAGMENT);
	frame[6] = 0x1f; /* the highest offset */
	frame[7] = 0xff;
	CHECK_EQ_INT(status_of(DLT_RAW, frame, n), DECODE_FRAGMENT);
}

/* Ethernet pads frames to 60 bytes and may carry a trailer; neither is TCP payload. */
static void test_ethernet_padding(void)
{
	struct pcapw_link link = {.dlt = DLT_EN10MB};
	struct pcapw_tcp e = seg_make(4, NULL), one = seg_make(4, "Q"), s6 = seg_make(6, "Q");
	uint8_t frame[FRAME_CAP], *copy;
	struct tcp_seg out;
	size_t n;

	CHECK_EQ_INT(frame_make(&link, &e, frame), 60);
	check_roundtrip(&link, &e);
	CHECK_EQ_INT(frame_make(&link, &one, frame), 60);
	check_roundtrip(&link, &one);
	n = frame_make(&link, &one, frame);
	memset(frame + n - 5, 0xee, 5); /* non-zero padding */
	memset(frame + n, 0xfc, 4);     /* and an FCS */
	CHECK_EQ_INT(decode_exact(DLT_EN10MB, frame, n + 4, &out, &copy), DECODE_OK);
	check_seg(&out, &one, 1);
	free(copy);
	n = frame_make(&link, &s6, frame);
	memset(frame + n, 0xfc, 4);
	CHECK_EQ_INT(decode_exact(DLT_EN10MB, frame, n + 4, &out, &copy), DECODE_OK);
	check_seg(&out, &s6, 1);
	free(copy);
}

static void set_be16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Decodes frame (RAW, IPv4 or IPv6 by family) with its IP length field set to iplen. */
static enum decode_status decode_iplen(int family, unsigned iplen, uint32_t want_plen)
{
	struct pcapw_link link = {.dlt = DLT_RAW};
	struct pcapw_tcp s = seg_make(family, mail_from);
	uint8_t frame[FRAME_CAP], *copy;
	struct tcp_seg out;
	size_t n = frame_make(&link, &s, frame);
	enum decode_status st;

	set_be16(frame + (family == 4 ? 2 : 4), iplen);
	st = decode_exact(DLT_RAW, frame, n, &out, &copy);
	if (st == DECODE_OK)
		check_seg(&out, &s, want_plen);
	free(copy);
	return st;
}

/* A length larger than what was captured is a snapped capture: take what is there. Smaller
 * cuts the payload; smaller than the IP header cannot be. */
static void test_ipv4_total_length(void)
{
	uint32_t full = (uint32_t)strlen(mail_from);

	CHECK_EQ_INT(decode_iplen(4, 40 + full, full), DECODE_OK);
	CHECK_EQ_INT(decode_iplen(4, 40 + full + 1000, full), DECODE_OK);
	CHECK_EQ_INT(decode_iplen(4, 65535, full), DECODE_OK);
	CHECK_EQ_INT(decode_iplen(4, 40 + 5, 5), DECODE_OK);
	CHECK_EQ_INT(decode_iplen(4, 40, 0), DECODE_OK);
	CHECK_EQ_INT(decode_iplen(4, 30, 0), DECODE_TRUNCATED); /* TCP header cut by it */
	CHECK_EQ_INT(decode_iplen(4, 20, 0), DECODE_TRUNCATED);
	CHECK_EQ_INT(decode_iplen(4, 19, 0), DECODE_MALFORMED);
	CHECK_EQ_INT(decode_iplen(4, 1, 0), DECODE_MALFORMED);
	/* 0: Linux BIG TCP and TSO captures; the captured bytes are the datagram. */
	CHECK_EQ_INT(decode_iplen(4, 0, full), DECODE_OK);
}

static void test_ipv4_bad_header(void)
{
	struct pcapw_link link = {.dlt = DLT_RAW};
	struct pcapw_tcp s = seg_make(4, mail_from);
	uint8_t frame[FRAME_CAP];
	size_t n = frame_make(&link, &s, frame);

	for (uint8_t ihl = 0; ihl < 5; ihl++) {
		frame[0] = (uint8_t)(0x40 | ihl);
		CHECK_EQ_INT(status_of(DLT_RAW, frame, n), DECODE_MALFORMED);
	}
	frame[0] = 0x4f; /* 60-byte header: past this packet's 47 bytes */
	CHECK_EQ_INT(status_of(DLT_RAW, frame, n), DECODE_TRUNCATED);
	frame[0] = 0x45;
	link.dlt = DLT_EN10MB;
	n = frame_make(&link, &s, frame);
	frame[14] = 0x65; /* version 6 behind ethertype 0x0800 */
	CHECK_EQ_INT(status_of(DLT_EN10MB, frame, n), DECODE_MALFORMED);
}

static void test_ipv6_payload_length(void)
{
	uint32_t full = (uint32_t)strlen(mail_from);

	CHECK_EQ_INT(decode_iplen(6, 20 + full, full), DECODE_OK);
	CHECK_EQ_INT(decode_iplen(6, 20 + full + 500, full), DECODE_OK);
	CHECK_EQ_INT(decode_iplen(6, 20 + 3, 3), DECODE_OK);
	CHECK_EQ_INT(decode_iplen(6, 19, 0), DECODE_TRUNCATED);
	CHECK_EQ_INT(decode_iplen(6, 0, full), DECODE_OK); /* jumbogram / BIG TCP */
}

/* ---- IPv6 extension headers, built by hand ---- */

/* An IPv6 packet: fixed header with next header nh, then ext (extension headers as
 * given), then the TCP segment of s. Returns its length. */
static size_t v6_build(uint8_t nh, const uint8_t *ext, size_t extlen, const struct pcapw_tcp *s,
                       uint8_t *out)
{
	struct pcapw_link link = {.dlt = DLT_RAW};
	uint8_t plain[FRAME_CAP];
	size_t n = frame_make(&link, s, plain);

	memcpy(out, plain, 40);
	set_be16(out + 4, (unsigned)(n - 40 + extlen));
	out[6] = nh;
	if (extlen)
		memcpy(out + 40, ext, extlen);
	memcpy(out + 40 + extlen, plain + 40, n - 40);
	return n + extlen;
}

static enum decode_status v6_decode(uint8_t nh, const uint8_t *ext, size_t extlen)
{
	struct pcapw_tcp s = seg_make(6, mail_from);
	uint8_t frame[FRAME_CAP], *copy;
	struct tcp_seg out;
	size_t n = v6_build(nh, ext, extlen, &s, frame);
	enum decode_status st = decode_exact(DLT_RAW, frame, n, &out, &copy);

	if (st == DECODE_OK)
		check_seg(&out, &s, s.len);
	free(copy);
	return st;
}

static void test_ipv6_ext(void)
{
	struct pcapw_link link = {.dlt = DLT_EN10MB, .ipv6_ext = true};
	/* hop-by-hop (16 bytes) -> routing (type 0, 8 bytes) -> AH (12 bytes) -> dstopts */
	static const uint8_t chain[] = {
	    43, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* HbH, PadN 12 */
	    51, 0, 0, 0,  0, 0, 0, 0,                         /* routing */
	    60, 1, 0, 0,  0, 0, 0, 1, 0, 0, 0, 7,             /* AH, 1 = 12 bytes */
	    6,  0, 1, 4,  0, 0, 0, 0,                         /* dstopts */
	};

	check_link(&link, false, true);
	link.dlt = DLT_RAW;
	check_link(&link, false, true);
	CHECK_EQ_INT(v6_decode(0, chain, sizeof(chain)), DECODE_OK);
}

/* Writes k destination-options headers, the last pointing at TCP; returns their length. */
static size_t v6_dstopts_chain(uint8_t *out, int k)
{
	for (int i = 0; i < k; i++) {
		uint8_t h[8] = {i == k - 1 ? 6 : 60, 0, 1, 4, 0, 0, 0, 0};
		memcpy(out + 8 * i, h, 8);
	}
	return 8 * (size_t)k;
}

static void test_ipv6_not_tcp(void)
{
	static const uint8_t none[8] = {59, 0, 1, 4, 0, 0, 0, 0};
	static const uint8_t esp[8] = {0};
	uint8_t chain[9 * 8];

	CHECK_EQ_INT(v6_decode(60, none, sizeof(none)), DECODE_NOT_TCP); /* then "no next" */
	CHECK_EQ_INT(v6_decode(59, NULL, 0), DECODE_NOT_TCP);
	CHECK_EQ_INT(v6_decode(50, esp, sizeof(esp)), DECODE_NOT_TCP);
	CHECK_EQ_INT(v6_decode(17, NULL, 0), DECODE_NOT_TCP);
	CHECK_EQ_INT(v6_decode(58, NULL, 0), DECODE_NOT_TCP);
	/* A chain longer than any real packet's is refused, not walked forever. */
	CHECK_EQ_INT(v6_decode(60, chain, v6_dstopts_chain(chain, 8)), DECODE_OK);
	CHECK_EQ_INT(v6_decode(60, chain, v6_dstopts_chain(chain, 9)), DECODE_MALFORMED);
}

static void test_ipv6_fragment(void)
{
	uint8_t frag[8] = {6, 0, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef}; /* offset 0, M */

	CHECK_EQ_INT(v6_decode(44, frag, sizeof(frag)), DECODE_FRAGMENT);
	frag[2] = 0x00, frag[3] = 0x08; /* offset 1, last */
	CHECK_EQ_INT(v6_decode(44, frag, sizeof(frag)), DECODE_FRAGMENT);
	frag[2] = 0xff, frag[3] = 0xf9;
	CHECK_EQ_INT(v6_decode(44, frag, sizeof(frag)), DECODE_FRAGMENT);
	/* An atomic fragment (offset 0, no M) is a whole packet (RFC 6946). */
	frag[2] = 0x00, frag[3] = 0x00;
	CHECK_EQ_INT(v6_decode(44, frag, sizeof(frag)), DECODE_OK);
	frag[3] = 0x06; /* reserved bits do not make it a fragment */
	CHECK_EQ_INT(v6_decode(44, frag, sizeof(frag)), DECODE_OK);
}

/* ---- TCP ---- */

/* The byte offset of the TCP header in a RAW IPv4 frame from pcapw. */
enum { RAW4_TCP = 20 };

static void test_tcp_data_offset(void)
{
	struct pcapw_link link = {.dlt = DLT_RAW};
	struct pcapw_tcp s = seg_make(4, NULL), p = seg_make(4, mail_from);
	uint8_t frame[FRAME_CAP], *copy;
	struct tcp_seg out;
	size_t n = frame_make(&link, &s, frame);

	for (uint8_t doff = 0; doff < 5; doff++) {
		frame[RAW4_TCP + 12] = (uint8_t)(doff << 4);
		CHECK_EQ_INT(status_of(DLT_RAW, frame, n), DECODE_MALFORMED);
	}
	for (uint8_t doff = 6; doff < 16; doff++) {
		frame[RAW4_TCP + 12] = (uint8_t)(doff << 4);
		CHECK_EQ_INT(status_of(DLT_RAW, frame, n), DECODE_TRUNCATED);
	}
	/* Options that eat the bytes behind them leave that much less payload. */
	n = frame_make(&link, &p, frame);
	frame[RAW4_TCP + 12] = 6 << 4;
	CHECK_EQ_INT(decode_exact(DLT_RAW, frame, n, &out, &copy), DECODE_OK);
	CHECK_EQ_INT(out.payload_len, p.len - 4);
	CHECK(out.payload == copy + RAW4_TCP + 24);
	free(copy);
}

/* ---- what the snap length cut ---- */

/* Decodes the first caplen bytes of frame as a record that was wirelen bytes on the wire. */
static enum decode_status decode_cut(const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
                                     struct tcp_seg *out)
{
	uint8_t *copy = malloc(caplen ? caplen : 1);
	memcpy(copy, frame, caplen);
	enum decode_status st = decode_packet_wire(DLT_RAW, copy, caplen, wirelen, out);
	free(copy);
	return st;
}

/* A record the snap length cut: the payload on the wire comes from the IP length, within the
 * bytes the record lost; a whole record's payload is what it holds, whatever the IP length. */
static void test_wire_length(void)
{
	static const char text[] = "Subject: a message long enough to be cut by a snap length\r\n";
	struct pcapw_link link = {.dlt = DLT_RAW};
	struct pcapw_tcp s4 = seg_make(4, text), s6 = seg_make(6, text);
	uint8_t frame[FRAME_CAP];
	struct tcp_seg out;
	uint32_t n = (uint32_t)frame_make(&link, &s4, frame), len = s4.len;

	CHECK_EQ_INT(decode_cut(frame, n, n, &out), DECODE_OK);
	CHECK(out.payload_len == len && out.payload_wire_len == len);
	CHECK_EQ_INT(decode_cut(frame, n - 20, n, &out), DECODE_OK);
	CHECK(out.payload_len == len - 20 && out.payload_wire_len == len);
	/* the record lost 5 bytes but the IP length claims 1000 more: 5 it is */
	frame[2] = (uint8_t)((n + 1000) >> 8);
	frame[3] = (uint8_t)((n + 1000) & 0xff);
	CHECK_EQ_INT(decode_cut(frame, n - 5, n, &out), DECODE_OK);
	CHECK(out.payload_len == len - 5 && out.payload_wire_len == len);
	/* a whole record whose IP length lies: the captured bytes are what was sent */
	CHECK_EQ_INT(decode_cut(frame, n, n, &out), DECODE_OK);
	CHECK(out.payload_len == len && out.payload_wire_len == len);
	/* a cut into the TCP options: no payload captured, its size still known */
	n = (uint32_t)frame_make(&link, &s4, frame);
	frame[RAW4_TCP + 12] = 8 << 4;
	CHECK_EQ_INT(decode_cut(frame, RAW4_TCP + 24, n, &out), DECODE_OK);
	CHECK(out.payload_len == 0 && out.payload_wire_len == len - 12);
	CHECK_EQ_INT(decode_cut(frame, RAW4_TCP + 24, RAW4_TCP + 24, &out), DECODE_TRUNCATED);
	CHECK_EQ_INT(decode_cut(frame, RAW4_TCP + 12, n, &out), DECODE_TRUNCATED);
	/* IPv6 (40-byte header): the payload length gives the wire size */
	n = (uint32_t)frame_make(&link, &s6, frame);
	CHECK_EQ_INT(decode_cut(frame, n - 30, n, &out), DECODE_OK);
	CHECK(out.payload_len == len - 30 && out.payload_wire_len == len);
}

/* The TCP checksum over the IPv4 and IPv6 pseudo-headers: good as pcapw frames it (odd and
 * even payload lengths, options, extension headers), bad when a byte or the checksum field
 * changes, not checkable when the segment is cut or the IP length is 0. */
static void test_tcp_checksum(void)
{
	static const char *const texts[] = {NULL, "x", "MAIL FROM:<a@example.org>\r\n",
	                                    "Subject: an even length text..\r\n"};
	static const struct pcapw_link links[] = {{.dlt = DLT_RAW},
	                                          {.dlt = DLT_EN10MB, .ipv4_options = true},
	                                          {.dlt = DLT_EN10MB, .ipv6_ext = true}};
	uint8_t frame[FRAME_CAP], *copy;
	struct tcp_seg out;
	for (size_t l = 0; l < sizeof(links) / sizeof(links[0]); l++) {
		for (int fam = 4; fam <= 6; fam += 2) {
			for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
				struct pcapw_tcp s = seg_make(fam, texts[i]);
				size_t n = frame_make(&links[l], &s, frame);
				CHECK_EQ_INT(decode_exact(links[l].dlt, frame, n, &out, &copy),
				             DECODE_OK);
				CHECK_EQ_INT(out.csum, TCP_CSUM_GOOD);
				free(copy);
				/* the datagram's last byte (payload, or the urgent pointer), not
				 * the padding of a minimum Ethernet frame */
				size_t ip = fam == 4 ? (links[l].ipv4_options ? 24 : 20)
				                     : (links[l].ipv6_ext ? 56 : 40);
				size_t end =
				    (links[l].dlt == DLT_EN10MB ? 14 : 0) + ip + 20 + s.len;
				frame[end - 1] ^= 0x40;
				CHECK_EQ_INT(decode_exact(links[l].dlt, frame, n, &out, &copy),
				             DECODE_OK);
				CHECK_EQ_INT(out.csum, TCP_CSUM_BAD);
				free(copy);
				s.bad_checksum = true;
				n = frame_make(&links[l], &s, frame);
				CHECK_EQ_INT(decode_exact(links[l].dlt, frame, n, &out, &copy),
				             DECODE_OK);
				CHECK_EQ_INT(out.csum, TCP_CSUM_BAD);
				free(copy);
			}
		}
	}
	struct pcapw_link raw = {.dlt = DLT_RAW};
	struct pcapw_tcp s = seg_make(4, mail_from);
	uint32_t n = (uint32_t)frame_make(&raw, &s, frame);
	CHECK_EQ_INT(decode_cut(frame, n - 4, n, &out), DECODE_OK);
	CHECK_EQ_INT(out.csum, TCP_CSUM_UNCHECKED);
	frame[2] = frame[3] = 0; /* total length 0 (TSO, BIG TCP) */
	CHECK_EQ_INT(decode_cut(frame, n, n, &out), DECODE_OK);
	CHECK_EQ_INT(out.csum, TCP_CSUM_UNCHECKED);
}

/* Long segments of every length mod 8 (the sum's wide loop and its tails), high bytes too; and
 * a checksum not wanted is not computed: a bad one reads as unchecked. */
static void test_tcp_checksum_long(void)
{
	static char text[1200];
	uint8_t frame[FRAME_CAP];
	struct pcapw_link raw = {.dlt = DLT_RAW};
	struct tcp_seg out;
	for (size_t len = 1000; len < 1016; len++) {
		for (size_t i = 0; i < len; i++)
			text[i] = (char)(i * 37 % 255 + 1);
		text[len] = '\0';
		for (int fam = 4; fam <= 6; fam += 2) {
			struct pcapw_tcp s = seg_make(fam, text);
			uint32_t n = (uint32_t)frame_make(&raw, &s, frame);
			CHECK_EQ_INT(decode_packet_csum(DLT_RAW, frame, n, n, true, &out),
			             DECODE_OK);
			CHECK_EQ_INT(out.csum, TCP_CSUM_GOOD);
			s.bad_checksum = true;
			n = (uint32_t)frame_make(&raw, &s, frame);
			CHECK_EQ_INT(decode_packet_csum(DLT_RAW, frame, n, n, true, &out),
			             DECODE_OK);
			CHECK_EQ_INT(out.csum, TCP_CSUM_BAD);
			CHECK_EQ_INT(decode_packet_csum(DLT_RAW, frame, n, n, false, &out),
			             DECODE_OK);
			CHECK_EQ_INT(out.csum, TCP_CSUM_UNCHECKED);
			CHECK(out.payload_len == len);
		}
	}
}

static void test_tcp_flags(void)
{
	struct pcapw_link link = {.dlt = DLT_EN10MB};
	static const uint8_t flags[] = {
	    TCP_FLAG_SYN,
	    TCP_FLAG_SYN | TCP_FLAG_ACK,
	    TCP_FLAG_FIN | TCP_FLAG_ACK,
	    TCP_FLAG_RST,
	    TCP_FLAG_URG | TCP_FLAG_ACK,
	    0x3f,
	    0,
	};

	for (size_t i = 0; i < sizeof(flags); i++) {
		struct pcapw_tcp s = seg_make(4, NULL);
		s.flags = flags[i];
		s.seq = 0xffffffffu - (uint32_t)i;
		s.ack = (uint32_t)i;
		s.window = (uint16_t)(0xffff - i);
		check_roundtrip(&link, &s);
	}
}

/* ECN and reserved bits next to the flags are not flags. */
static void test_tcp_flag_bits_masked(void)
{
	struct pcapw_link link = {.dlt = DLT_RAW};
	struct pcapw_tcp s = seg_make(4, NULL);
	uint8_t frame[FRAME_CAP], *copy;
	struct tcp_seg out;
	size_t n = frame_make(&link, &s, frame);

	frame[RAW4_TCP + 12] |= 0x0f;
	frame[RAW4_TCP + 13] |= 0xc0;
	CHECK_EQ_INT(decode_exact(DLT_RAW, frame, n, &out, &copy), DECODE_OK);
	CHECK_EQ_INT(out.flags, s.flags);
	free(copy);
}

/* ---- truncation and garbage ---- */

/* Decodes every prefix of a full frame: TRUNCATED until the headers are all there, then OK
 * with as much payload as was captured. ASan proves no byte past the prefix is read. */
static void check_every_length(const struct pcapw_link *link, int family)
{
	struct pcapw_tcp s = seg_make(family, mail_from);
	uint8_t frame[FRAME_CAP], *copy;
	struct tcp_seg out;
	size_t n = frame_make(link, &s, frame), hdrs = n - s.len;
	enum decode_status st;

	for (size_t k = 0; k <= n; k++) {
		st = decode_exact(link->dlt, frame, k, &out, &copy);
		if (k < hdrs) {
			CHECK_EQ_INT(st, DECODE_TRUNCATED);
		} else {
			CHECK_EQ_INT(st, DECODE_OK);
			if (st == DECODE_OK)
				check_seg(&out, &s, (uint32_t)(k - hdrs));
		}
		free(copy);
	}
}

static void test_truncated_every_length(void)
{
	static const struct pcapw_link links[] = {
	    {.dlt = DLT_EN10MB},
	    {.dlt = DLT_EN10MB, .vlan = {100, 200}},
	    {.dlt = DLT_EN10MB, .ipv4_options = true, .ipv6_ext = true},
	    {.dlt = DLT_LINUX_SLL},
	    {.dlt = DLT_LINUX_SLL2},
	    {.dlt = DLT_NULL},
	    {.dlt = DLT_LOOP},
	    {.dlt = DLT_RAW},
	};

	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		check_every_length(&links[i], 4);
		check_every_length(&links[i], 6);
	}
	check_every_length(&(struct pcapw_link){.dlt = DLT_IPV4}, 4);
	check_every_length(&(struct pcapw_link){.dlt = DLT_IPV6}, 6);
}

static void test_truncated_v6_chain(void)
{
	struct pcapw_tcp s = seg_make(6, NULL);
	static const uint8_t frag[8] = {51, 0, 0, 0, 1, 2, 3, 4};           /* atomic */
	static const uint8_t ah[12] = {6, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 9}; /* 12 bytes */
	uint8_t ext[20], frame[FRAME_CAP], *copy;
	struct tcp_seg out;
	size_t n;

	memcpy(ext, frag, 8);
	memcpy(ext + 8, ah, 12);
	n = v6_build(44, ext, sizeof(ext), &s, frame);
	for (size_t k = 0; k <= n; k++) {
		CHECK_EQ_INT(decode_exact(DLT_RAW, frame, k, &out, &copy),
		             k < n ? DECODE_TRUNCATED : DECODE_OK);
		free(copy);
	}
}

static void test_not_ip(void)
{
	struct pcapw_link link = {.dlt = DLT_EN10MB};
	struct pcapw_tcp s = seg_make(4, mail_from);
	uint8_t frame[FRAME_CAP];
	size_t n = frame_make(&link, &s, frame);

	set_be16(frame + 12, 0x0806); /* ARP */
	CHECK_EQ_INT(status_of(DLT_EN10MB, frame, n), DECODE_NOT_IP);
	set_be16(frame + 12, 0x05dc); /* an 802.3 length */
	CHECK_EQ_INT(status_of(DLT_EN10MB, frame, n), DECODE_NOT_IP);
	link.dlt = DLT_LINUX_SLL;
	n = frame_make(&link, &s, frame);
	set_be16(frame + 14, 0x0806);
	CHECK_EQ_INT(status_of(DLT_LINUX_SLL, frame, n), DECODE_NOT_IP);
	link.dlt = DLT_LINUX_SLL2;
	n = frame_make(&link, &s, frame);
	set_be16(frame, 0x0004); /* 802.2 LLC */
	CHECK_EQ_INT(status_of(DLT_LINUX_SLL2, frame, n), DECODE_NOT_IP);
}

static void test_not_tcp(void)
{
	struct pcapw_link link = {.dlt = DLT_EN10MB};
	struct pcapw_tcp s = seg_make(4, mail_from);
	uint8_t frame[FRAME_CAP];
	size_t n = frame_make(&link, &s, frame);

	frame[14 + 9] = 17; /* UDP */
	CHECK_EQ_INT(status_of(DLT_EN10MB, frame, n), DECODE_NOT_TCP);
	frame[14 + 9] = 1; /* ICMP */
	CHECK_EQ_INT(status_of(DLT_EN10MB, frame, n), DECODE_NOT_TCP);
	frame[14 + 6] = 0x20; /* a fragment is a fragment whatever it carries */
	CHECK_EQ_INT(status_of(DLT_EN10MB, frame, n), DECODE_FRAGMENT);
}

static void test_null_input(void)
{
	struct tcp_seg out;

	CHECK_EQ_INT(decode_packet(DLT_EN10MB, NULL, 0, &out), DECODE_TRUNCATED);
	CHECK_EQ_INT(decode_packet(DLT_RAW, NULL, 1500, &out), DECODE_TRUNCATED);
	CHECK_EQ_INT(decode_packet(DLT_IPV6, NULL, 0, &out), DECODE_TRUNCATED);
}

static uint32_t rng_state = 0x2545f491u;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* A small in-process fuzz: valid frames with random bytes changed and random lengths.
 * Any status will do; an OK payload must lie inside the buffer. */
static void test_mutations(void)
{
	static const struct pcapw_link links[] = {
	    {.dlt = DLT_EN10MB, .vlan = {5, 6}, .ipv6_ext = true},
	    {.dlt = DLT_EN10MB, .ipv4_options = true},
	    {.dlt = DLT_LINUX_SLL2},
	    {.dlt = DLT_NULL},
	    {.dlt = DLT_RAW, .ipv6_ext = true},
	};
	uint8_t frame[FRAME_CAP], *copy;
	struct tcp_seg out;
	int ok = 0;

	for (int iter = 0; iter < 20000; iter++) {
		const struct pcapw_link *link = &links[iter % 5];
		struct pcapw_tcp s = seg_make(rng() & 1 ? 4 : 6, mail_from);
		size_t n = frame_make(link, &s, frame);
		int flips = 1 + (int)(rng() % 4);

		for (int f = 0; f < flips; f++)
			frame[rng() % n] = (uint8_t)rng();
		n = rng() % 4 ? n : rng() % (n + 1);
		if (decode_exact(link->dlt, frame, n, &out, &copy) == DECODE_OK) {
			ok++;
			CHECK(out.payload >= copy && out.payload + out.payload_len <= copy + n);
		}
		free(copy);
	}
	CHECK(ok > 1000); /* the mutations leave many frames readable */
}

static void test_status_names(void)
{
	CHECK_EQ_STR(decode_status_name(DECODE_OK), "ok");
	CHECK_EQ_STR(decode_status_name(DECODE_NOT_IP), "not_ip");
	CHECK_EQ_STR(decode_status_name(DECODE_NOT_TCP), "not_tcp");
	CHECK_EQ_STR(decode_status_name(DECODE_TRUNCATED), "truncated");
	CHECK_EQ_STR(decode_status_name(DECODE_MALFORMED), "malformed");
	CHECK_EQ_STR(decode_status_name(DECODE_FRAGMENT), "fragment");
	CHECK_EQ_STR(decode_status_name(DECODE_STATUS_COUNT), "unknown");
	CHECK_EQ_STR(decode_status_name((enum decode_status) - 1), "unknown");
}

int main(void)
{
	RUN_TEST(test_en10mb);
	RUN_TEST(test_wire_length);
	RUN_TEST(test_tcp_checksum);
	RUN_TEST(test_tcp_checksum_long);
	RUN_TEST(test_vlan);
	RUN_TEST(test_qinq);
	RUN_TEST(test_vlan_stack_limit);
	RUN_TEST(test_sll);
	RUN_TEST(test_sll2);
	RUN_TEST(test_null);
	RUN_TEST(test_null_foreign);
	RUN_TEST(test_loop);
	RUN_TEST(test_raw_v4);
	RUN_TEST(test_raw_v6);
	RUN_TEST(test_raw_aliases);
	RUN_TEST(test_dlt_ipv4);
	RUN_TEST(test_dlt_ipv6);
	RUN_TEST(test_unsupported_dlt);
	RUN_TEST(test_ipv4_options);
	RUN_TEST(test_ipv4_fragment);
	RUN_TEST(test_ethernet_padding);
	RUN_TEST(test_ipv4_total_length);
	RUN_TEST(test_ipv4_bad_header);
	RUN_TEST(test_ipv6_payload_length);
	RUN_TEST(test_ipv6_ext);
	RUN_TEST(test_ipv6_not_tcp);
	RUN_TEST(test_ipv6_fragment);
	RUN_TEST(test_tcp_data_offset);
	RUN_TEST(test_tcp_flags);
	RUN_TEST(test_tcp_flag_bits_masked);
	RUN_TEST(test_truncated_every_length);
	RUN_TEST(test_truncated_v6_chain);
	RUN_TEST(test_not_ip);
	RUN_TEST(test_not_tcp);
	RUN_TEST(test_null_input);
	RUN_TEST(test_mutations);
	RUN_TEST(test_status_names);
	TAP_EXIT();
}
