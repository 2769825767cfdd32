#!/bin/sh
# Pull mode against a local fake of the Sendbird Platform API (tests/sendbird/sb-fake):
# token paging, members/operators, timestamp paging with equal timestamps at a page
# boundary, a channel whose messages fail, blocks, resume from every checkpoint,
# estimate, the token only in the Api-Token header.
. "${top_srcdir:-.}/tests/lib.sh"
command -v jq >/dev/null 2>&1 || skip_all "jq not installed"
make_tmpdir
DUMP="$top_builddir/tests/sendbird/sb-dump"
FAKE="$top_builddir/tests/sendbird/sb-fake"
TOKEN="tok-$(date +%s)-$$-secret"

SB_FAKE_TOKEN="$TOKEN" "$FAKE" --data "$top_srcdir/tests/sendbird/fixtures/api.json" \
	--port-file "$TMPD/port" --log "$TMPD/requests" &
CLEANUP_PIDS=$!
i=0
while [ ! -s "$TMPD/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$TMPD/port" ] || { echo "Bail out! the fake did not start"; exit 1; }
BASE="http://127.0.0.1:$(cat "$TMPD/port")"
OPTS="{\"app_id\":\"A1B2-C3\",\"api_base\":\"$BASE\",\"api_token_env\":\"SB_TEST_TOKEN\",\"page_size\":3}"
export SB_TEST_TOKEN="$TOKEN"

"$DUMP" "$OPTS" >"$TMPD/all.jsonl" 2>"$TMPD/stderr"
ok $? "a full pull runs to the end"
is "$(jq -r 'select(.error == null) | "\(.stream) \(.id)"' "$TMPD/all.jsonl" | tr '\n' ' ')" \
	"users alice users bob users carol users dave users erin channels dm_alice_bob channels team/room 1 channels locked channels quiet messages 1001 messages 1002 messages 1003 messages 1004 messages 1005 messages 2001 messages 2002 messages 2003 messages 2004 blocks alice/erin blocks carol/bob blocks carol/dave blocks carol/erin " \
	"every user, channel, message (two share a timestamp across a page boundary) and block, once, in order"
is "$(jq -c 'select(.id=="team/room 1") | [.data.members[].user_id, .data.operators[].user_id]' "$TMPD/all.jsonl")" \
	'["alice","bob","carol","dave","erin","carol"]' "a channel carries its members (paged) and operators"
is "$(jq -c 'select(.id=="dm_alice_bob") | .data.read_receipt' "$TMPD/all.jsonl")" \
	'{"alice":1700000500000,"bob":1700000200000}' "read receipts come with the channel"
is "$(jq -c 'select(.id=="carol/dave") | [.data.blocker_id, .data.blocked_id, .data.blocked_user.nickname]' "$TMPD/all.jsonl")" \
	'["carol","dave","Dave"]' "a block names blocker and blocked"
is "$(jq -r 'select(.error != null) | "\(.stream) \(.error)"' "$TMPD/all.jsonl")" \
	"messages GET /v3/group_channels/locked/messages?message_ts=0&prev_limit=0&next_limit=3&include=true&reverse=false&with_sorted_meta_array=false: HTTP 403: Forbidden for this channel." \
	"a channel whose messages cannot be read is one bad record, and the run goes on"
grep -q "^GET /v3/group_channels/team/room 1/members" "$TMPD/requests"
ok $? "channel urls are escaped in paths"
grep -q "show_empty=false" "$TMPD/requests" && ! grep -q "show_member" "$TMPD/requests"
ok $? "channels without messages are not walked for messages; members come from /members only"
grep -q "^GET /v3/users?active_mode=all&limit=3" "$TMPD/requests"
ok $? "users are listed with active_mode=all (deactivated users too)"

# The token: only in the header.
! grep -q "SECRET-IN-URL" "$TMPD/requests"
ok $? "the API token never appears in a URL"
! grep -q "$TOKEN" "$TMPD/all.jsonl" "$TMPD/stderr"
ok $? "the API token never appears in records or logs"

# Resume after every record.
n=$(wc -l <"$TMPD/all.jsonl")
all_ok=0
k=0
while [ $k -le "$n" ]; do
	"$DUMP" --limit "$k" --checkpoint-out "$TMPD/ck" "$OPTS" >"$TMPD/p1" 2>/dev/null
	"$DUMP" --checkpoint "$(cat "$TMPD/ck")" "$OPTS" >"$TMPD/p2" 2>/dev/null
	cat "$TMPD/p1" "$TMPD/p2" | cmp -s - "$TMPD/all.jsonl" || { all_ok=1; echo "# resume after $k differs"; cp "$TMPD/ck" "$TMPD/ck.$k"; }
	k=$((k + 1))
done
ok $all_ok "resuming after each of the $n records (mid-page, mid-channel, mid-blocks) yields exactly the remainder"
"$DUMP" --limit 11 --checkpoint-out "$TMPD/ck" "$OPTS" >/dev/null 2>&1
is "$(jq -c '[.phase, .ts, .seen]' "$TMPD/ck")" '["messages",1700000200000,[1002]]' \
	"a mid-channel checkpoint holds the last timestamp and the ids seen at it"

# Bigger pages give the same records.
"$DUMP" "$(echo "$OPTS" | sed 's/"page_size":3/"page_size":100/')" >"$TMPD/big.jsonl" 2>/dev/null
is "$(jq -c 'select(.error == null)' "$TMPD/big.jsonl" | md5sum)" "$(jq -c 'select(.error == null)' "$TMPD/all.jsonl" | md5sum)" \
	"page size does not change the records"

# messages_from / messages_to (ms), blocks off.
"$DUMP" "$(echo "$OPTS" | sed 's/}$/,"messages_from":1700000200000,"messages_to":1700001060000,"include_blocks":false}/')" \
	>"$TMPD/window.jsonl" 2>/dev/null
is "$(jq -r 'select(.stream=="messages" or .stream=="blocks") | .id' "$TMPD/window.jsonl" | tr '\n' ' ')" \
	"1002 1003 1004 1005 2001 2002 null " "a message time window, without blocks"

is "$("$DUMP" --estimate "$OPTS" 2>/dev/null)" '{"channels":4,"users":5}' "estimate counts users and channels"

# Failures.
SB_TEST_TOKEN=wrong "$DUMP" "$OPTS" >/dev/null 2>"$TMPD/err"
ok $([ $? -eq 1 ] && grep -q "GET /v3/users?active_mode=all&limit=3: HTTP 401" "$TMPD/err" && ! grep -q wrong "$TMPD/err"; echo $?) \
	"a wrong token is a fatal error naming the call, without the token"
env -u SB_TEST_TOKEN "$DUMP" "$OPTS" >/dev/null 2>"$TMPD/err"
ok $([ $? -eq 1 ] && grep -q "SB_TEST_TOKEN is not set" "$TMPD/err"; echo $?) "a missing token variable is named"
printf '%s\n' "$TOKEN" >"$TMPD/token"
"$DUMP" "{\"app_id\":\"A1B2-C3\",\"api_base\":\"$BASE\",\"api_token_file\":\"$TMPD/token\",\"include_blocks\":false}" \
	>"$TMPD/file.jsonl" 2>/dev/null
ok $? "the token can come from a file"
"$DUMP" "{\"app_id\":\"A1\",\"api_base\":\"$BASE\",\"page_size\":500}" >/dev/null 2>"$TMPD/err"
ok $([ $? -eq 1 ] && grep -q "source.page_size" "$TMPD/err"; echo $?) "a bad page size is refused"
"$DUMP" --checkpoint '{"mode":"export","pass":0,"elem":0,"off":0,"line":1}' "$OPTS" >/dev/null 2>"$TMPD/err"
ok $([ $? -eq 1 ] && grep -q "not a sendbird pull checkpoint" "$TMPD/err"; echo $?) "an export checkpoint is refused in pull mode"

if [ -n "${VALGRIND:-}" ]; then
	"$VALGRIND" -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
		"$DUMP" "$OPTS" >/dev/null 2>"$TMPD/vg"
	ok $? "valgrind-clean over a full pull"
else
	skip "no valgrind (not installed, or a sanitizer build)"
fi
# A channel whose messages fail with 503 (after the host's retries): the run stops
# with the reason instead of dropping the channel, after what came before it.
kill $CLEANUP_PIDS 2>/dev/null; wait $CLEANUP_PIDS 2>/dev/null
jq '.channels[2].fail_messages = 503' "$top_srcdir/tests/sendbird/fixtures/api.json" >"$TMPD/api503.json"
rm -f "$TMPD/port"
SB_FAKE_TOKEN="$TOKEN" "$FAKE" --data "$TMPD/api503.json" --port-file "$TMPD/port" &
CLEANUP_PIDS=$!
i=0
while [ ! -s "$TMPD/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
OPTS503=$(echo "$OPTS" | sed "s|$BASE|http://127.0.0.1:$(cat "$TMPD/port")|")
"$DUMP" "$OPTS503" >"$TMPD/503.jsonl" 2>"$TMPD/err"
ok $([ $? -eq 1 ] && grep -q "next: GET /v3/group_channels/locked/messages.*HTTP 503" "$TMPD/err"; echo $?) \
	"a 5xx on one channel stops the run (to be retried from the checkpoint), naming the call"
is "$(jq -r .id "$TMPD/503.jsonl" | tail -1)" "2004" "everything before it came through"

done_testing
