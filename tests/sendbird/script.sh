#!/bin/sh
# scripts/sendbird.lua through `immigrate preview` (the real engine and validator):
# the default mapping, each script option, blocks, and over-long messages.
. "${top_srcdir:-.}/tests/lib.sh"
command -v jq >/dev/null 2>&1 || skip_all "jq not installed"
[ -x "$IMMIGRATE" ] || skip_all "immigrate not built"
[ -f "$top_builddir/plugins/sendbird/.libs/sendbird.so" ] || skip_all "sendbird plugin not built"
make_tmpdir
printf '5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e\n' >"$TMPD/key"
FIX="$top_srcdir/tests/sendbird/fixtures"

# preview NAME PATHS OPTIONS: IM records in $TMPD/NAME.jsonl, dead letters in $TMPD/NAME.err
preview() {
	cat >"$TMPD/$1.lua" <<EOJ
return {
	source = { plugin = "sendbird", path = $2 },
	script = "sendbird",
	script_options = $3,
	target = { endpoint = "http://127.0.0.1:1", sdkappid = 1400000000, admin = "admin", key_file = "$TMPD/key" },
	state = "$TMPD/$1.db",
}
EOJ
	"$IMMIGRATE" preview "$TMPD/$1.lua" --limit 0 >"$TMPD/$1.jsonl" 2>"$TMPD/$1.err"
	PREVIEW_RC=$?
}
kinds() { jq -r .kind "$TMPD/$1.jsonl" | sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' '; }
ALL="{ \"$FIX/export\", \"$FIX/window2\" }"

preview default "$ALL" "{}"
is "$PREVIEW_RC" 0 "default mapping: no dead letters"
is "$(kinds default)" "account=7 c2c_msg=7 c2c_read=2 group=3 group_member=12 group_msg=7 profile=2 " \
	"every kind the export can give"
is "$(jq -c 'select(.kind=="c2c_read") | [.Report_Account, .Peer_Account, .MsgReadTime]' "$TMPD/default.jsonl" | tr '\n' ' ')" \
	'["alice","bob","1700000700"] ["bob","alice","1700000300"] ' "read receipts of the distinct pair -> c2c_read (seconds, as a string)"
is "$(jq -r 'select(.kind=="c2c_msg") | "\(.MsgSeq > 0 and .MsgRandom > 0)"' "$TMPD/default.jsonl" | sort -u)" "true" \
	"c2c messages get MsgSeq/MsgRandom from message_id"
grep -q "metadata key 'department' has no profile tag" "$TMPD/default.err"
ok $? "unmapped metadata keys are named in a warning"
preview default2 "$ALL" "{}"
is "$(md5sum <"$TMPD/default2.jsonl")" "$(md5sum <"$TMPD/default.jsonl")" "the mapping is deterministic"

preview removed "$ALL" "{ keep_removed = true }"
is "$(jq -r 'select(.kind=="group_msg") | .MsgBody[0].MsgContent.Text // empty' "$TMPD/removed.jsonl" | grep -c 'this was deleted')" 1 \
	"keep_removed = true keeps deleted messages"

preview noadmin "$ALL" "{ admin_messages = \"skip\" }"
is "$(kinds noadmin)" "account=6 c2c_msg=7 c2c_read=2 group=3 group_member=11 group_msg=6 profile=2 " \
	"admin_messages = skip: no ADMM message, no system account or membership"

preview sys "$ALL" "{ system_account = \"bot\" }"
is "$(jq -r 'select(.kind=="group_msg" and .MsgBody[0].MsgType=="TIMCustomElem" and (.MsgBody[0].MsgContent.Data | test("ADMM"))) | .From_Account' "$TMPD/sys.jsonl")" \
	"bot" "system_account names the ADMM sender"

preview media "$ALL" "{ group_media_elements = true }"
# The script then makes a real image element; the validator's default rules (spec
# §6.4: text, face, location and custom only) refuse it with a reason.
grep -q "messages.json:9 group_msg: MsgBody\[0\]: TIMImageElem is not accepted by import_group_msg" "$TMPD/media.err"
ok $? "group_media_elements = true makes real image elements in groups (refused by the default rules, with the reason)"

preview public "$ALL" "{ group_type = \"Public\" }"
is "$(jq -r 'select(.kind=="group") | .Type' "$TMPD/public.jsonl" | sort -u)" "Public" "group_type sets the group type"

preview blocks "{ \"$FIX/blocks\" }" "{}"
is "$(jq -c 'select(.kind=="blacklist") | [.From_Account, .To_Account]' "$TMPD/blocks.jsonl" | tr '\n' ' ')" \
	'["alice","bob"] ["carol","mallory"] ' "blocks -> blacklist"
is "$(jq -r 'select(.kind=="account") | .UserID' "$TMPD/blocks.jsonl" | sort | tr '\n' ' ')" "alice bob carol mallory " \
	"users seen only in blocks get accounts"

# JSON nulls wherever Sendbird may put them: no script error, clear dead letters.
preview nulls "{ \"$FIX/nulls\" }" "{}"
is "$PREVIEW_RC" 3 "nulls: finishes with dead letters"
is "$(kinds nulls)" "account=1 group=1 group_member=1 group_msg=1 " "a null name/cover/members/created_at still makes a group"
is "$(grep -o 'dead letter (script) [^ ]*: sendbird.lua:[0-9]*: .*' "$TMPD/nulls.err" | sed 's/.*sendbird.lua:[0-9]*: //' | tr '\n' '|')" \
	"message 7002 has no sender (user.user_id)|FILE message without file.url|message 7004 without created_at|" \
	"each unusable message is a dead letter saying why"

# A message over the 12,000-byte limit.
mkdir "$TMPD/long"
{
	printf '{"messages":[{"type":"MESG","message_id":9001,"created_at":1700009000000,"channel_url":"trio","user":{"user_id":"alice"},"message":"'
	head -c 13000 /dev/zero | tr '\0' 'y'
	printf '"}]}'
} >"$TMPD/long/messages.json"
preview long "{ \"$TMPD/long\" }" "{}"
is "$PREVIEW_RC" 3 "an over-long message is a dead letter (exit 3)"
grep -q "12000\|12,000\|12 KB\|too large\|exceeds" "$TMPD/long.err"
ok $? "the dead letter gives the size reason"
preview longcut "{ \"$TMPD/long\" }" "{ truncate_long_text = true }"
is "$(jq -r 'select(.kind=="group_msg") | .MsgBody[0].MsgContent.Text | length' "$TMPD/longcut.jsonl")" 10000 \
	"truncate_long_text = true cuts the text to 10,000 bytes instead"
done_testing
