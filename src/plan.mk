# Plan, verify, report (issue 9): the time model of a migration, reading the
# target back, and the self-contained HTML report.

# Unit tests compile the load side's pure modules (batch, pace) and the stage
# directly, as tests/load does; libimcore carries imrules and log.
PLAN_UNIT_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(SQLITE_CFLAGS) $(CRYPTO_CFLAGS) -I$(top_srcdir)/tests
PLAN_UNIT_LDADD = src/libimcore.la $(JANSSON_LIBS) $(SQLITE_LIBS) $(CRYPTO_LIBS) -lm

check_PROGRAMS += tests/plan/test_plan
tests_plan_test_plan_SOURCES = tests/plan/test_plan.c src/plan.c src/plan.h src/batch.c src/pace.c src/stage.c
tests_plan_test_plan_CFLAGS = $(PLAN_UNIT_CFLAGS)
tests_plan_test_plan_LDADD = $(PLAN_UNIT_LDADD)
TESTS += tests/plan/test_plan

check_PROGRAMS += tests/plan/test_verify
tests_plan_test_verify_SOURCES = tests/plan/test_verify.c src/verify.c src/verify.h src/tim.c src/classify.c \
	src/pace.c src/batch.c src/stage.c
tests_plan_test_verify_CFLAGS = $(PLAN_UNIT_CFLAGS) $(CURL_CFLAGS)
tests_plan_test_verify_LDADD = $(PLAN_UNIT_LDADD) $(CURL_LIBS)
TESTS += tests/plan/test_verify
