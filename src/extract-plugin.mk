# Plugin side of extract (issue 4): loading plugins, the host table, `immigrate
# plugins`, the conformance kit and the loader's fixture plugins.

# plugin.c and host.c go straight into the executable (the emulator needs neither);
# libimplugin.la carries the same sources for test programs, linked before
# libimcore.la: `src/libimplugin.la src/libimcore.la`.
immigrate_SOURCES += \
	src/plugin.c src/plugin.h \
	src/host.c src/host.h \
	src/cmd_plugins.c

noinst_LTLIBRARIES += src/libimplugin.la
src_libimplugin_la_SOURCES = src/plugin.c src/plugin.h src/host.c src/host.h
src_libimplugin_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(CURL_CFLAGS)
src_libimplugin_la_LIBADD = $(JANSSON_LIBS) $(CURL_LIBS) $(LTDL_LIBS)

# The conformance kit (tests/conformance/plugin-conformance.c) and its jsonl run.
check_PROGRAMS += tests/conformance/plugin-conformance
tests_conformance_plugin_conformance_SOURCES = tests/conformance/plugin-conformance.c
tests_conformance_plugin_conformance_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests
tests_conformance_plugin_conformance_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
tests_conformance_plugin_conformance_LDADD = src/libimplugin.la src/libimcore.la
TESTS += tests/conformance/jsonl.sh
EXTRA_DIST += tests/conformance/jsonl.sh tests/conformance/jsonl
