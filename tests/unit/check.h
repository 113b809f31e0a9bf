/*
 * check.h: the check macro of the unit tests that report every failed check
 * and go on (test_console.c, test_restart.c). A test includes it once, counts
 * on `failures` and exits nonzero when it is not 0.
 */
#ifndef UKD_TESTS_CHECK_H
#define UKD_TESTS_CHECK_H

#include <stdio.h>

static int failures;

#define CHECK(cond)                                                                        \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
			failures++;                                                        \
		}                                                                          \
	} while (0)

#endif
