#!/bin/sh
# scripts/easemob.lua over the plugin's output (em-read | em-map: the runner's Lua
# engine and record validator): the exact IM records for the project fixtures,
# the script options, dead letters, and the documented callback examples.
. "$top_srcdir/tests/lib.sh"
command -v jq >/dev/null 2>&1 || skip_all "jq not installed"
make_tmpdir

EM_READ="$top_builddir/tests/easemob/em-read"
EM_MAP="$top_builddir/tests/easemob/em-map"
MODULE="$top_builddir/plugins/easemob/easemob.la"
SCRIPT="$top_srcdir/scripts/easemob.lua"
FIX="$top_srcdir/tests/easemob/fixtures"
BOTH="{\"history\":\"$FIX/history/2024010210.jsonl\",\"callbacks\":\"$FIX/callbacks/archive.jsonl\",\"appkey\":\"acme#chat\",\"callback_secret_env\":\"EM_TEST_SECRET\"}"

EM_TEST_SECRET=s3cret "$EM_READ" "$MODULE" "$BOTH" >"$TMPD/native.jsonl" 2>/dev/null
ok $? "read the fixtures"

# map SCRIPT_OPTIONS > normalised IM records
map() { "$EM_MAP" "$SCRIPT" "$@" <"$TMPD/native.jsonl" | jq -c -S .; }

map >"$TMPD/default.jsonl"
if cmp -s "$TMPD/default.jsonl" "$top_srcdir/tests/easemob/expected/map-default.jsonl"; then
	ok 0 "default options: exactly the expected IM records"
else
	ok 1 "default options: exactly the expected IM records"
	diff "$top_srcdir/tests/easemob/expected/map-default.jsonl" "$TMPD/default.jsonl" | sed 's/^/# /'
fi
is "$(jq -s 'map(select(.invalid or .dead)) | length' "$TMPD/default.jsonl")" 0 "every record passes the validator"
is "$(jq -s '[.[] | select(.kind=="c2c_msg" or .kind=="group_msg") | ._source_id] | join(",")' "$TMPD/default.jsonl")" \
	'"1001,1002,1003,1004,1005,1006,1007,1009,1011,2001,2002"' \
	"cmd (1008), chat room (1010) and recalled (1012) messages are not imported; 1001 and 2001 once"
is "$(jq -s '[.[] | select(.kind=="friend") | "\(.From_Account)>\(.To_Account)"] | join(",")' "$TMPD/default.jsonl")" \
	'"alice>bob,bob>alice,bob>carol,carol>bob"' \
	"friends: accepted both ways; removed, declined and still-blocked pairs are not"
is "$(jq -s '[.[] | select(.kind=="blacklist") | "\(.From_Account)>\(.To_Account)"] | join(",")' "$TMPD/default.jsonl")" \
	'"dave>erin"' "the block still in force at the end"
is "$(jq -s '[.[] | select(.kind=="group_member") | "\(.GroupId):\(.Member_Account):\(.Role // "Member"):\(.JoinTime)"] | join(",")' "$TMPD/default.jsonl")" \
	'"g100:dave:Admin:1704150060,g100:erin:Member:1704150120,g200:alice:Member:1704150360"' \
	"members join at their first join event; the kicked one is gone; admins keep their role"
is "$(jq -s '[.[] | select(.kind=="group") | "\(.GroupId):\(.Type):\(.Owner_Account):\(.CreateTime)"] | join(",")' "$TMPD/default.jsonl")" \
	'"g100:Private:carol:1704149999,g200:Private:null:1704150359"' "groups: Private, created just before their first event"
is "$(jq -s '[.[] | select(.kind=="c2c_read")][0].MsgReadTime' "$TMPD/default.jsonl")" '"1704189602"' \
	"read_ack -> c2c_read at the acked message's time"
is "$(jq -s '[.[] | select(._source_id=="1011")][0].From_Account' "$TMPD/default.jsonl")" '"easemob_admin"' \
	"the app admin's message comes from the admin account"
is "$(jq -s '[.[] | select(.kind=="account") | .UserID] | sort | join(",")' "$TMPD/default.jsonl")" \
	'"alice,bob,carol,dave,easemob_admin,erin"' "every user seen gets one account"

map '{"chatrooms":true,"cmd_messages":true,"admin_account":"sys","group_media_elements":true,"add_source":"Legacy"}' \
	>"$TMPD/opts.jsonl"
is "$(jq -s 'map(select(.invalid or .dead)) | length' "$TMPD/opts.jsonl")" 0 "with every option on, everything is valid"
is "$(jq -s '[.[] | select(.GroupId=="room7") | .kind] | join(",")' "$TMPD/opts.jsonl")" \
	'"group_msg,group,group_member"' "chatrooms: the room, its member and its message"
is "$(jq -s '[.[] | select(.kind=="group" and .GroupId=="room7")][0].Type' "$TMPD/opts.jsonl")" '"ChatRoom"' "as a ChatRoom group"
is "$(jq -s '[.[] | select(._source_id=="1008")][0].MsgBody[0].MsgType' "$TMPD/opts.jsonl")" '"TIMCustomElem"' \
	"cmd_messages: a cmd becomes a custom element"
is "$(jq -s '[.[] | select(._source_id=="1011")][0].From_Account' "$TMPD/opts.jsonl")" '"sys"' "admin_account"
is "$(jq -s '[.[] | select(.kind=="friend")][0].AddSource' "$TMPD/opts.jsonl")" '"AddSource_Type_Legacy"' "add_source"

"$EM_READ" "$MODULE" "{\"history\":\"$FIX/odd.jsonl\"}" 2>/dev/null | "$EM_MAP" "$SCRIPT" | jq -c -S . >"$TMPD/odd.jsonl"
is "$(jq -r 'select(.dead) | "\(.origin | split("/") | last) \(.reason)"' "$TMPD/odd.jsonl" | tr '\n' ';')" \
	'odd.jsonl:1 payload.bodies[0]: unsupported body type "unknown";odd.jsonl:2 payload.bodies[0]: img without url;' \
	"unsupported bodies are dead letters naming the record"
is "$(jq -s '[.[] | select(.kind=="account") | .UserID] | sort | join(",")' "$TMPD/odd.jsonl")" '"alice,bob,erin"' \
	"a dead-lettered record does not swallow the accounts of its users"
is "$(jq -s '[.[] | select(._source_id=="4004")][0] | "\(.MsgBody | map(.MsgType) | join("+")) \(.CloudCustomData)"' "$TMPD/odd.jsonl")" \
	'"TIMTextElem+TIMLocationElem {\"em_apns_ext\":{\"em_push_title\":\"t\"}}"' "several bodies, ext kept as CloudCustomData"
is "$(jq -s '[.[] | select(._source_id=="4005")][0].MsgBody[0].MsgType' "$TMPD/odd.jsonl")" '"TIMCustomElem"' \
	"a file in a group is a custom element by default"
is "$(jq -s '[.[] | select(.kind=="group_member" and .GroupId=="g500")] | map(.Member_Account) | join(",")' "$TMPD/odd.jsonl")" \
	'"erin"' "a group known only from messages has its senders as members"

DOC="$SHARED/fixtures/easemob/easemob-doc/callback_examples.jsonl"
if [ -f "$DOC" ]; then
	"$EM_READ" "$MODULE" "{\"callbacks\":\"$DOC\"}" 2>/dev/null | "$EM_MAP" "$SCRIPT" | jq -c -S . >"$TMPD/doc.jsonl"
	is "$(jq -s 'map(select(.invalid)) | length' "$TMPD/doc.jsonl")" 0 "the documented examples map to valid records"
	is "$(jq -r 'select(.dead) | .origin | split(":") | last' "$TMPD/doc.jsonl" | tr '\n' ' ')" "47 48 52 53 " \
		"only the roster examples whose sender is masked as the bare appkey are dead letters"
else
	skip "no $DOC"; skip "no $DOC"
fi

done_testing
