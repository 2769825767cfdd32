#!/bin/sh
# immigrate dlq list/show/replay against immigrate-imsim: a script error and a
# record the target refuses become dead letters; after the script is fixed,
# replay stages and loads them and the target holds exactly the fixed records.
. "${top_srcdir:-.}/tests/lib.sh"

[ -x "$IMSIM" ] || skip_all "immigrate-imsim not built"
[ -x "$IMMIGRATE" ] || skip_all "immigrate not built"
[ -n "$IMMIGRATE_PLUGIN_PATH" ] || skip_all "jsonl plugin not built"
command -v curl >/dev/null 2>&1 || skip_all "curl not found (emulator dump)"

make_tmpdir
cd "$TMPD" || exit 1
printf '%s' 5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e >im.key
chmod 600 im.key
"$IMSIM" --listen 127.0.0.1:0 --port-file port --sdkappid 1400000000 --admin admin --key-file im.key 2>sim.log &
CLEANUP_PIDS=$!
i=0
while [ ! -s port ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
PORT=$(cat port)

cat >export.jsonl <<'JSONL'
{"kind":"account","UserID":"alice"}
{"kind":"account","UserID":"bob"}
{"kind":"account","UserID":"carol","bad":true}
{"kind":"c2c_msg","From_Account":"alice","To_Account":"ghost","MsgTimeStamp":1500000000,"MsgSeq":1,"MsgRandom":7,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"to whom?"}}]}
{"kind":"c2c_msg","From_Account":"alice","To_Account":"bob","MsgTimeStamp":1500000001,"MsgSeq":2,"MsgRandom":8,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}}]}
JSONL
cat >v1.lua <<'LUA'
function map(rec, ctx)
  if rec.bad then error("records marked bad are not handled yet") end
  return rec
end
LUA
cat >v2.lua <<'LUA'
function map(rec, ctx)
  rec.bad = nil
  if rec.To_Account == "ghost" then rec.To_Account = "bob" end
  return rec
end
LUA
cat >job.lua <<LUA
return {
  source = { plugin = "jsonl", path = "export.jsonl" },
  script = "v1.lua",
  target = { endpoint = "http://127.0.0.1:$PORT", sdkappid = 1400000000, admin = "admin", key_file = "im.key" },
  state = "m.db",
}
LUA

"$IMMIGRATE" run job.lua --quiet >run.out 2>run.err
is "$?" 3 "run with a script error and a refused record exits 3"
"$IMMIGRATE" dlq list job.lua >list.out 2>&1
is "$?" 0 "dlq list exits 0"
grep -q '^[0-9].* script .*records marked bad' list.out
ok $? "the script dead letter is listed with its reason"
grep -q '^[0-9].* api  *c2c_msg  *90012' list.out
ok $? "the refused message is listed with its code"
grep -q '^2 dead letters not yet replayed' list.out
ok $? "two dead letters"
api_id=$(awk '$2 == "api" { print $1 }' list.out)
"$IMMIGRATE" dlq show job.lua "$api_id" >show.out 2>&1
is "$?" 0 "dlq show exits 0"
grep -q 'code: *90012 (To_Account not imported)' show.out
ok $? "show gives the code and its meaning"
grep -q '"To_Account":"ghost"' show.out
ok $? "show gives the raw source record"
"$IMMIGRATE" dlq show job.lua 999999 >/dev/null 2>&1
is "$?" 2 "show of an unknown id exits 2"

"$IMMIGRATE" dlq replay job.lua --set script=v2.lua --quiet >replay.out 2>replay.err
is "$?" 0 "replay with the fixed script exits 0"
grep -q '^replay: 2 raw records' replay.out
ok $? "replay re-ran the script on both raw records"
grep -q '; 0 sync events queued again;' replay.out
ok $? "a stage no sync daemon ran on (no outbox) has no sync events to queue"
"$IMMIGRATE" dlq list job.lua >list2.out 2>&1
grep -q '^0 dead letters not yet replayed' list2.out
ok $? "no dead letter left"
"$IMMIGRATE" dlq list job.lua --all --json >all.out 2>&1
is "$(grep -c '"replayed":true' all.out)" 2 "the replayed dead letters are kept, marked"
curl -s "http://127.0.0.1:$PORT/_sim/dump" >dump.json
tr -d ' \n' <dump.json | grep -o '"user_id":"[a-z]*"' | sort | tr '\n' ' ' >accounts.txt
is "$(cat accounts.txt)" '"user_id":"alice" "user_id":"bob" "user_id":"carol" ' "carol landed after the replay"
is "$(tr -d ' \n' <dump.json | grep -o '"to_account":"[a-z]*"' | sort | tr '\n' ' ')" \
	'"to_account":"bob" "to_account":"bob" ' "the fixed message landed, to bob, once"
done_testing
