#!/bin/sh
# The easemob plugin read through tests/easemob/em-read: the 57 documented
# callback examples, history files (plain, gzip, directory), the callback archive
# with signatures, duplicates across inputs, malformed lines, estimate, option
# errors and resume from every checkpoint.
. "$top_srcdir/tests/lib.sh"
command -v jq >/dev/null 2>&1 || skip_all "jq not installed"
command -v gzip >/dev/null 2>&1 || skip_all "gzip not installed"
make_tmpdir

EM_READ="$top_builddir/tests/easemob/em-read"
MODULE="$top_builddir/plugins/easemob/easemob.la"
FIX="$top_srcdir/tests/easemob/fixtures"
HIST="$FIX/history/2024010210.jsonl"
ARCH="$FIX/callbacks/archive.jsonl"

em() { "$EM_READ" "$@" 2>>"$TMPD/stderr"; }
count() { jq -s "$1" "$2"; }

# --- the documented callback examples ------------------------------------
DOC="$SHARED/fixtures/easemob/easemob-doc/callback_examples.jsonl"
if [ -f "$DOC" ]; then
	em "$MODULE" "{\"callbacks\":\"$DOC\"}" >"$TMPD/doc.out"
	ok $? "the 57 documented examples read"
	is "$(count 'map(select(.error)) | length' "$TMPD/doc.out")" 0 "none of them is a bad record"
	is "$(count 'group_by(.stream) | map("\(.[0].stream)=\(length)") | join(" ")' "$TMPD/doc.out")" \
		'"groups=44 read_acks=1 recalls=1 roster=8"' "54 events by stream (3 login/logout events skipped)"
	is "$(count '[.[] | select(.stream=="groups") | .data._group_id] | map(select(. == null)) | length' "$TMPD/doc.out")" \
		0 "every muc event names its group"
	is "$(count '[.[] | select(.stream=="read_acks")][0].data.payload.ack_message_id' "$TMPD/doc.out")" \
		'"968665323572037776"' "the read_ack keeps its acked id"
else
	skip "no $DOC"; skip "-"; skip "-"; skip "-"; skip "-"
fi

# --- history, plain, gzip and directory -----------------------------------
em "$MODULE" "{\"history\":\"$HIST\",\"appkey\":\"acme#chat\"}" >"$TMPD/plain.out"
is "$(count 'length' "$TMPD/plain.out")" 12 "12 history records"
is "$(count 'map(.source_id) | join(",")' "$TMPD/plain.out")" \
	'"1001,1002,1003,1004,1005,1006,1007,1008,1009,1010,1011,1012"' "in file order, source_id = msg_id"
is "$(count '[.[].data.payload.bodies[0].type] | unique | join(",")' "$TMPD/plain.out")" \
	'"audio,cmd,custom,file,img,loc,txt,video"' "every body type"
is "$(count '[.[] | select(.data._from_admin)] | map(.source_id) | join(",")' "$TMPD/plain.out")" \
	'"1011"' "the bare appkey sender is marked _from_admin"
is "$(count '[.[] | select(.data._group_id)] | map("\(.source_id):\(.data._group_id):\(.data._chatroom // false)") | join(",")' "$TMPD/plain.out")" \
	'"1009:g100:false,1010:room7:true"' "group and chat room messages carry _group_id"
is "$(head -1 "$TMPD/plain.out" | jq -r .origin)" "$HIST:1" "origin is file:line"

mkdir "$TMPD/hist"
gzip -c "$HIST" >"$TMPD/hist/2024010210.jsonl.gz"
em "$MODULE" "{\"history\":\"$TMPD/hist/2024010210.jsonl.gz\",\"appkey\":\"acme#chat\"}" >"$TMPD/gz.out"
is "$(jq -c 'del(.origin)' "$TMPD/gz.out" | md5sum)" "$(jq -c 'del(.origin)' "$TMPD/plain.out" | md5sum)" \
	"a gzip file yields the same records"
cp "$HIST" "$TMPD/hist/2024010209.jsonl"
em "$MODULE" "{\"history\":\"$TMPD/hist\"}" >"$TMPD/dir.out"
is "$(count 'map(.origin | split("/") | last) | unique | join(",")' "$TMPD/dir.out")" \
	'"2024010209.jsonl:1,2024010209.jsonl:10,2024010209.jsonl:11,2024010209.jsonl:12,2024010209.jsonl:2,2024010209.jsonl:3,2024010209.jsonl:4,2024010209.jsonl:5,2024010209.jsonl:6,2024010209.jsonl:7,2024010209.jsonl:8,2024010209.jsonl:9"' \
	"a directory is read in name order; the same msg_ids in the later file are duplicates"

# --- history + callback archive, signed -----------------------------------
BOTH="{\"history\":\"$HIST\",\"callbacks\":\"$ARCH\",\"appkey\":\"acme#chat\",\"callback_secret_env\":\"EM_TEST_SECRET\"}"
EM_TEST_SECRET=s3cret em -e -k "$MODULE" "$BOTH" >"$TMPD/both.raw"
ok $? "history + callbacks with the secret"
grep -v '"checkpoint"' "$TMPD/both.raw" | grep -v '"estimate"' >"$TMPD/both.out"
is "$(head -1 "$TMPD/both.raw" | jq -c .estimate)" \
	'{"groups":8,"messages":18,"read_acks":1,"recalls":1,"roster":14}' "estimate from line counts"
is "$(count 'map(select(.error|not)) | group_by(.stream) | map("\(.[0].stream)=\(length)") | join(" ")' "$TMPD/both.out")" \
	'"groups=8 messages=14 read_acks=1 recalls=1 roster=14"' "records by stream"
is "$(count '[.[] | select(.stream=="messages" and (.error|not)) | .source_id] | join(",")' "$TMPD/both.out")" \
	'"1001,1002,1003,1004,1005,1006,1007,1008,1009,1010,1011,1012,2001,2002"' \
	"1001 from both inputs and the retried 2001 land once"
is "$(count '[.[] | select(.source_id=="1001")][0].data._input' "$TMPD/both.out")" '"history"' "the first copy wins"
is "$(count '[.[] | select(.data._recalled)] | map(.source_id) | join(",")' "$TMPD/both.out")" '"1012"' \
	"the message recalled later in the archive is marked _recalled"
is "$(count '[.[] | select(.stream=="read_acks")][0].data._acked_time' "$TMPD/both.out")" 1704189602 \
	"the read_ack carries the acked message's time"
is "$(count '[.[] | select(.stream=="roster")][0].data | "\(._from) \(._to)"' "$TMPD/both.out")" '"alice bob"' \
	"roster JIDs become user ids"
is "$(count '[.[] | select(.error)] | map("\(.origin | split("/") | last) \(.error)") | join(";")' "$TMPD/both.out")" \
	'"archive.jsonl:29 security signature does not match (callId + secret + timestamp)"' \
	"the forged line is the only bad record, named by file:line"
ok "$(grep -c s3cret "$TMPD/both.raw" "$TMPD/stderr" | grep -v ':0' | wc -l)" "the secret appears in no output"

em "$MODULE" "{\"history\":\"$HIST\",\"callbacks\":\"$ARCH\"}" >"$TMPD/nosig.out"
is "$(count 'map(select(.error)) | length' "$TMPD/nosig.out")" 0 "without a secret nothing is checked"
echo wrong >"$TMPD/secret"
em "$MODULE" "{\"callbacks\":\"$ARCH\",\"callback_secret_file\":\"$TMPD/secret\"}" >"$TMPD/wrong.out"
is "$(count 'map(select(.error)) | length' "$TMPD/wrong.out")" 30 "with a wrong secret every callback is rejected"

# --- malformed lines --------------------------------------------------------
em "$MODULE" "{\"history\":\"$FIX/malformed.jsonl\",\"max_line_bytes\":2048}" >"$TMPD/bad.out"
ok $? "malformed lines do not stop the read"
is "$(count '[.[] | select(.error|not) | .source_id] | join(",")' "$TMPD/bad.out")" '"3001,3006"' "the good lines come through"
jq -r 'select(.error) | "\(.origin | split("/") | last) \(.error)"' "$TMPD/bad.out" >"$TMPD/bad.txt"
is "$(cut -d' ' -f1 "$TMPD/bad.txt" | tr '\n' ' ')" \
	"malformed.jsonl:2 malformed.jsonl:4 malformed.jsonl:5 malformed.jsonl:6 malformed.jsonl:7 malformed.jsonl:8 malformed.jsonl:9 " \
	"each bad line is named (the blank line 3 is ignored)"
check "truncated JSON says so" grep -q '^malformed.jsonl:2 invalid JSON' "$TMPD/bad.txt"
check "a non-object says so" grep -q '^malformed.jsonl:4 not a JSON object' "$TMPD/bad.txt"
check "a missing msg_id says so" grep -q '^malformed.jsonl:5 no usable msg_id' "$TMPD/bad.txt"
check "invalid UTF-8 is refused" grep -q "^malformed.jsonl:6 invalid JSON.*unable to decode byte 0xff" "$TMPD/bad.txt"
check "an over-long line says so" grep -q '^malformed.jsonl:7 line longer than 2048 bytes' "$TMPD/bad.txt"
check "an unknown chat_type says so" grep -q '^malformed.jsonl:8 unknown chat_type "pigeon"' "$TMPD/bad.txt"
is "$(jq -r 'select(.origin | endswith(":7")) | .raw | length' "$TMPD/bad.out")" 256 "an over-long line keeps only its head"

# --- resume from every checkpoint --------------------------------------------
grep '"checkpoint"' "$TMPD/both.raw" | jq -r .checkpoint >"$TMPD/cps"
total=$(wc -l <"$TMPD/both.out")
i=0
resume_ok=0
while read -r cp; do
	i=$((i + 1))
	EM_TEST_SECRET=s3cret em -c "$cp" "$MODULE" "$BOTH" >"$TMPD/rest.out" || resume_ok=1
	tail -n +$((i + 1)) "$TMPD/both.out" >"$TMPD/want.out"
	[ $i -gt "$total" ] && : >"$TMPD/want.out"
	cmp -s "$TMPD/rest.out" "$TMPD/want.out" || { resume_ok=1; echo "# resume $i ($cp) differs"; }
done <"$TMPD/cps"
ok $resume_ok "resuming from each of $i checkpoints yields exactly the remainder"
is "$(tail -1 "$TMPD/cps")" '{"input":2}' "the final checkpoint is the end"

EM_TEST_SECRET=s3cret em -n 3 -k "$MODULE" "$BOTH" | grep checkpoint | tail -1 | jq -r .checkpoint >"$TMPD/cp3"
EM_TEST_SECRET=s3cret em -c "$(cat "$TMPD/cp3")" "$MODULE" \
	"{\"history\":\"$ARCH\",\"callbacks\":\"$HIST\",\"callback_secret_env\":\"EM_TEST_SECRET\"}" >/dev/null
ok $((! $?)) "a checkpoint of other inputs is refused"
check "naming the input" grep -q 'checkpoint: input 1 was .*2024010210.jsonl, now it is' "$TMPD/stderr"
em -c 'garbage' "$MODULE" "{\"history\":\"$HIST\"}" >/dev/null
ok $((! $?)) "a garbage checkpoint is refused"
em -c "{\"file\":\"$HIST\",\"input\":0,\"line\":1,\"offset\":17}" "$MODULE" "{\"history\":\"$HIST\"}" >/dev/null
ok $((! $?)) "an offset that is not a line boundary is refused"

# --- option errors ------------------------------------------------------------
opt_err() { # opt_err OPTIONS PATTERN DESCRIPTION
	: >"$TMPD/stderr"
	em "$MODULE" "$1" >/dev/null
	rc=$?
	if [ $rc -ne 0 ] && grep -q "$2" "$TMPD/stderr"; then ok 0 "$3"; else ok 1 "$3"; cat "$TMPD/stderr" | sed 's/^/# /'; fi
}
opt_err "{\"history\":\"$HIST\",\"histroy\":1}" 'unknown option "histroy"' "an unknown option is refused by name"
opt_err '{}' 'give history and/or callbacks' "no input is refused"
opt_err '{"history":"/nonexistent/h.jsonl"}' 'option history: /nonexistent/h.jsonl: No such file' "a missing file is refused"
opt_err "{\"callbacks\":\"$ARCH\",\"callback_secret_env\":\"EM_TEST_UNSET_VAR\"}" 'EM_TEST_UNSET_VAR is not set' \
	"an unset secret variable is refused by name"
opt_err "{\"history\":\"$HIST\",\"appkey\":\"acme\"}" 'option appkey' "an appkey without # is refused"
opt_err "{\"history\":\"$HIST\",\"max_line_bytes\":10}" 'option max_line_bytes' "a tiny max_line_bytes is refused"

# --- memory -------------------------------------------------------------------
if [ -n "$VALGRIND" ]; then
	EM_TEST_SECRET=s3cret "$top_builddir/libtool" --mode=execute "$VALGRIND" -q --error-exitcode=99 \
		--leak-check=full --errors-for-leak-kinds=definite,indirect \
		"$EM_READ" -e -k -c "$(sed -n 20p "$TMPD/cps")" "$MODULE" "$BOTH" >/dev/null 2>"$TMPD/vg"
	ok $? "valgrind-clean: estimate, resume, read to the end"
	em "$MODULE" "{\"history\":\"$FIX/malformed.jsonl\",\"max_line_bytes\":2048}" >/dev/null
	"$top_builddir/libtool" --mode=execute "$VALGRIND" -q --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite,indirect \
		"$EM_READ" "$MODULE" "{\"history\":\"$FIX/malformed.jsonl\",\"max_line_bytes\":2048}" >/dev/null 2>>"$TMPD/vg"
	ok $? "valgrind-clean on malformed input"
else
	skip "no valgrind (not installed, or a sanitizer build)"; skip "valgrind not installed"
fi

done_testing
