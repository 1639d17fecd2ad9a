/* replay: runs a fuzz target's LLVMFuzzerTestOneInput over saved inputs without libFuzzer,
 * so that gcc builds (make check) replay the committed corpora.
 *   replay PATH...   each PATH a file, or a directory whose files are run in name order
 * Prints one line per directory; exits 0, or 2 when a path cannot be read. A broken input
 * ends the run the way it would under libFuzzer: a sanitizer report or an abort. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Reads a whole file into a buffer of exactly its size (a 1-byte one for an empty file:
 * libFuzzer never passes NULL either). Returns 0, or -1 with errno set. */
static int read_file(const char *path, uint8_t **data, size_t *size)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	*data = NULL;
	*size = 0;
	if (!f)
		return -1;
	if (fstat(fileno(f), &st) != 0 || st.st_size < 0) {
		fclose(f);
		return -1;
	}
	*data = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
	if (!*data)
		abort();
	if (st.st_size > 0) {
		if (fread(*data, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
			free(*data);
			*data = NULL;
			fclose(f);
			errno = EIO;
			return -1;
		}
		*size = (size_t)st.st_size;
	}
	fclose(f);
	return 0;
}

static int run_file(const char *path)
{
	uint8_t *data;
	size_t size;
	if (read_file(path, &data, &size) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	LLVMFuzzerTestOneInput(data, size);
	free(data);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int not_hidden(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Runs every regular file of dir in name order. Returns how many, or -1. */
static long run_dir(const char *dir)
{
	struct dirent **names;
	int n = scandir(dir, &names, not_hidden, by_name);
	long done = 0;
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (run_file(path) != 0)
				done = -1;
			else if (done >= 0)
				done++;
		}
		free(names[i]);
	}
	free(names);
	return done;
}

int main(int argc, char **argv)
{
	int status = 0;
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE_OR_DIR...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			status = 2;
		} else if (S_ISDIR(st.st_mode)) {
			long n = run_dir(argv[i]);
			if (n < 0)
				status = 2;
			else
				printf("replay: %s: %ld inputs\n", argv[i], n);
		} else if (run_file(argv[i]) != 0) {
			status = 2;
		}
	}
	return status;
}
