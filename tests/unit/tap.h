/* tap: the smallest unit-test harness: each CHECK counts; each test prints one
 * "ok NAME" or "FAIL NAME" line that tests/run-tests.sh counts. A test that made no check
 * fails: it cannot have tested anything. */
#ifndef SMTPTRACE_TAP_H
#define SMTPTRACE_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_failed_checks;
static int tap_tests_failed;
static int tap_checks; /* checks made, passed or not */

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		tap_checks++;                                                                      \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			tap_failed_checks++;                                                       \
		}                                                                                  \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
	do {                                                                                       \
		long long tap_a_ = (long long)(a), tap_b_ = (long long)(b);                        \
		tap_checks++;                                                                      \
		if (tap_a_ != tap_b_) {                                                            \
			fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__,  \
			        #a, tap_a_, tap_b_);                                               \
			tap_failed_checks++;                                                       \
		}                                                                                  \
	} while (0)

#define CHECK_EQ_STR(a, b)                                                                         \
	do {                                                                                       \
		const char *tap_a_ = (a), *tap_b_ = (b);                                           \
		tap_checks++;                                                                      \
		if (!tap_a_ || !tap_b_ || strcmp(tap_a_, tap_b_) != 0) {                           \
			fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__,        \
			        __LINE__, #a, tap_a_ ? tap_a_ : "(null)",                          \
			        tap_b_ ? tap_b_ : "(null)");                                       \
			tap_failed_checks++;                                                       \
		}                                                                                  \
	} while (0)

/* Runs fn as one test named name, printing its "ok" or "FAIL" line to out; returns whether
 * it passed: every check it made held, and it made at least one. */
static inline int tap_run(const char *name, void (*fn)(void), FILE *out)
{
	int before = tap_failed_checks, made = tap_checks;
	fn();
	if (tap_checks == made) {
		fprintf(stderr, "%s: made no check\n", name);
		tap_failed_checks++;
	}
	if (tap_failed_checks == before) {
		fprintf(out, "ok %s\n", name);
		return 1;
	}
	fprintf(out, "FAIL %s\n", name);
	tap_tests_failed++;
	return 0;
}

#define RUN_TEST(fn) tap_run(#fn, fn, stdout)

#define TAP_EXIT() return tap_tests_failed ? 1 : 0

#endif
