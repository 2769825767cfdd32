# Core tests. Each area lists its own tests in its fragment.
EXTRA_DIST += tests/tap.h tests/run-unit.sh tests/lib.sh

check_PROGRAMS += tests/test_usersig
tests_test_usersig_SOURCES = tests/test_usersig.c
tests_test_usersig_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
tests_test_usersig_LDADD = src/libimcore.la
TESTS += tests/test_usersig

TESTS += tests/cli.sh tests/usersig-cli.sh tests/usersig-official.sh tests/demo.sh
EXTRA_DIST += tests/cli.sh tests/usersig-cli.sh tests/usersig-official.sh tests/demo.sh
