#!/bin/sh
# `immigrate run` end to end: stage through identity.lua, then load into the
# local emulator; a second run sends nothing new.
. "$top_srcdir/tests/lib.sh"
[ -x "$IMMIGRATE" ] || skip_all "immigrate not built"
[ -x "$IMSIM" ] || skip_all "immigrate-imsim not built"
command -v curl >/dev/null 2>&1 || skip_all "curl is not installed"
ls "$top_builddir"/plugins/jsonl/.libs/jsonl.so >/dev/null 2>&1 || skip_all "the jsonl plugin is not built"
make_tmpdir
cd "$TMPD" || exit 1
printf 'test-key-0123456789abcdef\n' >im.key
chmod 600 im.key
"$IMSIM" --listen 127.0.0.1:0 --port-file port --sdkappid 1400000001 --admin admin --key-file im.key \
	>sim.log 2>&1 &
CLEANUP_PIDS=$!
n=0
while [ ! -s port ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
[ -s port ] || { cat sim.log; skip_all "the emulator did not start"; }
PORT=$(cat port)

cat >im.jsonl <<'JSON'
{"kind":"account","UserID":"alice","Nick":"Alice"}
{"kind":"account","UserID":"bob"}
{"kind":"c2c_msg","From_Account":"alice","To_Account":"bob","MsgTimeStamp":1700000000,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}}],"_source_id":"m1"}
{"kind":"group","GroupId":"g1","Type":"Public","Name":"G one","Owner_Account":"alice","CreateTime":1600000000}
{"kind":"group_msg","GroupId":"g1","From_Account":"alice","SendTime":1600000100,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"yo"}}],"_source_id":"gm1"}
{"kind":"c2c_msg","From_Account":"alice","To_Account":"bob","MsgTimeStamp":-5,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"x"}}]}
JSON
cat >job.lua <<LUA
return {
  source = { plugin = "jsonl", path = "im.jsonl" }, script = "identity",
  target = { endpoint = "http://127.0.0.1:$PORT", sdkappid = 1400000001, admin = "admin", key_file = "im.key" },
}
LUA
"$IMMIGRATE" check job.lua >/dev/null 2>&1
is "$?" 0 "check accepts the job with a target"
"$IMMIGRATE" run job.lua --quiet >run.out 2>run.err
is "$?" 3 "run stages, loads, and exits 3 for the one invalid record"
curl -s "http://127.0.0.1:$PORT/_sim/dump" >dump.json
grep -q '"user_id":"alice"' dump.json && grep -q '"user_id":"bob"' dump.json; ok $? "accounts landed"
grep -q '"msg_seq":' dump.json && grep -q '"group_id":"g1"' dump.json; ok $? "messages and the group landed"
is "$(grep -o '"msg_seq"' dump.json | wc -l | tr -d ' ')" 2 "one c2c and one group message"
"$IMMIGRATE" run job.lua --quiet >run2.out 2>&1
is "$?" 3 "a second run: same outcome"
curl -s "http://127.0.0.1:$PORT/_sim/dump" >dump2.json
cmp -s dump.json dump2.json; ok $? "and the target is unchanged"
done_testing
