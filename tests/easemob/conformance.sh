#!/bin/sh
# The easemob plugin through H2's conformance kit: history + signed callback
# archive (dedupe, recalls, a forged line), malformed lines, and a gzip history.
. "$top_srcdir/tests/lib.sh"
kit="$top_builddir/tests/conformance/plugin-conformance"
plugin_dir="$top_builddir/plugins/easemob/.libs"
fixtures="$top_srcdir/tests/easemob/conformance-data"
[ -x "$kit" ] || skip_all "conformance kit not built"
[ -f "$plugin_dir/easemob.so" ] || skip_all "easemob plugin not built"
command -v gzip >/dev/null 2>&1 || skip_all "gzip not installed"
make_tmpdir
EM_TEST_SECRET=s3cret
export EM_TEST_SECRET

# conform DESCRIPTION GOOD BAD GOOD-COUNT BAD-COUNT
conform() {
	out=$($SHELL "$top_srcdir/tests/run-unit.sh" "$kit" --plugin-dir "$plugin_dir" --bad "$5" \
		easemob "$2" "$3" "$4" 2>&1)
	rc=$?
	echo "$out" | sed 's/^/#   /'
	if [ $rc -eq 0 ] && echo "$out" | grep -q '^ok ' && ! echo "$out" | grep -q '^not ok'; then
		ok 0 "$1"
	else
		ok 1 "$1 (exit $rc)"
	fi
}

# 12 history + 2 callback-only messages, 14 roster, 8 muc, 1 read_ack, 1 recall; the forged line.
conform "history + signed callbacks: 38 good, 1 bad" "$fixtures/all.json" "$fixtures/bad-missing.json" 38 1
conform "malformed lines: 2 good, 7 bad" "$fixtures/malformed.json" "$fixtures/bad-secret.json" 2 7
gzip -c "$top_srcdir/tests/easemob/fixtures/history/2024010210.jsonl" >"$TMPD/2024010210.jsonl.gz"
echo '{"history": "2024010210.jsonl.gz"}' >"$TMPD/gz.json"
conform "a gzip history file: 12 good" "$TMPD/gz.json" "$fixtures/bad-missing.json" 12 0

done_testing
