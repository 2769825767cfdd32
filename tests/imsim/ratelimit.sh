#!/bin/sh
# Emulator conformance: per-API token buckets (spec §1.6, §9 item 3).
# --qps-scale 0.0001 makes every bucket hold one token that refills in hours, so the
# outcome does not depend on how fast this machine sends.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/imsim/lib-imsim.sh"
imsim_start --qps-scale 0.0001 || { echo "Bail out! cannot start immigrate-imsim"; exit 1; }

CHECK='{"CheckItem":[{"UserID":"a"}]}'
is "$(call_code im_open_login_svc/account_check "$CHECK")" 0 "the first call passes"
a=$(call im_open_login_svc/account_check "$CHECK")
is "$(jqr '.ActionStatus + " " + (.ErrorCode|tostring)' "$a")" "FAIL 60007" "the second is over the limit: 60007"
status=$(curl -s -o /dev/null -w '%{http_code}' --data-binary "$CHECK" "$SIM_URL/v4/im_open_login_svc/account_check?$(QUERY_OK)")
is "$status" 200 "rate-limit answers are HTTP 200"
is "$(call_code im_open_login_svc/account_import '{"UserID":"a"}')" 0 "buckets are per API"
is "$(call_code im_open_login_svc/account_import '{"UserID":"b"}')" 60007 "... and each one runs dry on its own"
stats=$(curl -s "$SIM_URL/_sim/stats")
is "$(jqr '.rate_limited' "$stats")" 3 "stats count rate-limit rejections"
is "$(jqr '.codes["60007"]' "$stats")" 3 "... and the 60007 answers"
dump=$(curl -s "$SIM_URL/_sim/dump")
is "$(jqr '[.accounts[].user_id] | join(",")' "$dump")" a "a rejected call writes nothing"
imsim_stop

# The default limits let a burst of the documented size through (200/s for account_import).
imsim_start || { echo "Bail out! cannot restart"; exit 1; }
n=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	[ "$(call_code im_open_login_svc/account_import "{\"UserID\":\"u$i\"}")" = 0 ] && n=$((n + 1))
done
is "$n" 10 "ten calls pass under the default 200/s bucket"
imsim_stop
done_testing
