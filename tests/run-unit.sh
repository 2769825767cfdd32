#!/bin/sh
# Runs one C unit test program. With IMMIGRATE_VALGRIND=1 (and valgrind present)
# the program runs under memcheck and any leak or error fails the test.
# libtool wraps uninstalled programs in scripts, hence --mode=execute.
. "${top_srcdir:-.}/tests/lib.sh"
prog=$1; shift
if [ "${IMMIGRATE_VALGRIND:-0}" = 1 ] && [ -n "$VALGRIND" ]; then
	exec "$top_builddir/libtool" --mode=execute "$VALGRIND" -q --error-exitcode=99 \
		--leak-check=full --errors-for-leak-kinds=definite,indirect \
		"$prog" "$@"
fi
exec "$prog" "$@"
