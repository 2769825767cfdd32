#!/bin/sh
# Emulator conformance: the REST call convention (spec §1.1, §1.4, §2.3, §9 items 1-4).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/imsim/lib-imsim.sh"

imsim_start -v || { echo "Bail out! cannot start immigrate-imsim"; exit 1; }
call im_open_login_svc/account_import '{"UserID":"alice"}' >/dev/null

Q="identifier=$ADMIN&usersig=$SIG&random=1&contenttype=json"
is "$(code "$(rest "/v4/nosuch/command?sdkappid=$SDKAPPID&$Q" '{}')")" 60009 "unknown service/command: 60009"
is "$(code "$(rest "/v4/openim/importmsg/extra?sdkappid=$SDKAPPID&$Q" '{}')")" 60009 "extra path segment: 60009"
is "$(code "$(curl -s "$SIM_URL/v4/openim/importmsg?sdkappid=$SDKAPPID&$Q")")" 60002 "GET instead of POST: 60002"
is "$(code "$(rest "/v4/im_open_login_svc/account_check?$Q" '{}')")" 60012 "sdkappid missing: 60012"
is "$(code "$(rest "/v4/im_open_login_svc/account_check?sdkappid=abc&$Q" '{}')")" 60006 "sdkappid not a number: 60006"
is "$(code "$(rest "/v4/im_open_login_svc/account_check?sdkappid=$SDKAPPID&usersig=$SIG" '{}')")" 60004 \
	"identifier missing: 60004"
is "$(code "$(rest "/v4/im_open_login_svc/account_check?sdkappid=$SDKAPPID&identifier=$ADMIN&usersig=" '{}')")" \
	70002 "empty UserSig: 70002"
is "$(code "$(rest "/v4/im_open_login_svc/account_check?sdkappid=$SDKAPPID&identifier=$ADMIN&usersig=abc*-_" '{}')")" \
	70003 "undecodable UserSig: 70003"

sig_url() { # sig_url SIG [SDKAPPID] [IDENTIFIER]
	echo "/v4/im_open_login_svc/account_check?sdkappid=${2:-$SDKAPPID}&identifier=${3:-$ADMIN}&usersig=$1&random=7"
}
CHECK='{"CheckItem":[{"UserID":"alice"}]}'
expired=$("$MKSIG" "$TMPD/key" "$SDKAPPID" "$ADMIN" 1000000000 100)
is "$(code "$(rest "$(sig_url "$expired")" "$CHECK")")" 70001 "expired UserSig: 70001"
other_id=$("$MKSIG" "$TMPD/key" "$SDKAPPID" bob)
is "$(code "$(rest "$(sig_url "$other_id")" "$CHECK")")" 70013 "UserSig of another identifier: 70013"
other_app=$("$MKSIG" "$TMPD/key" 1400000001 "$ADMIN")
is "$(code "$(rest "$(sig_url "$other_app")" "$CHECK")")" 70014 "UserSig of another SDKAppID: 70014"
printf 'another-key\n' >"$TMPD/key2"; chmod 600 "$TMPD/key2"
wrong_key=$("$MKSIG" "$TMPD/key2" "$SDKAPPID" "$ADMIN")
is "$(code "$(rest "$(sig_url "$wrong_key")" "$CHECK")")" 70009 "UserSig made with another key: 70009"
is "$(code "$(rest "$(sig_url "$other_app" 1400000001)" "$CHECK")")" 60006 "SDKAppID not served here: 60006"
alice_sig=$("$MKSIG" "$TMPD/key" "$SDKAPPID" alice)
is "$(code "$(rest "$(sig_url "$alice_sig" "$SDKAPPID" alice)" "$CHECK")")" 60010 "identifier not an admin: 60010"
# The official Node.js string for V1 (spec §2.5) decodes; its validity ended in 2024.
V1='eJyrVgrxCdYrSy1SslIy0jNQ0gHzM1NS80oy0zLBwhWZiflZpXlQqeKU7MSCgswUJStDEwMogMiUZOamKlkZmqOKplYUZBaBxE1NTY3gosWZ6UpWSj5ljuYp*p7l5unBxXnF2WVhVU4uAf7Ozi5JpX7O5SbuHuUhzgZJmQXaTia2SrUAohcx8g__'
is "$(code "$(rest "$(sig_url "$V1" 1400000000 xiaojun)" "$CHECK")")" 70001 "official Node V1 UserSig decodes (expired: 70001)"
pct=$(printf '%s' "$SIG" | sed 's/\*/%2A/g; s/-/%2D/g; s/_/%5F/g')
is "$(code "$(rest "$(sig_url "$pct")" "$CHECK")")" 0 "percent-encoded query parameters are decoded"
is "$(code "$(rest "/v4/im_open_login_svc/account_check?sdkappid=$SDKAPPID&$Q&contenttype=xml" "$CHECK")")" 0 \
	"first contenttype wins" # MHD keeps the first of repeated parameters
is "$(code "$(rest "/v4/im_open_login_svc/account_check?sdkappid=$SDKAPPID&identifier=$ADMIN&usersig=$SIG&random=99999999999" "$CHECK")")" \
	60002 "random beyond uint32: 60002"

is "$(call_code im_open_login_svc/account_check '')" 60003 "empty body: 60003"
is "$(call_code im_open_login_svc/account_check '{"CheckItem":')" 60003 "bad JSON, login service: 60003"
is "$(call_code openim/importmsg '{"a":')" 90001 "bad JSON, message service: 90001"
is "$(call_code group_open_http_svc/import_group '[1,2]')" 10011 "non-object JSON, group service: 10011"
status=$(curl -s -o /dev/null -w '%{http_code}' --data-binary '{' "$SIM_URL/v4/openim/importmsg?$(QUERY_OK)")
is "$status" 200 "failures still answer HTTP 200"
a=$(call profile/portrait_set '{}')
is "$(jqr '.ActionStatus + " " + (.ErrorDisplay|type)' "$a")" "FAIL string" "profile answers carry ErrorDisplay"
a=$(call sns/friend_import '{}')
is "$(jqr '.ErrorDisplay|type' "$a")" string "sns answers carry ErrorDisplay"
a=$(call im_open_login_svc/account_check "$CHECK")
is "$(jqr 'has("ErrorDisplay")' "$a")" false "login answers do not"
is "$(jqr '.ActionStatus + "/" + (.ErrorCode|tostring) + "/" + .ErrorInfo' "$a")" "OK/0/" "success envelope"

stats=$(curl -s "$SIM_URL/_sim/stats")
is "$(jqr '.codes["60009"]' "$stats")" 2 "stats count answered codes"
is "$(jqr '.per_api["im_open_login_svc/account_check"] > 5' "$stats")" true "stats count requests per API"
is "$(curl -s -o /dev/null -w '%{http_code}' "$SIM_URL/_sim/nosuch")" 404 "unknown /_sim/ endpoint: 404"
grep -q "$SIG" "$TMPD/imsim.log" && ok 1 "the UserSig never reaches the log" || ok 0 "the UserSig never reaches the log"
imsim_stop
done_testing
