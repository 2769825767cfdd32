# Two-way sync daemon (issue 8): `immigrate sync JOB`, callback authentication,
# the durable outbox, the generic webhook plugin's tests and the sync benchmark.

# libimsync.la carries the daemon's building blocks so unit tests link them alone.
noinst_LTLIBRARIES += src/libimsync.la
src_libimsync_la_SOURCES = \
	src/callback_sign.c src/callback_sign.h
src_libimsync_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(SQLITE_CFLAGS) $(CRYPTO_CFLAGS) $(MHD_CFLAGS)
src_libimsync_la_LIBADD = $(JANSSON_LIBS) $(SQLITE_LIBS) $(CRYPTO_LIBS) $(MHD_LIBS) -lpthread

immigrate_SOURCES += src/callback_sign.c src/callback_sign.h

check_PROGRAMS += tests/sync/test_callback_sign
tests_sync_test_callback_sign_SOURCES = tests/sync/test_callback_sign.c
tests_sync_test_callback_sign_CFLAGS = $(AM_CFLAGS) $(CRYPTO_CFLAGS)
tests_sync_test_callback_sign_LDADD = src/libimsync.la
TESTS += tests/sync/test_callback_sign

src_libimsync_la_SOURCES += src/outbox.c src/outbox.h
immigrate_SOURCES += src/outbox.c src/outbox.h
check_PROGRAMS += tests/sync/test_outbox
tests_sync_test_outbox_SOURCES = tests/sync/test_outbox.c
tests_sync_test_outbox_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS)
tests_sync_test_outbox_LDADD = src/libimsync.la src/libimcore.la $(SQLITE_LIBS) -lpthread
TESTS += tests/sync/test_outbox
