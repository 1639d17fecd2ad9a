/* thread: helper threads started with the asynchronous signals blocked (POSIX
 * pthread_sigmask; a new thread inherits its creator's mask). */
#include "thread.h"

#include <signal.h>

bool thread_start_quiet(pthread_t *thread, void *(*fn)(void *), void *arg)
{
	sigset_t quiet, old;
	sigfillset(&quiet);
	/* blocking these would not stop a fault's signal, only make it kill the process */
	sigdelset(&quiet, SIGBUS);
	sigdelset(&quiet, SIGSEGV);
	sigdelset(&quiet, SIGFPE);
	sigdelset(&quiet, SIGILL);
	pthread_sigmask(SIG_SETMASK, &quiet, &old);
	int rc = pthread_create(thread, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc == 0;
}
