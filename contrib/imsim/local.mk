# contrib/imsim: the local Tencent Cloud IM emulator, and the shared spec-rules
# module it has in common with the runner (src/imrules.c).
src_libimcore_la_SOURCES += src/imrules.c src/imrules.h src/imval.c src/imval.h src/jsonout.c src/jsonout.h

bin_PROGRAMS += immigrate-imsim
immigrate_imsim_SOURCES = \
	contrib/imsim/main.c \
	contrib/imsim/sim.h \
	contrib/imsim/options.c contrib/imsim/options.h \
	contrib/imsim/server.c contrib/imsim/server.h \
	contrib/imsim/reply.c contrib/imsim/reply.h \
	contrib/imsim/ratelimit.c contrib/imsim/ratelimit.h \
	contrib/imsim/faults.c contrib/imsim/faults.h \
	contrib/imsim/stats.c contrib/imsim/stats.h \
	contrib/imsim/state.c contrib/imsim/state.h \
	contrib/imsim/callback.c contrib/imsim/callback.h \
	contrib/imsim/api.c contrib/imsim/api.h \
	contrib/imsim/api_account.c \
	contrib/imsim/api_profile.c \
	contrib/imsim/api_sns.c \
	contrib/imsim/api_msg.c \
	contrib/imsim/api_group.c \
	contrib/imsim/api_group_msg.c \
	contrib/imsim/inspect.c contrib/imsim/inspect.h
immigrate_imsim_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(SQLITE_CFLAGS) $(MHD_CFLAGS) $(CURL_CFLAGS) \
	$(CRYPTO_CFLAGS)
immigrate_imsim_LDADD = src/libimcore.la $(JANSSON_LIBS) $(SQLITE_LIBS) $(MHD_LIBS) $(CURL_LIBS) \
	$(CRYPTO_LIBS) -lpthread

check_PROGRAMS += tests/imsim/test_imrules tests/imsim/mksig
tests_imsim_test_imrules_SOURCES = tests/imsim/test_imrules.c
tests_imsim_test_imrules_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
tests_imsim_test_imrules_LDADD = src/libimcore.la $(JANSSON_LIBS)
TESTS += tests/imsim/test_imrules
check_PROGRAMS += tests/imsim/test_pacing
tests_imsim_test_pacing_SOURCES = tests/imsim/test_pacing.c contrib/imsim/ratelimit.c contrib/imsim/faults.c
tests_imsim_test_pacing_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/contrib/imsim
tests_imsim_test_pacing_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
tests_imsim_test_pacing_LDADD = src/libimcore.la $(JANSSON_LIBS)
TESTS += tests/imsim/test_pacing
# mksig: signs UserSigs for the conformance tests (key from a file, never argv).
tests_imsim_mksig_SOURCES = tests/imsim/mksig.c
tests_imsim_mksig_CFLAGS = $(AM_CFLAGS)
tests_imsim_mksig_LDADD = src/libimcore.la

# The conformance suite: each script drives a fresh emulator over HTTP(S).
IMSIM_TESTS = \
	tests/imsim/auth.sh \
	tests/imsim/accounts.sh \
	tests/imsim/sns.sh \
	tests/imsim/messages.sh \
	tests/imsim/groups.sh \
	tests/imsim/ratelimit.sh \
	tests/imsim/faults.sh \
	tests/imsim/callbacks.sh \
	tests/imsim/persist.sh \
	tests/imsim/tls.sh
TESTS += $(IMSIM_TESTS)
EXTRA_DIST += $(IMSIM_TESTS) tests/imsim/lib-imsim.sh


check_PROGRAMS += tests/imsim/hooksink
tests_imsim_hooksink_SOURCES = tests/imsim/hooksink.c
tests_imsim_hooksink_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(MHD_CFLAGS)
tests_imsim_hooksink_LDADD = $(JANSSON_LIBS) $(MHD_LIBS) -lpthread

dist_man_MANS += doc/immigrate-imsim.1
EXTRA_DIST += bench/imsim-throughput.sh
