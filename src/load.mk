# The load half of `immigrate run` (issue 5): classification, pacing, batching,
# the request layer, the scheduler, progress and the dead-letter command.
immigrate_SOURCES += \
	src/classify.c src/classify.h \
	src/pace.c src/pace.h \
	src/batch.c src/batch.h

LOAD_UNIT_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(CURL_CFLAGS) -I$(top_srcdir)/tests
check_PROGRAMS += tests/load/test_classify tests/load/test_pace tests/load/test_batch
tests_load_test_classify_SOURCES = tests/load/test_classify.c src/classify.c
tests_load_test_classify_CFLAGS = $(LOAD_UNIT_CFLAGS)
tests_load_test_classify_LDADD = $(JANSSON_LIBS) $(CURL_LIBS)
tests_load_test_pace_SOURCES = tests/load/test_pace.c src/pace.c
tests_load_test_pace_CFLAGS = $(LOAD_UNIT_CFLAGS)
tests_load_test_pace_LDADD = -lm
tests_load_test_batch_SOURCES = tests/load/test_batch.c src/batch.c
tests_load_test_batch_CFLAGS = $(LOAD_UNIT_CFLAGS)
tests_load_test_batch_LDADD = $(JANSSON_LIBS)
TESTS += tests/load/test_classify tests/load/test_pace tests/load/test_batch

# The loader proper (request layer, scheduler, stage SQL, progress); the stage
# itself comes with src/libimtransform.la (src/transform.mk).
LOAD_CORE_SOURCES = \
	src/tim.c src/tim.h \
	src/load.c src/load.h \
	src/load_stage.c src/load_stage.h \
	src/progress.c src/progress.h
immigrate_SOURCES += $(LOAD_CORE_SOURCES) src/load_job.c src/cmd_dlq.c

# loadrun: stages IM records from JSON Lines and runs the loader (tests, bench).
check_PROGRAMS += tests/load/loadrun
tests_load_loadrun_SOURCES = tests/load/loadrun.c $(LOAD_CORE_SOURCES) \
	src/classify.c src/pace.c src/batch.c src/stage.c src/stage.h src/stage_dedupe.c src/stage_dedupe.h src/report_samples.c src/plan.c src/plan_check.c
tests_load_loadrun_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(CURL_CFLAGS) $(SQLITE_CFLAGS) $(CRYPTO_CFLAGS)
tests_load_loadrun_LDADD = src/libimcore.la $(JANSSON_LIBS) $(CURL_LIBS) $(SQLITE_LIBS) $(CRYPTO_LIBS) -lm

# timrun: im_tim_run against the emulator (driven by tests/load/tim.sh).
check_PROGRAMS += tests/load/timrun
tests_load_timrun_SOURCES = tests/load/timrun.c src/tim.c src/tim.h src/pace.c
tests_load_timrun_CFLAGS = $(LOAD_UNIT_CFLAGS) $(CRYPTO_CFLAGS)
tests_load_timrun_LDADD = src/libimcore.la $(JANSSON_LIBS) $(CURL_LIBS) $(CRYPTO_LIBS) -lm

LOAD_E2E_TESTS = tests/load/e2e.sh tests/load/dlq.sh tests/load/tls.sh tests/load/tim.sh tests/load/readmarks.sh
TESTS += $(LOAD_E2E_TESTS)
EXTRA_DIST += $(LOAD_E2E_TESTS) tests/load/gen.py tests/load/expect.py
EXTRA_DIST += bench/load.sh

check_PROGRAMS += tests/load/test_progress
# progress.c takes its total ETA from the plan's model (plan.c, which counts stages).
tests_load_test_progress_SOURCES = tests/load/test_progress.c src/progress.c src/batch.c src/plan.c src/plan_check.c src/pace.c \
	src/stage.c src/stage_dedupe.c
tests_load_test_progress_CFLAGS = $(LOAD_UNIT_CFLAGS) $(SQLITE_CFLAGS)
tests_load_test_progress_LDADD = src/libimcore.la $(JANSSON_LIBS) $(SQLITE_LIBS) $(CRYPTO_LIBS) -lm
TESTS += tests/load/test_progress
