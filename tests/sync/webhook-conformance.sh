#!/bin/sh
# The webhook plugin through the plugin conformance kit. The kit checks readers;
# this plugin serves sync only (webhook + deliver, next() yields nothing), so the
# one assertion it cannot pass is "declares the read capability": every other
# assertion must pass.
. "$top_srcdir/tests/lib.sh"
kit="$top_builddir/tests/conformance/plugin-conformance"
plugin_dir="$top_builddir/plugins/webhook/.libs"
[ -f "$plugin_dir/webhook.so" ] || skip_all "webhook plugin not built (--disable-plugin-webhook)"
[ -x "$kit" ] || skip_all "conformance kit not built"
out=$($SHELL "$top_srcdir/tests/run-unit.sh" "$kit" --plugin-dir "$plugin_dir" webhook \
	"$top_srcdir/tests/sync/conformance/good.json" "$top_srcdir/tests/sync/conformance/bad.json" 0 2>&1)
echo "$out" | sed 's/^/#   /'
echo "$out" | grep -q '^ok .*bad options refused'
ok $? "the kit ran"
is "$(echo "$out" | grep '^not ok' | grep -v -c 'declares the read capability')" 0 \
	"every assertion but the read capability passes"
echo "$out" | grep -q '^ok .*a foreign checkpoint is refused'
ok $? "a foreign checkpoint is refused"
done_testing
