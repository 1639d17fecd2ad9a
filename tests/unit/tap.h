/* tap: the smallest unit-test harness: each CHECK counts; each test prints one
 * "ok NAME" or "FAIL NAME" line that tests/run-tests.sh counts. */
#ifndef SMTPTRACE_TAP_H
#define SMTPTRACE_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_failed_checks;
static int tap_tests_failed;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			tap_failed_checks++;                                                       \
		}                                                                                  \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
	do {                                                                                       \
		long long tap_a_ = (long long)(a), tap_b_ = (long long)(b);                        \
		if (tap_a_ != tap_b_) {                                                            \
			fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__,  \
			        #a, tap_a_, tap_b_);                                               \
			tap_failed_checks++;                                                       \
		}                                                                                  \
	} while (0)

#define CHECK_EQ_STR(a, b)                                                                         \
	do {                                                                                       \
		const char *tap_a_ = (a), *tap_b_ = (b);                                           \
		if (!tap_a_ || !tap_b_ || strcmp(tap_a_, tap_b_) != 0) {                           \
			fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__,        \
			        __LINE__, #a, tap_a_ ? tap_a_ : "(null)",                          \
			        tap_b_ ? tap_b_ : "(null)");                                       \
			tap_failed_checks++;                                                       \
		}                                                                                  \
	} while (0)

/* Runs fn as one test named name. */
#define RUN_TEST(fn)                                                                               \
	do {                                                                                       \
		int tap_before_ = tap_failed_checks;                                               \
		fn();                                                                              \
		if (tap_failed_checks == tap_before_) {                                            \
			printf("ok %s\n", #fn);                                                    \
		} else {                                                                           \
			printf("FAIL %s\n", #fn);                                                  \
			tap_tests_failed++;                                                        \
		}                                                                                  \
	} while (0)

#define TAP_EXIT() return tap_tests_failed ? 1 : 0

#endif
