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
