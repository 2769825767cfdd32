#!/bin/sh
# Emulator conformance: one-to-one messages (spec §5).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/imsim/lib-imsim.sh"
imsim_start || { echo "Bail out! cannot start immigrate-imsim"; exit 1; }
call im_open_login_svc/multiaccount_import '{"Accounts":["a","b","c"]}' >/dev/null

msg() { # msg FROM TO SEQ RANDOM TIME [SYNC]
	echo "{\"SyncFromOldSystem\":${6:-2},\"From_Account\":\"$1\",\"To_Account\":\"$2\",\"MsgSeq\":$3,\"MsgRandom\":$4,\"MsgTimeStamp\":$5,\"MsgBody\":$TEXT}"
}
is "$(call_code openim/importmsg "$(msg a b 1 100 1600000000)")" 0 "importmsg"
is "$(call_code openim/importmsg "$(msg a b 1 100 1600000000)")" 0 "duplicate import answers OK [U]"
is "$(call_code openim/importmsg "$(msg b a 1 100 1600000000)")" 0 "swapped pair, same triple: OK"
dup=$(call openim/importmsg '{"SyncFromOldSystem":2,"From_Account":"b","To_Account":"a","MsgSeq":1,"MsgRandom":100,"MsgTimeStamp":1600000000,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"other"}}]}')
is "$(code "$dup")" 0 "same triple with other content: OK (deduplicated regardless of content)"
is "$(call_code openim/importmsg "$(msg a b 2 100 1600000000)")" 0 "different MsgSeq is another message"
is "$(call_code openim/importmsg "$(msg a c 1 100 1600000000 5)")" 0 "same triple in another conversation"
dump=$(curl -s "$SIM_URL/_sim/dump")
is "$(jqr '[.c2c_msgs[] | select(.pair_lo=="a" and .pair_hi=="b")] | length' "$dump")" 2 \
	"dedupe on the unordered pair + (MsgSeq, MsgRandom, MsgTimeStamp)"
is "$(jqr '[.c2c_msgs[] | select(.pair_lo=="a" and .pair_hi=="b" and .msg_seq==1)][0] | .from_account + " " + .body[0].MsgContent.Text' "$dump")" \
	"a hello" "first write wins (content and direction kept)"
is "$(jqr '[.c2c_msgs[] | select(.to_account=="c")][0].unread' "$dump")" 1 "SyncFromOldSystem 5 counts as unread"
is "$(jqr '[.c2c_msgs[] | select(.to_account=="b")][0].unread' "$dump")" 0 "SyncFromOldSystem 2 counts as read"

is "$(call_code openim/importmsg '{"From_Account":"a","To_Account":"b","MsgRandom":1,"MsgTimeStamp":1,"MsgBody":'"$TEXT"'}')" 90030 \
	"SyncFromOldSystem missing: 90030"
is "$(call_code openim/importmsg '{"SyncFromOldSystem":3,"From_Account":"a","To_Account":"b","MsgRandom":1,"MsgTimeStamp":1,"MsgBody":'"$TEXT"'}')" 90030 \
	"SyncFromOldSystem 3: 90030"
is "$(call_code openim/importmsg '{"SyncFromOldSystem":2,"To_Account":"b","MsgRandom":1,"MsgTimeStamp":1,"MsgBody":'"$TEXT"'}')" 90008 \
	"From_Account missing: 90008"
is "$(call_code openim/importmsg '{"SyncFromOldSystem":2,"From_Account":"a","To_Account":5,"MsgRandom":1,"MsgTimeStamp":1,"MsgBody":'"$TEXT"'}')" 90003 \
	"To_Account not a string: 90003"
is "$(call_code openim/importmsg '{"SyncFromOldSystem":2,"From_Account":"a","To_Account":"b","MsgRandom":"1","MsgTimeStamp":1,"MsgBody":'"$TEXT"'}')" 90005 \
	"MsgRandom a string: 90005"
is "$(call_code openim/importmsg '{"SyncFromOldSystem":2,"From_Account":"a","To_Account":"b","MsgRandom":4294967296,"MsgTimeStamp":1,"MsgBody":'"$TEXT"'}')" 90005 \
	"MsgRandom beyond uint32: 90005"
is "$(call_code openim/importmsg '{"SyncFromOldSystem":2,"From_Account":"a","To_Account":"b","MsgRandom":4294967295,"MsgTimeStamp":1,"MsgBody":'"$TEXT"'}')" 0 \
	"MsgRandom 4294967295 is fine"
is "$(call_code openim/importmsg '{"SyncFromOldSystem":2,"From_Account":"a","To_Account":"b","MsgRandom":1,"MsgBody":'"$TEXT"'}')" 90006 \
	"MsgTimeStamp missing: 90006"
is "$(call_code openim/importmsg '{"SyncFromOldSystem":2,"From_Account":"a","To_Account":"b","MsgRandom":1,"MsgTimeStamp":1,"MsgBody":{"MsgType":"TIMTextElem"}}')" 90007 \
	"MsgBody not an array: 90007"
is "$(call_code openim/importmsg '{"SyncFromOldSystem":2,"From_Account":"a","To_Account":"b","MsgRandom":1,"MsgTimeStamp":1,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":1}}]}')" 90010 \
	"bad element: 90010"
is "$(call_code openim/importmsg "$(msg ghost b 1 1 1)")" 90048 "sender not imported: 90048"
is "$(call_code openim/importmsg "$(msg a ghost 1 1 1)")" 90012 "recipient not imported: 90012"
big=$(printf '%011990d' 0)
is "$(call_code openim/importmsg '{"SyncFromOldSystem":2,"From_Account":"a","To_Account":"b","MsgRandom":9,"MsgTimeStamp":9,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"'"$big"'"}}]}')" 93000 \
	"message over 12,000 bytes: 93000"

is "$(call_code openim/admin_set_msg_read '{"Report_Account":"c","Peer_Account":"a","MsgReadTime":"1600000000"}')" 0 "admin_set_msg_read"
is "$(jqr '[.c2c_msgs[] | select(.to_account=="c")][0].unread' "$(curl -s "$SIM_URL/_sim/dump")")" 0 \
	"messages up to MsgReadTime are read"
is "$(call_code openim/admin_set_msg_read '{"Peer_Account":"a"}')" 90008 "Report_Account missing: 90008"
is "$(call_code openim/admin_set_msg_read '{"Report_Account":"c","Peer_Account":"a","MsgReadTime":"soon"}')" 90010 \
	"MsgReadTime not a time"

a=$(call openim/sendmsg '{"From_Account":"a","To_Account":"b","MsgRandom":77,"MsgBody":'"$TEXT"'}')
is "$(jqr '.ErrorCode' "$a")" 0 "sendmsg"
is "$(jqr '(.MsgKey|test("^[0-9]+_77_[0-9]+$")) and (.MsgTime > 1700000000)' "$a")" true \
	"sendmsg answers MsgKey seq_random_time and MsgTime"
is "$(call_code openim/sendmsg '{"To_Account":"b","MsgRandom":1,"MsgBody":'"$TEXT"',"SyncOtherMachine":"1"}')" 90031 \
	"SyncOtherMachine not an integer: 90031"
is "$(call_code openim/sendmsg '{"To_Account":"b","MsgRandom":1,"MsgBody":'"$TEXT"',"MsgLifeTime":604801}')" 90044 \
	"MsgLifeTime beyond 7 days: 90044"

a=$(call openim/batchsendmsg '{"From_Account":"a","To_Account":["b","c"],"MsgRandom":5,"MsgBody":'"$TEXT"'}')
is "$(jqr '.ActionStatus + " " + (has("MsgKey")|tostring)' "$a")" "OK true" "batchsendmsg all delivered"
a=$(call openim/batchsendmsg '{"From_Account":"a","To_Account":["b","ghost"],"MsgRandom":6,"MsgBody":'"$TEXT"'}')
is "$(jqr '.ActionStatus + " " + (.ErrorCode|tostring) + " " + (.ErrorList|map(.To_Account + ":" + (.ErrorCode|tostring))|join(","))' "$a")" \
	"SomeError 0 ghost:70107" "batchsendmsg some failed: SomeError with ErrorList"
a=$(call openim/batchsendmsg '{"To_Account":["ghost"],"MsgRandom":6,"MsgBody":'"$TEXT"'}')
is "$(jqr '.ActionStatus + " " + (.ErrorCode|tostring)' "$a")" "FAIL 90012" "batchsendmsg none delivered: 90012"
mid=$(printf '%09000d' 0)
is "$(call_code openim/batchsendmsg '{"To_Account":["b"],"MsgRandom":7,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"'"$mid"'"}}]}')" \
	90055 "batchsendmsg over 8 KB: 90055"
is "$(call_code openim/sendmsg '{"To_Account":"b","MsgRandom":7,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"'"$mid"'"}}]}')" \
	0 "the same 9 KB message is fine for sendmsg"
many=$(jq -cn --argjson b "$TEXT" '{To_Account: [range(501) | "b"], MsgRandom: 1, MsgBody: $b}')
is "$(call_code openim/batchsendmsg "$many")" 90011 "501 recipients: 90011"

for t in 1600000100 1600000200 1600000300; do call openim/importmsg "$(msg b c 1 1 $t)" >/dev/null; done
a=$(call openim/admin_getroammsg '{"Operator_Account":"c","Peer_Account":"b","MaxCnt":2,"MinTime":0,"MaxTime":2000000000}')
is "$(jqr '[.MsgList[].MsgTimeStamp] | map(tostring) | join(",")' "$a")" "1600000300,1600000200" \
	"admin_getroammsg: newest first, MaxCnt"
is "$(jqr '.Complete' "$a")" 0 "Complete 0 while more remain"
a=$(call openim/admin_getroammsg '{"Operator_Account":"c","Peer_Account":"b","MaxCnt":2,"MinTime":0,"MaxTime":2000000000,"LastMsgKey":"'"$(jqr .LastMsgKey "$a")"'"}')
is "$(jqr '([.MsgList[].MsgTimeStamp] | map(tostring) | join(",")) + " " + (.Complete|tostring)' "$a")" "1600000100 1" \
	"the next page continues after LastMsgKey"
imsim_stop
done_testing
