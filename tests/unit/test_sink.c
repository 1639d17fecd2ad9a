/* test_sink: the file sink: whole records only (a write cut short by a full disk is cut back
 * to the last whole record), append or overwrite, reopen after a rename (logrotate). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zlib.h>

#include "sink.h"
#include "unit/tap.h"

static char dir[] = "/tmp/test_sink.XXXXXX";

static const char *tpath(const char *name)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf = calloc(1, 1 << 20);
	*len = fp && buf ? fread(buf, 1, (1 << 20) - 1, fp) : 0;
	if (fp)
		fclose(fp);
	return buf;
}

static int write_lines(struct sink *s, int n, int width)
{
	char rec[512];
	for (int i = 0; i < n; i++) {
		int len = snprintf(rec, sizeof(rec), "{\"n\":%d,\"pad\":\"%*s\"}\n", i, width, "");
		if (sink_write(s, rec, (size_t)len) != 0)
			return -1;
	}
	return 0;
}

/* A file that exists is appended to by default, emptied with overwrite. */
static void append_and_overwrite(void)
{
	char err[256];
	size_t len;
	struct sink_file_options o = {0};
	struct sink *s = sink_open_file(tpath("a.json"), &o, err, sizeof(err));
	CHECK(s != NULL);
	CHECK_EQ_INT(write_lines(s, 2, 1), 0);
	CHECK_EQ_INT(sink_close(s), 0);
	s = sink_open_file(tpath("a.json"), &o, err, sizeof(err));
	CHECK_EQ_INT(write_lines(s, 1, 1), 0);
	CHECK_EQ_INT(sink_close(s), 0);
	char *got = slurp(tpath("a.json"), &len);
	CHECK_EQ_STR(got,
	             "{\"n\":0,\"pad\":\" \"}\n{\"n\":1,\"pad\":\" \"}\n{\"n\":0,\"pad\":\" \"}\n");
	free(got);
	o.overwrite = true;
	s = sink_open_file(tpath("a.json"), &o, err, sizeof(err));
	CHECK_EQ_INT(write_lines(s, 1, 2), 0);
	CHECK_EQ_INT(sink_close(s), 0);
	got = slurp(tpath("a.json"), &len);
	CHECK_EQ_STR(got, "{\"n\":0,\"pad\":\"  \"}\n");
	free(got);
	CHECK(sink_open_file(tpath("no-such-dir/x.json"), &o, err, sizeof(err)) == NULL);
	char want[300];
	snprintf(want, sizeof(want), "%s: No such file or directory", tpath("no-such-dir/x.json"));
	CHECK_EQ_STR(err, want);
}

/* Records per_record are in the file as soon as they are written; buffered ones at flush. */
static void flush_modes(void)
{
	char err[256];
	size_t len;
	struct sink_file_options o = {.overwrite = true, .per_record = true};
	struct sink *s = sink_open_file(tpath("f.json"), &o, err, sizeof(err));
	CHECK_EQ_INT(write_lines(s, 3, 1), 0);
	free(slurp(tpath("f.json"), &len));
	CHECK_EQ_INT(len, 3 * 18);
	CHECK_EQ_INT(sink_close(s), 0);
	o.per_record = false;
	s = sink_open_file(tpath("f.json"), &o, err, sizeof(err));
	CHECK_EQ_INT(write_lines(s, 3, 1), 0);
	free(slurp(tpath("f.json"), &len));
	CHECK_EQ_INT(len, 0);
	CHECK_EQ_INT(sink_flush(s), 0);
	free(slurp(tpath("f.json"), &len));
	CHECK_EQ_INT(len, 3 * 18);
	CHECK_EQ_INT(sink_close(s), 0);
}

/* logrotate renames the file, then SIGHUP: the sink reopens the name, a new file. */
static void reopen_after_rename(void)
{
	char err[256], old[300];
	size_t len;
	struct sink_file_options o = {.overwrite = true};
	struct sink *s = sink_open_file(tpath("r.json"), &o, err, sizeof(err));
	CHECK_EQ_INT(write_lines(s, 2, 1), 0);
	snprintf(old, sizeof(old), "%s", tpath("r.json.1"));
	CHECK_EQ_INT(rename(tpath("r.json"), old), 0);
	CHECK_EQ_INT(sink_reopen(s), 0); /* the two buffered records go to the old file */
	CHECK_EQ_INT(write_lines(s, 1, 1), 0);
	CHECK_EQ_INT(sink_close(s), 0);
	free(slurp(old, &len));
	CHECK_EQ_INT(len, 2 * 18);
	char *got = slurp(tpath("r.json"), &len);
	CHECK_EQ_STR(got, "{\"n\":0,\"pad\":\" \"}\n");
	free(got);
}

/* A file size limit makes write() fail part way, as a full disk does: the file is cut back
 * to its last whole record, and the error names the output. Run in a child, whose limit
 * does not outlive it. */
static void cut_back_on_failure(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		char err[256];
		struct rlimit rl = {.rlim_cur = 1000, .rlim_max = 1000};
		signal(SIGXFSZ, SIG_IGN);
		setrlimit(RLIMIT_FSIZE, &rl);
		struct sink_file_options o = {.overwrite = true, .per_record = true};
		struct sink *s = sink_open_file(tpath("full.json"), &o, err, sizeof(err));
		int rc = s ? write_lines(s, 200, 40) : 0; /* 57 to 59 bytes each */
		int close_rc = s ? sink_close(s) : 0;
		_exit(s && rc == -1 && close_rc == -1 &&
		              strstr(sink_close_error(), "full.json: File too large")
		          ? 0
		          : 1);
	}
	int status = -1;
	CHECK_EQ_INT(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	size_t len;
	char *got = slurp(tpath("full.json"), &len);
	CHECK(len > 900 && len <= 1000);
	CHECK(len > 0 && got[len - 1] == '\n'); /* whole records only */
	int lines = 0;
	for (char *p = got; (p = strstr(p, "\"}\n")); p += 3)
		lines++;
	CHECK_EQ_INT(lines, 17); /* 17 whole records of 57 or 58 bytes fit in 1000 */
	free(got);
}

/* Decompresses path (members back to back, a missing trailer tolerated) into a new string. */
static char *gunzip(const char *path, size_t *len)
{
	gzFile gz = gzopen(path, "rb");
	char *buf = calloc(1, 1 << 20);
	int n = gz && buf ? gzread(gz, buf, (1 << 20) - 1) : -1;
	*len = n > 0 ? (size_t)n : 0;
	if (gz)
		gzclose(gz);
	return buf;
}

/* ".gz": what is written so far always decompresses to whole records (each flush a sync
 * point), before the close too; a reopen starts a new member of the same stream. */
static void gzip_output(void)
{
	char err[256], old[300];
	size_t len;
	struct sink_file_options o = {.overwrite = true, .per_record = true};
	struct sink *s = sink_open_file(tpath("g.json.gz"), &o, err, sizeof(err));
	CHECK(s != NULL);
	if (!s)
		return;
	CHECK_EQ_INT(write_lines(s, 3, 1), 0);
	char *got = gunzip(tpath("g.json.gz"), &len); /* still open: no trailer yet */
	CHECK_EQ_INT(len, 3 * 18);
	CHECK(len > 0 && got[len - 1] == '\n');
	free(got);
	snprintf(old, sizeof(old), "%s", tpath("g.json.gz.1"));
	CHECK_EQ_INT(rename(tpath("g.json.gz"), old), 0);
	CHECK_EQ_INT(sink_reopen(s), 0);
	CHECK_EQ_INT(write_lines(s, 2, 1), 0);
	CHECK_EQ_INT(sink_close(s), 0);
	got = gunzip(old, &len);
	CHECK_EQ_INT(len, 3 * 18);
	free(got);
	got = gunzip(tpath("g.json.gz"), &len);
	CHECK_EQ_STR(got, "{\"n\":0,\"pad\":\" \"}\n{\"n\":1,\"pad\":\" \"}\n");
	free(got);
	/* Appending to it adds a member: the stream now holds four records. */
	o.overwrite = false;
	s = sink_open_file(tpath("g.json.gz"), &o, err, sizeof(err));
	CHECK_EQ_INT(write_lines(s, 2, 1), 0);
	CHECK_EQ_INT(sink_close(s), 0);
	free(gunzip(tpath("g.json.gz"), &len));
	CHECK_EQ_INT(len, 4 * 18);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN_TEST(append_and_overwrite);
	RUN_TEST(flush_modes);
	RUN_TEST(reopen_after_rename);
	RUN_TEST(cut_back_on_failure);
	RUN_TEST(gzip_output);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	TAP_EXIT();
}
