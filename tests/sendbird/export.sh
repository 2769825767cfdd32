#!/bin/sh
# The Sendbird plugin in export mode over the project's own fixtures: a directory,
# the same as a zip, several message windows, gzip, broken files, resume from every
# checkpoint, estimate, options. Runs the plugin through its ABI with sb-dump.
. "${top_srcdir:-.}/tests/lib.sh"
command -v jq >/dev/null 2>&1 || skip_all "jq not installed"
make_tmpdir
DUMP="$top_builddir/tests/sendbird/sb-dump"
FIX="$top_srcdir/tests/sendbird/fixtures"
EXPORT="$FIX/export"

dump() { "$DUMP" "$@" 2>>"$TMPD/stderr"; }
ids() { jq -r 'select(.error == null) | "\(.stream) \(.id)"'; }

# --- a directory -------------------------------------------------------------
dump "{\"path\":\"$EXPORT\"}" >"$TMPD/dir.jsonl"
ok $? "a directory export reads to the end"
is "$(jq -r .stream "$TMPD/dir.jsonl" | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' ')" \
	"users=4 channels=4 messages=13 " "streams come in order users, channels, messages with every element"
is "$(jq -r 'select(.stream=="users") | .id' "$TMPD/dir.jsonl" | tr '\n' ' ')" \
	"alice bob carol user-with-a-very-long-identifier-0123456789 " "users in file order, ids from user_id"
is "$(jq -r 'select(.stream=="messages") | .id' "$TMPD/dir.jsonl" | tr '\n' ' ')" \
	"101 102 103 104 105 106 201 202 203 204 205 206 207 " "message ids from message_id"
is "$(jq -r 'select(.id=="103") | .data.file.type' "$TMPD/dir.jsonl")" "image/jpeg" "a FILE message keeps its file object"
is "$(jq -r 'select(.id=="201") | .data.message' "$TMPD/dir.jsonl")" "Hey Bob 👋" "surrogate pairs decode to UTF-8"
is "$(jq -r 'select(.id=="dm_alice_bob") | .data.read_receipt.alice' "$TMPD/dir.jsonl")" "1700000700000" \
	"a channel keeps its read receipts"
is "$(jq -r 'select(.id=="101") | .origin' "$TMPD/dir.jsonl")" "$EXPORT/messages.json:3" "origin is file:line"
is "$(jq -c 'select(.error != null)' "$TMPD/dir.jsonl" | wc -l)" 0 "no bad records in a clean export"

# --- the same as a zip -------------------------------------------------------
if command -v zip >/dev/null 2>&1; then
	(cd "$EXPORT" && zip -q -X "$TMPD/export.zip" users.json channels.json messages.json && \
		echo 'readme' >"$TMPD/README.txt" && zip -q -j "$TMPD/export.zip" "$TMPD/README.txt")
	# macOS archivers add resource forks that look like JSON files by name.
	mkdir -p "$TMPD/junk/__MACOSX" && printf 'junk' >"$TMPD/junk/__MACOSX/._users.json" && \
		(cd "$TMPD/junk" && zip -q "$TMPD/export.zip" __MACOSX/._users.json)
	dump "{\"path\":\"$TMPD/export.zip\"}" >"$TMPD/zip.jsonl"
	ok $? "a zip export reads to the end"
	is "$(ids <"$TMPD/zip.jsonl" | md5sum)" "$(ids <"$TMPD/dir.jsonl" | md5sum)" "the zip gives the same records as the directory"
	is "$(jq -r 'select(.id=="101") | .origin' "$TMPD/zip.jsonl")" "$TMPD/export.zip!messages.json:3" \
		"a zip member's origin names the zip and the member"
	grep -q "2 file(s) in the export are not JSON documents" "$TMPD/stderr"
	ok $? "non-JSON members and macOS resource forks are skipped with a note"
	: >"$TMPD/zip.ck"
	all_ok=0
	n=$(wc -l <"$TMPD/zip.jsonl")
	for k in 1 5 9 14 $((n - 1)); do
		dump --limit "$k" --checkpoint-out "$TMPD/ck" "{\"path\":\"$TMPD/export.zip\"}" >"$TMPD/part1"
		dump --checkpoint "$(cat "$TMPD/ck")" "{\"path\":\"$TMPD/export.zip\"}" >"$TMPD/part2"
		cat "$TMPD/part1" "$TMPD/part2" | cmp -s - "$TMPD/zip.jsonl" || { all_ok=1; echo "# zip resume after $k differs"; }
	done
	ok $all_ok "zip: resuming from checkpoints mid-member yields exactly the remainder"

	# A download cut short: no central directory, the last member incomplete.
	(cd "$EXPORT" && zip -q -0 -X "$TMPD/stored.zip" users.json channels.json messages.json)
	head -c 7000 "$TMPD/stored.zip" >"$TMPD/cut.zip"
	: >"$TMPD/stderr"
	dump "{\"path\":\"$TMPD/cut.zip\"}" >"$TMPD/cut.jsonl"
	ok $? "a cut zip does not stop the run"
	grep -q "cut.zip: the zip has no central directory (cut short?)" "$TMPD/stderr"
	ok $? "a cut zip is read front to back, with a warning"
	is "$(ids <"$TMPD/cut.jsonl" | awk '{print $1}' | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' ')" "users=4 channels=4 " \
		"the complete members still come through"
	jq -r '.error // empty' "$TMPD/cut.jsonl" | grep -q "cut.zip!messages.json: .*read error"
	ok $? "the cut member is a bad record naming the member and the read error"
else
	skip "zip not installed"; skip "zip"; skip "zip"; skip "zip"; skip "zip"
	skip "zip"; skip "zip"; skip "zip"; skip "zip"
fi

# --- resume from every checkpoint of the directory ---------------------------
n=$(wc -l <"$TMPD/dir.jsonl")
all_ok=0
k=0
while [ $k -le "$n" ]; do
	dump --limit "$k" --checkpoint-out "$TMPD/ck" "{\"path\":\"$EXPORT\"}" >"$TMPD/part1"
	dump --checkpoint "$(cat "$TMPD/ck")" "{\"path\":\"$EXPORT\"}" >"$TMPD/part2"
	cat "$TMPD/part1" "$TMPD/part2" | cmp -s - "$TMPD/dir.jsonl" || { all_ok=1; echo "# resume after $k differs"; }
	k=$((k + 1))
done
ok $all_ok "directory: resume after each of the $n records yields exactly the remainder"
is "$(jq -r '.elem' "$TMPD/ck") $(jq -r '.pass' "$TMPD/ck")" "13 2" "the final checkpoint names the pass and element count"

dump --limit 10 --checkpoint-out "$TMPD/ck" "{\"path\":\"$EXPORT\"}" >/dev/null
sed 's/"off":[0-9]*/"off":17/' "$TMPD/ck" >"$TMPD/ck.bad"
dump --checkpoint "$(cat "$TMPD/ck.bad")" "{\"path\":\"$EXPORT\"}" >"$TMPD/out"
jq -r .error "$TMPD/out" | head -1 | grep -q "cannot resume.*changed since"
ok $? "a checkpoint that does not match the file is reported as a bad record"
"$DUMP" --checkpoint '{"mode":"export","pass":0,"doc":"elsewhere.json","elem":1,"off":5,"line":1}' \
	"{\"path\":\"$EXPORT\"}" >/dev/null 2>"$TMPD/err"
ok $([ $? -eq 1 ] && grep -q "input changed since" "$TMPD/err"; echo $?) "a checkpoint naming another document is refused at open"

# --- several windows, gzip ---------------------------------------------------
cp "$FIX/window2/messages.json" "$TMPD/w2.json" && gzip -n "$TMPD/w2.json"
dump "{\"path\":[\"$EXPORT\",\"$TMPD/w2.json.gz\"]}" >"$TMPD/two.jsonl"
is "$(jq -r 'select(.stream=="messages") | .id' "$TMPD/two.jsonl" | tail -2 | tr '\n' ' ')" "301 302 " \
	"a second message window (gzip-compressed) is read after the first"
is "$(jq -r 'select(.stream=="channels") | .id' "$TMPD/two.jsonl" | wc -l)" 4 \
	"with a channels document present, messages files' embedded channel is not read"
dump "{\"path\":\"$FIX/window2\"}" >"$TMPD/w2.jsonl"
is "$(jq -r '"\(.stream) \(.id)"' "$TMPD/w2.jsonl" | tr '\n' ' ')" "channels pair_not_distinct messages 301 messages 302 " \
	"without a channels document, the embedded channel object comes first, in the channels stream"

# --- broken files ------------------------------------------------------------
dump "{\"path\":\"$FIX/broken\"}" >"$TMPD/broken.jsonl"
ok $? "broken files do not stop the run"
is "$(ids <"$TMPD/broken.jsonl" | tr '\n' ' ')" "messages 501 messages 503 messages 601 messages 401 messages 402 " \
	"every valid element still comes through"
is "$(jq -c 'select(.error != null)' "$TMPD/broken.jsonl" | wc -l)" 4 "four bad records (garbage, invalid, mismatched, truncated)"
jq -r 'select(.error != null) | .error' "$TMPD/broken.jsonl" >"$TMPD/errors"
grep -q "messages_invalid.json: byte 209 (line 3): invalid JSON in messages element 2" "$TMPD/errors"
ok $? "invalid JSON: file, byte, line and element number"
grep -q "messages_truncated.json: byte 325 (line 4): end of input inside the value that started at byte 268.*truncated" "$TMPD/errors"
ok $? "truncated file: file, byte and where the cut element started"
grep -q "messages_mismatched.json: byte 207 (line 3): unexpected '}'.*rest of this document is skipped" "$TMPD/errors"
ok $? "mismatched brackets: file and byte, rest of that document skipped"
grep -q "garbage.json: not a Sendbird export document" "$TMPD/errors"
ok $? "a file that is not JSON is named"
is "$(jq -r 'select(.error != null and (.error | test("invalid JSON"))) | .raw' "$TMPD/broken.jsonl" | head -c 40)" \
	'{"type":"MESG","message_id":502,"message' "the raw element text goes with the bad record"

# --- oversized element -------------------------------------------------------
{
	printf '{"messages":[{"type":"MESG","message_id":1,"message":"'
	head -c 3000 /dev/zero | tr '\0' 'x'
	printf '"},{"type":"MESG","message_id":2,"message":"small"}]}'
} >"$TMPD/big.json"
dump "{\"path\":\"$TMPD/big.json\",\"max_record_bytes\":1024}" >"$TMPD/big.jsonl"
is "$(jq -r '.error // .id' "$TMPD/big.jsonl" | sed 's/.*larger than max_record_bytes (1024).*/OVERSIZED/')" \
	"OVERSIZED
2" "an element over max_record_bytes is a bad record and the next one still comes"

# --- estimate ----------------------------------------------------------------
is "$(dump --estimate "{\"path\":[\"$EXPORT\",\"$FIX/window2\"]}")" '{"blocks":0,"channels":4,"messages":15,"users":4}' \
	"estimate counts elements per stream"

# --- options -----------------------------------------------------------------
"$DUMP" "{\"path\":\"$EXPORT\",\"colour\":1}" >/dev/null 2>"$TMPD/err"
ok $([ $? -eq 1 ] && grep -q "source.colour: unknown option" "$TMPD/err"; echo $?) "unknown options are refused by name"
"$DUMP" "{\"path\":\"$TMPD/nonexistent\"}" >/dev/null 2>"$TMPD/err"
ok $([ $? -eq 1 ] && grep -q "nonexistent: No such file" "$TMPD/err"; echo $?) "a missing path is refused with its name"
"$DUMP" '{"plugin":"sendbird"}' >/dev/null 2>"$TMPD/err"
ok $([ $? -eq 1 ] && grep -q "path .* or app_id is required" "$TMPD/err"; echo $?) "path or app_id is required"
"$DUMP" "{\"path\":\"$EXPORT\",\"app_id\":\"x\"}" >/dev/null 2>"$TMPD/err"
ok $([ $? -eq 1 ] && grep -q "not both" "$TMPD/err"; echo $?) "path and app_id together are refused"

# --- memory checks -----------------------------------------------------------
if [ -n "${VALGRIND:-}" ]; then
	"$VALGRIND" -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
		"$DUMP" "{\"path\":[\"$EXPORT\",\"$FIX/broken\",\"$FIX/window2\"]}" >/dev/null 2>"$TMPD/vg"
	ok $? "valgrind-clean over good and broken input"
else
	skip "no valgrind (not installed, or a sanitizer build)"
fi
done_testing
