#!/bin/sh
# Emulator conformance: groups, members and group messages (spec §6).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/imsim/lib-imsim.sh"
imsim_start || { echo "Bail out! cannot start immigrate-imsim"; exit 1; }
call im_open_login_svc/multiaccount_import '{"Accounts":["o","m1","m2","m3"]}' >/dev/null
G=group_open_http_svc

a=$(call $G/import_group '{"Type":"Public","Name":"Auto","Owner_Account":"o"}')
is "$(jqr '.GroupId|test("^@TGS#")' "$a")" true "import_group without GroupId assigns an @TGS# id"
a=$(call $G/import_group '{"Type":"Community","Name":"Comm"}')
is "$(jqr '.GroupId|test("^@TGS#_")' "$a")" true "Community ids start with @TGS#_"
is "$(call_code $G/import_group '{"Type":"Public","Name":"g","GroupId":"g1","Owner_Account":"o","CreateTime":1500000000}')" 0 \
	"import_group with a custom id and CreateTime"
is "$(call_code $G/import_group '{"Type":"Public","Name":"g","GroupId":"g1"}')" 10021 "GroupId reuse: 10021"
is "$(call_code $G/import_group '{"Type":"AVChatRoom","Name":"live"}')" 10007 "AVChatRoom import: 10007"
is "$(call_code $G/import_group '{"Type":"Party","Name":"x"}')" 10004 "unknown Type: 10004"
is "$(call_code $G/import_group '{"Type":"Public"}')" 10004 "Name missing: 10004"
is "$(call_code $G/import_group '{"Type":"Public","Name":"0123456789012345678901234567890"}')" 10004 "31-byte Name: 10004"
is "$(call_code $G/import_group '{"Type":"Public","Name":"x","GroupId":"@TGS#mine"}')" 10004 "custom id with @TGS#: 10004"
is "$(call_code $G/import_group '{"Type":"Public","Name":"x","Owner_Account":"ghost"}')" 10019 "owner not imported: 10019"

a=$(call $G/import_group_member '{"GroupId":"g1","MemberList":[
	{"Member_Account":"m1","Role":"Admin","JoinTime":1500000100,"UnreadMsgNum":5},
	{"Member_Account":"m2","JoinTime":1400000000},
	{"Member_Account":"o"},
	{"Member_Account":"ghost"},
	{"Member_Account":"m3","Role":"Member"}]}')
is "$(jqr '[.MemberList[] | .Member_Account + ":" + (.Result|tostring)] | join(" ")' "$a")" \
	"m1:1 m2:0 o:2 ghost:0 m3:0" "import_group_member Results (JoinTime before CreateTime, already member, missing, Role)"
dump=$(curl -s "$SIM_URL/_sim/dump")
is "$(jqr '.members[] | select(.account=="m1") | .unread' "$dump")" 0 "UnreadMsgNum clamped to the group's message count"
is "$(call_code $G/import_group_member '{"GroupId":"nope","MemberList":[{"Member_Account":"m1"}]}')" 10010 "no such group: 10010"
many=$(jq -cn '{GroupId:"g1", MemberList: [range(301) | {Member_Account:"m\(.)"}]}')
is "$(call_code $G/import_group_member "$many")" 10005 "301 members: 10005"

gmsg() { # gmsg FROM TIME [RANDOM]
	echo "{\"From_Account\":\"$1\",\"SendTime\":$2,\"Random\":${3:-0},\"MsgBody\":$TEXT}"
}
a=$(call $G/import_group_msg "{\"GroupId\":\"g1\",\"MsgList\":[$(gmsg m1 1500000200 1),$(gmsg o 1500000300 2),$(gmsg m1 1500000250 3),$(gmsg m1 1400000000 4)]}")
is "$(jqr '[.ImportMsgResult[] | (.MsgSeq|tostring) + ":" + (.Result|tostring)] | join(" ")' "$a")" "1:0 2:0 0:10004 0:10004" \
	"import_group_msg: seqs from 1, older-than-latest and before-CreateTime are 10004"
a=$(call $G/import_group_msg "{\"GroupId\":\"g1\",\"MsgList\":[$(gmsg m1 1500000300 5),$(gmsg m1 1500000400 2)]}")
is "$(jqr '[.ImportMsgResult[] | (.MsgSeq|tostring) + ":" + (.Result|tostring)] | join(" ")' "$a")" "3:0 2:0" \
	"equal to the latest time accepted [U]; same Random within 5 min dropped as the earlier copy"
a=$(call $G/import_group_msg "{\"GroupId\":\"g1\",\"MsgList\":[$(gmsg m1 4000000000)]}")
is "$(jqr '.ImportMsgResult[0].Result' "$a")" 10004 "SendTime in the future: 10004"
big=$(printf '%011990d' 0)
a=$(call $G/import_group_msg '{"GroupId":"g1","MsgList":[{"From_Account":"m1","SendTime":1500000500,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"'"$big"'"}}]}]}')
is "$(jqr '.ImportMsgResult[0].Result' "$a")" 80002 "over 12,000 bytes: Result 80002"
eight=$(for i in 1 2 3 4 5 6 7 8; do printf '%s,' "$(gmsg m1 $((1500000600 + i)))"; done | sed 's/,$//')
is "$(call_code $G/import_group_msg "{\"GroupId\":\"g1\",\"MsgList\":[$eight]}")" 10004 "8 messages in one call: 10004 [CONFLICT 7]"
is "$(call_code $G/import_group_msg '{"GroupId":"g1","MsgList":[{"From_Account":"m1","SendTime":1500000700,"MsgBody":[{"MsgType":"TIMSoundElem","MsgContent":{"Url":"u","UUID":"u","Download_Flag":2}}]}]}')" \
	10004 "sound element refused by import_group_msg [U]"

is "$(call_code $G/set_unread_msg_num '{"GroupId":"g1","Member_Account":"m1","UnreadMsgNum":99}')" 0 "set_unread_msg_num"
dump=$(curl -s "$SIM_URL/_sim/dump")
is "$(jqr '.members[] | select(.account=="m1") | .unread' "$dump")" 3 "clamped to the group's 3 messages"
call $G/import_group_msg "{\"GroupId\":\"g1\",\"MsgList\":[$(gmsg o 1500000900)]}" >/dev/null
dump=$(curl -s "$SIM_URL/_sim/dump")
is "$(jqr '.members[] | select(.account=="m1") | .unread' "$dump")" 0 "import_group_msg zeroes unread counts"
a=$(call $G/import_group_member '{"GroupId":"g1","MemberList":[{"Member_Account":"m2","JoinTime":1500000001,"UnreadMsgNum":2}]}')
dump=$(curl -s "$SIM_URL/_sim/dump")
is "$(jqr '.members[] | select(.account=="m2") | .unread' "$dump")" 2 "members imported after messages keep UnreadMsgNum"

a=$(call $G/create_group '{"Type":"Private","Name":"Work","GroupId":"w1","Owner_Account":"o","MemberList":[{"Member_Account":"m1"},{"Member_Account":"m2","Role":"Admin"}]}')
is "$(jqr '.ErrorCode, .GroupId' "$a" | tr '\n' ' ')" "0 w1 " "create_group with members"
is "$(call_code $G/create_group '{"Type":"Private","Name":"Work","GroupId":"w1"}')" 10025 "create_group reusing your id: 10025"
a=$(call $G/get_group_info '{"GroupIdList":["w1","nope"]}')
is "$(jqr '[.GroupInfo[] | .GroupId + ":" + (.ErrorCode|tostring)] | join(" ")' "$a")" "w1:0 nope:10010" "get_group_info"
is "$(jqr '.GroupInfo[0] | .Type + " " + .Owner_Account + " " + (.MemberNum|tostring)' "$a")" "Private o 3" "group info fields"
is "$(call_code $G/modify_group_base_info '{"GroupId":"w1","Name":"Work 2","AppDefinedData":[{"Key":"k","Value":"v"}]}')" 0 \
	"modify_group_base_info"
is "$(call_code $G/modify_group_base_info '{"GroupId":"w1","Notification":"'"$(printf '%0301d' 0)"'"}')" 10004 \
	"301-byte Notification: 10004"
a=$(call $G/add_group_member '{"GroupId":"w1","MemberList":[{"Member_Account":"m3"},{"Member_Account":"m1"},{"Member_Account":"ghost"}]}')
is "$(jqr '[.MemberList[] | .Member_Account + ":" + (.Result|tostring)] | join(" ")' "$a")" "m3:1 m1:2 ghost:0" \
	"add_group_member Results"
is "$(call_code $G/delete_group_member '{"GroupId":"w1","MemberToDel_Account":["m3","ghost"]}')" 0 \
	"delete_group_member (a non-member is fine)"
is "$(call_code $G/delete_group_member '{"GroupId":"w1","MemberToDel_Account":["o"]}')" 10004 "the owner cannot be removed"
is "$(call_code $G/modify_group_member_info '{"GroupId":"w1","Member_Account":"m1","NameCard":"card","Role":"Admin"}')" 0 \
	"modify_group_member_info"
is "$(call_code $G/modify_group_member_info '{"GroupId":"w1","Member_Account":"m1","MuteTime":60}')" 10004 \
	"MuteTime does not apply to Private groups"
a=$(call $G/get_group_member_info '{"GroupId":"w1"}')
is "$(jqr '[.MemberList[] | .Member_Account + ":" + .Role] | sort | join(" ")' "$a")" "m1:Admin m2:Admin o:Owner" \
	"get_group_member_info"
is "$(call_code $G/change_group_owner '{"GroupId":"w1","NewOwner_Account":"m3"}')" 10004 "new owner must be a member"
is "$(call_code $G/change_group_owner '{"GroupId":"w1","NewOwner_Account":"m1"}')" 0 "change_group_owner"
a=$(call $G/get_group_member_info '{"GroupId":"w1"}')
is "$(jqr '[.MemberList[] | .Member_Account + ":" + .Role] | sort | join(" ")' "$a")" "m1:Owner m2:Admin o:Member" \
	"roles after the owner change"

a=$(call $G/send_group_msg '{"GroupId":"w1","From_Account":"m2","Random":11,"MsgBody":'"$TEXT"'}')
is "$(jqr '.ErrorCode, .MsgSeq' "$a" | tr '\n' ' ')" "0 1 " "send_group_msg gets MsgSeq 1 in a new group"
a=$(call $G/send_group_msg '{"GroupId":"w1","From_Account":"m2","Random":11,"MsgBody":'"$TEXT"'}')
is "$(jqr '.MsgSeq' "$a")" 1 "same content and Random within 5 minutes: dropped, first copy stands"
a=$(call $G/send_group_msg '{"GroupId":"w1","Random":12,"MsgPriority":"Urgent","MsgBody":'"$TEXT"'}')
is "$(jqr '.ErrorCode' "$a")" 10004 "bad MsgPriority: 10004"
a=$(call $G/group_msg_get_simple '{"GroupId":"g1","ReqMsgNumber":2}')
is "$(jqr '[.RspMsgList[].MsgSeq] | map(tostring) | join(",")' "$a")" "4,3" "group_msg_get_simple: newest first"
is "$(jqr '.IsFinished' "$a")" 0 "IsFinished 0 while older messages remain"
a=$(call $G/group_msg_get_simple '{"GroupId":"g1","ReqMsgNumber":5,"ReqMsgSeq":2}')
is "$(jqr '([.RspMsgList[].MsgSeq] | map(tostring) | join(",")) + " " + (.IsFinished|tostring)' "$a")" "2,1 1" \
	"from ReqMsgSeq down to the first"
is "$(call_code $G/destroy_group '{"GroupId":"w1"}')" 0 "destroy_group"
is "$(call_code $G/get_group_member_info '{"GroupId":"w1"}')" 10010 "a destroyed group is gone: 10010"
imsim_stop

# Per-group frequency control, scaled down to one message a second: of ten quick sends
# at least two share a second unless they take nine seconds, so some are dropped.
imsim_start --rule group-msgs-per-second=1 || { echo "Bail out! cannot restart"; exit 1; }
call im_open_login_svc/account_import '{"UserID":"o"}' >/dev/null
call $G/create_group '{"Type":"Public","Name":"busy","GroupId":"busy","Owner_Account":"o"}' >/dev/null
: >"$TMPD/sends"
for i in 1 2 3 4 5 6 7 8 9 10; do
	call $G/send_group_msg '{"GroupId":"busy","Random":'$i',"MsgBody":'"$TEXT"'}' >>"$TMPD/sends"
	echo >>"$TMPD/sends"
done
dropped=$(grep -c '"MsgDropReason":"MsgFreqCtrl"' "$TMPD/sends")
ok $([ "$dropped" -ge 1 ] && echo 0 || echo 1) "past the group's rate a send answers MsgDropReason MsgFreqCtrl ($dropped of 10)"
is "$(jq -s '[.[] | .ErrorCode] | add' "$TMPD/sends")" 0 "... while still answering ErrorCode 0"
stored=$(jqr '[.group_msgs[] | select(.group_id=="busy")] | length' "$(curl -s "$SIM_URL/_sim/dump")")
is "$stored" $((10 - dropped)) "dropped messages are not stored"
imsim_stop
done_testing
