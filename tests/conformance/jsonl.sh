#!/bin/sh
# The jsonl plugin through the conformance kit: a plain file, its gzip twin and
# a directory mixing plain, gzip, empty and ignored files, each with invalid
# lines. With IMMIGRATE_VALGRIND=1 every run is under memcheck (tests/run-unit.sh).
. "$top_srcdir/tests/lib.sh"

kit="$top_builddir/tests/conformance/plugin-conformance"
plugin_dir="$top_builddir/plugins/jsonl/.libs"
fixtures="$top_srcdir/tests/conformance/jsonl-data"
[ -f "$plugin_dir/jsonl.so" ] || skip_all "jsonl plugin not built (--disable-plugin-jsonl)"

# conform DESCRIPTION GOOD BAD GOOD-COUNT BAD-COUNT
conform() {
	out=$($SHELL "$top_srcdir/tests/run-unit.sh" "$kit" --plugin-dir "$plugin_dir" --bad "$5" \
		jsonl "$fixtures/$2" "$fixtures/$3" "$4" 2>&1)
	rc=$?
	echo "$out" | sed 's/^/#   /'
	# Passing means: the kit exited 0, ran something, and no assertion failed.
	if [ $rc -eq 0 ] && echo "$out" | grep -q '^ok ' && ! echo "$out" | grep -q '^not ok'; then
		ok 0 "$1"
	else
		ok 1 "$1 (exit $rc)"
	fi
}

conform "plain file: 17 records, 5 bad lines" plain.json bad-cap.json 17 5
conform "gzip file: same records as the plain file" gz.json bad-nopath.json 17 5
conform "directory: sorted, .gz and plain mixed, others ignored" dir.json bad-missing.json 8 2

# The kit itself must be able to fail: a wrong count is caught.
out=$($SHELL "$top_srcdir/tests/run-unit.sh" "$kit" --plugin-dir "$plugin_dir" \
	jsonl "$fixtures/plain.json" "$fixtures/bad-cap.json" 16 2>&1)
echo "$out" | grep -q '^not ok .*yields 16 good records'
ok $? "the kit reports a wrong record count"

done_testing
