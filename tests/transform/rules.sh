#!/bin/sh
# target.rules: the validator's imrules switches per job (group messages with
# real media elements, a smaller message limit), for identity records and for
# scripts/sendbird.lua's group_media_elements option.
. "$top_srcdir/tests/lib.sh"
[ -x "$IMMIGRATE" ] || skip_all "immigrate not built"
ls "$top_builddir"/plugins/jsonl/.libs/jsonl.so >/dev/null 2>&1 || skip_all "the jsonl plugin is not built"
make_tmpdir
cd "$TMPD" || exit 1

cat >im.jsonl <<'JSON'
{"kind":"group_msg","GroupId":"g1","From_Account":"alice","SendTime":1600000100,"MsgBody":[{"MsgType":"TIMImageElem","MsgContent":{"UUID":"u1","ImageFormat":1,"ImageInfoArray":[{"Type":1,"Size":10,"Width":1,"Height":1,"URL":"https://x/1.png"}]}}],"_source_id":"gm1"}
{"kind":"c2c_msg","From_Account":"alice","To_Account":"bob","MsgTimeStamp":1700000000,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"0123456789012345678901234567890123456789"}}],"_source_id":"m1"}
JSON
job() {
	cat >job.lua <<EOJ
return { source = { plugin = "jsonl", path = "im.jsonl" }, script = "identity", target = { rules = $1 } }
EOJ
}
job '{}'
"$IMMIGRATE" preview job.lua --limit 0 >out 2>err
is "$?" 3 "default rules: a group message with an image element is a dead letter"
grep -q 'TIMImageElem is not accepted by import_group_msg' err; ok $? "saying why"
job '{ ["group-msg-any-elem"] = true }'
"$IMMIGRATE" preview job.lua --limit 0 >out 2>err
is "$?" 0 "group-msg-any-elem = true: accepted"
is "$(grep -c '"kind":"group_msg"' out)" 1 "and printed"
"$IMMIGRATE" preview job.lua --limit 0 --set target.rules.group-msg-any-elem=false >out 2>err
is "$?" 3 "--set target.rules.group-msg-any-elem=false overrides the job"
job '{ ["group-msg-any-elem"] = true, ["msg-max-bytes"] = 60 }'
"$IMMIGRATE" preview job.lua --limit 0 >out 2>err
is "$?" 3 "msg-max-bytes = 60: the longer message is refused"
grep -q 'over 60' err; ok $? "naming the limit"
job '{ ["group-msg-any-element"] = true }'
"$IMMIGRATE" check job.lua >out 2>&1
is "$?" 2 "an unknown rule is a configuration error"
grep -q "target.rules.group-msg-any-element: unknown rule switch" out; ok $? "naming the key"

SBFIX="$top_srcdir/tests/sendbird/fixtures"
if [ -f "$top_builddir/plugins/sendbird/.libs/sendbird.so" ] && [ -f "$SBFIX/export/messages.json" ]; then
	sb() {
		cat >sb.lua <<EOJ
return { source = { plugin = "sendbird", path = { "$SBFIX/export", "$SBFIX/window2" } }, script = "sendbird",
	script_options = { group_media_elements = true }, target = { rules = $1 } }
EOJ
		"$IMMIGRATE" preview sb.lua --limit 0 >sb.out 2>sb.err
	}
	sb '{}'
	is "$?" 3 "sendbird group_media_elements with the default rules: refused"
	sb '{ ["group-msg-any-elem"] = true }'
	is "$?" 0 "sendbird group_media_elements with group-msg-any-elem = true: accepted"
	grep '"kind":"group_msg"' sb.out | grep -q TIMImageElem; ok $? "a group message carries a real image element"
else
	for i in 1 2 3; do skip "the sendbird plugin or its fixtures are missing"; done
fi
done_testing
