# plugins/sendbird: the Sendbird source plugin (export files and Platform API pull).
# Its mapping script is scripts/sendbird.lua; its tests live in tests/sendbird/.
SENDBIRD_SCANNER = plugins/sendbird/json_array_stream.c plugins/sendbird/json_array_stream.h
SENDBIRD_SOURCES = $(SENDBIRD_SCANNER) \
	plugins/sendbird/sendbird.c plugins/sendbird/sendbird_internal.h \
	plugins/sendbird/export_input.c plugins/sendbird/export_input.h \
	plugins/sendbird/export_source.c \
	plugins/sendbird/pull_source.c plugins/sendbird/sb_api.c plugins/sendbird/sb_api.h
SENDBIRD_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(ARCHIVE_CFLAGS)
SENDBIRD_LIBS = $(JANSSON_LIBS) $(ARCHIVE_LIBS)

if BUILD_PLUGIN_SENDBIRD
pkglib_LTLIBRARIES += plugins/sendbird/sendbird.la
plugins_sendbird_sendbird_la_SOURCES = $(SENDBIRD_SOURCES)
plugins_sendbird_sendbird_la_CFLAGS = $(SENDBIRD_CFLAGS)
# -module spelled out: automake checks for it literally to allow a non-lib name.
plugins_sendbird_sendbird_la_LDFLAGS = -module $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_sendbird_sendbird_la_LIBADD = $(SENDBIRD_LIBS)

# A test driver linking the plugin's sources directly, with a host of its own
# (logging to stderr, HTTP through libcurl), printing records as JSON lines.
check_PROGRAMS += tests/sendbird/sb-dump
tests_sendbird_sb_dump_SOURCES = tests/sendbird/sb-dump.c $(SENDBIRD_SOURCES)
tests_sendbird_sb_dump_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/sendbird
tests_sendbird_sb_dump_CFLAGS = $(SENDBIRD_CFLAGS) $(CURL_CFLAGS)
tests_sendbird_sb_dump_LDADD = $(SENDBIRD_LIBS) $(CURL_LIBS)

# A fake of the Sendbird Platform API endpoints, for pull mode.
check_PROGRAMS += tests/sendbird/sb-fake
tests_sendbird_sb_fake_SOURCES = tests/sendbird/sb-fake.c
tests_sendbird_sb_fake_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(MHD_CFLAGS)
tests_sendbird_sb_fake_LDADD = $(JANSSON_LIBS) $(MHD_LIBS)

TESTS += tests/sendbird/export.sh tests/sendbird/sample.sh tests/sendbird/pull.sh \
	tests/sendbird/conformance.sh tests/sendbird/e2e.sh tests/sendbird/script.sh
endif
EXTRA_DIST += tests/sendbird/export.sh tests/sendbird/sample.sh tests/sendbird/pull.sh \
	tests/sendbird/conformance.sh tests/sendbird/e2e.sh tests/sendbird/script.sh \
	tests/sendbird/fixtures tests/sendbird/conformance-data

dist_pkgscripts_DATA += scripts/sendbird.lua
EXTRA_DIST += doc/sendbird.md tests/sendbird/bench.sh

check_PROGRAMS += tests/sendbird/test_json_array_stream
tests_sendbird_test_json_array_stream_SOURCES = tests/sendbird/test_json_array_stream.c $(SENDBIRD_SCANNER)
tests_sendbird_test_json_array_stream_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests -I$(top_srcdir)/plugins/sendbird
TESTS += tests/sendbird/test_json_array_stream
