/* pcapw: the tests' own capture writer: pcap and pcapng files (draft-ietf-opsawg-pcap,
 * draft-ietf-opsawg-pcapng) of crafted frames over IPv4/IPv6 (RFC 791, RFC 8200) and TCP
 * (RFC 9293), with a conversation helper that keeps sequence and acknowledgement numbers. */
#include "pcapw.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pcap/dlt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define PCAP_MAGIC_US 0xa1b2c3d4u /* microsecond timestamps */

enum {
	LINKTYPE_RAW = 101,
	LINKTYPE_LOOP = 108,
	SNAPLEN_DEFAULT = 262144,
	PCAPNG_SHB = 0x0a0d0d0a,
	PCAPNG_IDB = 1,
	PCAPNG_EPB = 6,
	PCAPNG_BOM = 0x1a2b3c4d,
	ETH_MIN_FRAME = 60, /* without the FCS: shorter frames are padded on the wire */
	FRAME_MAX = 65535 + 128,
	/* OpenBSD's AF_INET6, what a real DLT_LOOP capture carries. */
	LOOP_AF_INET6 = 24,
};

struct pcapw {
	FILE *fp;
	enum pcapw_format fmt;
	uint32_t snaplen;
	bool failed;
};

/* ---- byte writers: a cursor over an output buffer the caller sized beforehand ---- */

struct wr {
	uint8_t *p;
	size_t len;
};

static void wr_u8(struct wr *w, uint8_t v)
{
	w->p[w->len++] = v;
}

static void wr_be16(struct wr *w, uint16_t v)
{
	wr_u8(w, (uint8_t)(v >> 8));
	wr_u8(w, (uint8_t)v);
}

static void wr_be32(struct wr *w, uint32_t v)
{
	wr_be16(w, (uint16_t)(v >> 16));
	wr_be16(w, (uint16_t)v);
}

/* Host byte order, for the file formats and DLT_NULL. */
static void wr_h32(struct wr *w, uint32_t v)
{
	memcpy(w->p + w->len, &v, 4);
	w->len += 4;
}

static void wr_h16(struct wr *w, uint16_t v)
{
	memcpy(w->p + w->len, &v, 2);
	w->len += 2;
}

static void wr_bytes(struct wr *w, const void *src, size_t n)
{
	if (n)
		memcpy(w->p + w->len, src, n);
	w->len += n;
}

static void wr_zero(struct wr *w, size_t n)
{
	memset(w->p + w->len, 0, n);
	w->len += n;
}

/* ---- files ---- */

static int put(struct pcapw *w, const void *buf, size_t n)
{
	if (fwrite(buf, 1, n, w->fp) != n)
		w->failed = true;
	return w->failed ? -1 : 0;
}

/* Files hold LINKTYPE_* values; they differ from DLT_* only where platforms disagreed. */
static uint32_t dlt_to_linktype(int dlt)
{
	if (dlt == DLT_RAW)
		return LINKTYPE_RAW;
	if (dlt == DLT_LOOP)
		return LINKTYPE_LOOP;
	return (uint32_t)dlt;
}

static int write_pcap_header(struct pcapw *w, int dlt)
{
	uint8_t buf[24];
	struct wr o = {buf, 0};

	wr_h32(&o, PCAP_MAGIC_US);
	wr_h16(&o, 2);
	wr_h16(&o, 4);
	wr_h32(&o, 0); /* thiszone */
	wr_h32(&o, 0); /* sigfigs */
	wr_h32(&o, w->snaplen);
	wr_h32(&o, dlt_to_linktype(dlt));
	return put(w, buf, o.len);
}

/* A section header with no options, then one interface with if_tsresol 6 (microseconds,
 * the default, written out so readers' option parsing is exercised too). */
static int write_pcapng_header(struct pcapw *w, int dlt)
{
	uint8_t buf[28 + 32];
	struct wr o = {buf, 0};

	wr_h32(&o, PCAPNG_SHB);
	wr_h32(&o, 28);
	wr_h32(&o, PCAPNG_BOM);
	wr_h16(&o, 1);
	wr_h16(&o, 0);
	wr_h32(&o, 0xffffffffu); /* section length unknown: -1 as 64 bits */
	wr_h32(&o, 0xffffffffu);
	wr_h32(&o, 28);

	wr_h32(&o, PCAPNG_IDB);
	wr_h32(&o, 32);
	wr_h16(&o, (uint16_t)dlt_to_linktype(dlt));
	wr_h16(&o, 0);
	wr_h32(&o, w->snaplen);
	wr_h16(&o, 9); /* if_tsresol */
	wr_h16(&o, 1);
	wr_u8(&o, 6);
	wr_zero(&o, 3);
	wr_h32(&o, 0); /* opt_endofopt */
	wr_h32(&o, 32);
	return put(w, buf, o.len);
}

struct pcapw *pcapw_open(const char *path, int dlt, enum pcapw_format fmt, uint32_t snaplen)
{
	struct pcapw *w = calloc(1, sizeof(*w));
	int rc;

	if (!w)
		return NULL;
	w->fmt = fmt;
	w->snaplen = snaplen ? snaplen : SNAPLEN_DEFAULT;
	w->fp = strcmp(path, "-") == 0 ? stdout : fopen(path, "wb");
	if (!w->fp) {
		free(w);
		return NULL;
	}
	rc = fmt == PCAPW_PCAPNG ? write_pcapng_header(w, dlt) : write_pcap_header(w, dlt);
	if (rc != 0) {
		int saved = errno;
		pcapw_close(w);
		errno = saved;
		return NULL;
	}
	return w;
}

static int write_pcap_record(struct pcapw *w, uint64_t ts_us, const uint8_t *frame, uint32_t caplen,
                             uint32_t wirelen)
{
	uint8_t hdr[16];
	struct wr o = {hdr, 0};

	wr_h32(&o, (uint32_t)(ts_us / 1000000));
	wr_h32(&o, (uint32_t)(ts_us % 1000000));
	wr_h32(&o, caplen);
	wr_h32(&o, wirelen);
	if (put(w, hdr, o.len) != 0)
		return -1;
	return put(w, frame, caplen);
}

static int write_pcapng_record(struct pcapw *w, uint64_t ts_us, const uint8_t *frame,
                               uint32_t caplen, uint32_t wirelen)
{
	uint8_t hdr[28], pad[4] = {0};
	size_t padlen = (4 - caplen % 4) % 4;
	uint32_t total = (uint32_t)(28 + caplen + padlen + 4);
	struct wr o = {hdr, 0};

	wr_h32(&o, PCAPNG_EPB);
	wr_h32(&o, total);
	wr_h32(&o, 0); /* interface id */
	wr_h32(&o, (uint32_t)(ts_us >> 32));
	wr_h32(&o, (uint32_t)ts_us);
	wr_h32(&o, caplen);
	wr_h32(&o, wirelen);
	if (put(w, hdr, o.len) != 0 || put(w, frame, caplen) != 0 || put(w, pad, padlen) != 0)
		return -1;
	return put(w, &total, 4);
}

int pcapw_write_raw(struct pcapw *w, uint64_t ts_us, const uint8_t *frame, uint32_t caplen,
                    uint32_t wirelen)
{
	if (w->fmt == PCAPW_PCAPNG)
		return write_pcapng_record(w, ts_us, frame, caplen, wirelen);
	return write_pcap_record(w, ts_us, frame, caplen, wirelen);
}

int pcapw_close(struct pcapw *w)
{
	int rc;

	if (!w)
		return 0;
	if (w->fp == stdout)
		rc = fflush(w->fp);
	else
		rc = fclose(w->fp);
	rc = (rc != 0 || w->failed) ? -1 : 0;
	free(w);
	return rc;
}

/* ---- frames ---- */

static size_t link_header_len(const struct pcapw_link *link)
{
	switch (link->dlt) {
	case DLT_EN10MB:
		return 14 + 4 * (size_t)((link->vlan[0] != 0) + (link->vlan[1] != 0));
	case DLT_LINUX_SLL:
		return 16;
	case DLT_LINUX_SLL2:
		return 20;
	case DLT_NULL:
	case DLT_LOOP:
		return 4;
	default:
		return 0;
	}
}

static bool link_fits_ip(int dlt, int family)
{
	switch (dlt) {
	case DLT_EN10MB:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
	case DLT_NULL:
	case DLT_LOOP:
	case DLT_RAW:
	case LINKTYPE_RAW:
		return true;
	case DLT_IPV4:
		return family == 4;
	case DLT_IPV6:
		return family == 6;
	default:
		return false;
	}
}

/* Ethernet with zero MACs; with two tags the outer one is 802.1ad, as QinQ switches send. */
static void frame_ether(struct wr *o, const struct pcapw_link *link, uint16_t ethertype)
{
	int ntags = (link->vlan[0] != 0) + (link->vlan[1] != 0);

	wr_zero(o, 12);
	for (int i = 0; i < 2; i++) {
		if (!link->vlan[i])
			continue;
		wr_be16(o, ntags == 2 && i == 0 ? 0x88a8 : 0x8100);
		wr_be16(o, link->vlan[i]);
	}
	wr_be16(o, ethertype);
}

static void frame_link(struct wr *o, const struct pcapw_link *link, int family)
{
	uint16_t ethertype = family == 4 ? 0x0800 : 0x86dd;

	switch (link->dlt) {
	case DLT_EN10MB:
		frame_ether(o, link, ethertype);
		break;
	case DLT_LINUX_SLL: /* packet type "to us", ARPHRD_ETHER, a 6-byte zero address */
		wr_be16(o, 0);
		wr_be16(o, 1);
		wr_be16(o, 6);
		wr_zero(o, 8);
		wr_be16(o, ethertype);
		break;
	case DLT_LINUX_SLL2: /* protocol, reserved, ifindex 1, ARPHRD_ETHER, to us, 6, address */
		wr_be16(o, ethertype);
		wr_be16(o, 0);
		wr_be32(o, 1);
		wr_be16(o, 1);
		wr_u8(o, 0);
		wr_u8(o, 6);
		wr_zero(o, 8);
		break;
	case DLT_NULL:
		wr_h32(o, family == 4 ? AF_INET : AF_INET6);
		break;
	case DLT_LOOP:
		wr_be32(o, family == 4 ? AF_INET : LOOP_AF_INET6);
		break;
	default:
		break;
	}
}

/* The Internet checksum (RFC 1071) over n bytes, folded into sum. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put_be16_at(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void frame_ipv4(struct wr *o, const struct pcapw_link *link, const struct pcapw_tcp *seg,
                       size_t l4len)
{
	size_t start = o->len, hlen = link->ipv4_options ? 24 : 20;

	wr_u8(o, (uint8_t)(0x40 | hlen / 4));
	wr_u8(o, 0);
	wr_be16(o, (uint16_t)(hlen + l4len));
	wr_be16(o, 0);      /* id */
	wr_be16(o, 0x4000); /* DF */
	wr_u8(o, 64);
	wr_u8(o, 6);
	wr_be16(o, 0); /* checksum, below */
	wr_bytes(o, seg->src.bytes, 4);
	wr_bytes(o, seg->dst.bytes, 4);
	if (link->ipv4_options) {
		static const uint8_t opts[4] = {1, 1, 1, 0}; /* NOP NOP NOP EOL */
		wr_bytes(o, opts, 4);
	}
	put_be16_at(o->p + start + 10, csum_fold(csum_add(0, o->p + start, hlen)));
}

/* A hop-by-hop or destination options header holding one PadN option: 8 bytes. */
static void frame_ipv6_opts(struct wr *o, uint8_t next)
{
	wr_u8(o, next);
	wr_u8(o, 0);
	wr_u8(o, 1); /* PadN */
	wr_u8(o, 4);
	wr_zero(o, 4);
}

static void frame_ipv6(struct wr *o, const struct pcapw_link *link, const struct pcapw_tcp *seg,
                       size_t l4len)
{
	size_t ext = link->ipv6_ext ? 16 : 0;

	wr_be32(o, 0x60000000u);
	wr_be16(o, (uint16_t)(ext + l4len));
	wr_u8(o, link->ipv6_ext ? 0 : 6);
	wr_u8(o, 64);
	wr_bytes(o, seg->src.bytes, 16);
	wr_bytes(o, seg->dst.bytes, 16);
	if (link->ipv6_ext) {
		frame_ipv6_opts(o, 60);
		frame_ipv6_opts(o, 6);
	}
}

/* TCP with a correct checksum over the RFC 9293 pseudo-header, so that tools that verify
 * it (tshark with checksum checks on) accept these captures as real. */
static void frame_tcp(struct wr *o, const struct pcapw_tcp *seg)
{
	size_t start = o->len, alen = seg->src.family == 4 ? 4 : 16;
	uint32_t sum = 0;
	uint8_t pseudo[4]; /* zero, protocol, TCP length: the same sum for IPv4 and IPv6 */

	wr_be16(o, seg->sport);
	wr_be16(o, seg->dport);
	wr_be32(o, seg->seq);
	wr_be32(o, seg->ack);
	wr_u8(o, 5 << 4);
	wr_u8(o, seg->flags);
	wr_be16(o, seg->window);
	wr_be16(o, 0); /* checksum, below */
	wr_be16(o, 0);
	wr_bytes(o, seg->payload, seg->len);
	sum = csum_add(sum, seg->src.bytes, alen);
	sum = csum_add(sum, seg->dst.bytes, alen);
	pseudo[0] = 0;
	pseudo[1] = 6;
	put_be16_at(pseudo + 2, (uint16_t)(o->len - start));
	sum = csum_add(sum, pseudo, 4);
	sum = csum_add(sum, o->p + start, o->len - start);
	put_be16_at(o->p + start + 16, (uint16_t)(csum_fold(sum) ^ (seg->bad_checksum ? 1 : 0)));
}

void pcapw_fix_tcp_checksum4(uint8_t *ip, size_t len)
{
	size_t hlen = len >= 20 ? (size_t)(ip[0] & 0x0f) * 4 : 0;
	size_t total = len >= 20 ? (size_t)(ip[2] << 8 | ip[3]) : 0;
	uint8_t pseudo[4] = {0, 6, 0, 0};

	if (len < 20 || ip[0] >> 4 != 4 || ip[9] != 6 || hlen < 20 || total < hlen + 20 ||
	    total > len)
		return;
	put_be16_at(pseudo + 2, (uint16_t)(total - hlen));
	put_be16_at(ip + hlen + 16, 0);
	uint32_t sum =
	    csum_add(csum_add(csum_add(0, ip + 12, 8), pseudo, 4), ip + hlen, total - hlen);
	put_be16_at(ip + hlen + 16, csum_fold(sum));
}

size_t pcapw_frame_tcp(const struct pcapw_link *link, const struct pcapw_tcp *seg, uint8_t *out,
                       size_t cap)
{
	int family = seg->src.family;
	size_t l4len = 20 + (size_t)seg->len, iphlen, total;
	struct wr o = {out, 0};

	if ((family != 4 && family != 6) || seg->dst.family != family ||
	    !link_fits_ip(link->dlt, family) || (seg->len && !seg->payload))
		return 0;
	iphlen = family == 4 ? (link->ipv4_options ? 24 : 20) : (link->ipv6_ext ? 56 : 40);
	if (iphlen - (family == 4 ? 0 : 40) + l4len > 65535)
		return 0;
	total = link_header_len(link) + iphlen + l4len;
	if (link->dlt == DLT_EN10MB && total < ETH_MIN_FRAME)
		total = ETH_MIN_FRAME;
	if (total > cap)
		return 0;
	frame_link(&o, link, family);
	if (family == 4)
		frame_ipv4(&o, link, seg, l4len);
	else
		frame_ipv6(&o, link, seg, l4len);
	frame_tcp(&o, seg);
	/* Ethernet pads short frames; the IP length is what tells the padding apart. */
	wr_zero(&o, total - o.len);
	return o.len;
}

int pcapw_write_tcp(struct pcapw *w, const struct pcapw_link *link, uint64_t ts_us,
                    const struct pcapw_tcp *seg)
{
	uint8_t *frame = malloc(FRAME_MAX);
	size_t n;
	int rc = -1;

	if (!frame)
		return -1;
	n = pcapw_frame_tcp(link, seg, frame, FRAME_MAX);
	if (n > 0) {
		uint32_t caplen = n < w->snaplen ? (uint32_t)n : w->snaplen;
		rc = pcapw_write_raw(w, ts_us, frame, caplen, (uint32_t)n);
	}
	free(frame);
	return rc;
}

/* ---- conversations ---- */

bool pcapw_addr(const char *text, struct decode_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, text, a->bytes) == 1) {
		a->family = 4;
		return true;
	}
	if (inet_pton(AF_INET6, text, a->bytes) == 1) {
		a->family = 6;
		return true;
	}
	memset(a, 0, sizeof(*a));
	return false;
}

void pcapw_conn_init(struct pcapw_conn *c, struct pcapw *w, const struct pcapw_link *link,
                     const char *client_ip, uint16_t cport, const char *server_ip, uint16_t sport,
                     uint32_t client_isn, uint32_t server_isn)
{
	memset(c, 0, sizeof(*c));
	c->w = w;
	c->link = *link;
	pcapw_addr(client_ip, &c->client);
	pcapw_addr(server_ip, &c->server);
	c->cport = cport;
	c->sport = sport;
	c->cseq = client_isn;
	c->sseq = server_isn;
	c->ts_us = 1795874831000000ull; /* 2026-11-28 14:07:11 UTC */
	c->step_us = 1000;
}

/* Writes one segment from one side at the conversation's clock, then advances the clock. */
static int conn_emit(struct pcapw_conn *c, bool from_client, uint32_t seq, uint32_t ack,
                     uint8_t flags, const void *payload, size_t len)
{
	struct pcapw_tcp seg = {
	    .src = from_client ? c->client : c->server,
	    .dst = from_client ? c->server : c->client,
	    .sport = from_client ? c->cport : c->sport,
	    .dport = from_client ? c->sport : c->cport,
	    .seq = seq,
	    .ack = ack,
	    .flags = flags,
	    .window = 65535,
	    .payload = payload,
	    .len = (uint32_t)len,
	};
	int rc = pcapw_write_tcp(c->w, &c->link, c->ts_us, &seg);

	c->ts_us += c->step_us;
	return rc;
}

int pcapw_conn_handshake(struct pcapw_conn *c)
{
	int rc = 0;

	rc |= conn_emit(c, true, c->cseq, 0, TCP_FLAG_SYN, NULL, 0);
	c->cseq++;
	rc |= conn_emit(c, false, c->sseq, c->cseq, TCP_FLAG_SYN | TCP_FLAG_ACK, NULL, 0);
	c->sseq++;
	rc |= conn_emit(c, true, c->cseq, c->sseq, TCP_FLAG_ACK, NULL, 0);
	return rc ? -1 : 0;
}

/* len 0 sends one bare ACK, which is how a side acknowledges a FIN. */
int pcapw_conn_send(struct pcapw_conn *c, bool to_server, const void *data, size_t len)
{
	uint32_t *seq = to_server ? &c->cseq : &c->sseq;
	uint32_t ack = to_server ? c->sseq : c->cseq;
	size_t mss = c->mss ? c->mss : 1460, off = 0;
	const uint8_t *p = data;
	int rc = 0;

	if (len == 0)
		return conn_emit(c, to_server, *seq, ack, TCP_FLAG_ACK, NULL, 0);
	while (off < len) {
		size_t n = len - off < mss ? len - off : mss;
		uint8_t flags = TCP_FLAG_ACK | (off + n == len ? TCP_FLAG_PSH : 0);

		rc |= conn_emit(c, to_server, *seq, ack, flags, p + off, n);
		*seq += (uint32_t)n;
		off += n;
	}
	return rc ? -1 : 0;
}

int pcapw_conn_fin(struct pcapw_conn *c, bool from_client)
{
	uint32_t *seq = from_client ? &c->cseq : &c->sseq;
	uint32_t ack = from_client ? c->sseq : c->cseq;
	int rc = conn_emit(c, from_client, *seq, ack, TCP_FLAG_FIN | TCP_FLAG_ACK, NULL, 0);

	(*seq)++;
	return rc;
}

int pcapw_conn_rst(struct pcapw_conn *c, bool from_client)
{
	uint32_t seq = from_client ? c->cseq : c->sseq;
	uint32_t ack = from_client ? c->sseq : c->cseq;

	return conn_emit(c, from_client, seq, ack, TCP_FLAG_RST | TCP_FLAG_ACK, NULL, 0);
}

int pcapw_conn_segment(struct pcapw_conn *c, bool from_client, uint32_t seq, uint32_t ack,
                       uint8_t flags, const void *payload, size_t len)
{
	return conn_emit(c, from_client, seq, ack, flags, payload, len);
}
