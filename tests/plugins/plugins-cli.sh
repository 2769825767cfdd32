#!/bin/sh
# `immigrate plugins`: lists good plugins with name, version, streams and
# capabilities, and refused modules with the file and the reason.
. "$top_srcdir/tests/lib.sh"

fixtures="$top_builddir/tests/plugins/.libs"
[ -f "$fixtures/okfixture.so" ] || skip_all "fixture plugins not built"
make_tmpdir

"$IMMIGRATE" plugins --plugin-dir "$fixtures" >"$TMPD/out" 2>"$TMPD/err"
ok $? "immigrate plugins exits 0 even when some modules are refused"
sed 's/^/#   /' "$TMPD/out"

grep -q "^okfixture  *0\.0\.1  *records  *read  *$fixtures/okfixture.so\$" "$TMPD/out"
ok $? "a good plugin: name, version, streams, capabilities, path"
grep -q "^refused  *$fixtures/abi2.so: ABI mismatch: built for plugin ABI 2" "$TMPD/out"
ok $? "a plugin of another ABI is refused, naming the file"
grep -q "^refused  *$fixtures/nosym.so: missing entry symbol immigrate_source_v1" "$TMPD/out"
ok $? "a module without the entry symbol is refused, naming the file"
grep -q "^refused  *$fixtures/small.so: descriptor too small" "$TMPD/out"
ok $? "a too-small descriptor is refused"
grep -q "^refused  *$fixtures/nocalls.so: missing mandatory call next()" "$TMPD/out"
ok $? "a descriptor missing a mandatory call is refused"

# The built plugins come through IMMIGRATE_PLUGIN_PATH (set by tests/lib.sh).
if [ -f "$top_builddir/plugins/jsonl/.libs/jsonl.so" ]; then
	"$IMMIGRATE" plugins --json >"$TMPD/json" 2>/dev/null
	grep -q '"name": "jsonl"' "$TMPD/json" && grep -q '"estimate"' "$TMPD/json"
	ok $? "jsonl is found through IMMIGRATE_PLUGIN_PATH (--json)"
else
	skip "jsonl plugin not built"
fi

"$IMMIGRATE" plugins --bogus >/dev/null 2>&1
is $? 2 "an unknown option is a usage error"

done_testing
