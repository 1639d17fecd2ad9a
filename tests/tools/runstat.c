/* runstat: runs a command with its output thrown away and prints its wall time, user and
 * system time and peak resident memory, taken by wait4 (POSIX getrusage fields), as
 * "SECONDS USER SYS PEAK_KIB STATUS". The benchmark runs programs through it because a
 * child forked straight from a large process carries that process's peak past exec.
 *   runstat COMMAND [ARG]... */
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double seconds(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: runstat COMMAND [ARG]...\n");
		return 2;
	}
	double start = now();
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execvp(argv[1], argv + 1);
		_exit(127);
	}
	int status = 0;
	struct rusage ru;
	if (pid < 0 || wait4(pid, &status, 0, &ru) != pid) {
		perror("runstat");
		return 2;
	}
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	printf("%.6f %.6f %.6f %ld %d\n", now() - start, seconds(&ru.ru_utime),
	       seconds(&ru.ru_stime), ru.ru_maxrss, code);
	return 0;
}
