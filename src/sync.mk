# Two-way sync daemon (issue 8): `immigrate sync JOB`, callback authentication,
# the durable outbox, the HTTP front, delivery workers, and their tests.

# The daemon's self-contained building blocks, for unit tests.
noinst_LTLIBRARIES += src/libimsync.la
SYNC_CORE_SOURCES = \
	src/callback_sign.c src/callback_sign.h \
	src/outbox.c src/outbox.h \
	src/sync_metrics.c src/sync_metrics.h \
	src/sync_config.c src/sync_config.h \
	src/sync_http.c src/sync_http.h
src_libimsync_la_SOURCES = $(SYNC_CORE_SOURCES)
src_libimsync_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(SQLITE_CFLAGS) $(CRYPTO_CFLAGS) $(MHD_CFLAGS)
src_libimsync_la_LIBADD = $(JANSSON_LIBS) $(SQLITE_LIBS) $(CRYPTO_LIBS) $(MHD_LIBS) -lpthread

immigrate_SOURCES += $(SYNC_CORE_SOURCES) \
	src/sync_im_request.c src/sync_im_request.h \
	src/sync_reverse.c src/sync_reverse.h \
	src/sync_deliver.c src/sync_deliver.h \
	src/cmd_sync.c

SYNC_TEST_LDADD = src/libimsync.la src/libimcore.la $(JANSSON_LIBS) $(SQLITE_LIBS) $(CRYPTO_LIBS) -lpthread

check_PROGRAMS += tests/sync/test_callback_sign
tests_sync_test_callback_sign_SOURCES = tests/sync/test_callback_sign.c
tests_sync_test_callback_sign_CFLAGS = $(AM_CFLAGS) $(CRYPTO_CFLAGS)
tests_sync_test_callback_sign_LDADD = $(SYNC_TEST_LDADD)
TESTS += tests/sync/test_callback_sign

check_PROGRAMS += tests/sync/test_outbox
tests_sync_test_outbox_SOURCES = tests/sync/test_outbox.c
tests_sync_test_outbox_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS)
tests_sync_test_outbox_LDADD = $(SYNC_TEST_LDADD)
TESTS += tests/sync/test_outbox

# Helpers of the end-to-end test: signatures, and a fake old system.
check_PROGRAMS += tests/sync/hooksig tests/sync/fake_old
tests_sync_hooksig_SOURCES = tests/sync/hooksig.c
tests_sync_hooksig_CFLAGS = $(AM_CFLAGS) $(CRYPTO_CFLAGS)
tests_sync_hooksig_LDADD = $(CRYPTO_LIBS)
tests_sync_fake_old_SOURCES = tests/sync/fake_old.c
tests_sync_fake_old_CFLAGS = $(AM_CFLAGS) $(CRYPTO_CFLAGS) $(MHD_CFLAGS)
tests_sync_fake_old_LDADD = $(CRYPTO_LIBS) $(MHD_LIBS) -lpthread
TESTS += tests/sync/e2e.sh
EXTRA_DIST += tests/sync/e2e.sh tests/sync/sync.lua
EXTRA_DIST += contrib/systemd/immigrate-sync.service

# make bench-sync: acknowledgements per second and latency (wrk), not part of make check.
EXTRA_DIST += bench/sync.sh bench/sync-wrk.lua
bench-sync: immigrate
	sh $(top_srcdir)/bench/sync.sh $(abs_top_builddir)
.PHONY: bench-sync

check_PROGRAMS += tests/sync/test_webhook_plugin
tests_sync_test_webhook_plugin_SOURCES = tests/sync/test_webhook_plugin.c
tests_sync_test_webhook_plugin_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(CRYPTO_CFLAGS)
tests_sync_test_webhook_plugin_LDADD = src/libimplugin.la src/libimcore.la $(CRYPTO_LIBS)
TESTS += tests/sync/test_webhook_plugin tests/sync/webhook-conformance.sh
EXTRA_DIST += tests/sync/webhook-conformance.sh tests/sync/conformance/good.json tests/sync/conformance/bad.json

check_PROGRAMS += tests/sync/test_sync_units
tests_sync_test_sync_units_SOURCES = tests/sync/test_sync_units.c \
	src/sync_im_request.c src/sync_im_request.h src/batch.c src/batch.h
tests_sync_test_sync_units_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(SQLITE_CFLAGS) $(MHD_CFLAGS)
tests_sync_test_sync_units_LDADD = src/libimsync.la src/libimtransform.la $(SYNC_TEST_LDADD) $(MHD_LIBS)
TESTS += tests/sync/test_sync_units
TESTS += tests/sync/tls-limits.sh
EXTRA_DIST += tests/sync/tls-limits.sh
EXTRA_DIST += bench/sync-deliver.sh

check_PROGRAMS += tests/sync/test_sync_http
tests_sync_test_sync_http_SOURCES = tests/sync/test_sync_http.c
tests_sync_test_sync_http_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(SQLITE_CFLAGS) $(CURL_CFLAGS) $(MHD_CFLAGS)
tests_sync_test_sync_http_LDADD = $(SYNC_TEST_LDADD) $(MHD_LIBS) $(CURL_LIBS)
TESTS += tests/sync/test_sync_http
