#!/bin/sh
# Emulator conformance: accounts and profiles (spec §3).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/imsim/lib-imsim.sh"
imsim_start || { echo "Bail out! cannot start immigrate-imsim"; exit 1; }

is "$(call_code im_open_login_svc/account_import '{"UserID":"alice","Nick":"Alice","FaceUrl":"http://x/a.png"}')" 0 \
	"account_import"
is "$(call_code im_open_login_svc/account_import '{"UserID":"alice"}')" 0 "importing again is harmless"
is "$(call_code im_open_login_svc/account_import '{"Identifier":"legacy"}')" 0 "legacy Identifier accepted [U]"
is "$(call_code im_open_login_svc/account_import '{}')" 70402 "UserID missing: 70402"
is "$(call_code im_open_login_svc/account_import '{"UserID":7}')" 60015 "UserID not a string: 60015"
is "$(call_code im_open_login_svc/account_import '{"UserID":"012345678901234567890123456789012"}')" 70402 \
	"33-byte UserID: 70402"
long=$(printf '%0501d' 0)
is "$(call_code im_open_login_svc/account_import "{\"UserID\":\"x\",\"Nick\":\"$long\"}")" 40601 "501-byte Nick: 40601"

a=$(call im_open_login_svc/multiaccount_import '{"Accounts":["bob","carol","0123456789012345678901234567890123"]}')
is "$(jqr '.ErrorCode' "$a")" 0 "multiaccount_import, old form"
is "$(jqr '.FailAccounts|join(",")' "$a")" "0123456789012345678901234567890123" "FailAccounts names the bad account"
a=$(call im_open_login_svc/multiaccount_import '{"AccountList":[{"UserID":"dave","Nick":"D"},{"UserID":"erin"}]}')
is "$(jqr '.ErrorCode, (.FailAccounts|length)' "$a" | tr '\n' ' ')" "0 0 " "multiaccount_import, AccountList form"
many=$(jq -cn '{Accounts: [range(101) | "u\(.)"]}')
is "$(call_code im_open_login_svc/multiaccount_import "$many")" 70206 "101 accounts: 70206"
is "$(call_code im_open_login_svc/multiaccount_import '{"Accounts":["a"],"AccountList":[]}')" 70402 "both forms: 70402"

a=$(call im_open_login_svc/account_check '{"CheckItem":[{"UserID":"alice"},{"UserID":"nobody"}]}')
is "$(jqr '[.ResultItem[] | .UserID + ":" + .AccountStatus + ":" + (.ResultCode|tostring)] | join(" ")' "$a")" \
	"alice:Imported:0 nobody:NotImported:0" "account_check ResultItem"

is "$(call_code profile/portrait_set '{"From_Account":"alice","ProfileItem":[{"Tag":"Tag_Profile_IM_Gender","Value":"Gender_Type_Female"},{"Tag":"Tag_Profile_IM_Level","Value":3},{"Tag":"Tag_Profile_Custom_Hobby","Value":"chess"}]}')" \
	0 "portrait_set standard and custom tags"
is "$(call_code profile/portrait_set '{"From_Account":"ghost","ProfileItem":[{"Tag":"Tag_Profile_IM_Nick","Value":"x"}]}')" \
	40003 "portrait_set of a missing account: 40003"
is "$(call_code profile/portrait_set '{"From_Account":"alice","ProfileItem":[{"Tag":"Tag_Profile_IM_Nope","Value":"x"}]}')" \
	40009 "unknown tag: 40009"
is "$(call_code profile/portrait_set '{"From_Account":"alice","ProfileItem":[{"Tag":"Tag_Profile_IM_Level","Value":"3"}]}')" \
	40610 "wrong value type: 40610"
is "$(call_code profile/portrait_set '{"From_Account":"alice","ProfileItem":[{"Tag":"Tag_Profile_IM_AllowType","Value":"Whatever"}]}')" \
	40605 "value outside the allowed set: 40605"
is "$(call_code profile/portrait_set '{"From_Account":"alice","ProfileItem":[{"Tag":"Tag_Profile_IM_Nick","Value":"ok"},{"Tag":"Tag_Profile_IM_SelfSignature","Value":"'"$long"'"}]}')" \
	40601 "501-byte signature: 40601"

a=$(call profile/portrait_get '{"To_Account":["alice","ghost"],"TagList":["Tag_Profile_IM_Nick","Tag_Profile_IM_Image","Tag_Profile_IM_Level","Tag_Profile_Custom_Hobby"]}')
is "$(jqr '.UserProfileItem[0].ProfileItem | map(.Tag + "=" + (.Value|tostring)) | join(" ")' "$a")" \
	"Tag_Profile_IM_Nick=Alice Tag_Profile_IM_Image=http://x/a.png Tag_Profile_IM_Level=3 Tag_Profile_Custom_Hobby=chess" \
	"portrait_get returns import Nick/FaceUrl as profile tags, and set values (all-or-nothing set)"
is "$(jqr '.UserProfileItem[1] | (.ResultCode|tostring) + " " + (has("ProfileItem")|tostring)' "$a")" "40003 false" \
	"missing account: item ResultCode 40003 without ProfileItem"
is "$(jqr '.Fail_Account|join(",")' "$a")" ghost "Fail_Account lists it"
a=$(call profile/portrait_get '{"To_Account":["alice"],"TagList":["Tag_Profile_IM_Nick"]}')
is "$(jqr 'has("Fail_Account")' "$a")" false "no Fail_Account when nothing failed"
is "$(call_code profile/portrait_get '{"TagList":["Tag_Profile_IM_Nick"]}')" 40002 "To_Account missing: 40002"

a=$(call im_open_login_svc/account_delete '{"DeleteItem":[{"UserID":"erin"},{"UserID":"ghost"}]}')
is "$(jqr '[.ResultItem[] | .UserID + ":" + (.ResultCode|tostring)] | join(" ")' "$a")" "erin:0 ghost:70107" \
	"account_delete per-item results"
is "$(jqr '.ResultItem[1].ResultInfo' "$a")" "Err_TLS_PT_Open_Login_Account_Not_Exist" "missing account ResultInfo"
# The dump is streamed a page (256 rows) at a time: a state of several pages comes back
# whole and in order.
for p in 0 1 2 3 4 5; do
	call im_open_login_svc/multiaccount_import "$(jq -cn --argjson p $p '{Accounts: [range(100) | "bulk\($p * 100 + .)"]}')" >/dev/null
done
dump=$(curl -s "$SIM_URL/_sim/dump")
is "$(jqr '[.accounts[].user_id | select(startswith("bulk"))] | length' "$dump")" 600 "a dump over several pages holds every row"
is "$(jqr 'keys | join(",")' "$dump")" "accounts,blacklist,c2c_msgs,friends,group_msgs,groups,members,profiles" \
	"and every table"
is "$(jqr '[.accounts[].user_id | select(startswith("bulk"))] == [range(600) | "bulk\(.)"]' "$dump")" true \
	"rows come in insertion order"
is "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$SIM_URL/_sim/dump")" 405 "POST /_sim/dump: 405"
imsim_stop
done_testing
