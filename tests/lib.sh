# Shared helpers for shell tests (sourced). Tests print TAP.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir

# Plugins built in this tree: every plugins/*/.libs directory, colon-separated.
IMMIGRATE_PLUGIN_PATH=$(ls -d "$top_builddir"/plugins/*/.libs 2>/dev/null | tr '\n' ':' | sed 's/:$//')
export IMMIGRATE_PLUGIN_PATH
: "${IMMIGRATE_SCRIPT_PATH:=$top_srcdir/scripts}"
export IMMIGRATE_SCRIPT_PATH

IMMIGRATE="$top_builddir/immigrate"
IMSIM="$top_builddir/immigrate-imsim"
SHARED="$top_srcdir/../shared"

tap_n=0
tap_fail=0
ok() { # ok COND-EXIT-STATUS DESCRIPTION
	tap_n=$((tap_n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $tap_n - $2"; else echo "not ok $tap_n - $2"; tap_fail=$((tap_fail + 1)); fi
}
check() { # check DESCRIPTION COMMAND...: passes when the command succeeds
	desc=$1; shift
	if "$@"; then ok 0 "$desc"; else ok 1 "$desc"; fi
}
is() { # is GOT WANT DESCRIPTION
	if [ "$1" = "$2" ]; then ok 0 "$3"; else ok 1 "$3"; echo "#      got: '$1'"; echo "#   wanted: '$2'"; fi
}
skip_all() { echo "1..0 # SKIP $1"; exit 0; }
skip() { tap_n=$((tap_n + 1)); echo "ok $tap_n - # SKIP $1"; }
done_testing() { echo "1..$tap_n"; [ "$tap_fail" -eq 0 ]; }

# A private scratch directory removed on exit.
make_tmpdir() {
	TMPD=$(mktemp -d "${TMPDIR:-/tmp}/immigrate-test.XXXXXX")
	trap 'cleanup_tmpdir' EXIT
}
cleanup_tmpdir() {
	[ -n "${CLEANUP_PIDS:-}" ] && kill $CLEANUP_PIDS 2>/dev/null && wait $CLEANUP_PIDS 2>/dev/null
	rm -rf "$TMPD"
}
