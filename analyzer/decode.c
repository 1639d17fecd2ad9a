/* decode: link layer, IPv4/IPv6 and TCP headers to a borrowed TCP segment view with its wire
 * length and checksum verdict, every read bounds-checked (RFC 791, RFC 8200, RFC 4302,
 * RFC 6946, RFC 9293, RFC 1071; IEEE 802.1Q/802.1ad). */
#include "decode.h"

#include <pcap/dlt.h>
#include <stddef.h>
#include <string.h>

#include "csum.h"

#include "rd.h" /* the cursor: the only way this file reads a packet */

/* LINKTYPE_RAW: what files store for raw IP; libpcap normally maps it to DLT_RAW. */
#define LINKTYPE_RAW 101

enum {
	ETHERTYPE_IPV4 = 0x0800,
	ETHERTYPE_IPV6 = 0x86dd,
	ETHERTYPE_VLAN = 0x8100,
	ETHERTYPE_QINQ = 0x88a8,
	ETHERTYPE_QINQ_OLD = 0x9100,
	IPPROTO_TCP_NUM = 6,
	/* A deeper tag stack than this is not traffic worth following. */
	VLAN_TAGS_MAX = 4,
	/* RFC 8200 sets no limit; real packets carry two or three. */
	IPV6_EXT_MAX = 8,
};

/* The 16-bit one's complement sum (RFC 1071) of every byte under the cursor, folded to 16 bits
 * (analyzer/csum.c); leaves the cursor where it was. */
static uint64_t rd_sum16(struct rd r)
{
	return csum_sum16(r.p, r.len);
}

/* ---- link layer: each handler leaves r at the network header and says what it holds ---- */

typedef enum decode_status (*link_fn)(struct rd *r, uint16_t *ethertype);

static bool is_vlan_tpid(uint16_t type)
{
	return type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ || type == ETHERTYPE_QINQ_OLD;
}

/* Ethernet II: two MAC addresses, then 802.1ad (0x88a8, and the older 0x9100) outer tags
 * and 802.1Q tags, stacked, each a TCI and the next type. */
static enum decode_status link_ether(struct rd *r, uint16_t *ethertype)
{
	uint16_t type, tci;
	int tags = 0;

	if (!rd_skip(r, 12) || !rd_be16(r, &type))
		return DECODE_TRUNCATED;
	while (is_vlan_tpid(type)) {
		if (++tags > VLAN_TAGS_MAX)
			return DECODE_NOT_IP;
		if (!rd_be16(r, &tci) || !rd_be16(r, &type))
			return DECODE_TRUNCATED;
	}
	*ethertype = type;
	return DECODE_OK;
}

/* Linux cooked v1: packet type, ARPHRD type, address length, 8 address bytes, protocol. */
static enum decode_status link_sll(struct rd *r, uint16_t *ethertype)
{
	if (!rd_skip(r, 14) || !rd_be16(r, ethertype))
		return DECODE_TRUNCATED;
	return DECODE_OK;
}

/* Linux cooked v2: protocol first, then reserved, ifindex, ARPHRD type, packet type,
 * address length and 8 address bytes: 20 bytes in all. */
static enum decode_status link_sll2(struct rd *r, uint16_t *ethertype)
{
	if (!rd_be16(r, ethertype) || !rd_skip(r, 18))
		return DECODE_TRUNCATED;
	return DECODE_OK;
}

/* BSD address families as loopback headers carry them: AF_INET is 2 everywhere, AF_INET6
 * is 10 on Linux, 24 on NetBSD/OpenBSD, 28 on FreeBSD, 30 on macOS. */
static enum decode_status family_to_ethertype(uint32_t family, uint16_t *ethertype)
{
	switch (family) {
	case 2:
		*ethertype = ETHERTYPE_IPV4;
		return DECODE_OK;
	case 10:
	case 24:
	case 28:
	case 30:
		*ethertype = ETHERTYPE_IPV6;
		return DECODE_OK;
	default:
		return DECODE_NOT_IP;
	}
}

/* DLT_NULL stores the family in the byte order of the capturing host, which need not be
 * ours; families are small, so a value with high bits set is read the other way (as
 * tcpdump does). */
static enum decode_status link_null(struct rd *r, uint16_t *ethertype)
{
	uint32_t family;

	if (!rd_le32(r, &family))
		return DECODE_TRUNCATED;
	if (family & 0xffff0000u)
		family = (family >> 24) | ((family >> 8) & 0xff00u) | ((family << 8) & 0xff0000u) |
		         (family << 24);
	return family_to_ethertype(family, ethertype);
}

/* DLT_LOOP (OpenBSD) is DLT_NULL with the family in network byte order. */
static enum decode_status link_loop(struct rd *r, uint16_t *ethertype)
{
	uint32_t family;

	if (!rd_be32(r, &family))
		return DECODE_TRUNCATED;
	return family_to_ethertype(family, ethertype);
}

/* Raw IP: the version nibble is all there is to go by. */
static enum decode_status link_raw(struct rd *r, uint16_t *ethertype)
{
	uint8_t v;

	if (!rd_peek_u8(r, &v))
		return DECODE_TRUNCATED;
	if (v >> 4 == 4)
		*ethertype = ETHERTYPE_IPV4;
	else if (v >> 4 == 6)
		*ethertype = ETHERTYPE_IPV6;
	else
		return DECODE_NOT_IP;
	return DECODE_OK;
}

static enum decode_status link_ipv4(struct rd *r, uint16_t *ethertype)
{
	(void)r;
	*ethertype = ETHERTYPE_IPV4;
	return DECODE_OK;
}

static enum decode_status link_ipv6(struct rd *r, uint16_t *ethertype)
{
	(void)r;
	*ethertype = ETHERTYPE_IPV6;
	return DECODE_OK;
}

/* 14 is DLT_RAW on OpenBSD and BSD/OS, and free elsewhere but on FreeBSD and NetBSD, where
 * it is DLT_PPP_BSDOS. */
#if defined(DLT_PPP_BSDOS) && DLT_PPP_BSDOS == 14
#define DLT_RAW_14 DLT_RAW
#else
#define DLT_RAW_14 14
#endif

/* The first row with a matching dlt wins, so the platform's own DLT_* values come before
 * the numeric aliases (OpenBSD's DLT_LOOP is 12, which is DLT_RAW elsewhere). */
static const struct link_handler {
	int dlt;
	link_fn fn;
} link_handlers[] = {
    {DLT_EN10MB, link_ether},    /* Ethernet II, 802.1Q, 802.1ad */
    {DLT_LINUX_SLL, link_sll},   /* Linux "any" device, cooked v1 */
    {DLT_LINUX_SLL2, link_sll2}, /* cooked v2, tcpdump -i any since 4.99 */
    {DLT_NULL, link_null},       /* BSD and macOS loopback */
    {DLT_LOOP, link_loop},       /* OpenBSD loopback */
    {DLT_RAW, link_raw},         /* tunnels, VPNs */
    {DLT_IPV4, link_ipv4},       /* raw IP, version in the link type */
    {DLT_IPV6, link_ipv6},       /* the same for IPv6 */
    {LINKTYPE_RAW, link_raw},    /* raw IP as files store it */
    {12, link_raw},              /* DLT_RAW everywhere but OpenBSD */
    {DLT_RAW_14, link_raw},      /* DLT_RAW on OpenBSD */
};

static link_fn link_lookup(int dlt)
{
	for (size_t i = 0; i < sizeof(link_handlers) / sizeof(link_handlers[0]); i++)
		if (link_handlers[i].dlt == dlt)
			return link_handlers[i].fn;
	return NULL;
}

/* ---- network layer: each leaves l4 at the TCP header, bounded by the IP length ---- */

static void addr_set(struct decode_addr *a, uint8_t family, const uint8_t *bytes, size_t n)
{
	memset(a, 0, sizeof(*a));
	a->family = family;
	memcpy(a->bytes, bytes, n);
}

/* The network decoders leave l4 at the TCP header and say how many bytes the IP header gives
 * the TCP segment on the wire (L4_WIRE_UNKNOWN when its length field is 0). */
#define L4_WIRE_UNKNOWN UINT32_MAX

static enum decode_status ipv4_decode(struct rd *r, struct tcp_seg *out, uint32_t *l4_wire)
{
	uint8_t vihl, tos, ttl, proto, src[4], dst[4];
	uint16_t totlen, id, frag, csum;
	struct rd hdr = *r;
	size_t hlen;

	if (!rd_peek_u8(r, &vihl))
		return DECODE_TRUNCATED;
	hlen = (size_t)(vihl & 0x0f) * 4;
	if (vihl >> 4 != 4 || hlen < 20)
		return DECODE_MALFORMED;
	if (!rd_skip(r, hlen))
		return DECODE_TRUNCATED;
	if (!rd_u8(&hdr, &vihl) || !rd_u8(&hdr, &tos) || !rd_be16(&hdr, &totlen) ||
	    !rd_be16(&hdr, &id) || !rd_be16(&hdr, &frag) || !rd_u8(&hdr, &ttl) ||
	    !rd_u8(&hdr, &proto) || !rd_be16(&hdr, &csum) || !rd_copy(&hdr, src, 4) ||
	    !rd_copy(&hdr, dst, 4))
		return DECODE_TRUNCATED;
	/* Total length 0 is what Linux BIG TCP and TSO captures show (the NIC fills it in
	 * later): the captured bytes are all there is to go by (see strip_padding). */
	if (totlen != 0 && totlen < hlen)
		return DECODE_MALFORMED;
	*l4_wire = totlen != 0 ? (uint32_t)(totlen - hlen) : L4_WIRE_UNKNOWN;
	if (totlen != 0)
		rd_limit(r, totlen - hlen);
	/* MF set or a nonzero offset: a piece of a datagram, not a segment we can read. */
	if (frag & 0x3fff)
		return DECODE_FRAGMENT;
	if (proto != IPPROTO_TCP_NUM)
		return DECODE_NOT_TCP;
	addr_set(&out->src, 4, src, 4);
	addr_set(&out->dst, 4, dst, 4);
	return DECODE_OK;
}

/* Skips one IPv6 extension header whose type is nh; sets *nh to the next one. Returns
 * DECODE_OK to go on, or the verdict on the packet. */
static enum decode_status ipv6_ext_skip(struct rd *r, uint8_t *nh)
{
	uint8_t next, hlen;
	uint16_t offmf;

	switch (*nh) {
	case 0:  /* hop-by-hop options */
	case 43: /* routing */
	case 60: /* destination options: all three count 8-octet units past the first 8 */
		if (!rd_u8(r, &next) || !rd_u8(r, &hlen) || !rd_skip(r, (size_t)hlen * 8 + 6))
			return DECODE_TRUNCATED;
		break;
	case 51: /* AH (RFC 4302) counts 4-octet units, minus 2 */
		if (!rd_u8(r, &next) || !rd_u8(r, &hlen) || !rd_skip(r, (size_t)hlen * 4 + 6))
			return DECODE_TRUNCATED;
		break;
	case 44: /* fragment: an atomic fragment (offset 0, no M) is a whole packet (RFC 6946) */
		if (!rd_u8(r, &next) || !rd_skip(r, 1) || !rd_be16(r, &offmf) || !rd_skip(r, 4))
			return DECODE_TRUNCATED;
		if ((offmf & 0xfff9) != 0) /* the offset (13 bits) or M (bit 0), not reserved */
			return DECODE_FRAGMENT;
		break;
	default: /* 59 no next header, 50 ESP, UDP, ICMPv6, ...: nothing for us */
		return DECODE_NOT_TCP;
	}
	*nh = next;
	return DECODE_OK;
}

static enum decode_status ipv6_decode(struct rd *r, struct tcp_seg *out, uint32_t *l4_wire)
{
	uint32_t vtcfl;
	uint16_t plen;
	uint8_t nh, hops, src[16], dst[16];
	enum decode_status st;

	if (!rd_be32(r, &vtcfl))
		return DECODE_TRUNCATED;
	if (vtcfl >> 28 != 6)
		return DECODE_MALFORMED;
	if (!rd_be16(r, &plen) || !rd_u8(r, &nh) || !rd_u8(r, &hops) || !rd_copy(r, src, 16) ||
	    !rd_copy(r, dst, 16))
		return DECODE_TRUNCATED;
	/* Payload length 0: a jumbogram, or Linux BIG TCP with its jumbo option stripped. */
	if (plen != 0)
		rd_limit(r, plen);
	size_t before_ext = r->len;
	for (int i = 0; nh != IPPROTO_TCP_NUM; i++) {
		if (i == IPV6_EXT_MAX)
			return DECODE_MALFORMED;
		st = ipv6_ext_skip(r, &nh);
		if (st != DECODE_OK)
			return st;
	}
	/* the extension headers were read within plen, so they fit in it */
	*l4_wire = plen != 0 ? plen - (uint32_t)(before_ext - r->len) : L4_WIRE_UNKNOWN;
	addr_set(&out->src, 6, src, 16);
	addr_set(&out->dst, 6, dst, 16);
	return DECODE_OK;
}

/* ---- transport layer ---- */

/* What the capture record says beyond its bytes: how many bytes of the packet the snap
 * length cut off (0 when the record holds it whole), and what the IP header gives the TCP
 * segment on the wire. */
struct wire_info {
	uint32_t cut;
	uint32_t l4_wire;
	bool checksum; /* whether the TCP checksum is wanted at all */
};

/* The segment's payload on the wire: what the IP length says, when the capture record was cut
 * and the IP length is known, but never more than the record's own wire length allows (an IP
 * length that lies about a whole record is not believed). */
static uint32_t payload_on_wire(const struct wire_info *w, size_t hlen, uint32_t captured)
{
	if (w->cut == 0 || w->l4_wire == L4_WIRE_UNKNOWN || w->l4_wire < hlen)
		return captured;
	uint64_t ip = w->l4_wire - hlen, most = (uint64_t)captured + w->cut;
	if (ip <= captured)
		return captured;
	return (uint32_t)(ip < most ? ip : most);
}

/* Checks the TCP checksum over the RFC 9293 (IPv4) or RFC 8200 section 8.1 (IPv6)
 * pseudo-header, when the whole segment was captured and the IP header gives its length. */
static uint8_t tcp_checksum(const struct rd *seg, const struct tcp_seg *out,
                            const struct wire_info *w)
{
	if (!w->checksum || w->l4_wire == L4_WIRE_UNKNOWN || seg->len != w->l4_wire)
		return TCP_CSUM_UNCHECKED;
	size_t alen = out->src.family == 6 ? 16 : 4;
	uint64_t sum = rd_sum16((struct rd){out->src.bytes, alen, false}) +
	               rd_sum16((struct rd){out->dst.bytes, alen, false});
	sum += IPPROTO_TCP_NUM + (w->l4_wire >> 16) + (w->l4_wire & 0xffff) + rd_sum16(*seg);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff ? TCP_CSUM_GOOD : TCP_CSUM_BAD;
}

static enum decode_status tcp_decode(struct rd *r, struct tcp_seg *out, const struct wire_info *w)
{
	uint16_t offflags, csum, urg;
	struct rd hdr = *r;
	size_t hlen;

	if (!rd_be16(&hdr, &out->sport) || !rd_be16(&hdr, &out->dport) ||
	    !rd_be32(&hdr, &out->seq) || !rd_be32(&hdr, &out->ack) || !rd_be16(&hdr, &offflags) ||
	    !rd_be16(&hdr, &out->window) || !rd_be16(&hdr, &csum) || !rd_be16(&hdr, &urg))
		return DECODE_TRUNCATED;
	hlen = (size_t)(offflags >> 12) * 4;
	if (hlen < 20)
		return DECODE_MALFORMED;
	out->flags = (uint8_t)(offflags & 0x3f);
	out->csum = tcp_checksum(r, out, w);
	/* Options are not needed downstream; skipping them is enough. When the snap length cut
	 * into them, the fixed header is all there is of a segment whose size is still known. */
	if (!rd_skip(r, hlen)) {
		if (w->cut == 0 || w->l4_wire == L4_WIRE_UNKNOWN || w->l4_wire < hlen)
			return DECODE_TRUNCATED;
		(void)rd_skip(r, r->len);
	}
	out->payload = r->p;
	out->payload_len = (uint32_t)r->len;
	out->payload_wire_len = payload_on_wire(w, hlen, out->payload_len);
	return DECODE_OK;
}

/* An IPv4 datagram whose total length is 0 gives no length to cut Ethernet's padding at:
 * in a frame of the minimum size, zero bytes after the TCP header are that padding, not
 * data (a frame of 60 bytes carries 46 of IP). */
static void strip_padding(struct rd ip, struct tcp_seg *out)
{
	enum { ETHER_MIN_IP_BYTES = 46 };
	uint16_t totlen = 1;
	if (!rd_skip(&ip, 2) || !rd_be16(&ip, &totlen) || totlen != 0 ||
	    ip.len + 4 > ETHER_MIN_IP_BYTES)
		return;
	struct rd pay = {out->payload, out->payload_len, false};
	uint8_t b;
	while (rd_u8(&pay, &b))
		if (b != 0)
			return;
	out->payload_len = 0;
	out->payload_wire_len = 0;
}

static enum decode_status net_decode(uint16_t ethertype, struct rd *r, struct tcp_seg *out,
                                     uint32_t cut, bool checksum)
{
	enum decode_status st;
	struct rd ip = *r;
	struct wire_info w = {cut, L4_WIRE_UNKNOWN, checksum};

	if (ethertype == ETHERTYPE_IPV4)
		st = ipv4_decode(r, out, &w.l4_wire);
	else if (ethertype == ETHERTYPE_IPV6)
		st = ipv6_decode(r, out, &w.l4_wire);
	else
		return DECODE_NOT_IP;
	if (st != DECODE_OK)
		return st;
	st = tcp_decode(r, out, &w);
	if (st == DECODE_OK && ethertype == ETHERTYPE_IPV4)
		strip_padding(ip, out);
	return st;
}

bool decode_dlt_supported(int dlt)
{
	return link_lookup(dlt) != NULL;
}

enum decode_status decode_packet_csum(int dlt, const uint8_t *pkt, uint32_t caplen,
                                      uint32_t wirelen, bool checksum, struct tcp_seg *out)
{
	struct rd r = {pkt, caplen, false};
	link_fn link = link_lookup(dlt);
	uint16_t ethertype = 0;
	enum decode_status st;

	if (!link)
		return DECODE_NOT_IP;
	if (!pkt)
		return DECODE_TRUNCATED;
	st = link(&r, &ethertype);
	if (st != DECODE_OK)
		return st;
	return net_decode(ethertype, &r, out, wirelen > caplen ? wirelen - caplen : 0, checksum);
}

enum decode_status decode_packet_wire(int dlt, const uint8_t *pkt, uint32_t caplen,
                                      uint32_t wirelen, struct tcp_seg *out)
{
	return decode_packet_csum(dlt, pkt, caplen, wirelen, true, out);
}

enum decode_status decode_packet(int dlt, const uint8_t *pkt, uint32_t caplen, struct tcp_seg *out)
{
	return decode_packet_wire(dlt, pkt, caplen, caplen, out);
}

const char *decode_status_name(enum decode_status st)
{
	static const char *const names[DECODE_STATUS_COUNT] = {
	    [DECODE_OK] = "ok",
	    [DECODE_NOT_IP] = "not_ip",
	    [DECODE_NOT_TCP] = "not_tcp",
	    [DECODE_TRUNCATED] = "truncated",
	    [DECODE_MALFORMED] = "malformed",
	    [DECODE_FRAGMENT] = "fragment",
	};

	if ((unsigned)st >= DECODE_STATUS_COUNT)
		return "unknown";
	return names[st];
}
