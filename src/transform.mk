# Transform side of extract (issue 4): the Lua mapping engine, IM record
# validation, job files, the SQLite stage, the extract pipeline and the check,
# preview and run commands.
#
# libimtransform.la holds the core (the executable and the tests link it);
# it needs src/libimcore.la (imrules, log, secret) after it on the link line,
# extract.c needs the plugin loader (src/libimplugin.la, or plugin.c/host.c
# in the executable), and job.c checks target.plan with plan.c's editions
# (src/plan.mk's sources in the executable; compiled into test_job below).
noinst_LTLIBRARIES += src/libimtransform.la
src_libimtransform_la_SOURCES = \
	src/stage.c src/stage.h src/stage_dedupe.c src/stage_dedupe.h \
	src/imrecord.c src/imrecord.h \
	src/script.c src/script.h src/script_priv.h src/script_lib.c \
	src/script_json.c src/script_json.h \
	src/job.c src/job.h \
	src/extract.c src/extract.h src/extract_progress.h
src_libimtransform_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(LUA_CFLAGS) $(SQLITE_CFLAGS) $(CRYPTO_CFLAGS)
src_libimtransform_la_LIBADD = $(JANSSON_LIBS) $(LUA_LIBS) $(SQLITE_LIBS) $(CRYPTO_LIBS) -lm

immigrate_SOURCES += src/cmd_check.c src/cmd_preview.c src/cmd_run.c
# libimcore again after libimtransform: static convenience archives resolve left to right.
immigrate_LDADD += src/libimtransform.la src/libimcore.la

# Unit tests (TAP) and the end-to-end test.
TRANSFORM_TEST_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(LUA_CFLAGS) $(SQLITE_CFLAGS) -I$(top_srcdir)/tests
TRANSFORM_TEST_LDADD = src/libimtransform.la src/libimplugin.la src/libimcore.la
check_PROGRAMS += tests/transform/test_script
tests_transform_test_script_SOURCES = tests/transform/test_script.c tests/transform/util.h
tests_transform_test_script_CFLAGS = $(TRANSFORM_TEST_CFLAGS)
tests_transform_test_script_LDADD = $(TRANSFORM_TEST_LDADD)
TESTS += tests/transform/test_script
# The JSON text decoder against json_loadb + push_json (corpus and mutations).
check_PROGRAMS += tests/transform/test_script_json
tests_transform_test_script_json_SOURCES = tests/transform/test_script_json.c
tests_transform_test_script_json_CFLAGS = $(TRANSFORM_TEST_CFLAGS)
tests_transform_test_script_json_LDADD = $(TRANSFORM_TEST_LDADD) $(LUA_LIBS)
TESTS += tests/transform/test_script_json
check_PROGRAMS += tests/transform/test_job tests/transform/test_stage
tests_transform_test_job_SOURCES = tests/transform/test_job.c tests/transform/util.h \
	src/plan.c src/plan_check.c src/batch.c src/pace.c
tests_transform_test_job_CFLAGS = $(TRANSFORM_TEST_CFLAGS)
tests_transform_test_job_LDADD = $(TRANSFORM_TEST_LDADD)
tests_transform_test_stage_SOURCES = tests/transform/test_stage.c tests/transform/util.h
tests_transform_test_stage_CFLAGS = $(TRANSFORM_TEST_CFLAGS)
tests_transform_test_stage_LDADD = $(TRANSFORM_TEST_LDADD)
TESTS += tests/transform/test_job tests/transform/test_stage
check_PROGRAMS += tests/transform/test_imrecord
tests_transform_test_imrecord_SOURCES = tests/transform/test_imrecord.c
tests_transform_test_imrecord_CFLAGS = $(TRANSFORM_TEST_CFLAGS)
tests_transform_test_imrecord_LDADD = $(TRANSFORM_TEST_LDADD)
TESTS += tests/transform/test_imrecord
check_PROGRAMS += tests/transform/test_imval
tests_transform_test_imval_SOURCES = tests/transform/test_imval.c
tests_transform_test_imval_CFLAGS = $(TRANSFORM_TEST_CFLAGS)
tests_transform_test_imval_LDADD = $(TRANSFORM_TEST_LDADD)
TESTS += tests/transform/test_imval
TESTS += tests/transform/e2e.sh
EXTRA_DIST += tests/transform/e2e.sh tests/transform/chat.lua tests/transform/gen-chat.sh
TESTS += tests/transform/run-load.sh
EXTRA_DIST += tests/transform/run-load.sh
TESTS += tests/transform/resume-state.sh
EXTRA_DIST += tests/transform/resume-state.sh
TESTS += tests/transform/text-records.sh
EXTRA_DIST += tests/transform/text-records.sh
TESTS += tests/transform/rules.sh
EXTRA_DIST += tests/transform/rules.sh
TESTS += tests/transform/commands.sh
EXTRA_DIST += tests/transform/commands.sh
