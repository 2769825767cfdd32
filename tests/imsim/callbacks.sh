#!/bin/sh
# Emulator conformance: After-callbacks (spec §7): which REST calls fire them, their
# query parameters and Sign, ForbidCallbackControl, and simulated client sends.
# Callbacks are delivered before the REST answer, so the hook log is complete when a
# call returns.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/imsim/lib-imsim.sh"
command -v sha256sum >/dev/null 2>&1 || skip_all "sha256sum is not installed"

"$HOOKSINK" "$TMPD/hookport" "$TMPD/hooks" &
HOOK_PID=$!
CLEANUP_PIDS="$HOOK_PID"
wait_port_file "$TMPD/hookport" || { echo "Bail out! hooksink did not start"; exit 1; }
printf 'abc123\n' >"$TMPD/token"; chmod 600 "$TMPD/token"
imsim_start --callback-url "http://127.0.0.1:$(cat "$TMPD/hookport")/hook?app=1" --callback-token-file "$TMPD/token" ||
	{ echo "Bail out! cannot start immigrate-imsim"; exit 1; }
touch "$TMPD/hooks"

echo 0 >"$TMPD/seen"
# Prints the callbacks fired since the last call to new_hooks, one JSON line each.
# (It runs in command substitutions, so the count read so far lives in a file.)
new_hooks() {
	total=$(wc -l <"$TMPD/hooks")
	seen=$(cat "$TMPD/seen")
	[ "$total" -gt "$seen" ] && tail -n $((total - seen)) "$TMPD/hooks"
	echo "$total" >"$TMPD/seen"
}
commands() { new_hooks | jq -r '.query.CallbackCommand' | tr '\n' ' ' | sed 's/ $//'; }

call im_open_login_svc/multiaccount_import '{"Accounts":["a","b","c"]}' >/dev/null
is "$(commands)" "" "account imports fire nothing"

call openim/sendmsg '{"From_Account":"a","To_Account":"b","MsgRandom":1,"MsgBody":'"$TEXT"',"CloudCustomData":"cc"}' >/dev/null
h=$(new_hooks)
is "$(jqr '.query.CallbackCommand + " " + .query.OptPlatform + " " + .query.SdkAppid + " " + .query.contenttype + " " + .query.app' "$h")" \
	"C2C.CallbackAfterSendMsg RESTAPI $SDKAPPID json 1" "sendmsg fires C2C.CallbackAfterSendMsg with OptPlatform=RESTAPI"
is "$(jqr '.body | .CallbackCommand + " " + .From_Account + ">" + .To_Account + " " + (.MsgRandom|tostring) + " " + .CloudCustomData + " " + .MsgBody[0].MsgContent.Text' "$h")" \
	"C2C.CallbackAfterSendMsg a>b 1 cc hello" "payload fields"
is "$(jqr '.body.MsgKey == "\(.body.MsgSeq)_\(.body.MsgRandom)_\(.body.MsgTime)"' "$h")" true "MsgKey is seq_random_time"
rt=$(jqr '.query.RequestTime' "$h")
want=$(printf 'abc123%s' "$rt" | sha256sum | cut -d' ' -f1)
is "$(jqr '.query.Sign' "$h")" "$want" "Sign = sha256(token + RequestTime)"

call openim/sendmsg '{"From_Account":"a","To_Account":"b","MsgRandom":2,"MsgBody":'"$TEXT"',"ForbidCallbackControl":["ForbidAfterSendMsgCallback"]}' >/dev/null
is "$(commands)" "" "ForbidAfterSendMsgCallback suppresses it"
call openim/importmsg '{"SyncFromOldSystem":5,"From_Account":"a","To_Account":"b","MsgRandom":3,"MsgTimeStamp":1600000000,"MsgBody":'"$TEXT"'}' >/dev/null
call openim/batchsendmsg '{"To_Account":["a","b"],"MsgRandom":4,"MsgBody":'"$TEXT"'}' >/dev/null
is "$(commands)" "" "importmsg and batchsendmsg fire nothing"

G=group_open_http_svc
call $G/import_group '{"Type":"Public","Name":"imp","GroupId":"imp","Owner_Account":"a","CreateTime":1500000000}' >/dev/null
call $G/import_group_member '{"GroupId":"imp","MemberList":[{"Member_Account":"b","JoinTime":1500000001}]}' >/dev/null
call $G/import_group_msg '{"GroupId":"imp","MsgList":[{"From_Account":"a","SendTime":1500000002,"MsgBody":'"$TEXT"'}]}' >/dev/null
call $G/set_unread_msg_num '{"GroupId":"imp","Member_Account":"b","UnreadMsgNum":1}' >/dev/null
is "$(commands)" "" "group imports fire nothing"

call $G/create_group '{"Type":"Public","Name":"live","GroupId":"g","Owner_Account":"a","MemberList":[{"Member_Account":"b"}]}' >/dev/null
h=$(new_hooks)
is "$(jqr '.query.CallbackCommand + " " + .body.Operator_Account + " " + ([.body.MemberList[].Member_Account]|join(","))' "$h")" \
	"Group.CallbackAfterCreateGroup admin a,b" "create_group fires Group.CallbackAfterCreateGroup"
call $G/modify_group_base_info '{"GroupId":"g","Name":"live2","ApplyJoinOption":"FreeAccess"}' >/dev/null
h=$(new_hooks)
is "$(jqr '.query.CallbackCommand + " " + .body.Name + " " + (.body|has("ApplyJoinOption")|tostring)' "$h")" \
	"Group.CallbackAfterGroupInfoChanged live2 false" "modify_group_base_info reports only the changed profile fields"
call $G/modify_group_base_info '{"GroupId":"g","ApplyJoinOption":"DisableApply"}' >/dev/null
is "$(commands)" "" "... and nothing when none of them changed"
call $G/add_group_member '{"GroupId":"g","MemberList":[{"Member_Account":"c"}]}' >/dev/null
h=$(new_hooks)
is "$(jqr '.query.CallbackCommand + " " + .body.JoinType + " " + .body.NewMemberList[0].Member_Account' "$h")" \
	"Group.CallbackAfterNewMemberJoin Invited c" "add_group_member fires NewMemberJoin (Invited)"
call $G/delete_group_member '{"GroupId":"g","MemberToDel_Account":["c"]}' >/dev/null
h=$(new_hooks)
is "$(jqr '.query.CallbackCommand + " " + .body.ExitType + " " + .body.ExitMemberList[0].Member_Account' "$h")" \
	"Group.CallbackAfterMemberExit Kicked c" "delete_group_member fires MemberExit (Kicked)"
call $G/send_group_msg '{"GroupId":"g","From_Account":"b","Random":5,"MsgBody":'"$TEXT"'}' >/dev/null
h=$(new_hooks)
is "$(jqr '.query.CallbackCommand + " " + .query.OptPlatform + " " + .body.From_Account + " " + .body.Operator_Account + " " + (.body.MsgSeq|tostring)' "$h")" \
	"Group.CallbackAfterSendMsg RESTAPI b admin 1" "send_group_msg fires Group.CallbackAfterSendMsg"
call $G/send_group_msg '{"GroupId":"g","Random":6,"MsgBody":'"$TEXT"',"ForbidCallbackControl":["ForbidAfterSendMsgCallback"]}' >/dev/null
is "$(commands)" "" "ForbidAfterSendMsgCallback suppresses the group callback"
call $G/change_group_owner '{"GroupId":"g","NewOwner_Account":"b"}' >/dev/null
is "$(commands)" "Group.CallbackAfterChangeGroupOwner" "change_group_owner fires its callback"
call $G/destroy_group '{"GroupId":"g"}' >/dev/null
h=$(new_hooks)
is "$(jqr '.query.CallbackCommand + " " + .body.Name + " " + ([.body.MemberList[].Member_Account]|sort|join(","))' "$h")" \
	"Group.CallbackAfterGroupDestroyed live2 a,b" "destroy_group fires GroupDestroyed with the members"

call sns/friend_add '{"From_Account":"a","ForceAddFlags":1,"AddFriendItem":[{"To_Account":"b","AddSource":"AddSource_Type_X"}]}' >/dev/null
h=$(new_hooks)
is "$(jqr '.query.CallbackCommand + " " + (.body.PairList|length|tostring) + " " + .body.Admin_Account + " " + (.body.ForceFlag|tostring)' "$h")" \
	"Sns.CallbackFriendAdd 2 admin 1" "friend_add fires Sns.CallbackFriendAdd (both directions)"
call sns/friend_delete '{"From_Account":"a","To_Account":["b"],"DeleteType":"Delete_Type_Single"}' >/dev/null
is "$(commands)" "Sns.CallbackFriendDelete" "friend_delete fires Sns.CallbackFriendDelete"
call sns/black_list_add '{"From_Account":"a","To_Account":["c"]}' >/dev/null
is "$(commands)" "Sns.CallbackBlackListAdd" "black_list_add fires Sns.CallbackBlackListAdd"
call sns/black_list_delete '{"From_Account":"a","To_Account":["c"]}' >/dev/null
is "$(commands)" "Sns.CallbackBlackListDelete" "black_list_delete fires Sns.CallbackBlackListDelete"
call sns/friend_import '{"From_Account":"b","AddFriendItem":[{"To_Account":"c","AddSource":"AddSource_Type_X"}]}' >/dev/null
is "$(commands)" "" "friend_import fires nothing [U]"
call profile/portrait_set '{"From_Account":"a","ProfileItem":[{"Tag":"Tag_Profile_IM_Nick","Value":"A"}]}' >/dev/null
h=$(new_hooks)
is "$(jqr '.query.CallbackCommand + " " + .body.From_Account + " " + .body.ProfileItem[0].Value' "$h")" \
	"Profile.CallbackPortraitSet a A" "portrait_set fires Profile.CallbackPortraitSet"

a=$(rest /_sim/send_c2c '{"From_Account":"b","To_Account":"a","MsgRandom":9,"MsgBody":'"$TEXT"',"OptPlatform":"iOS"}')
h=$(new_hooks)
is "$(jqr '.query.CallbackCommand + " " + .query.OptPlatform + " " + .body.From_Account' "$h")" \
	"C2C.CallbackAfterSendMsg iOS b" "a simulated client send fires the callback with the client's OptPlatform"
is "$(jqr '.MsgKey|test("_9_")' "$a")" true "and answers like sendmsg"
call $G/import_group '{"Type":"Private","Name":"w","GroupId":"w","Owner_Account":"a"}' >/dev/null
rest /_sim/send_group_msg '{"GroupId":"w","From_Account":"a","Random":1,"MsgBody":'"$TEXT"'}' >/dev/null
h=$(new_hooks)
is "$(jqr '.query.OptPlatform + " " + .body.Operator_Account' "$h")" "Android a" \
	"simulated group send: client platform, the sender as operator"
is "$(jqr '.ErrorCode' "$(rest /_sim/send_group_msg '{"GroupId":"w","From_Account":"c","Random":2,"MsgBody":'"$TEXT"'}')")" \
	10007 "a client cannot post into a group it is not in"
is "$(curl -s -o /dev/null -w '%{http_code}' --data-binary '{"From_Account":"a","OptPlatform":"RESTAPI"}' "$SIM_URL/_sim/send_c2c")" \
	400 "a simulated send must claim a client platform"

stats=$(curl -s "$SIM_URL/_sim/stats")
is "$(jqr '.callbacks_sent' "$stats")" "$(wc -l <"$TMPD/hooks" | tr -d ' ')" "stats count delivered callbacks"
grep -q abc123 "$TMPD/imsim.log" && ok 1 "the token never reaches the log" || ok 0 "the token never reaches the log"
imsim_stop

# A receiver that answers 500 counts as a failed callback; the REST call still succeeds.
kill "$HOOK_PID"; wait "$HOOK_PID" 2>/dev/null
rm -f "$TMPD/hookport"
"$HOOKSINK" "$TMPD/hookport" "$TMPD/hooks2" 500 &
HOOK_PID=$!
CLEANUP_PIDS="$HOOK_PID"
wait_port_file "$TMPD/hookport" || { echo "Bail out! hooksink did not restart"; exit 1; }
imsim_start --callback-url "http://127.0.0.1:$(cat "$TMPD/hookport")/" || { echo "Bail out! cannot restart"; exit 1; }
call im_open_login_svc/multiaccount_import '{"Accounts":["a","b"]}' >/dev/null
is "$(call_code openim/sendmsg '{"To_Account":"b","MsgRandom":1,"MsgBody":'"$TEXT"'}')" 0 "the send succeeds although the callback fails"
is "$(jqr '.callbacks_failed' "$(curl -s "$SIM_URL/_sim/stats")")" 1 "a non-200 callback answer counts as failed"
is "$(jq -r '.query | has("Sign")' "$TMPD/hooks2")" false "no Sign without a token"
imsim_stop
kill "$HOOK_PID"; wait "$HOOK_PID" 2>/dev/null

# --before-callbacks: the Before-callbacks fire too, and their verdict counts.
rm -f "$TMPD/hookport"
: >"$TMPD/verdicts"
"$HOOKSINK" "$TMPD/hookport" "$TMPD/hooks3" 200 "$TMPD/verdicts" &
HOOK_PID=$!
CLEANUP_PIDS="$HOOK_PID"
wait_port_file "$TMPD/hookport" || { echo "Bail out! hooksink did not restart"; exit 1; }
imsim_start --callback-url "http://127.0.0.1:$(cat "$TMPD/hookport")/" --before-callbacks ||
	{ echo "Bail out! cannot restart"; exit 1; }
call im_open_login_svc/multiaccount_import '{"Accounts":["a","b"]}' >/dev/null
call $G/import_group '{"Type":"Public","Name":"g","GroupId":"g","Owner_Account":"a"}' >/dev/null
SEND='{"From_Account":"a","To_Account":"b","MsgRandom":%d,"MsgBody":'"$TEXT"'%s}'
call openim/sendmsg "$(printf "$SEND" 1 '')" >/dev/null
is "$(jq -r '.query.CallbackCommand' "$TMPD/hooks3" | tr '\n' ' ')" "C2C.CallbackBeforeSendMsg C2C.CallbackAfterSendMsg " \
	"sendmsg fires Before then After"
call openim/sendmsg "$(printf "$SEND" 2 ',"ForbidCallbackControl":["ForbidBeforeSendMsgCallback"]')" >/dev/null
is "$(tail -n 1 "$TMPD/hooks3" | jq -r '.query.CallbackCommand')" C2C.CallbackAfterSendMsg \
	"ForbidBeforeSendMsgCallback suppresses only the Before-callback"
echo "C2C.CallbackBeforeSendMsg 1" >"$TMPD/verdicts"
is "$(call_code openim/sendmsg "$(printf "$SEND" 3 '')")" 20006 "a Before-callback answering 1 blocks the send: 20006"
echo "C2C.CallbackBeforeSendMsg 120007" >"$TMPD/verdicts"
is "$(call_code openim/sendmsg "$(printf "$SEND" 4 '')")" 120007 "a custom refusal code reaches the sender"
echo "C2C.CallbackBeforeSendMsg 2" >"$TMPD/verdicts"
is "$(call_code openim/sendmsg "$(printf "$SEND" 5 '')")" 0 "answer 2 drops silently: the sender sees success"
is "$(curl -s "$SIM_URL/_sim/dump" | jq '[.c2c_msgs[].msg_random] | map(tostring) | join(",")' -r)" "1,2" \
	"only the allowed messages were stored"
echo "Group.CallbackBeforeSendMsg 1" >"$TMPD/verdicts"
is "$(call_code $G/send_group_msg '{"GroupId":"g","Random":1,"MsgBody":'"$TEXT"'}')" 10016 \
	"a refusing Group Before-callback: 10016"
: >"$TMPD/verdicts"
is "$(call_code $G/send_group_msg '{"GroupId":"g","Random":2,"MsgBody":'"$TEXT"'}')" 0 "an allowing one lets it through"
is "$(tail -n 2 "$TMPD/hooks3" | jq -r '.query.CallbackCommand' | tr '\n' ' ')" \
	"Group.CallbackBeforeSendMsg Group.CallbackAfterSendMsg " "group Before then After"
imsim_stop

# Alert.RequestOverLimit: an API past 80 % of its limit in a second. With the limits
# scaled to 0.01 calls/s, the first call already is.
: >"$TMPD/hooks3"
imsim_start --callback-url "http://127.0.0.1:$(cat "$TMPD/hookport")/" --qps-scale 0.0001 ||
	{ echo "Bail out! cannot restart"; exit 1; }
call im_open_login_svc/account_check '{"CheckItem":[{"UserID":"a"}]}' >/dev/null
h=$(grep Alert.RequestOverLimit "$TMPD/hooks3")
is "$(jqr '.body | .ServiceName + "/" + .Command + " " + (.Request|tostring) + " " + (.Limit|tostring)' "$h")" \
	"im_open_login_svc/account_check 1 1" "Alert.RequestOverLimit names the API, the calls seen and the limit"
is "$(jqr '.query | (has("ClientIP")|tostring) + " " + .OptPlatform + " " + .contenttype' "$h")" "false RESTAPI json" \
	"alert URLs carry no ClientIP"
imsim_stop
kill "$HOOK_PID"; wait "$HOOK_PID" 2>/dev/null
CLEANUP_PIDS=
done_testing
