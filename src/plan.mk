# Plan, verify, report (issue 9): the time model of a migration, reading the
# target back, and the self-contained HTML report.

immigrate_SOURCES += \
	src/plan.c src/plan.h src/plan_check.c src/plan_sample.c src/plan_sample.h \
	src/verify.c src/verify.h src/verify_read.c src/verify_priv.h \
	src/report.c src/report.h src/report_priv.h src/report_samples.c src/report_svg.c \
	src/cmd_plan.c src/cmd_verify.c src/cmd_report.c

# Unit tests compile the load side's pure modules (batch, pace) and the stage
# directly, as tests/load does; libimcore carries imrules and log.
PLAN_UNIT_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(SQLITE_CFLAGS) $(CRYPTO_CFLAGS) -I$(top_srcdir)/tests
PLAN_UNIT_LDADD = src/libimcore.la $(JANSSON_LIBS) $(SQLITE_LIBS) $(CRYPTO_LIBS) -lm

check_PROGRAMS += tests/plan/test_plan
tests_plan_test_plan_SOURCES = tests/plan/test_plan.c src/plan.c src/plan.h src/plan_check.c src/batch.c src/pace.c src/stage.c src/stage_dedupe.c
tests_plan_test_plan_CFLAGS = $(PLAN_UNIT_CFLAGS)
tests_plan_test_plan_LDADD = $(PLAN_UNIT_LDADD)
TESTS += tests/plan/test_plan

check_PROGRAMS += tests/plan/test_verify
tests_plan_test_verify_SOURCES = tests/plan/test_verify.c src/verify.c src/verify.h src/verify_read.c src/tim.c src/classify.c \
	src/pace.c src/batch.c src/stage.c src/stage_dedupe.c
tests_plan_test_verify_CFLAGS = $(PLAN_UNIT_CFLAGS) $(CURL_CFLAGS)
tests_plan_test_verify_LDADD = $(PLAN_UNIT_LDADD) $(CURL_LIBS)
TESTS += tests/plan/test_verify

check_PROGRAMS += tests/plan/test_report
tests_plan_test_report_SOURCES = tests/plan/test_report.c src/report_samples.c src/report.c src/report_svg.c \
	src/plan.c src/plan_check.c src/verify.c src/verify_read.c src/tim.c src/classify.c src/pace.c src/batch.c \
	src/stage.c src/stage_dedupe.c
tests_plan_test_report_CFLAGS = $(PLAN_UNIT_CFLAGS) $(CURL_CFLAGS)
tests_plan_test_report_LDADD = $(PLAN_UNIT_LDADD) $(CURL_LIBS)
TESTS += tests/plan/test_report

# The report: mkreport builds a known stage and its HTML; report.sh checks it and
# renders it in headless Chromium (skipped without the chromium package).
check_PROGRAMS += tests/plan/mkreport
tests_plan_mkreport_SOURCES = tests/plan/mkreport.c src/report.c src/report.h src/report_samples.c src/report_svg.c src/plan.c src/plan_check.c src/verify.c src/verify_read.c \
	src/tim.c src/classify.c src/pace.c src/batch.c src/stage.c src/stage_dedupe.c
tests_plan_mkreport_CFLAGS = $(PLAN_UNIT_CFLAGS) $(CURL_CFLAGS)
tests_plan_mkreport_LDADD = $(PLAN_UNIT_LDADD) $(CURL_LIBS)
TESTS += tests/plan/report.sh
EXTRA_DIST += tests/plan/report.sh

TESTS += tests/plan/cli.sh
EXTRA_DIST += tests/plan/cli.sh
