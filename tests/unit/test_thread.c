/* test_thread: helper threads start with the asynchronous signals blocked and a fault's
 * signals not (analyzer/thread.c). */
#include <signal.h>

#include "tap.h"
#include "thread.h"

static sigset_t seen;

static void *report_mask(void *arg)
{
	(void)arg;
	pthread_sigmask(SIG_SETMASK, NULL, &seen);
	return NULL;
}

static void test_signals_stay_the_callers(void)
{
	sigset_t before, after;
	pthread_sigmask(SIG_SETMASK, NULL, &before);
	pthread_t t;
	CHECK(thread_start_quiet(&t, report_mask, NULL));
	pthread_join(t, NULL);
	pthread_sigmask(SIG_SETMASK, NULL, &after);
	CHECK_EQ_INT(sigismember(&seen, SIGINT), 1);
	CHECK_EQ_INT(sigismember(&seen, SIGTERM), 1);
	CHECK_EQ_INT(sigismember(&seen, SIGHUP), 1);
	CHECK_EQ_INT(sigismember(&seen, SIGPIPE), 1);
	CHECK_EQ_INT(sigismember(&seen, SIGBUS), 0);
	CHECK_EQ_INT(sigismember(&seen, SIGSEGV), 0);
	/* the caller's own mask is as it was */
	CHECK_EQ_INT(sigismember(&after, SIGINT), sigismember(&before, SIGINT));
	CHECK_EQ_INT(sigismember(&after, SIGHUP), sigismember(&before, SIGHUP));
}

int main(void)
{
	RUN_TEST(test_signals_stay_the_callers);
	TAP_EXIT();
}
