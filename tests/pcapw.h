/* pcapw: the tests' own capture writer: pcap and pcapng files of crafted frames
 * (Ethernet with 802.1Q/QinQ, Linux cooked v1/v2, BSD loopback, raw IP; IPv4 and IPv6;
 * TCP), and a TCP conversation helper that keeps sequence and acknowledgement numbers. */
#ifndef SMTPTRACE_PCAPW_H
#define SMTPTRACE_PCAPW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h"

enum pcapw_format { PCAPW_PCAP = 0, PCAPW_PCAPNG };

struct pcapw;

/* Opens path for writing ("-" is stdout) with link type dlt (DLT_EN10MB, DLT_LINUX_SLL,
 * DLT_LINUX_SLL2, DLT_NULL, DLT_LOOP, DLT_RAW, DLT_IPV4, DLT_IPV6, or any number for raw
 * frames). snaplen 0 means 262144. Returns NULL (errno set) on failure. */
struct pcapw *pcapw_open(const char *path, int dlt, enum pcapw_format fmt, uint32_t snaplen);

/* Writes one record as given (caplen bytes of frame; wirelen may differ). 0 or -1. */
int pcapw_write_raw(struct pcapw *w, uint64_t ts_us, const uint8_t *frame, uint32_t caplen,
                    uint32_t wirelen);

/* Closes and frees; 0, or -1 when a write failed. */
int pcapw_close(struct pcapw *w);

/* A TCP segment to frame. */
struct pcapw_tcp {
	struct decode_addr src, dst;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t window;
	const uint8_t *payload;
	uint32_t len;
	bool bad_checksum; /* write a wrong TCP checksum (a segment the receiver drops) */
};

/* Link-layer options for framing. */
struct pcapw_link {
	int dlt;
	uint16_t vlan[2];  /* 802.1Q tags on Ethernet (0 = none); two tags make QinQ */
	bool ipv4_options; /* add 4 bytes of IPv4 options (NOP x3 + EOL) */
	bool ipv6_ext;     /* add an IPv6 hop-by-hop and a destination-options header */
};

/* Frames seg for link into out (cap bytes). Returns the frame length, 0 if cap is short. */
size_t pcapw_frame_tcp(const struct pcapw_link *link, const struct pcapw_tcp *seg, uint8_t *out,
                       size_t cap);

/* Sets the TCP checksum of the IPv4 datagram at ip (len bytes of it at hand) right for what
 * its header says, after a test has edited the frame; leaves it alone when the datagram is
 * not IPv4 TCP or its total length runs past len. */
void pcapw_fix_tcp_checksum4(uint8_t *ip, size_t len);

/* Frames and writes one segment. 0 or -1. */
int pcapw_write_tcp(struct pcapw *w, const struct pcapw_link *link, uint64_t ts_us,
                    const struct pcapw_tcp *seg);

/* A TCP conversation between a client and a server: keeps seq/ack for both sides and
 * writes each act as one segment, time advancing by step_us per segment. */
struct pcapw_conn {
	struct pcapw *w;
	struct pcapw_link link;
	struct decode_addr client, server;
	uint16_t cport, sport;
	uint32_t cseq, sseq; /* next sequence number of each side */
	uint64_t ts_us, step_us;
	uint16_t mss; /* payload per segment for pcapw_conn_send (0 = 1460) */
};

/* Sets up c with ISNs client_isn and server_isn (the SYN takes each ISN). */
void pcapw_conn_init(struct pcapw_conn *c, struct pcapw *w, const struct pcapw_link *link,
                     const char *client_ip, uint16_t cport, const char *server_ip, uint16_t sport,
                     uint32_t client_isn, uint32_t server_isn);
int pcapw_conn_handshake(struct pcapw_conn *c);
/* Sends len bytes from the client (to_server true) or the server, in mss-sized segments,
 * each acknowledging everything the other side sent so far. */
int pcapw_conn_send(struct pcapw_conn *c, bool to_server, const void *data, size_t len);
int pcapw_conn_fin(struct pcapw_conn *c, bool from_client);
/* Writes one segment from one side with the numbers and flags given, at the conversation's
 * clock, then advances the clock; keeps no numbers (for reordered and repeated segments). */
int pcapw_conn_segment(struct pcapw_conn *c, bool from_client, uint32_t seq, uint32_t ack,
                       uint8_t flags, const void *payload, size_t len);
int pcapw_conn_rst(struct pcapw_conn *c, bool from_client);

/* Parses a dotted IPv4 or an IPv6 address into *a. Returns false when it is neither. */
bool pcapw_addr(const char *text, struct decode_addr *a);

#endif
