#!/bin/sh
# Emulator conformance: --state FILE survives a restart, with its uniqueness rules.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/imsim/lib-imsim.sh"
DB="$TMPD/state.db"
imsim_start --state "$DB" || { echo "Bail out! cannot start immigrate-imsim"; exit 1; }
call im_open_login_svc/multiaccount_import '{"Accounts":["a","b"]}' >/dev/null
M='{"SyncFromOldSystem":2,"From_Account":"a","To_Account":"b","MsgSeq":1,"MsgRandom":2,"MsgTimeStamp":1600000000,"MsgBody":'"$TEXT"'}'
call openim/importmsg "$M" >/dev/null
call group_open_http_svc/import_group '{"Type":"Public","Name":"g","GroupId":"g","Owner_Account":"a","CreateTime":1500000000}' >/dev/null
call group_open_http_svc/import_group_msg '{"GroupId":"g","MsgList":[{"From_Account":"a","SendTime":1500000100,"MsgBody":'"$TEXT"'}]}' >/dev/null
auto=$(jqr .GroupId "$(call group_open_http_svc/import_group '{"Type":"Public","Name":"auto"}')")
before=$(curl -s "$SIM_URL/_sim/dump" | jq -S -c .)
imsim_stop

imsim_start --state "$DB" || { echo "Bail out! cannot restart immigrate-imsim"; exit 1; }
after=$(curl -s "$SIM_URL/_sim/dump" | jq -S -c .)
is "$after" "$before" "the whole state is back after a restart"
is "$(jqr '.accounts|length' "$after")" 2 "accounts persisted"
call openim/importmsg "$M" >/dev/null
is "$(jqr '.c2c_msgs|length' "$(curl -s "$SIM_URL/_sim/dump")")" 1 "importmsg dedupe holds across the restart"
a=$(call group_open_http_svc/import_group_msg '{"GroupId":"g","MsgList":[{"From_Account":"a","SendTime":1500000050,"MsgBody":'"$TEXT"'},{"From_Account":"a","SendTime":1500000200,"MsgBody":'"$TEXT"'}]}')
is "$(jqr '[.ImportMsgResult[] | (.MsgSeq|tostring) + ":" + (.Result|tostring)] | join(" ")' "$a")" "0:10004 2:0" \
	"group ordering and MsgSeq continue across the restart"
a2=$(jqr .GroupId "$(call group_open_http_svc/import_group '{"Type":"Public","Name":"auto2"}')")
ok $([ "$a2" != "$auto" ] && echo 0 || echo 1) "auto-assigned group ids do not repeat after a restart"
is "$(call_code group_open_http_svc/import_group '{"Type":"Public","Name":"g","GroupId":"g"}')" 10021 "GroupId reuse still refused"
imsim_stop
"$IMSIM" --listen 127.0.0.1:0 --sdkappid 1 --admin a --key-file "$TMPD/key" --state "$TMPD/no/such/dir/x.db" 2>"$TMPD/err"
is "$?" 1 "an unusable --state file fails to start"
grep -q "no/such/dir/x.db: cannot open" "$TMPD/err"; ok $? "... naming the file"
done_testing
