# plugins/jsonl: the JSON Lines source (plain, gzip, directories).
if BUILD_PLUGIN_JSONL
pkglib_LTLIBRARIES += plugins/jsonl/jsonl.la
plugins_jsonl_jsonl_la_SOURCES = plugins/jsonl/jsonl.c plugins/jsonl/lineparse.c plugins/jsonl/lineparse.h \
	plugins/jsonl/linescan.c plugins/jsonl/linescan.h plugins/jsonl/jsonlex.h
plugins_jsonl_jsonl_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(ZLIB_CFLAGS)
# -module spelled out: automake checks for it literally to allow a non-lib name.
plugins_jsonl_jsonl_la_LDFLAGS = -module $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_jsonl_jsonl_la_LIBADD = $(JANSSON_LIBS) $(ZLIB_LIBS)
# The fast line parser against Jansson (differential).
check_PROGRAMS += tests/transform/test_jsonl_lineparse
tests_transform_test_jsonl_lineparse_SOURCES = tests/transform/test_jsonl_lineparse.c plugins/jsonl/lineparse.c plugins/jsonl/jsonlex.h \
	plugins/jsonl/lineparse.h
tests_transform_test_jsonl_lineparse_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests
tests_transform_test_jsonl_lineparse_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
tests_transform_test_jsonl_lineparse_LDADD = $(JANSSON_LIBS) -lm
TESTS += tests/transform/test_jsonl_lineparse
endif
