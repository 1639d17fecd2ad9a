/* mkbench: writes the benchmark capture: many SMTP sessions (RFC 5321) recorded as if from
 * a busy relay, several open at once, messages of realistic sizes in 1460-byte segments.
 *   mkbench OUT.pcap [SESSIONS] */
#include <pcap/dlt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcapw.h"

enum { CONCURRENT = 64, MAX_BODY = 256 * 1024 };

struct bench_session {
	struct pcapw_conn conn;
	int step;
	size_t body_len;
	bool live;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Message sizes: most a few KiB, some tens, a few hundreds (roughly what relays see). */
static size_t body_size(void)
{
	uint64_t r = rng() % 100;
	if (r < 60)
		return 1000 + rng() % 7000;
	if (r < 95)
		return 8000 + rng() % 60000;
	return 68000 + rng() % (MAX_BODY - 68000);
}

static char body[MAX_BODY];

static void make_body(void)
{
	static const char line[] =
	    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do "
	    "eiusmod tempor.\r\n";
	for (size_t i = 0; i < MAX_BODY; i++)
		body[i] = line[i % (sizeof(line) - 1)];
}

static void session_start(struct bench_session *b, struct pcapw *w, uint32_t n)
{
	char client[32];
	struct pcapw_link link = {.dlt = DLT_EN10MB};
	snprintf(client, sizeof(client), "10.%u.%u.%u", (n >> 16) & 255, (n >> 8) & 255, n & 255);
	pcapw_conn_init(&b->conn, w, &link, client, (uint16_t)(1024 + n % 60000), "192.0.2.25", 25,
	                (uint32_t)rng(), (uint32_t)rng());
	b->conn.ts_us = 1700000000000000ULL + (uint64_t)n * 1000;
	b->conn.step_us = 50;
	b->step = 0;
	b->body_len = body_size();
	b->live = true;
}

static const char *const script[] = {
    "S220 mx.example.net ESMTP\r\n",
    "CEHLO client.example.org\r\n",
    "S250-mx.example.net\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250 8BITMIME\r\n",
    "CMAIL FROM:<sender@example.org>\r\n",
    "S250 2.1.0 Ok\r\n",
    "CRCPT TO:<rcpt@example.net>\r\n",
    "S250 2.1.5 Ok\r\n",
    "CDATA\r\n",
    "S354 End data with <CR><LF>.<CR><LF>\r\n",
    "B",
    "C.\r\n",
    "S250 2.0.0 Ok: queued as 4F3A2B1C0D\r\n",
    "CQUIT\r\n",
    "S221 2.0.0 Bye\r\n",
    "F",
};

/* Writes the session's next act; false when it is over. */
static bool session_step(struct bench_session *b)
{
	if (b->step == (int)(sizeof(script) / sizeof(script[0])))
		return false;
	const char *act = script[b->step++];
	if (b->step == 1)
		pcapw_conn_handshake(&b->conn);
	if (act[0] == 'B')
		pcapw_conn_send(&b->conn, true, body, b->body_len);
	else if (act[0] == 'F') {
		pcapw_conn_fin(&b->conn, false);
		pcapw_conn_fin(&b->conn, true);
	} else
		pcapw_conn_send(&b->conn, act[0] == 'C', act + 1, strlen(act + 1));
	return true;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: mkbench OUT.pcap [SESSIONS]\n");
		return 2;
	}
	uint32_t total = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 20000, started = 0;
	struct pcapw *w = pcapw_open(argv[1], DLT_EN10MB, PCAPW_PCAP, 0);
	static struct bench_session s[CONCURRENT];
	if (!w) {
		perror(argv[1]);
		return 1;
	}
	make_body();
	for (bool any = true; any;) {
		any = false;
		for (int i = 0; i < CONCURRENT; i++) {
			if (!s[i].live && started < total)
				session_start(&s[i], w, started++);
			if (s[i].live && !session_step(&s[i]))
				s[i].live = false;
			any = any || s[i].live || started < total;
		}
	}
	return pcapw_close(w) == 0 ? 0 : 1;
}
