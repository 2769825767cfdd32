#!/bin/sh
# The easemob plugin's pull mode against tests/easemob/em-fake: app token,
# users with metadata/contacts/blocks, chat groups with details, members (paged)
# and admins, history files for an hour range (gzip and plain, a missing one),
# then the callback archive; token refresh, secrets kept out of URLs and the
# storage host, resume from every checkpoint, and the conformance kit.
. "$top_srcdir/tests/lib.sh"
command -v jq >/dev/null 2>&1 || skip_all "jq not installed"
command -v gzip >/dev/null 2>&1 || skip_all "gzip not installed"
make_tmpdir

EM_READ="$top_builddir/tests/easemob/em-read"
EM_FAKE="$top_builddir/tests/easemob/em-fake"
MODULE="$top_builddir/plugins/easemob/easemob.la"
FIX="$top_srcdir/tests/easemob/fixtures"
EM_FAKE_CLIENT_ID=cid
EM_FAKE_CLIENT_SECRET=client-s3cret-value
EM_CLIENT_SECRET=$EM_FAKE_CLIENT_SECRET
EM_TEST_SECRET=s3cret
export EM_FAKE_CLIENT_ID EM_FAKE_CLIENT_SECRET EM_CLIENT_SECRET EM_TEST_SECRET

mkdir "$TMPD/files"
gzip -c "$FIX/history/2024010210.jsonl" >"$TMPD/files/h1.jsonl.gz"
cp "$FIX/history-2024010211.jsonl" "$TMPD/files/h2.jsonl"

start_fake() { # start_fake [ARGS...]
	rm -f "$TMPD/port"
	"$EM_FAKE" --data "$FIX/api.json" --files-dir "$TMPD/files" --port-file "$TMPD/port" \
		--log "$TMPD/fake.log" "$@" &
	FAKE_PID=$!
	CLEANUP_PIDS=$FAKE_PID
	i=0
	while [ ! -s "$TMPD/port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
	PORT=$(cat "$TMPD/port" 2>/dev/null)
	[ -n "$PORT" ] || { echo "Bail out! em-fake did not start"; exit 1; }
}
stop_fake() { kill "$FAKE_PID" 2>/dev/null; wait "$FAKE_PID" 2>/dev/null; CLEANUP_PIDS=; }

# The job's source options for the fake on $PORT.
opts() {
	echo "{\"rest_url\":\"http://127.0.0.1:$PORT/org/app\",\"client_id\":\"cid\",\"client_secret_env\":\"EM_CLIENT_SECRET\",
\"history_from\":\"2024010210\",\"history_to\":\"2024010213\",\"page_size\":2,\"rate_per_second\":1000,
\"callbacks\":\"$FIX/callbacks/archive.jsonl\",\"appkey\":\"acme#chat\",\"callback_secret_env\":\"EM_TEST_SECRET\"}"
}

start_fake
OPTS=$(opts)

"$EM_READ" -k "$MODULE" "$OPTS" >"$TMPD/all.raw" 2>"$TMPD/err"
ok $? "a pull followed by the callback archive reads to the end"
grep -v '"checkpoint"' "$TMPD/all.raw" >"$TMPD/all.out"
is "$(jq -s 'map(select(.error|not)) | group_by(.stream) | map("\(.[0].stream)=\(length)") | join(" ")' "$TMPD/all.out")" \
	'"chatgroups=3 groups=8 messages=15 read_acks=1 recalls=1 roster=14 users=5"' "records by stream"
is "$(jq -s '[.[] | select(.stream=="users") | .source_id] | join(",")' "$TMPD/all.out")" \
	'"alice,bob,carol,dave,erin"' "users over three pages of two"
is "$(jq -s '[.[] | select(.source_id=="alice" and .stream=="users")][0].data | "\(._metadata.nickname)|\(._contacts | join(","))|\(._blocks | length)"' "$TMPD/all.out")" \
	'"Alice Liddell|bob|0"' "a user carries its metadata, contacts and blocks"
is "$(jq -s '[.[] | select(.source_id=="dave")][0].data._blocks | join(",")' "$TMPD/all.out")" '"erin"' "blocks"
is "$(jq -s '[.[] | select(.stream=="chatgroups") | "\(.source_id):\(.data.name):\(.data._members | length):\(.data._admins | join("+"))"] | join(" ")' "$TMPD/all.out")" \
	'"g100:Team:3:dave g300:Lobby:2: g400:Big:106:m001"' "groups with details, all member pages and admins"
is "$(jq -s '[.[] | select(.stream=="messages" and (.error|not)) | .source_id] | join(",")' "$TMPD/all.out")" \
	'"1001,1002,1003,1004,1005,1006,1007,1008,1009,1010,1011,1012,2001,5001,2002"' \
	"pulled history (gzip and plain) first; the archive's copies of 1001 and 2001 are dropped"
is "$(jq -s '[.[] | select(.source_id=="2001")][0].origin' "$TMPD/all.out")" '"chatmessages/2024010211[1]:1"' \
	"a pulled line is named by hour, file and line"
is "$(jq -s '[.[] | select(.error) | "\(.origin) \(.error)"] | join(";")' "$TMPD/all.out" | sed "s|$FIX/||")" \
	'"chatmessages/2024010213[1] chatmessages/2024010213: file 1: download answered HTTP 404;callbacks/archive.jsonl:29 security signature does not match (callId + secret + timestamp)"' \
	"a failed download and the forged callback are the bad records"
is "$(grep -c '^POST /org/app/token' "$TMPD/fake.log")" 1 "one token for the whole pull"
ok "$(grep -c 'SECRET-IN-URL\|TOKEN-TO-STORAGE' "$TMPD/fake.log")" "neither the secret nor the token goes into a URL or to the storage host"
ok "$(cat "$TMPD/all.raw" "$TMPD/err" | grep -c "$EM_FAKE_CLIENT_SECRET\|tok-1")" "the secret and the token appear in no output"

# The default script over the pull: REST state plus events.
"$top_builddir/tests/easemob/em-map" "$top_srcdir/scripts/easemob.lua" <"$TMPD/all.out" 2>"$TMPD/map.err" |
	jq -c -S . >"$TMPD/mapped"
is "$(jq -s 'map(select(.invalid or .dead)) | length' "$TMPD/mapped")" 0 "mapped: every record is valid"
is "$(jq -s '[.[] | select(.kind=="account" and .UserID=="alice")][0] | "\(.Nick)|\(.FaceUrl)"' "$TMPD/mapped")" \
	'"Alice Liddell|https://img.example.com/alice.png"' "metadata nickname/avatarurl -> the account's Nick/FaceUrl"
is "$(jq -s '[.[] | select(.kind=="profile")] | map("\(.From_Account):" + (.ProfileItem | map("\(.Tag)=\(.Value)") | join(","))) | join(" ")' "$TMPD/mapped")" \
	'"alice:Tag_Profile_IM_BirthDay=18651126,Tag_Profile_IM_Gender=Gender_Type_Female,Tag_Profile_IM_SelfSignature=curiouser"' \
	"other metadata through PROFILE_TAGS"
check "an unmapped metadata key is named once" grep -q "metadata key 'mail' has no profile tag" "$TMPD/map.err"
is "$(jq -s '[.[] | select(.kind=="group") | "\(.GroupId):\(.Type):\(.Name):\(.Owner_Account):\(.CreateTime):\(.MaxMemberCount):\(.ApplyJoinOption)"] | join(" ")' "$TMPD/mapped")" \
	'"g100:Private:Team:carol:1704140000:500:null g200:Private:g200:null:1704150359:null:null g300:Public:Lobby:alice:1704000000:200:FreeAccess g400:Private:Big:bob:1704000000:2000:null"' \
	"groups take name, owner, creation, size and type from REST; g200 (events only) keeps its id"
is "$(jq -s '[.[] | select(.kind=="group_member" and (.GroupId=="g100" or .GroupId=="g300")) | "\(.GroupId):\(.Member_Account):\(.Role // "Member"):\(.JoinTime)"] | join(" ")' "$TMPD/mapped")" \
	'"g100:dave:Admin:1704150060 g100:erin:Member:1704150120 g300:bob:Member:1704000001"' \
	"REST members, dated by their join events, else just after creation"
is "$(jq -s '[.[] | select(.kind=="group_member" and .GroupId=="g400")] | length' "$TMPD/mapped")" 105 \
	"all 105 members of the big group (owner aside)"
is "$(jq -s '[.[] | select(.kind=="friend") | "\(.From_Account)>\(.To_Account)"] | join(" ")' "$TMPD/mapped")" \
	'"alice>bob bob>alice bob>carol carol>bob"' "friends: REST contact lists and accepted events agree"
is "$(jq -s '[.[] | select(.kind=="blacklist") | "\(.From_Account)>\(.To_Account)"] | join(" ")' "$TMPD/mapped")" \
	'"dave>erin"' "blocks from REST"

# Resume from every checkpoint: exactly the remainder.
jq -r 'select(.checkpoint) | .checkpoint' "$TMPD/all.raw" >"$TMPD/cps"
i=0
resume_ok=0
while read -r cp; do
	i=$((i + 1))
	"$EM_READ" -c "$cp" "$MODULE" "$OPTS" >"$TMPD/rest.out" 2>>"$TMPD/err" || resume_ok=1
	tail -n +$((i + 1)) "$TMPD/all.out" >"$TMPD/want.out"
	cmp -s "$TMPD/rest.out" "$TMPD/want.out" || { resume_ok=1; echo "# resume $i ($cp) differs"; }
done <"$TMPD/cps"
ok $resume_ok "resuming from each of $i checkpoints (users, groups, pulled history, archive) yields exactly the remainder"
check "checkpoints name the pull phase" grep -q '"phase":"chatgroups"' "$TMPD/cps"
check "and positions in the pulled history" grep -q '"hour":"2024010210","line":3,"offset":[0-9]*,"phase":"hours"' "$TMPD/cps"
stop_fake

# Tokens expire: a 401 gets a new token and the call again.
: >"$TMPD/fake.log"
start_fake --expire-after 7
OPTS=$(opts)
"$EM_READ" -q "$MODULE" "$OPTS" >"$TMPD/expire.out" 2>>"$TMPD/err"
is "$(cat "$TMPD/expire.out")" "47 good, 2 bad" "with tokens expiring every 7 calls the same records arrive"
ok $(($(grep -c '^POST /org/app/token' "$TMPD/fake.log") < 2)) "new tokens were fetched"
stop_fake

start_fake
OPTS=$(opts)
EM_CLIENT_SECRET=wrong "$EM_READ" -q "$MODULE" "$OPTS" >/dev/null 2>"$TMPD/wrong.err"
ok $((! $?)) "a wrong client secret stops the pull"
check "with a message naming the call" grep -q 'POST /token: HTTP 401 (check client_id and the client secret)' "$TMPD/wrong.err"
ok "$(grep -c wrong "$TMPD/wrong.err" | grep -v '^0$' | wc -l)" "without the secret"

if [ -n "$VALGRIND" ]; then
	"$top_builddir/libtool" --mode=execute "$VALGRIND" -q --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite,indirect "$EM_READ" -q -e "$MODULE" "$OPTS" >/dev/null 2>"$TMPD/vg"
	ok $? "valgrind-clean over a whole pull and estimate"
else
	skip "no valgrind (not installed, or a sanitizer build)"
fi

# Option errors.
opt_err() { # opt_err OPTIONS PATTERN DESCRIPTION
	"$EM_READ" "$MODULE" "$1" >/dev/null 2>"$TMPD/opt.err"
	if [ $? -ne 0 ] && grep -q "$2" "$TMPD/opt.err"; then ok 0 "$3"; else ok 1 "$3"; sed 's/^/# /' "$TMPD/opt.err"; fi
}
opt_err '{"rest_url":"ftp://x/o/a","client_id":"c","client_secret_env":"EM_CLIENT_SECRET"}' 'option rest_url' \
	"rest_url must be http(s)"
opt_err '{"rest_url":"http://127.0.0.1:1/o/a","client_secret_env":"EM_CLIENT_SECRET"}' 'option client_id' \
	"client_id is required"
opt_err '{"rest_url":"http://127.0.0.1:1/o/a","client_id":"c"}' 'exactly one of client_secret_env' \
	"a client secret is required"
opt_err '{"rest_url":"http://127.0.0.1:1/o/a","client_id":"c","client_secret_env":"EM_CLIENT_SECRET","history_from":"2024010210"}' \
	'history_from/history_to' "an hour range needs both ends"
opt_err '{"rest_url":"http://127.0.0.1:1/o/a","client_id":"c","client_secret_env":"EM_CLIENT_SECRET","history_from":"2024013210","history_to":"2024013211"}' \
	'history_from/history_to' "hours are checked"
opt_err "{\"history\":\"$FIX/history\",\"page_size\":5}" 'option page_size: only used with rest_url' \
	"pull options without rest_url are refused"

# The conformance kit over the pull (options in a file, as in a job).
kit="$top_builddir/tests/conformance/plugin-conformance"
if [ -x "$kit" ]; then
	echo "$OPTS" >"$TMPD/pull.json"
	echo '{"rest_url":"http://127.0.0.1:1/o/a","client_id":"c"}' >"$TMPD/bad.json"
	out=$($SHELL "$top_srcdir/tests/run-unit.sh" "$kit" --plugin-dir "$top_builddir/plugins/easemob/.libs" --bad 2 \
		easemob "$TMPD/pull.json" "$TMPD/bad.json" 47 2>&1)
	rc=$?
	echo "$out" | grep -v '^ok' | sed 's/^/#   /'
	if [ $rc -eq 0 ] && echo "$out" | grep -q '^ok ' && ! echo "$out" | grep -q '^not ok'; then ok 0 "conformance kit over the pull: 47 good, 2 bad"
	else ok 1 "conformance kit over the pull (exit $rc)"; fi
else
	skip "conformance kit not built"
fi
stop_fake
done_testing
