#!/bin/sh
# End to end: Sendbird exports -> sendbird plugin -> scripts/sendbird.lua -> stage ->
# load -> immigrate-imsim, then the emulator's state is checked against what the
# export files say (expected values worked out by hand from the fixtures and from
# the public sample in ../shared, not from the tool's own output).
. "${top_srcdir:-.}/tests/lib.sh"
command -v jq >/dev/null 2>&1 || skip_all "jq not installed"
command -v curl >/dev/null 2>&1 || skip_all "curl not installed"
[ -x "$IMSIM" ] || skip_all "immigrate-imsim not built"
[ -x "$IMMIGRATE" ] || skip_all "immigrate not built"
[ -f "$top_builddir/plugins/sendbird/.libs/sendbird.so" ] || skip_all "sendbird plugin not built"
make_tmpdir
printf '5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e\n' >"$TMPD/key"
chmod 600 "$TMPD/key"
FIX="$top_srcdir/tests/sendbird/fixtures"

start_sim() {
	rm -f "$TMPD/port"
	"$IMSIM" --listen 127.0.0.1:0 --port-file "$TMPD/port" --sdkappid 1400000000 --admin admin \
		--key-file "$TMPD/key" 2>>"$TMPD/imsim.log" &
	SIM_PID=$!
	CLEANUP_PIDS="${CLEANUP_PIDS:-} $SIM_PID"
	i=0
	while [ ! -s "$TMPD/port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
	PORT=$(cat "$TMPD/port" 2>/dev/null)
}
stop_sim() { kill "$SIM_PID" 2>/dev/null; wait "$SIM_PID" 2>/dev/null; }

# migrate NAME SOURCE-FIELDS: writes a job, runs it, leaves the emulator dump in $TMPD/NAME.dump.
migrate() {
	cat >"$TMPD/$1.lua" <<EOF
return {
	source = { plugin = "sendbird", $2 },
	script = "sendbird",
	target = { endpoint = "http://127.0.0.1:$PORT", sdkappid = 1400000000, admin = "admin",
		   key_file = "$TMPD/key" },
	state = "$TMPD/$1.db",
}
EOF
	"$IMMIGRATE" run "$TMPD/$1.lua" --quiet >"$TMPD/$1.out" 2>"$TMPD/$1.err"
	MIGRATE_RC=$?
	curl -s "http://127.0.0.1:$PORT/_sim/dump" >"$TMPD/$1.dump"
	"$IMMIGRATE" dlq list "$TMPD/$1.lua" --all --json >"$TMPD/$1.dlq" 2>&1
}
q() { jq -r "$1" "$TMPD/$DUMP.dump"; }
qc() { jq -c "$1" "$TMPD/$DUMP.dump"; }

# --- the project's fixtures: every message type ------------------------------
start_sim
[ -n "$PORT" ] || { echo "Bail out! the emulator did not start"; sed 's/^/# /' "$TMPD/imsim.log"; exit 1; }
migrate own "path = { \"$FIX/export\", \"$FIX/window2\" }"
DUMP=own
is "$MIGRATE_RC" 0 "own fixtures: the migration finishes without dead letters"
is "$(q '[.accounts[].user_id | select(startswith("u_") | not)] | sort | join(" ")')" \
	"alice bob carol dave erin sendbird_system" \
	"accounts: the 3 users, dave (only in a member list), erin (only a sender), the system account"
is "$(q '[.accounts[].user_id | select(startswith("u_"))] | length')" 1 "the 44-byte user id became one hashed UserID"
is "$(q '[.profiles[] | select(.user_id=="alice" and .tag=="Tag_Profile_Custom_Email") | .value] | join(",")')" \
	"alice@example.com" "metadata.emailId -> Tag_Profile_Custom_Email"
is "$(q '[.profiles[] | select(.user_id=="carol" and .tag=="Tag_Profile_IM_Nick") | .value] | join(",")')" \
	"Carol éè" "nickname -> Nick"
is "$(q '[.groups[] | "\(.name)@\(.create_time)"] | sort | join(" ")')" \
	"Pair@1700003000 Team@1700000999 Trio@1700001999" \
	"3 groups (dm_alice_bob is one-to-one); CreateTime moved before a first message in the same second"
TEAM=$(q '.groups[] | select(.name=="Team") | .group_id')
ok $(case "$TEAM" in g_*) [ ${#TEAM} -lt 48 ]; echo $?;; *) echo 1;; esac) "the 68-byte channel_url became a hashed GroupId ($TEAM)"
is "$(q '[.groups[] | .type] | unique | join(",")')" "Private" "groups are Private (Work) by default"
is "$(q "[.members[] | select(.group_id==\"$TEAM\") | \"\(.account):\(.role):\(.join_time)\"] | sort | join(\" \")")" \
	"alice:Admin:1700001000 bob:Member:1700001000 carol:Member:1700001000 dave:Member:1700001000 erin:Member:1700001000 sendbird_system:Member:1700001000" \
	"Team members: the operator is Admin, senders outside the member list joined, all after CreateTime"
is "$(q "[.group_msgs[] | select(.group_id==\"$TEAM\") | \"\(.from_account)@\(.send_time)\"] | join(\" \")")" \
	"alice@1700001000 bob@1700001060 carol@1700001120 sendbird_system@1700001180 erin@1700001300" \
	"Team messages in order, the removed one skipped, ADMM from the system account"
is "$(q "[.group_msgs[] | select(.group_id==\"$TEAM\" and .from_account==\"carol\") | .body[0].MsgContent.Data | fromjson | .url] | join(\",\")")" \
	"https://files.example.com/photo.jpg" "a group image is a custom element carrying its URL"
is "$(q '[.c2c_msgs[] | "\(.from_account)>\(.to_account):\(.body[0].MsgType)"] | join(" ")')" \
	"alice>bob:TIMTextElem bob>alice:TIMImageElem alice>bob:TIMVideoFileElem bob>alice:TIMSoundElem alice>bob:TIMFileElem bob>alice:TIMTextElem alice>bob:TIMCustomElem" \
	"dm_alice_bob: 7 one-to-one messages, media by MIME type, unknown type as custom"
is "$(q '[.c2c_msgs[] | select(.cloud_custom_data != null) | .cloud_custom_data | fromjson | .custom_type] | join(",")')" \
	"farewell" "custom_type and data kept in CloudCustomData"
is "$(q '[.c2c_msgs[] | .msg_time] | join(" ")')" \
	"1700000100 1700000160 1700000220 1700000280 1700000340 1700000400 1700000460" "millisecond timestamps -> seconds"

# The same export again: nothing new lands (deterministic MsgSeq/MsgRandom/Random).
before=$(qc '[(.c2c_msgs|length), (.group_msgs|length), (.members|length)]')
migrate own "path = { \"$FIX/export\", \"$FIX/window2\" }"
is "$(qc '[(.c2c_msgs|length), (.group_msgs|length), (.members|length)]')" "$before" "a second run duplicates nothing"
stop_sim

# --- pull mode: the fake Platform API -> imsim ---------------------------------
SB_FAKE_TOKEN=e2e-token "$top_builddir/tests/sendbird/sb-fake" --data "$FIX/api.json" --port-file "$TMPD/sbport" &
CLEANUP_PIDS="$CLEANUP_PIDS $!"
i=0
while [ ! -s "$TMPD/sbport" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
export SB_E2E_TOKEN=e2e-token
start_sim
migrate pull "app_id = \"A1\", api_base = \"http://127.0.0.1:$(cat "$TMPD/sbport")\", api_token_env = \"SB_E2E_TOKEN\", page_size = 3, rate_per_second = 10000"
DUMP=pull
is "$MIGRATE_RC" 3 "pull: finishes with dead letters (the channel whose messages are forbidden)"
grep -q "locked/messages.*HTTP 403" "$TMPD/pull.dlq"
ok $? "the dead letter names the failing call (immigrate dlq list)"
is "$(grep -c 'HTTP 403' "$TMPD/pull.dlq")" 1 "and it is the only one"
is "$(q '[.accounts[].user_id] | sort | join(" ")')" "alice bob carol dave erin sendbird_system" "pull: accounts"
is "$(q '[.c2c_msgs[] | "\(.from_account)>\(.to_account)@\(.msg_time)"] | join(" ")')" \
	"alice>bob@1700000100 bob>alice@1700000200 alice>bob@1700000200 bob>alice@1700000300 alice>bob@1700000400" \
	"pull: the distinct pair's 5 messages, the two sharing a millisecond both once"
is "$(q '[.c2c_msgs[] | select(.body[0].MsgType=="TIMImageElem") | .body[0].MsgContent.ImageInfoArray[0] | "\(.Width)x\(.Height)"] | join(",")')" \
	"640x480" "pull: image size from the message's thumbnails"
TEAM=$(q '.groups[] | select(.name=="Team") | .group_id')
is "$TEAM" "team/room 1" "pull: a channel_url that is a valid GroupId is kept as is"
is "$(q "[.members[] | select(.group_id==\"$TEAM\") | \"\(.account):\(.role)\"] | sort | join(\" \")")" \
	"alice:Member bob:Member carol:Admin dave:Member sendbird_system:Member" "pull: operators from the operators list are Admin; an invited user is not a member"
is "$(q "[.group_msgs[] | select(.group_id==\"$TEAM\") | \"\(.from_account)@\(.send_time)\"] | join(\" \")")" \
	"sendbird_system@1700001000 carol@1700001060 dave@1700001180" "pull: group messages, the removed one skipped"
is "$(q '[.groups[] | .name] | sort | join(",")')" "Locked,Quiet,Team" "pull: channels without readable messages still become groups"
is "$(q '[.blacklist[] | "\(.owner)>\(.peer)"] | sort | join(" ")')" \
	"alice>erin carol>bob carol>dave carol>erin" "pull: blocks -> blacklists"
stop_sim

# --- the public sample --------------------------------------------------------
S="$SHARED/fixtures/sendbird/talkjs-examples"
if [ -d "$S" ]; then
	start_sim
	migrate sample "path = { \"$S/exported-data\" }"
	DUMP=sample
	is "$MIGRATE_RC" 0 "sample exported-data: finishes without dead letters"
	is "$(q '[.accounts[].user_id] | sort | join(" ")')" "523915 523916 523917 523918" "4 accounts"
	is "$(q '[.profiles[] | select(.tag=="Tag_Profile_Custom_Email") | "\(.user_id)=\(.value)"] | sort | join(" ")')" \
		"523915=mathew.jacob@domain.com 523916=morgan.stanley@domain.com 523917=shane.riley@domain.com 523918=clyde.howell@domain.com" \
		"emailId metadata on all four"
	is "$(q '[.groups[] | "\(.name)|\(.create_time)|\(.type)"] | join(" ")')" \
		"TalkJS - Sendbird Migration|1674850716|Private" \
		"one group (distinct but 4 members), created_at seconds kept"
	G=$(q '.groups[0].group_id')
	is "$(q "[.members[] | select(.group_id==\"$G\") | \"\(.account)@\(.join_time)\"] | sort | join(\" \")")" \
		"523915@1674850717 523916@1674850717 523917@1674850717 523918@1674850717" "its 4 members"
	is "$(q "[.group_msgs[] | select(.group_id==\"$G\") | \"\(.from_account)@\(.send_time)\"] | join(\" \")")" \
		"523915@1674850782 523916@1674850832 523918@1674850875 523917@1674851053" "its 4 messages, in order"
	is "$(q "[.group_msgs[] | .body[0].MsgContent.Text] | first")" "Hey guys! Welcome to our group channel!" "text kept"
	stop_sim

	start_sim
	migrate sample2 "path = { \"$S/example-data\" }"
	DUMP=sample2
	is "$MIGRATE_RC" 0 "sample example-data: finishes without dead letters"
	is "$(q '[.accounts[].user_id] | sort | join(" ")')" "alice-sendbird nina-sendbird sebastian-sendbird" "3 accounts"
	is "$(q '[.groups[] | "\(.name)|\(.create_time)"] | join(" ")')" "TalkJS migration chat|1736855603" "one group"
	is "$(q '[.group_msgs[] | "\(.from_account)@\(.send_time)"] | join(" ")')" \
		"alice-sendbird@1736855618 sebastian-sendbird@1736855722 nina-sendbird@1736856656" \
		"3 messages: the removed one (10463264206) is skipped"
	is "$(q '[.group_msgs[] | .body[0].MsgContent.Text] | .[1]')" "Hi 👋" "emoji survive"
	stop_sim
else
	skip "reference sample not present"
fi
done_testing
