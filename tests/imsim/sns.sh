#!/bin/sh
# Emulator conformance: the relationship chain (spec §4).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/imsim/lib-imsim.sh"
imsim_start || { echo "Bail out! cannot start immigrate-imsim"; exit 1; }
call im_open_login_svc/multiaccount_import '{"Accounts":["a","b","c","d","e"]}' >/dev/null

a=$(call sns/friend_import '{"From_Account":"a","AddFriendItem":[
	{"To_Account":"b","AddSource":"AddSource_Type_Web","Remark":"bee","GroupName":["Work"],"AddTime":1500000000},
	{"To_Account":"ghost","AddSource":"AddSource_Type_Web"},
	{"To_Account":"c","AddSource":"AddSource_Type_Web1"},
	{"To_Account":"d"}]}')
is "$(jqr '[.ResultItem[] | .To_Account + ":" + (.ResultCode|tostring)] | join(" ")' "$a")" "b:0 ghost:30003 c:30001 d:30001" \
	"friend_import per-item results (missing account, bad AddSource, AddSource required)"
is "$(jqr '.Fail_Account|join(",")' "$a")" "ghost,c,d" "Fail_Account lists the failed items"
is "$(jqr '.ErrorCode' "$a")" 0 "overall ErrorCode 0 despite item failures"
is "$(call_code sns/friend_import '{"From_Account":"ghost","AddFriendItem":[{"To_Account":"b","AddSource":"AddSource_Type_Web"}]}')" \
	30003 "From_Account missing: 30003"
many=$(jq -cn '{From_Account:"a", AddFriendItem: [range(1001) | {To_Account:"b", AddSource:"AddSource_Type_X"}]}')
is "$(call_code sns/friend_import "$many")" 30001 "1001 items: 30001"
a=$(call sns/friend_import '{"From_Account":"a","AddFriendItem":[{"To_Account":"b","AddSource":"AddSource_Type_App","Remark":"b2"}]}')
is "$(jqr '.ResultItem[0].ResultCode' "$a")" 0 "re-importing a friendship overwrites [U]"

a=$(call sns/friend_get '{"From_Account":"a","StartIndex":0}')
is "$(jqr '.FriendNum' "$a")" 1 "friend_get: one friend (import is one-way)"
is "$(jqr '.UserDataItem[0].ValueItem | map(select(.Tag=="Tag_SNS_IM_Remark"))[0].Value' "$a")" b2 "the remark was overwritten"
a=$(call sns/friend_get '{"From_Account":"b","StartIndex":0}')
is "$(jqr '.FriendNum' "$a")" 0 "b has no friends: friend_import is one-way"

a=$(call sns/friend_add '{"From_Account":"c","AddFriendItem":[{"To_Account":"d","AddSource":"AddSource_Type_Web"}]}')
is "$(jqr '.ResultItem[0].ResultCode' "$a")" 30539 "friend_add to a need-confirm peer: 30539 pending"
a=$(call sns/friend_add '{"From_Account":"c","ForceAddFlags":1,"AddType":"Add_Type_Both","AddFriendItem":[{"To_Account":"d","GroupName":"Pals"}]}')
is "$(jqr '.ResultItem[0].ResultCode' "$a")" 0 "forced two-way friend_add"
is "$(jqr '.FriendNum' "$(call sns/friend_get '{"From_Account":"d","StartIndex":0}')")" 1 "the peer has the friend too"
call profile/portrait_set '{"From_Account":"e","ProfileItem":[{"Tag":"Tag_Profile_IM_AllowType","Value":"AllowType_Type_DenyAny"}]}' >/dev/null
a=$(call sns/friend_add '{"From_Account":"c","AddFriendItem":[{"To_Account":"e"}]}')
is "$(jqr '.ResultItem[0].ResultCode' "$a")" 30516 "peer denies all requests: 30516"

a=$(call sns/black_list_add '{"From_Account":"c","To_Account":["d","ghost"]}')
is "$(jqr '[.ResultItem[] | .To_Account + ":" + (.ResultCode|tostring)] | join(" ")' "$a")" "d:0 ghost:30003" \
	"black_list_add per-item results"
is "$(jqr '.FriendNum' "$(call sns/friend_get '{"From_Account":"d","StartIndex":0}')")" 0 \
	"blocklisting ends the friendship both ways"
a=$(call sns/black_list_add '{"From_Account":"c","To_Account":["d"]}')
is "$(jqr '(.ResultItem[0].ResultCode|tostring) + " " + .ResultItem[0].ResultInfo' "$a")" \
	"30001 Err_SNS_BlackListAdd_Already_Exist" "blocklisting twice: 30001"
a=$(call sns/friend_add '{"From_Account":"c","ForceAddFlags":1,"AddFriendItem":[{"To_Account":"d"}]}')
is "$(jqr '.ResultItem[0].ResultCode' "$a")" 30515 "adding someone in your blocklist: 30515"
a=$(call sns/friend_add '{"From_Account":"d","ForceAddFlags":1,"AddFriendItem":[{"To_Account":"c"}]}')
is "$(jqr '.ResultItem[0].ResultCode' "$a")" 30525 "adding someone who blocklisted you: 30525"

a=$(call sns/black_list_delete '{"From_Account":"c","To_Account":["d","e"]}')
is "$(jqr '[.ResultItem[] | .To_Account + ":" + (.ResultCode|tostring)] | join(" ")' "$a")" "d:0 e:30001" \
	"black_list_delete per-item results (not blocklisted: 30001)"
is "$(jqr '[.blacklist[] | select(.owner=="c")] | length' "$(curl -s "$SIM_URL/_sim/dump")")" 0 "the blocklist entry is gone"
a=$(call sns/friend_delete '{"From_Account":"a","To_Account":["b","c"],"DeleteType":"Delete_Type_Single"}')
is "$(jqr '[.ResultItem[] | .To_Account + ":" + (.ResultCode|tostring)] | join(" ")' "$a")" "b:0 c:31704" \
	"friend_delete: not a friend is 31704"
is "$(call_code sns/friend_delete '{"From_Account":"a","To_Account":["b"],"DeleteType":"Delete_Type_Sometimes"}')" 30001 \
	"bad DeleteType: 30001"
FI='{"To_Account":"%s","AddSource":"AddSource_Type_X"}'
call sns/friend_import "{\"From_Account\":\"a\",\"AddFriendItem\":[$(printf "$FI" b)]}" >/dev/null
call sns/friend_import "{\"From_Account\":\"b\",\"AddFriendItem\":[$(printf "$FI" a)]}" >/dev/null
call sns/friend_delete '{"From_Account":"a","To_Account":["b"]}' >/dev/null
is "$(jqr '.FriendNum' "$(call sns/friend_get '{"From_Account":"b","StartIndex":0}')")" 0 \
	"friend_delete without DeleteType deletes both ways [U]"
imsim_stop

imsim_start --rule friend-delete-both=no || { echo "Bail out! cannot restart"; exit 1; }
call im_open_login_svc/multiaccount_import '{"Accounts":["a","b"]}' >/dev/null
call sns/friend_import "{\"From_Account\":\"a\",\"AddFriendItem\":[$(printf "$FI" b)]}" >/dev/null
call sns/friend_import "{\"From_Account\":\"b\",\"AddFriendItem\":[$(printf "$FI" a)]}" >/dev/null
call sns/friend_delete '{"From_Account":"a","To_Account":["b"]}' >/dev/null
is "$(jqr '.FriendNum' "$(call sns/friend_get '{"From_Account":"b","StartIndex":0}')")" 1 \
	"--rule friend-delete-both=no makes the default one-way"
imsim_stop
done_testing
