#!/bin/sh
# webhook(): live Easemob callbacks authenticated (md5 signature, freshness) and
# parsed into records, through em-read -w.
. "$top_srcdir/tests/lib.sh"
command -v jq >/dev/null 2>&1 || skip_all "jq not installed"
make_tmpdir
EM_READ="$top_builddir/tests/easemob/em-read"
MODULE="$top_builddir/plugins/easemob/easemob.la"
ARCH="$top_srcdir/tests/easemob/fixtures/callbacks/archive.jsonl"
EM_TEST_SECRET=s3cret
export EM_TEST_SECRET
OPTS='{"callback_secret_env":"EM_TEST_SECRET","appkey":"acme#chat"}'

# hook LINE NOW [OPTIONS]: line LINE of the archive as a webhook at NOW
hook() {
	sed -n "$1p" "$ARCH" >"$TMPD/body"
	"$EM_READ" -w "$TMPD/body" -t "$2" "$MODULE" "${3:-$OPTS}" 2>>"$TMPD/err"
}

out=$(hook 24 1704190000)
is "$(echo "$out" | jq -c '[.rc, (.records | map([.stream, .id, .data._from, .data._to, .data._input]))]')" \
	'["ok",[["messages","2001","erin","dave","webhook"]]]' "a signed message callback: one record, id = msg_id"
out=$(hook 1 1704100001)
is "$(echo "$out" | jq -c '[.rc, (.records | map([.stream, .id]))]')" '["ok",[["roster","acme#chat_cb0001"]]]' \
	"a roster event: id = callId"
out=$(hook 29 1704190040)
is "$(echo "$out" | jq -r .rc)" reject "a forged signature is rejected"
is "$(echo "$out" | jq -r .error)" "webhook: security signature does not match (callId + secret + timestamp)" \
	"with the reason"
out=$(hook 24 1704191000)
is "$(echo "$out" | jq -r .rc)" reject "a callback 1000 s old is rejected (replay)"
check "naming the delay" sh -c "echo '$out' | grep -q 'timestamp is 1000 s away from now (limit 300 s)'"
out=$(hook 24 1704191000 '{"callback_secret_env":"EM_TEST_SECRET","webhook_max_age":3600}')
is "$(echo "$out" | jq -r .rc)" ok "webhook_max_age widens the window"
out=$(hook 30 1704190050)
is "$(echo "$out" | jq -c '[.rc, .records]')" '["ok",[]]' "a login event is accepted and yields nothing"
echo '{"callId":' >"$TMPD/body"
out=$("$EM_READ" -w "$TMPD/body" -t 1704190000 "$MODULE" "$OPTS" 2>>"$TMPD/err")
is "$(echo "$out" | jq -r .rc)" error "a body that is not JSON is an error"
sed -n 24p "$ARCH" >"$TMPD/body"
out=$("$EM_READ" -w "$TMPD/body" -t 1704190000 "$MODULE" "{\"history\":\"$top_srcdir/tests/easemob/fixtures/history\"}" 2>>"$TMPD/err")
is "$(echo "$out" | jq -r .rc)" error "without a callback secret webhooks are refused"
check "saying why" sh -c "echo '$out' | grep -q 'unsigned callbacks are not accepted'"
is "$("$EM_READ" -q "$MODULE" "$OPTS" 2>>"$TMPD/err")" "0 good, 0 bad" \
	"a sync job's options (secret only) open, and reading yields nothing"
ok "$(grep -c s3cret "$TMPD/err")" "the secret is in no message"
done_testing
