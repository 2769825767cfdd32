#!/bin/sh
# End to end: Easemob history + signed callback archive -> easemob plugin ->
# scripts/easemob.lua -> stage -> load -> immigrate-imsim, then the emulator's
# state is compared with what the fixtures say (worked out by hand from
# tests/easemob/fixtures, see tests/easemob/fixtures/README).
. "$top_srcdir/tests/lib.sh"
command -v jq >/dev/null 2>&1 || skip_all "jq not installed"
command -v curl >/dev/null 2>&1 || skip_all "curl not installed"
[ -x "$IMSIM" ] || skip_all "immigrate-imsim not built"
[ -x "$IMMIGRATE" ] || skip_all "immigrate not built"
[ -f "$top_builddir/plugins/easemob/.libs/easemob.so" ] || skip_all "easemob plugin not built"
command -v gzip >/dev/null 2>&1 || skip_all "gzip not installed"
make_tmpdir
printf '5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e\n' >"$TMPD/key"
chmod 600 "$TMPD/key"
FIX="$top_srcdir/tests/easemob/fixtures"
EM_TEST_SECRET=s3cret
export EM_TEST_SECRET

rm -f "$TMPD/port"
"$IMSIM" --listen 127.0.0.1:0 --port-file "$TMPD/port" --sdkappid 1400000000 --admin admin \
	--key-file "$TMPD/key" 2>>"$TMPD/imsim.log" &
SIM_PID=$!
CLEANUP_PIDS=$SIM_PID
i=0
while [ ! -s "$TMPD/port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
PORT=$(cat "$TMPD/port" 2>/dev/null)
[ -n "$PORT" ] || { echo "Bail out! the emulator did not start"; sed 's/^/# /' "$TMPD/imsim.log"; exit 1; }

cat >"$TMPD/job.lua" <<EOF
return {
	source = { plugin = "easemob", history = "$FIX/history", callbacks = "$FIX/callbacks",
		   appkey = "acme#chat", callback_secret_env = "EM_TEST_SECRET" },
	script = "easemob",
	target = { endpoint = "http://127.0.0.1:$PORT", sdkappid = 1400000000, admin = "admin",
		   key_file = "$TMPD/key" },
	state = "$TMPD/state.db",
}
EOF
"$IMMIGRATE" run "$TMPD/job.lua" --quiet >"$TMPD/run.out" 2>"$TMPD/run.err"
rc=$?
is $rc 3 "the run finishes with dead letters (exit 3): the forged callback"
[ $rc -eq 3 ] || sed 's/^/# /' "$TMPD/run.err"
grep -q 'c2c_read *1 *1 *0' "$TMPD/run.out"
ok $? "the read_ack landed as one admin_set_msg_read"
ok "$(grep -c s3cret "$TMPD/run.out" "$TMPD/run.err" | grep -vc ':0$')" "the callback secret is in no output"
curl -s "http://127.0.0.1:$PORT/_sim/dump" >"$TMPD/dump"
q() { jq -r "$1" "$TMPD/dump"; }

is "$(q '[.accounts[].user_id] | sort | join(" ")')" "alice bob carol dave easemob_admin erin" \
	"accounts: the five users and the admin account"
is "$(q '[.friends[] | "\(.owner)>\(.peer)@\(.add_time)"] | sort | join(" ")')" \
	"alice>bob@1704100002 bob>alice@1704100002 bob>carol@1704100010 carol>bob@1704100010" \
	"friends: accepted pairs both ways at the accept time; removed, declined and blocked pairs absent"
is "$(q '[.blacklist[] | "\(.owner)>\(.peer)"] | join(" ")')" "dave>erin" "blocklist: the ban still in force"
is "$(q '[.c2c_msgs[] | "\(.msg_time):\(.from_account)>\(.to_account):\(.body | map(.MsgType) | join("+"))"] | sort | join(" ")')" \
	"1704189601:alice>bob:TIMTextElem 1704189602:bob>alice:TIMImageElem 1704189603:alice>bob:TIMLocationElem 1704189604:bob>alice:TIMSoundElem 1704189605:alice>bob:TIMVideoFileElem 1704189606:bob>alice:TIMFileElem 1704189607:alice>bob:TIMCustomElem 1704189611:easemob_admin>alice:TIMTextElem 1704190000:erin>dave:TIMTextElem" \
	"one-to-one: every body type once, no cmd, no recalled, no duplicates, the admin's as easemob_admin"
is "$(q '[.c2c_msgs[] | select(.msg_time==1704189601) | .cloud_custom_data] | join("")' | jq -c -S .)" '{"k":"v","n":1}' \
	"ext kept in CloudCustomData"
is "$(q '[.groups[] | "\(.group_id):\(.type):\(.owner):\(.create_time)"] | sort | join(" ")')" \
	"g100:Private:carol:1704149999 g200:Private:null:1704150359" \
	"groups: Private, named by id, created a second before their first event; no chat room"
is "$(q '[.members[] | "\(.group_id):\(.account):\(.role):\(.join_time)"] | sort | join(" ")')" \
	"g100:carol:Owner:1704149999 g100:dave:Admin:1704150060 g100:erin:Member:1704150120 g200:alice:Member:1704150360" \
	"members: owner, admin and member with their join times; the kicked one absent"
is "$(q '[.group_msgs[] | "\(.group_id):\(.from_account)@\(.send_time):\(.body[0].MsgContent.Text)"] | join(" ")')" \
	"g100:carol@1704189609:hi group g100:dave@1704190010:from dave" "group messages in order"

before=$(q '[(.c2c_msgs|length), (.group_msgs|length), (.members|length), (.friends|length)] | join(",")')
rm -f "$TMPD/state.db"
"$IMMIGRATE" run "$TMPD/job.lua" --quiet >"$TMPD/run2.out" 2>"$TMPD/run2.err"
curl -s "http://127.0.0.1:$PORT/_sim/dump" >"$TMPD/dump"
is "$(q '[(.c2c_msgs|length), (.group_msgs|length), (.members|length), (.friends|length)] | join(",")')" "$before" \
	"the same migration again from a fresh state duplicates nothing in the target"

# --- the REST pull plus the archive, into a fresh emulator ---------------------
kill "$SIM_PID" 2>/dev/null
wait "$SIM_PID" 2>/dev/null
rm -f "$TMPD/port"
"$IMSIM" --listen 127.0.0.1:0 --port-file "$TMPD/port" --sdkappid 1400000000 --admin admin \
	--key-file "$TMPD/key" 2>>"$TMPD/imsim.log" &
SIM_PID=$!
mkdir "$TMPD/files"
gzip -c "$FIX/history/2024010210.jsonl" >"$TMPD/files/h1.jsonl.gz"
cp "$FIX/history-2024010211.jsonl" "$TMPD/files/h2.jsonl"
EM_FAKE_CLIENT_ID=cid EM_FAKE_CLIENT_SECRET=client-secret "$top_builddir/tests/easemob/em-fake" \
	--data "$FIX/api.json" --files-dir "$TMPD/files" --port-file "$TMPD/fake-port" &
FAKE_PID=$!
CLEANUP_PIDS="$SIM_PID $FAKE_PID"
i=0
while { [ ! -s "$TMPD/port" ] || [ ! -s "$TMPD/fake-port" ]; } && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
PORT=$(cat "$TMPD/port")
FAKE_PORT=$(cat "$TMPD/fake-port")
printf 'client-secret\n' >"$TMPD/client-secret"
cat >"$TMPD/pull.lua" <<EOF
return {
	source = { plugin = "easemob", rest_url = "http://127.0.0.1:$FAKE_PORT/org/app", client_id = "cid",
		   client_secret_file = "$TMPD/client-secret", history_from = "2024010210",
		   history_to = "2024010211", rate_per_second = 1000,
		   callbacks = "$FIX/callbacks", appkey = "acme#chat", callback_secret_env = "EM_TEST_SECRET" },
	script = "easemob",
	target = { endpoint = "http://127.0.0.1:$PORT", sdkappid = 1400000000, admin = "admin",
		   key_file = "$TMPD/key" },
	state = "$TMPD/pull.db",
}
EOF
"$IMMIGRATE" run "$TMPD/pull.lua" --quiet >"$TMPD/pull.out" 2>"$TMPD/pull.err"
rc=$?
is $rc 3 "pull + archive: finishes with the forged callback as the only dead letter"
[ $rc -eq 3 ] || sed 's/^/# /' "$TMPD/pull.err"
curl -s "http://127.0.0.1:$PORT/_sim/dump" >"$TMPD/dump"
is "$(q '[.accounts[].user_id] | length')" 111 "accounts: 5 users, 105 members of the big group, the admin account"
is "$(q '[.profiles[] | select(.user_id=="alice") | "\(.tag)=\(.value)"] | sort | join(" ")')" \
	"Tag_Profile_IM_BirthDay=18651126 Tag_Profile_IM_Gender=Gender_Type_Female Tag_Profile_IM_Image=https://img.example.com/alice.png Tag_Profile_IM_Nick=Alice Liddell Tag_Profile_IM_SelfSignature=curiouser" \
	"alice's profile from her metadata"
is "$(q '[.groups[] | "\(.group_id):\(.type):\(.name):\(.owner):\(.create_time)"] | sort | join(" ")')" \
	"g100:Private:Team:carol:1704140000 g200:Private:g200:null:1704150359 g300:Public:Lobby:alice:1704000000 g400:Private:Big:bob:1704000000" \
	"groups from REST (names, owners, types, creation) and from events (g200)"
is "$(q '[.members[] | select(.group_id=="g400")] | length')" 106 "the big group: owner and 105 members"
is "$(q '[.members[] | select(.group_id=="g100" or .group_id=="g300") | "\(.group_id):\(.account):\(.role):\(.join_time)"] | sort | join(" ")')" \
	"g100:carol:Owner:1704140000 g100:dave:Admin:1704150060 g100:erin:Member:1704150120 g300:alice:Owner:1704000000 g300:bob:Member:1704000001" \
	"members with roles and join times"
is "$(q '[.group_msgs[] | "\(.group_id):\(.from_account)@\(.send_time)"] | sort | join(" ")')" \
	"g100:carol@1704189609 g100:dave@1704190010 g300:bob@1704193205" "group history from the pulled files and the archive"
is "$(q '[.c2c_msgs[]] | length')" 9 "one-to-one history: the same 9 messages, each once"
is "$(q '[.friends[] | "\(.owner)>\(.peer)"] | sort | join(" ")')" "alice>bob bob>alice bob>carol carol>bob" "friends"
is "$(q '[.blacklist[] | "\(.owner)>\(.peer)"] | join(" ")')" "dave>erin" "blocklist"

kill "$SIM_PID" "$FAKE_PID" 2>/dev/null
wait "$SIM_PID" "$FAKE_PID" 2>/dev/null
CLEANUP_PIDS=
done_testing
