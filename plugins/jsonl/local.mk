# plugins/jsonl: the JSON Lines source (plain, gzip, directories).
if BUILD_PLUGIN_JSONL
pkglib_LTLIBRARIES += plugins/jsonl/jsonl.la
plugins_jsonl_jsonl_la_SOURCES = plugins/jsonl/jsonl.c
plugins_jsonl_jsonl_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(ZLIB_CFLAGS)
# -module spelled out: automake checks for it literally to allow a non-lib name.
plugins_jsonl_jsonl_la_LDFLAGS = -module $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_jsonl_jsonl_la_LIBADD = $(JANSSON_LIBS) $(ZLIB_LIBS)
endif
