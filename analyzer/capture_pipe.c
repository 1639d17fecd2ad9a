/* capture_pipe: the byte source of a capture read from a pipe, socket or terminal (tcpdump -U
 * -w - | smtptrace -r -): waits with poll() so that time can move while nothing comes, and
 * inflates gzip (RFC 1952, members back to back) itself, since zlib's gzread() would block. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture_int.h"

enum {
	PIPE_IN_SIZE = 64 * 1024, /* compressed input, or the first bytes of plain input */
	PIPE_TICK_MS = 100,       /* how often the idle hook runs while nothing comes */
};

enum pipe_mode { PIPE_UNKNOWN, PIPE_PLAIN, PIPE_GZIP };

struct pipe_reader {
	int fd;
	enum pipe_mode mode;
	bool member_done; /* a gzip member ended; another may follow */
	bool stopped;     /* the idle hook asked to stop */
	z_stream zs;
	uint8_t in[PIPE_IN_SIZE];
	size_t in_off, in_len; /* unread input in in[] */
};

struct pipe_reader *capture_pipe_new(int fd)
{
	struct pipe_reader *p = calloc(1, sizeof(*p));
	if (p)
		p->fd = fd;
	return p;
}

void capture_pipe_free(struct pipe_reader *p)
{
	if (!p)
		return;
	if (p->mode == PIPE_GZIP)
		inflateEnd(&p->zs);
	close(p->fd);
	free(p);
}

/* Reads what is there (at most len), waiting in steps of PIPE_TICK_MS and running the idle
 * hook between them. Returns the count, 0 at the end (or when the hook said stop), -1 with
 * errno on an error. */
static ssize_t wait_read(struct pipe_reader *p, struct capture *cap, void *buf, size_t len)
{
	for (;;) {
		if (p->stopped)
			return 0;
		struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
		int r = poll(&pfd, 1, PIPE_TICK_MS);
		if (r <= 0) {
			if (r < 0 && errno != EINTR)
				return -1;
			if (cap->idle && !cap->idle(cap->idle_ctx))
				p->stopped = true;
			continue;
		}
		ssize_t n = read(p->fd, buf, len);
		if (n >= 0 || errno != EINTR)
			return n;
	}
}

/* Fills in[] when it is empty. Returns the bytes now unread, 0 at the end, -1 on error. */
static ssize_t fill(struct pipe_reader *p, struct capture *cap)
{
	if (p->in_off < p->in_len)
		return (ssize_t)(p->in_len - p->in_off);
	ssize_t n = wait_read(p, cap, p->in, sizeof(p->in));
	p->in_off = 0;
	p->in_len = n > 0 ? (size_t)n : 0;
	return n;
}

/* Looks at the first bytes: gzip's magic (1f 8b) or anything else, passed through. */
static int detect(struct pipe_reader *p, struct capture *cap)
{
	while (p->in_len < 2) {
		ssize_t n = wait_read(p, cap, p->in + p->in_len, sizeof(p->in) - p->in_len);
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		p->in_len += (size_t)n;
	}
	p->mode = p->in_len >= 2 && p->in[0] == 0x1f && p->in[1] == 0x8b ? PIPE_GZIP : PIPE_PLAIN;
	if (p->mode == PIPE_GZIP && inflateInit2(&p->zs, 16 + MAX_WBITS) != Z_OK) {
		snprintf(cap->gz_err, sizeof(cap->gz_err), "%s", "out of memory");
		return -1;
	}
	return 0;
}

static ssize_t read_plain(struct pipe_reader *p, struct capture *cap, char *buf, size_t size)
{
	if (p->in_off < p->in_len) {
		size_t n = p->in_len - p->in_off < size ? p->in_len - p->in_off : size;
		memcpy(buf, p->in + p->in_off, n);
		p->in_off += n;
		return (ssize_t)n;
	}
	return wait_read(p, cap, buf, size);
}

/* After a member's end: more input that starts a member goes on; anything else ends the
 * stream, as gzip -d and zlib's gzread() take trailing bytes. Returns 1 go on, 0 end, -1. */
static int next_member(struct pipe_reader *p, struct capture *cap)
{
	ssize_t n = fill(p, cap);
	if (n <= 0)
		return (int)n;
	if (p->in[p->in_off] != 0x1f)
		return 0;
	p->member_done = false;
	return inflateReset(&p->zs) == Z_OK ? 1 : -1;
}

static ssize_t read_gzip(struct pipe_reader *p, struct capture *cap, char *buf, size_t size)
{
	for (;;) {
		if (p->member_done) {
			int r = next_member(p, cap);
			if (r <= 0)
				return r;
		}
		ssize_t n = fill(p, cap);
		if (n < 0)
			return -1;
		if (n == 0 && p->stopped)
			return 0;
		if (n == 0) { /* the input ended inside a member */
			snprintf(cap->gz_err, sizeof(cap->gz_err), "%s", "unexpected end of file");
			errno = EIO;
			return -1;
		}
		p->zs.next_in = p->in + p->in_off;
		p->zs.avail_in = (uInt)(p->in_len - p->in_off);
		p->zs.next_out = (Bytef *)buf;
		p->zs.avail_out = size > UINT32_MAX ? UINT32_MAX : (uInt)size;
		int rc = inflate(&p->zs, Z_NO_FLUSH);
		p->in_off = p->in_len - p->zs.avail_in;
		size_t got = (size_t)((char *)p->zs.next_out - buf);
		if (rc == Z_STREAM_END)
			p->member_done = true;
		else if (rc != Z_OK && rc != Z_BUF_ERROR) {
			snprintf(cap->gz_err, sizeof(cap->gz_err), "%s",
			         p->zs.msg ? p->zs.msg : "bad gzip data");
			errno = EIO;
			return -1;
		}
		if (got > 0)
			return (ssize_t)got;
	}
}

ssize_t capture_pipe_read(struct pipe_reader *p, struct capture *cap, char *buf, size_t size)
{
	if (p->mode == PIPE_UNKNOWN && detect(p, cap) != 0)
		return -1;
	if (p->mode == PIPE_PLAIN)
		return read_plain(p, cap, buf, size);
	return read_gzip(p, cap, buf, size);
}
