/* sink: the record outputs behind one interface; here the file sink (standard output or a
 * file, appended or overwritten, reopened on SIGHUP), which writes only whole records
 * (JSON Lines, RFC 8259 text one object a line). */
#include "sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { SINK_BUF_SIZE = 1 << 20 };

struct file_sink {
	struct sink base;
	int fd;
	char *path;        /* NULL for standard output */
	const char *label; /* the name in messages */
	bool regular;      /* a regular file: a failed write can be cut back */
	off_t good_end;    /* where the last whole record ends in the file */
	char *buf;
	size_t used;
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

/* Writes the buffered records. */
static int file_drain(struct file_sink *f)
{
	if (f->used == 0)
		return 0;
	int rc = file_put(f, f->buf, f->used);
	f->used = 0;
	return rc;
}

static int file_write(struct sink *s, const char *rec, size_t len)
{
	struct file_sink *f = (struct file_sink *)s;
	if (f->used + len > SINK_BUF_SIZE && file_drain(f) != 0)
		return -1;
	if (len > SINK_BUF_SIZE) /* larger than the buffer: written on its own */
		return file_put(f, rec, len);
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
	close(f->fd);
	if (file_open_fd(f, false) != 0)
		return sink_fail(s, f->label, errno);
	return 0;
}

static int file_close(struct sink *s)
{
	struct file_sink *f = (struct file_sink *)s;
	file_drain(f);
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

struct sink *sink_open_file(const char *path, const struct sink_file_options *o, char *err,
                            size_t errlen)
{
	bool use_stdout = !path || strcmp(path, "-") == 0;
	struct file_sink *f = calloc(1, sizeof(*f));
	if (f)
		f->buf = malloc(SINK_BUF_SIZE);
	if (f && !use_stdout)
		f->path = strdup(path);
	if (!f || !f->buf || (!use_stdout && !f->path)) {
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

const char *sink_close_error(void)
{
	return close_err;
}
