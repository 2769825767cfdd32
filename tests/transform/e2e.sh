#!/bin/sh
# End to end: jsonl -> identity.lua / a non-trivial script -> stage; check,
# preview, exit codes, dead letters; and kill -9 mid-run + resume stages exactly
# what a clean run stages.
. "$top_srcdir/tests/lib.sh"
here="$top_srcdir/tests/transform"
[ -x "$IMMIGRATE" ] || skip_all "immigrate not built"
command -v sqlite3 >/dev/null 2>&1 || skip_all "the sqlite3 command is not installed"
ls "$top_builddir"/plugins/jsonl/.libs/jsonl.so >/dev/null 2>&1 || skip_all "the jsonl plugin is not built"
make_tmpdir
cd "$TMPD" || exit 1

# --- identity: records that already are IM records ---
cat >im.jsonl <<'JSON'
{"kind":"account","UserID":"alice","Nick":"Alice"}
{"kind":"account","UserID":"bob"}
{"kind":"c2c_msg","From_Account":"alice","To_Account":"bob","MsgTimeStamp":1700000000,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}}],"_source_id":"m1"}
not json at all
{"kind":"c2c_msg","From_Account":"alice","To_Account":"bob","MsgTimeStamp":"yesterday","MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"x"}}]}
{"kind":"group","GroupId":"g1","Type":"Public","Name":"G one","CreateTime":1600000000}
{"kind":"group_msg","GroupId":"g1","From_Account":"alice","SendTime":1600000100,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"yo"}}],"_source_id":"gm1"}
{ "UserID": "nobody" }
{"kind":"account","UserID":"alice","Nick":"Alice again"}
JSON
cat >identity.lua <<'LUA'
return { source = { plugin = "jsonl", path = "im.jsonl" }, script = "identity", state = "id.db" }
LUA

"$IMMIGRATE" check identity.lua >check.out 2>&1
is "$?" 0 "check accepts the identity job"
grep -q '^ok$' check.out; ok $? "check says ok"
"$IMMIGRATE" check identity.lua --set source.bogus=1 >check.out 2>&1
is "$?" 2 "check: a plugin option the plugin refuses is a configuration error"
grep -q bogus check.out; ok $? "naming the option"
"$IMMIGRATE" check identity.lua --set script=nosuch >/dev/null 2>&1
is "$?" 2 "check: a missing script is a configuration error"
"$IMMIGRATE" check identity.lua --set source.plugin=nosuchplugin >/dev/null 2>&1
is "$?" 2 "check: a missing plugin is a configuration error"
"$IMMIGRATE" check >/dev/null 2>&1
is "$?" 2 "check without a job is a usage error"

"$IMMIGRATE" preview identity.lua --limit 3 >preview.out 2>preview.err
is "$?" 0 "preview of the first 3 records: no dead letters"
is "$(wc -l <preview.out | tr -d ' ')" 3 "three IM records printed"
is "$(sed -n 1p preview.out)" '{"kind":"account","Nick":"Alice","UserID":"alice"}' "as JSON lines, kind first"
grep -q '"MsgSeq":' preview.out; ok $? "with derived MsgSeq"
"$IMMIGRATE" preview identity.lua --limit 0 >preview.out 2>preview.err
is "$?" 3 "preview of everything: exit 3 (dead letters)"
grep -q 'im.jsonl:4' preview.err; ok $? "the parse dead letter names file and line"
grep -q 'MsgTimeStamp' preview.err; ok $? "the validation dead letter names the field"
[ ! -e id.db ]; ok $? "preview stages nothing"

"$IMMIGRATE" run identity.lua >run.out 2>run.err
is "$?" 3 "run: exit 3 with dead letters"
grep -q 'staged only' run.out; ok $? "run says it only staged (no target)"
is "$(sqlite3 id.db 'select count(*) from records')" 5 "5 records staged (the repeated account deduplicated)"
grep -q '^  1 already staged (deduplicated)' run.out
ok $? "the summary counts it as a duplicate (found when the extract ended), not as staged"
is "$(sqlite3 id.db "select group_concat(stage, ',') from (select stage from dead_letters order by id)")" \
	"parse,validate,script" "dead letters: parse, validate, script"
is "$(sqlite3 id.db "select reason from dead_letters where stage = 'script'")" \
	"identity.lua:7: record has no kind (identity expects IM records)" "the script dead letter names file:line (of map, for a returned error)"
is "$(sqlite3 id.db "select json_extract(data, '\$.UserID') from raw r join dead_letters d on d.raw_id = r.id where d.stage = 'script'")" \
	"nobody" "and points at the raw native record"
is "$(sqlite3 id.db "select data from raw r join dead_letters d on d.raw_id = r.id where d.stage = 'script'")" \
	'{ "UserID": "nobody" }' "the raw record is the line as the plugin read it"
is "$(sqlite3 id.db "select json_extract(payload, '\$.Nick') from records where dedupe_key = 'account:[\"alice\"]'")" \
	"Alice" "the first staging of a record wins"
is "$(sqlite3 id.db "select count(*) from checkpoints where done = 1")" 1 "the source is checkpointed as done"
"$IMMIGRATE" run identity.lua >run.out 2>&1
is "$?" 3 "a second run: still exit 3 (the dead letters remain)"
grep -q 'read to its end' run.out; ok $? "and reads nothing again"
is "$(sqlite3 id.db 'select count(*) from records')" 5 "nothing duplicated"

# --- a non-trivial script, clean run vs kill -9 + resume ---
sh "$here/gen-chat.sh" 25000 >chat.jsonl
cp "$here/chat.lua" chat.lua
cat >job.lua <<'LUA'
return { source = { plugin = "jsonl", path = "chat.jsonl" }, script = "chat.lua", state = env("H3_STATE") }
LUA
H3_STATE=clean.db "$IMMIGRATE" run job.lua --stage-only >clean.out 2>&1
is "$?" 3 "clean run of the chat export: exit 3 (it has bad records)"
dump() {
	sqlite3 "$1" "select kind, dedupe_key, payload, status from records order by dedupe_key;
		select stage, coalesce(origin, ''), coalesce(code, ''), reason from dead_letters order by origin, reason;
		select count(*) from raw; select namespace, old_id, new_id from idmap order by 1, 2;"
}
dump clean.db >clean.dump
is "$(sqlite3 clean.db "select count(*) from dead_letters where stage = 'parse'")" 24 "24 broken lines"
is "$(sqlite3 clean.db "select count(*) from dead_letters where stage = 'script'")" 25 "25 unknown record types"
is "$(sqlite3 clean.db "select count(*) from dead_letters where stage = 'validate'")" 25 "25 messages without recipient"
is "$(sqlite3 clean.db "select count(*) from records where kind = 'account'")" 50 "50 accounts (emitted once each)"
is "$(sqlite3 clean.db "select count(*) from idmap where namespace = 'user'")" 5 "5 long user ids hashed into the id map"
is "$(sqlite3 clean.db "select count(distinct kind) from records")" 3 "accounts, c2c and group messages"
# While it reads, the extract shows where it stands against the plugin's estimate.
grep -q "^extract .*\] 25000/~25000 native records, 24926 staged, 74 dead, [0-9]*/s, read; sorting the stage's indexes$" clean.out
ok $? "its last progress line: 25000 of the 25000 the plugin estimated, staged, dead, indexes next"
H3_STATE=json.db "$IMMIGRATE" run job.lua --stage-only --log-format json >/dev/null 2>json.err
last=$(grep '"phase":"extract"' json.err | tail -n 1)
case $last in
*'"native":25000,"total":25000,"staged":24926,"dead":74,'*'"eta_s":0.0,"done":true,"indexing":true}') ok 0 "and as JSON: $last" ;;
*) ok 1 "and as JSON: $last" ;;
esac
H3_STATE=quiet.db "$IMMIGRATE" run job.lua --stage-only --quiet >quiet.out 2>&1
grep -q '^extract .*native records' quiet.out
is "$?" 1 "nothing with --quiet"

kills=0
for attempt in 1 2 3; do
	before=$(sqlite3 resumed.db "select token from checkpoints" 2>/dev/null)
	# Small batches: checkpoints to kill between, whatever the machine's speed.
	IMMIGRATE_EXTRACT_BATCH=2000 H3_STATE=resumed.db "$IMMIGRATE" run job.lua --stage-only >/dev/null 2>&1 &
	pid=$!
	# Wait until this run commits a new checkpoint short of the end, then kill
	# it without warning: the next run must resume from there.
	n=0
	while kill -0 $pid 2>/dev/null && [ $n -lt 500 ]; do
		now=$(sqlite3 resumed.db "select token from checkpoints where done = 0" 2>/dev/null)
		[ -n "$now" ] && [ "$now" != "$before" ] && break
		sleep 0.02; n=$((n + 1))
	done
	if kill -9 $pid 2>/dev/null; then kills=$((kills + 1)); fi
	wait $pid 2>/dev/null
done
echo "# killed $kills time(s) mid-run"
# SIGINT: stops cleanly at the next record, commits, says how to resume.
IMMIGRATE_EXTRACT_BATCH=2000 H3_STATE=int.db "$IMMIGRATE" run job.lua --stage-only >int.out 2>int.err &
pid=$!
n=0
while kill -0 $pid 2>/dev/null && [ $n -lt 500 ]; do
	[ -n "$(sqlite3 int.db "select token from checkpoints where done = 0" 2>/dev/null)" ] && break
	sleep 0.02; n=$((n + 1))
done
kill -INT $pid 2>/dev/null
wait $pid
rc=$?
if grep -q interrupted int.err; then
	is "$rc" 1 "SIGINT: exit 1, interrupted, resumable"
else
	ok 0 "SIGINT: the run had finished before the signal (rc $rc, polls $n)"
fi
H3_STATE=int.db "$IMMIGRATE" run job.lua --stage-only >/dev/null 2>&1
dump int.db >int.dump
cmp -s clean.dump int.dump; ok $? "SIGINT + resume stages exactly what a clean run stages"
H3_STATE=resumed.db "$IMMIGRATE" run job.lua --stage-only >resumed.out 2>&1
is "$?" 3 "the resumed run finishes (exit 3: dead letters)"
dump resumed.db >resumed.dump
cmp -s clean.dump resumed.dump; ok $? "kill -9 + resume stages exactly what a clean run stages"
[ "$kills" -gt 0 ] || echo "# note: every run ended before it could be killed"

# Deterministic kills inside an open batch, after the stage has written some of
# the batch's native records as raw chunks and buffered the rest: the raw rows
# go with the batch, the resumed run neither loses nor repeats one.
IMMIGRATE_EXTRACT_BATCH=2000 IMMIGRATE_TEST_KILL_AT=3500 H3_STATE=chunks.db \
	"$IMMIGRATE" run job.lua --stage-only >/dev/null 2>&1
is "$?" 137 "killed (SIGKILL) mid-batch, raw chunks written and buffered"
first_batch=$(sqlite3 clean.db "select count(*) from raw where cast(substr(origin, instr(origin, ':') + 1) as integer) <= 2000")
is "$(sqlite3 chunks.db "select count(*) || ' ' || max(id) from raw")" "$first_batch $first_batch" \
	"only the committed batch's native records are in raw"
IMMIGRATE_EXTRACT_BATCH=2000 IMMIGRATE_TEST_KILL_AT=4100 H3_STATE=chunks.db \
	"$IMMIGRATE" run job.lua --stage-only >/dev/null 2>&1
is "$?" 137 "killed again after resuming"
H3_STATE=chunks.db "$IMMIGRATE" run job.lua --stage-only >/dev/null 2>&1
dump chunks.db >chunks.dump
cmp -s clean.dump chunks.dump; ok $? "kill -9 mid-batch twice + resume stages exactly what a clean run stages"
is "$(sqlite3 chunks.db "select count(*) = max(id) and count(*) = count(distinct id) from raw")" 1 \
	"raw ids are consecutive, none repeated"
done_testing
