#!/bin/sh
# The Sendbird plugin through H2's conformance kit: the fixtures as directories
# (clean and broken together) and as a zip.
. "${top_srcdir:-.}/tests/lib.sh"
kit="$top_builddir/tests/conformance/plugin-conformance"
plugin_dir="$top_builddir/plugins/sendbird/.libs"
fixtures="$top_srcdir/tests/sendbird/conformance-data"
[ -x "$kit" ] || skip_all "conformance kit not built"
[ -f "$plugin_dir/sendbird.so" ] || skip_all "sendbird plugin not built"
make_tmpdir

# conform DESCRIPTION GOOD BAD GOOD-COUNT BAD-COUNT
conform() {
	out=$($SHELL "$top_srcdir/tests/run-unit.sh" "$kit" --plugin-dir "$plugin_dir" --bad "$5" \
		sendbird "$2" "$3" "$4" 2>&1)
	rc=$?
	echo "$out" | sed 's/^/#   /'
	if [ $rc -eq 0 ] && echo "$out" | grep -q '^ok ' && ! echo "$out" | grep -q '^not ok'; then
		ok 0 "$1"
	else
		ok 1 "$1 (exit $rc)"
	fi
}

# export 21 + window2 2 + broken 5 good; broken: garbage, invalid, mismatched, truncated.
conform "directories, clean and broken: 28 good, 4 bad" "$fixtures/all.json" "$fixtures/bad-missing.json" 28 4
if command -v zip >/dev/null 2>&1; then
	(cd "$top_srcdir/tests/sendbird/fixtures/export" && zip -q -X "$TMPD/export.zip" users.json channels.json messages.json)
	(cd "$top_srcdir/tests/sendbird/fixtures/broken" && zip -q -X "$TMPD/export.zip" messages_truncated.json messages_invalid.json)
	echo "{\"plugin\": \"sendbird\", \"path\": \"$TMPD/export.zip\"}" >"$TMPD/zip.json"
	conform "a zip with clean and broken members: 25 good, 2 bad" "$TMPD/zip.json" "$fixtures/bad-cap.json" 25 2
else
	skip "zip not installed"
fi
# Pull mode against the fake Platform API.
SB_FAKE_TOKEN=conformance-token "$top_builddir/tests/sendbird/sb-fake" \
	--data "$top_srcdir/tests/sendbird/fixtures/api.json" --port-file "$TMPD/port" &
CLEANUP_PIDS=$!
i=0
while [ ! -s "$TMPD/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if [ -s "$TMPD/port" ]; then
	export SB_CONFORMANCE_TOKEN=conformance-token
	echo "{\"app_id\": \"A1\", \"api_base\": \"http://127.0.0.1:$(cat "$TMPD/port")\", \"api_token_env\": \"SB_CONFORMANCE_TOKEN\", \"page_size\": 3, \"rate_per_second\": 10000}" >"$TMPD/pull.json"
	echo '{"app_id": "A1", "api_token_env": "SB_CONFORMANCE_TOKEN", "page_size": 0}' >"$TMPD/pull-bad.json"
	conform "pull mode: 22 good, 1 bad (a channel whose messages fail)" "$TMPD/pull.json" "$TMPD/pull-bad.json" 22 1
else
	ok 1 "the fake Sendbird API did not start"
fi
done_testing
