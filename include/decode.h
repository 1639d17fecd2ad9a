/* decode: link layer, IPv4/IPv6 and TCP headers to a borrowed TCP segment view, its length on
 * the wire and its checksum (RFC 791, RFC 8200, RFC 9293, RFC 1071; IEEE 802.1Q; Linux cooked
 * v1/v2; BSD loopback). */
#ifndef SMTPTRACE_DECODE_H
#define SMTPTRACE_DECODE_H

#include <pcap/dlt.h>
#include <stdbool.h>
#include <stdint.h>

/* Link types newer than some libpcap headers (the numbers are fixed by tcpdump.org). */
#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif
#ifndef DLT_IPV4
#define DLT_IPV4 228
#endif
#ifndef DLT_IPV6
#define DLT_IPV6 229
#endif

enum { DECODE_ADDR_MAX = 16 };

/* An IP address: family is 4 or 6; IPv4 uses the first 4 bytes. */
struct decode_addr {
	uint8_t family;
	uint8_t bytes[DECODE_ADDR_MAX];
};

enum {
	TCP_FLAG_FIN = 0x01,
	TCP_FLAG_SYN = 0x02,
	TCP_FLAG_RST = 0x04,
	TCP_FLAG_PSH = 0x08,
	TCP_FLAG_ACK = 0x10,
	TCP_FLAG_URG = 0x20,
};

/* What the TCP checksum says; UNCHECKED when the capture lacks bytes of the segment (snap
 * length) or the IP header gives no length (TSO, BIG TCP). */
enum tcp_csum { TCP_CSUM_UNCHECKED = 0, TCP_CSUM_GOOD, TCP_CSUM_BAD };

/* A TCP segment as seen on the wire. A borrowed view: payload points into the
 * packet buffer, valid only until the next packet is read. Never store it. */
struct tcp_seg {
	struct decode_addr src, dst;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint8_t csum; /* enum tcp_csum */
	uint16_t window;
	const uint8_t *payload;
	uint32_t payload_len;      /* bytes captured */
	uint32_t payload_wire_len; /* bytes on the wire: above payload_len when the snap length cut
	                            * the packet (from the IP length); 0 is read as payload_len */
	uint64_t ts_us; /* packet time, microseconds since the epoch (set by the caller) */
};

enum decode_status {
	DECODE_OK = 0,
	DECODE_NOT_IP,    /* ARP, other ethertypes, other link protocols */
	DECODE_NOT_TCP,   /* UDP, ICMP, ... */
	DECODE_TRUNCATED, /* a header runs past the captured length */
	DECODE_MALFORMED, /* a header field that cannot be right (IHL < 5, data offset < 5, ...) */
	DECODE_FRAGMENT,  /* an IPv4 or IPv6 fragment (counted and skipped) */
	DECODE_STATUS_COUNT
};

/* True when decode_packet() understands the libpcap link type (DLT_*). */
bool decode_dlt_supported(int dlt);

/* Decodes one captured packet of link type dlt. Reads at most caplen bytes of pkt.
 * On DECODE_OK fills *out (payload borrowed from pkt; ts_us left untouched);
 * on any other status *out is unspecified. Never fails on any input. */
enum decode_status decode_packet(int dlt, const uint8_t *pkt, uint32_t caplen, struct tcp_seg *out);

/* The same for a packet that was wirelen bytes on the wire (the capture record's original
 * length): when the snap length cut it, payload_wire_len says how much payload the IP length
 * gives the segment, within what the record lost; with wirelen <= caplen it is payload_len. */
enum decode_status decode_packet_wire(int dlt, const uint8_t *pkt, uint32_t caplen,
                                      uint32_t wirelen, struct tcp_seg *out);

/* The same, with the TCP checksum computed only when checksum is true (else csum is
 * TCP_CSUM_UNCHECKED): the flow table says when it needs it (flow_table_wants_checksum). */
enum decode_status decode_packet_csum(int dlt, const uint8_t *pkt, uint32_t caplen,
                                      uint32_t wirelen, bool checksum, struct tcp_seg *out);

/* Short lower-case name of a status, for statistics ("truncated"). */
const char *decode_status_name(enum decode_status st);

#endif
