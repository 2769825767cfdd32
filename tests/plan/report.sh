#!/bin/sh
# The HTML report: self-contained, hostile text escaped, and, rendered by headless
# Chromium (Debian package "chromium"), the DOM holds the right numbers.
. "$top_srcdir/tests/lib.sh"
MKREPORT="$top_builddir/tests/plan/mkreport"
[ -x "$MKREPORT" ] || skip_all "tests/plan/mkreport is not built"
make_tmpdir

"$MKREPORT" "$TMPD/stage.db" "$TMPD/report.html" 2>"$TMPD/err"
ok $? "mkreport writes a report"
html="$TMPD/report.html"

# Self-contained: no script, no external resource of any kind.
check "no <script> element" sh -c "! grep -qi '<script' '$html'"
check "no <img>, <link>, <iframe> or <object>" sh -c "! grep -Eqi '<(img|link|iframe|object|embed)[ >]' '$html'"
check "no url() and no http(s) resource" sh -c "! grep -Eqi 'url\\(|(src|href)=\"?https?:' '$html'"
check "a CSP forbids everything but inline style" grep -q "default-src 'none'" "$html"
check "hostile reason escaped" grep -qF "bad field &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more" "$html"
check "hostile raw record escaped" grep -qF "&lt;img src=x onerror=alert(1)&gt;" "$html"
check "a dead letter's native record read from the stage, escaped" grep -qF "&lt;b&gt;from the stage&lt;/b&gt;" "$html"
check "title escaped" grep -qF "Migration report: demo &lt;job&gt;" "$html"
if command -v iconv >/dev/null 2>&1; then
	check "valid UTF-8 although the raw record was not" sh -c "iconv -f UTF-8 -t UTF-8 '$html' >/dev/null"
else
	skip "iconv is not installed"
fi
check "totals in the source" grep -q 'id="total-staged">1,137<' "$html"

# Headless Chromium renders it; the DOM it built has the numbers.
CHROMIUM=""
for c in chromium chromium-browser google-chrome; do
	command -v "$c" >/dev/null 2>&1 && { CHROMIUM=$c; break; }
done
if [ -z "$CHROMIUM" ]; then
	skip "chromium is not installed (Debian package: chromium)"
	done_testing
	exit $?
fi
chrome() {
	timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
		--disable-component-update --disable-sync --no-first-run --user-data-dir="$TMPD/profile" \
		"$@" 2>>"$TMPD/chromium.log"
}
chrome --dump-dom "file://$html" >"$TMPD/dom.html"
ok $? "chromium renders the report"
dom="$TMPD/dom.html"
# Prints the text of the element with id $1 in the rendered DOM.
by_id() { sed -n "s/.*id=\"$1\"[^>]*>\([^<]*\)<.*/\1/p" "$dom" | head -1; }
is "$(by_id total-staged)" "1,137" "DOM: 1,137 records staged"
is "$(by_id total-landed)" "1,122" "DOM: 1,122 landed"
is "$(by_id total-pending)" "10" "DOM: 10 not landed yet"
is "$(by_id total-dead)" "7" "DOM: 7 dead letters"
is "$(by_id plan-floor)" "5.1s" "DOM: plan floor 5.07 s (2 + 2 + 1,010 calls)"
is "$(by_id actual-time)" "15.0s" "DOM: actual load time over two runs"
is "$(by_id verify-missing)" "1" "DOM: verification found 1 missing"
is "$(grep -o '<tr id="kind-c2c_msg"[^>]*><td>[^<]*</td><td[^>]*>[^<]*</td><td class="staged">[^<]*' "$dom" | sed 's/.*>//')" \
	"1,010" "DOM: c2c_msg staged"
is "$(grep -c '<tr id="kind-c2c_msg" class="crit"' "$dom")" 1 "DOM: c2c_msg is on the critical path"
is "$(grep -o '<polyline' "$dom" | wc -l | tr -d ' ')" 4 "DOM: throughput lines for total and 3 kinds"
is "$(grep -o '<rect class="planned"' "$dom" | wc -l | tr -d ' ')" 3 "DOM: planned spans of the 3 kinds"
is "$(grep -o '<rect class="actual"' "$dom" | wc -l | tr -d ' ')" 3 "DOM: actual spans of the 3 kinds"
is "$(grep -ci '<script' "$dom")" 0 "DOM: no script element was created from the data"
is "$(grep -o 'class="dl"' "$dom" | wc -l | tr -d ' ')" 2 "DOM: dead letters in 2 groups"
chrome --screenshot="$TMPD/report.png" --window-size=1200,2400 "file://$html" >/dev/null
ok $? "chromium takes a screenshot"
check "the screenshot is a PNG" sh -c "head -c 8 '$TMPD/report.png' | od -An -c | grep -q 'P   N   G'"
[ -n "${IMMIGRATE_KEEP_REPORT:-}" ] && cp "$html" "$TMPD/report.png" "$IMMIGRATE_KEEP_REPORT/"
done_testing
