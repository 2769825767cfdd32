# Transform side of extract (issue 4): the Lua mapping engine, IM record
# validation, job files, the SQLite stage, the extract pipeline and the check,
# preview and run commands.
#
# libimtransform.la holds the core (the executable and the tests link it);
# it needs src/libimcore.la (imrules, log, secret) after it on the link line,
# and extract.c needs the plugin loader (src/libimplugin.la, or plugin.c/host.c
# in the executable).
noinst_LTLIBRARIES += src/libimtransform.la
src_libimtransform_la_SOURCES = \
	src/stage.c src/stage.h \
	src/imrecord.c src/imrecord.h \
	src/script.c src/script.h src/script_priv.h src/script_lib.c \
	src/job.c src/job.h \
	src/extract.c src/extract.h
src_libimtransform_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(LUA_CFLAGS) $(SQLITE_CFLAGS) $(CRYPTO_CFLAGS)
src_libimtransform_la_LIBADD = $(JANSSON_LIBS) $(LUA_LIBS) $(SQLITE_LIBS) $(CRYPTO_LIBS) -lm

immigrate_SOURCES += src/cmd_check.c src/cmd_preview.c src/cmd_run.c
# libimcore again after libimtransform: static convenience archives resolve left to right.
immigrate_LDADD += src/libimtransform.la src/libimcore.la
