# The core: one convenience library shared by the runner and the emulator, and the
# immigrate executable. Areas add their sources to these variables in their own
# fragments (src/*.mk) or here.
noinst_LTLIBRARIES += src/libimcore.la
src_libimcore_la_SOURCES = \
	src/log.c src/log.h \
	src/secret.c src/secret.h \
	src/usersig.c src/usersig.h
src_libimcore_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(CRYPTO_CFLAGS) $(ZLIB_CFLAGS)
src_libimcore_la_LIBADD = $(JANSSON_LIBS) $(CRYPTO_LIBS) $(ZLIB_LIBS)

bin_PROGRAMS += immigrate
immigrate_SOURCES = \
	src/main.c src/commands.h \
	src/cmd_usersig.c \
	src/cmd_common.c src/cmd_common.h
immigrate_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(CURL_CFLAGS) $(LUA_CFLAGS) $(SQLITE_CFLAGS) \
	$(CRYPTO_CFLAGS) $(MHD_CFLAGS) $(ARCHIVE_CFLAGS)
immigrate_LDADD = src/libimcore.la $(JANSSON_LIBS) $(CURL_LIBS) $(LUA_LIBS) $(SQLITE_LIBS) \
	$(CRYPTO_LIBS) $(ZLIB_LIBS) $(MHD_LIBS) $(ARCHIVE_LIBS) $(LTDL_LIBS)
# Plugins resolve nothing from the executable, so it exports nothing to them.

immigrateinclude_HEADERS += include/immigrate/source.h
EXTRA_DIST += include/immigrate/immigrate-plugin.pc.in
