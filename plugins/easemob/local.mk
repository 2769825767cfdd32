# plugins/easemob: the Easemob / Agora Chat source plugin (history files and
# archived callbacks); its mapping script is scripts/easemob.lua, its tests live
# in tests/easemob/, its documentation in doc/easemob.md.
if BUILD_PLUGIN_EASEMOB
EASEMOB_SOURCES = \
	plugins/easemob/easemob.c \
	plugins/easemob/em_inputs.c plugins/easemob/em_inputs.h \
	plugins/easemob/em_lines.c plugins/easemob/em_lines.h \
	plugins/easemob/em_options.c plugins/easemob/em_state.h \
	plugins/easemob/em_pull.c plugins/easemob/em_pull.h \
	plugins/easemob/em_record.c plugins/easemob/em_record.h \
	plugins/easemob/em_security.c plugins/easemob/em_security.h \
	plugins/easemob/em_seen.c plugins/easemob/em_seen.h \
	plugins/easemob/em_webhook.c

pkglib_LTLIBRARIES += plugins/easemob/easemob.la
plugins_easemob_easemob_la_SOURCES = $(EASEMOB_SOURCES)
plugins_easemob_easemob_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(CRYPTO_CFLAGS) $(ZLIB_CFLAGS)
# -module spelled out: automake checks for it before $(PLUGIN_LDFLAGS) expands.
plugins_easemob_easemob_la_LDFLAGS = -module $(PLUGIN_LDFLAGS)
plugins_easemob_easemob_la_LIBADD = $(JANSSON_LIBS) $(CRYPTO_LIBS) $(ZLIB_LIBS)

# A driver that loads the built module with the runner's host and prints what it
# yields as JSON Lines (tests/easemob/*.sh run it).
check_PROGRAMS += tests/easemob/em-read
tests_easemob_em_read_SOURCES = tests/easemob/em-read.c
tests_easemob_em_read_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
tests_easemob_em_read_LDADD = src/libimplugin.la src/libimcore.la $(JANSSON_LIBS) $(LTDL_LIBS)

# A fake of the Easemob REST endpoints the pull mode reads (tests/easemob/pull.sh).
check_PROGRAMS += tests/easemob/em-fake
tests_easemob_em_fake_SOURCES = tests/easemob/em-fake.c
tests_easemob_em_fake_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(MHD_CFLAGS)
tests_easemob_em_fake_LDADD = $(JANSSON_LIBS) $(MHD_LIBS)

# Runs a mapping script over em-read's output with the runner's Lua engine and
# record validator (tests/easemob/map.sh).
check_PROGRAMS += tests/easemob/em-map
tests_easemob_em_map_SOURCES = tests/easemob/em-map.c
tests_easemob_em_map_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(LUA_CFLAGS)
tests_easemob_em_map_LDADD = src/libimtransform.la src/libimcore.la $(JANSSON_LIBS) $(LUA_LIBS)

# Unit tests of the pieces.
check_PROGRAMS += tests/easemob/test_em_units
tests_easemob_test_em_units_SOURCES = tests/easemob/test_em_units.c \
	plugins/easemob/em_lines.c plugins/easemob/em_record.c \
	plugins/easemob/em_security.c plugins/easemob/em_seen.c
tests_easemob_test_em_units_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests -I$(top_srcdir)/plugins/easemob
tests_easemob_test_em_units_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(CRYPTO_CFLAGS) $(ZLIB_CFLAGS)
tests_easemob_test_em_units_LDADD = $(JANSSON_LIBS) $(CRYPTO_LIBS) $(ZLIB_LIBS)
TESTS += tests/easemob/test_em_units

EASEMOB_SHELL_TESTS = tests/easemob/read.sh tests/easemob/map.sh tests/easemob/conformance.sh \
	tests/easemob/e2e.sh tests/easemob/pull.sh tests/easemob/webhook.sh
TESTS += $(EASEMOB_SHELL_TESTS)
endif
EXTRA_DIST += tests/easemob/read.sh tests/easemob/map.sh tests/easemob/conformance.sh tests/easemob/e2e.sh \
	tests/easemob/pull.sh tests/easemob/webhook.sh \
	tests/easemob/fixtures tests/easemob/expected tests/easemob/conformance-data

EXTRA_DIST += doc/easemob.md

# The default mapping script, found by bare name (script = "easemob").
dist_pkgscripts_DATA += scripts/easemob.lua
