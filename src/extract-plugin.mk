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
EXTRA_DIST += tests/conformance/jsonl.sh tests/conformance/jsonl-data

# Loader fixture plugins: built only for `make check`, never installed.
check_LTLIBRARIES += tests/plugins/okfixture.la
tests_plugins_okfixture_la_SOURCES = tests/plugins/fixture.c
tests_plugins_okfixture_la_CPPFLAGS = $(AM_CPPFLAGS) -DFIXTURE_OK
tests_plugins_okfixture_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
tests_plugins_okfixture_la_LDFLAGS = -module -avoid-version -rpath /nowhere $(AM_LDFLAGS)
check_LTLIBRARIES += tests/plugins/abi2.la
tests_plugins_abi2_la_SOURCES = tests/plugins/fixture.c
tests_plugins_abi2_la_CPPFLAGS = $(AM_CPPFLAGS) -DFIXTURE_ABI2
tests_plugins_abi2_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
tests_plugins_abi2_la_LDFLAGS = -module -avoid-version -rpath /nowhere $(AM_LDFLAGS)
check_LTLIBRARIES += tests/plugins/nosym.la
tests_plugins_nosym_la_SOURCES = tests/plugins/fixture.c
tests_plugins_nosym_la_CPPFLAGS = $(AM_CPPFLAGS) -DFIXTURE_NOSYM
tests_plugins_nosym_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
tests_plugins_nosym_la_LDFLAGS = -module -avoid-version -rpath /nowhere $(AM_LDFLAGS)
check_LTLIBRARIES += tests/plugins/badabi.la
tests_plugins_badabi_la_SOURCES = tests/plugins/fixture.c
tests_plugins_badabi_la_CPPFLAGS = $(AM_CPPFLAGS) -DFIXTURE_BADABI
tests_plugins_badabi_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
tests_plugins_badabi_la_LDFLAGS = -module -avoid-version -rpath /nowhere $(AM_LDFLAGS)
check_LTLIBRARIES += tests/plugins/small.la
tests_plugins_small_la_SOURCES = tests/plugins/fixture.c
tests_plugins_small_la_CPPFLAGS = $(AM_CPPFLAGS) -DFIXTURE_SMALL
tests_plugins_small_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
tests_plugins_small_la_LDFLAGS = -module -avoid-version -rpath /nowhere $(AM_LDFLAGS)
check_LTLIBRARIES += tests/plugins/nocalls.la
tests_plugins_nocalls_la_SOURCES = tests/plugins/fixture.c
tests_plugins_nocalls_la_CPPFLAGS = $(AM_CPPFLAGS) -DFIXTURE_NOCALLS
tests_plugins_nocalls_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
tests_plugins_nocalls_la_LDFLAGS = -module -avoid-version -rpath /nowhere $(AM_LDFLAGS)
check_LTLIBRARIES += tests/plugins/caps.la
tests_plugins_caps_la_SOURCES = tests/plugins/fixture.c
tests_plugins_caps_la_CPPFLAGS = $(AM_CPPFLAGS) -DFIXTURE_CAPS
tests_plugins_caps_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
tests_plugins_caps_la_LDFLAGS = -module -avoid-version -rpath /nowhere $(AM_LDFLAGS)

check_PROGRAMS += tests/plugins/test_plugin_load
tests_plugins_test_plugin_load_SOURCES = tests/plugins/test_plugin_load.c
tests_plugins_test_plugin_load_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests
tests_plugins_test_plugin_load_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
tests_plugins_test_plugin_load_LDADD = src/libimplugin.la src/libimcore.la
TESTS += tests/plugins/test_plugin_load
TESTS += tests/plugins/plugins-cli.sh
EXTRA_DIST += tests/plugins/plugins-cli.sh

check_PROGRAMS += tests/plugins/test_jsonl
tests_plugins_test_jsonl_SOURCES = tests/plugins/test_jsonl.c
tests_plugins_test_jsonl_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests
tests_plugins_test_jsonl_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(ZLIB_CFLAGS)
tests_plugins_test_jsonl_LDADD = src/libimplugin.la src/libimcore.la $(JANSSON_LIBS) $(ZLIB_LIBS)
TESTS += tests/plugins/test_jsonl

check_PROGRAMS += tests/plugins/test_host
tests_plugins_test_host_SOURCES = tests/plugins/test_host.c
tests_plugins_test_host_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests
tests_plugins_test_host_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(MHD_CFLAGS)
tests_plugins_test_host_LDADD = src/libimplugin.la src/libimcore.la $(JANSSON_LIBS) $(MHD_LIBS)
TESTS += tests/plugins/test_host
