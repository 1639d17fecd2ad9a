/* sink: the record outputs behind one interface; here the file sink (standard output or a
 * file, appended or overwritten, reopened on SIGHUP), which writes only whole records
 * (JSON Lines, RFC 8259 text one object a line), gzip-compressed (RFC 1952, through zlib's
 * deflate) when the file's name ends in ".gz". */
#include "sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

enum { SINK_BUF_SIZE = 1 << 20, SINK_ZBUF_SIZE = 64 * 1024 };

struct file_sink {
	struct sink base;
	int fd;
	char *path;        /* NULL for standard output */
	const char *label; /* the name in messages */
	bool regular;      /* a regular file: a failed write can be cut back */
	off_t good_end;    /* where the last whole record ends in the file */
	char *buf;
	size_t used;
	z_stream *z; /* a ".gz" file: records are deflated on their way out */
	unsigned char *zbuf;
};

static char close_err[sizeof(((struct sink *)0)->err)];

/* Records the first failure, naming the output. Returns -1. */
static int sink_fail(struct sink *s, const char *label, int errnum)
{
	if (!s->failed)
		snprintf(s->err, sizeof(s->err), "%s: %s", label,
		         errnum ? strerror(errnum) : "write error");
	if (!s->failed)
		s->errnum = errnum;
	s->failed = true;
	return -1;
}

/* Writes all of p, retrying after signals. Returns 0, or -1 with errno set. */
static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes whole records straight to the file. On failure a regular file is cut back to its last
 * whole record, so that no reader ever sees half a line. */
static int file_put(struct file_sink *f, const char *p, size_t len)
{
	if (write_all(f->fd, p, len) != 0) {
		int saved = errno;
		if (f->regular && ftruncate(f->fd, f->good_end) != 0 && !saved)
			saved = errno;
		return sink_fail(&f->base, f->label, saved);
	}
	f->good_end += (off_t)len;
	return 0;
}

/* Deflates len bytes (none with Z_FINISH) and writes what comes out. Z_SYNC_FLUSH ends on a
 * byte boundary: everything written so far decompresses, so a reader (zcat, a shipper) sees
 * every whole record even while the file is still being written, or after a crash. */
static int deflate_put(struct file_sink *f, const char *p, size_t len, int flush)
{
	z_stream *z = f->z;
	z->next_in = (Bytef *)p;
	z->avail_in = (uInt)len;
	do {
		z->next_out = f->zbuf;
		z->avail_out = SINK_ZBUF_SIZE;
		int rc = deflate(z, flush);
		if (rc == Z_STREAM_ERROR)
			return sink_fail(&f->base, f->label, EIO);
		size_t n = SINK_ZBUF_SIZE - z->avail_out;
		if (n && file_put(f, (const char *)f->zbuf, n) != 0)
			return -1;
	} while (z->avail_out == 0 || z->avail_in > 0);
	return 0;
}

/* Writes the buffered records. */
static int file_drain(struct file_sink *f)
{
	if (f->used == 0)
		return 0;
	int rc =
	    f->z ? deflate_put(f, f->buf, f->used, Z_SYNC_FLUSH) : file_put(f, f->buf, f->used);
	f->used = 0;
	return rc;
}

/* Ends the gzip member (its trailer: CRC and length); the next write starts a new member,
 * which gzip readers take as the same stream. */
static int gzip_finish(struct file_sink *f)
{
	if (!f->z || f->base.failed)
		return 0;
	int rc = deflate_put(f, NULL, 0, Z_FINISH);
	deflateReset(f->z);
	return rc;
}

static int file_write(struct sink *s, const char *rec, size_t len)
{
	struct file_sink *f = (struct file_sink *)s;
	if (f->used + len > SINK_BUF_SIZE && file_drain(f) != 0)
		return -1;
	if (len > SINK_BUF_SIZE) /* larger than the buffer: written on its own */
		return f->z ? deflate_put(f, rec, len, Z_SYNC_FLUSH) : file_put(f, rec, len);
	memcpy(f->buf + f->used, rec, len);
	f->used += len;
	return s->per_record ? file_drain(f) : 0;
}

static int file_flush(struct sink *s)
{
	return file_drain((struct file_sink *)s);
}

/* Opens the descriptor: a duplicate of stdout, or the file. Sets regular and good_end. */
static int file_open_fd(struct file_sink *f, bool overwrite)
{
	struct stat st;
	if (f->path)
		f->fd =
		    open(f->path, O_WRONLY | O_CREAT | O_CLOEXEC | (overwrite ? O_TRUNC : O_APPEND),
		         0644);
	else
		f->fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 0);
	if (f->fd < 0)
		return -1;
	f->regular = fstat(f->fd, &st) == 0 && S_ISREG(st.st_mode);
	f->good_end = f->regular ? lseek(f->fd, 0, f->path ? SEEK_END : SEEK_CUR) : 0;
	if (f->good_end < 0)
		f->good_end = 0;
	return 0;
}

static int file_reopen(struct sink *s)
{
	struct file_sink *f = (struct file_sink *)s;
	if (file_drain(f) != 0 || !f->path)
		return s->failed ? -1 : 0;
	if (gzip_finish(f) != 0)
		return -1;
	close(f->fd);
	if (file_open_fd(f, false) != 0)
		return sink_fail(s, f->label, errno);
	return 0;
}

static int file_close(struct sink *s)
{
	struct file_sink *f = (struct file_sink *)s;
	file_drain(f);
	gzip_finish(f);
	if (f->z) {
		deflateEnd(f->z);
		free(f->z);
		free(f->zbuf);
	}
	if (f->fd >= 0 && close(f->fd) != 0 && errno != EINTR)
		sink_fail(s, f->label, errno);
	int rc = s->failed ? -1 : 0;
	snprintf(close_err, sizeof(close_err), "%s", s->failed ? s->err : "");
	free(f->buf);
	free(f->path);
	free(f);
	return rc;
}

static const struct sink_ops file_ops = {file_write, file_flush, file_reopen, file_close};

static bool is_gzip_name(const char *path)
{
	size_t n = path ? strlen(path) : 0;
	return n > 3 && strcmp(path + n - 3, ".gz") == 0;
}

/* A gzip stream (deflateInit2 with 16 + window bits: a gzip header and trailer). */
static bool gzip_init(struct file_sink *f)
{
	f->z = calloc(1, sizeof(*f->z));
	f->zbuf = malloc(SINK_ZBUF_SIZE);
	return f->z && f->zbuf &&
	       deflateInit2(f->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
	                    Z_DEFAULT_STRATEGY) == Z_OK;
}

struct sink *sink_open_file(const char *path, const struct sink_file_options *o, char *err,
                            size_t errlen)
{
	bool use_stdout = !path || strcmp(path, "-") == 0;
	struct file_sink *f = calloc(1, sizeof(*f));
	if (f)
		f->buf = malloc(SINK_BUF_SIZE);
	if (f && !use_stdout)
		f->path = strdup(path);
	if (!f || !f->buf || (!use_stdout && !f->path) || (is_gzip_name(path) && !gzip_init(f))) {
		snprintf(err, errlen, "%s: %s", use_stdout ? "stdout" : path, strerror(ENOMEM));
		goto fail;
	}
	f->base.ops = &file_ops;
	f->base.per_record = o && o->per_record;
	f->label = use_stdout ? "stdout" : f->path;
	if (file_open_fd(f, o && o->overwrite) != 0) {
		snprintf(err, errlen, "%s: %s", f->label, strerror(errno));
		goto fail;
	}
	return &f->base;
fail:
	if (f) {
		if (f->z && f->z->state)
			deflateEnd(f->z);
		free(f->z);
		free(f->zbuf);
		free(f->buf);
		free(f->path);
	}
	free(f);
	return NULL;
}

int sink_write(struct sink *s, const char *rec, size_t len)
{
	return s->failed ? -1 : s->ops->write(s, rec, len);
}

int sink_flush(struct sink *s)
{
	return s->failed ? -1 : s->ops->flush(s);
}

int sink_reopen(struct sink *s)
{
	return s->failed ? -1 : s->ops->reopen(s);
}

int sink_close(struct sink *s)
{
	return s ? s->ops->close(s) : 0;
}

const char *sink_error(const struct sink *s)
{
	return s && s->failed ? s->err : "";
}

void sink_set_close_error(const char *err)
{
	snprintf(close_err, sizeof(close_err), "%s", err);
}

const char *sink_close_error(void)
{
	return close_err;
}
