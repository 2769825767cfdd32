/* A tiny TAP producer for C unit tests (automake's tap-driver reads it).
 *
 *   plan(3); ok(x == 1, "x is one"); is_int(a, b, "..."); is_str(a, b, "...");
 *   return done_testing();
 *
 * Everything is static inline so each test program stays one file. */
#ifndef IMMIGRATE_TESTS_TAP_H
#define IMMIGRATE_TESTS_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_count;
static int tap_failed;
static int tap_planned = -1;

static inline void plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
}

static inline void skip_all(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	fflush(stdout);
	exit(0);
}

static inline int ok_at(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	tap_count++;
	printf("%sok %d - ", cond ? "" : "not ", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond) {
		tap_failed++;
		printf("#   failed at %s:%d\n", file, line);
	}
	fflush(stdout);
	return cond;
}

static inline void diag(const char *fmt, ...)
{
	va_list ap;
	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

#define ok(cond, ...) ok_at(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...)                                                              \
	do {                                                                                \
		long long got_ = (long long)(got), want_ = (long long)(want);               \
		if (!ok_at(got_ == want_, __FILE__, __LINE__, __VA_ARGS__))                 \
			diag("     got: %lld\n#  wanted: %lld", got_, want_);                 \
	} while (0)
#define is_str(got, want, ...)                                                              \
	do {                                                                                \
		const char *got_ = (got), *want_ = (want);                                  \
		int same_ = got_ && want_ ? strcmp(got_, want_) == 0 : got_ == want_;       \
		if (!ok_at(same_, __FILE__, __LINE__, __VA_ARGS__))                         \
			diag("     got: '%s'\n#  wanted: '%s'", got_ ? got_ : "(null)",      \
			     want_ ? want_ : "(null)");                                     \
	} while (0)

static inline int done_testing(void)
{
	if (tap_planned < 0)
		printf("1..%d\n", tap_count);
	else if (tap_planned != tap_count)
		printf("# planned %d tests but ran %d\n", tap_planned, tap_count);
	return tap_failed || (tap_planned >= 0 && tap_planned != tap_count) ? 1 : 0;
}

#endif
