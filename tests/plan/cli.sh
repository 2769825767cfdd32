#!/bin/sh
# immigrate plan, verify and report end to end: the bundled demo export planned
# (full and sampled), migrated into immigrate-imsim with `immigrate run`, verified
# (nothing missing), then an account deleted in the target (verify names it and
# exits 3), and the report written with the plan, the actual time and the result.
. "$top_srcdir/tests/lib.sh"
command -v jq >/dev/null 2>&1 || skip_all "jq is not installed"
command -v curl >/dev/null 2>&1 || skip_all "curl is not installed"
[ -x "$IMSIM" ] || skip_all "immigrate-imsim is not built"
[ -n "$IMMIGRATE_PLUGIN_PATH" ] || skip_all "no plugin is built"
DEMO="$top_srcdir/contrib/demo"
[ -f "$DEMO/sample.jsonl" ] || skip_all "the demo export is missing"
make_tmpdir
umask 077
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TMPD/app.key"
sim_start() { # sim_start [ARGS...]: the emulator on a free port, its state kept in sim.db
	rm -f "$TMPD/port"
	"$IMSIM" --listen 127.0.0.1:0 --port-file "$TMPD/port" --sdkappid 1400000000 --admin administrator \
		--key-file "$TMPD/app.key" --state "$TMPD/sim.db" "$@" 2>>"$TMPD/imsim.log" &
	SIM_PID=$!
	CLEANUP_PIDS=$SIM_PID
	i=0
	while [ ! -s "$TMPD/port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
	[ -s "$TMPD/port" ] || { echo "Bail out! immigrate-imsim did not start"; exit 1; }
	EP="http://127.0.0.1:$(cat "$TMPD/port")"
}
sim_start
cat >"$TMPD/job.lua" <<EOF
return {
	source = { plugin = "jsonl", path = "$DEMO/sample.jsonl", id_field = "id" },
	script = "$DEMO/demo.lua",
	target = { endpoint = "$EP", sdkappid = 1400000000, admin = "administrator", key_file = "app.key" },
	state = "demo.db",
}
EOF
JOB="$TMPD/job.lua"

# Usage errors.
"$IMMIGRATE" plan 2>/dev/null; is $? 2 "plan without a job: usage error"
"$IMMIGRATE" plan "$JOB" --sample x 2>/dev/null; is $? 2 "plan --sample needs a number"
"$IMMIGRATE" plan "$JOB" --edition gold 2>"$TMPD/err"; is $? 2 "an unknown edition is refused"
grep -q "target.plan" "$TMPD/err"; ok $? "naming the setting"
"$IMMIGRATE" report "$JOB" 2>/dev/null; is $? 2 "report needs --html"
"$IMMIGRATE" verify "$JOB" --kinds nope 2>/dev/null; is $? 2 "verify refuses an unknown kind"
"$IMMIGRATE" verify "$JOB" 2>"$TMPD/err"; is $? 2 "verify before anything was staged: usage error"

# A sampled plan reads only what it needs and stages nothing.
"$IMMIGRATE" plan "$JOB" --sample 40 --json >"$TMPD/sample.json" 2>"$TMPD/err"
ok $? "plan --sample 40"
is "$(jq -r .sample.native "$TMPD/sample.json")" 40 "40 native records read"
is "$(jq -r '.sample.scale > 1' "$TMPD/sample.json")" true "scaled up by the plugin's estimate"
check "the sample staged nothing in the job's stage" test ! -e "$TMPD/demo.db"

# The full plan extracts first, then counts exactly.
"$IMMIGRATE" plan "$JOB" --json >"$TMPD/plan.json" 2>"$TMPD/err"
ok $? "plan extracts into the stage and plans"
grep -q "not fully staged yet" "$TMPD/err"; ok $? "saying that it extracts first"
kind() { jq -r ".kinds[] | select(.kind == \"$1\") | .$2" "$TMPD/plan.json"; }
is "$(kind account records)" 24 "24 accounts"
is "$(kind account calls)" 1 "in one multiaccount_import call"
is "$(kind friend calls)" 23 "friend_import: one call per From_Account"
is "$(kind group_msg calls)" 15 "import_group_msg: 7 per call per group"
is "$(kind c2c_msg calls)" 160 "importmsg: one call per message"
is "$(jq -r .total_seconds "$TMPD/plan.json")" 0.815 "floor: 0.01 + 0.80 + one read mark after its conversation 0.005 s"
is "$(jq -r '.critical_path | join(",")' "$TMPD/plan.json")" "account,c2c_msg,c2c_read" "critical path"
"$IMMIGRATE" plan "$JOB" >"$TMPD/plan.txt" 2>"$TMPD/err"
ok $? "plan prints a table"
grep -q "wall-time floor: 0.82s  (critical path \*: account -> c2c_msg -> c2c_read)" "$TMPD/plan.txt"
ok $? "with the floor and the critical path"
"$IMMIGRATE" plan "$JOB" --set target.limits.importmsg=20 --json >"$TMPD/slow.json" 2>/dev/null
is "$(jq -r .total_seconds "$TMPD/slow.json")" 8.015 "target.limits.importmsg = 20: 160 calls take 8 s"
"$IMMIGRATE" plan "$JOB" --edition free --json >"$TMPD/free.json" 2>/dev/null
is "$(jq -r .edition "$TMPD/free.json")" free "--edition free"
is "$(jq -r '[.warnings[] | select(.what | test("7-day history retention"))][0].count' "$TMPD/free.json")" 254 \
	"a free app: the 254 messages older than its 7-day retention are pointed out"
"$IMMIGRATE" plan "$JOB" --set target.plan=free --json >"$TMPD/free.json" 2>/dev/null
is "$(jq -r .edition "$TMPD/free.json")" free "target.plan = \"free\" is the edition without --edition"
"$IMMIGRATE" plan "$JOB" --set target.plan=free --edition pro --json >"$TMPD/pro.json" 2>/dev/null
is "$(jq -r .edition "$TMPD/pro.json")" pro "--edition wins over target.plan"
"$IMMIGRATE" plan "$JOB" --set target.plan=gold 2>"$TMPD/err"; is $? 2 "an unknown target.plan is refused"
grep -q "target.plan: 'gold' is not an IM edition" "$TMPD/err"; ok $? "naming the key and the value"

# Migrate, then verify: nothing missing.
"$IMMIGRATE" run "$JOB" --quiet >"$TMPD/run.out" 2>&1
ok $? "immigrate run migrates the demo"
"$IMMIGRATE" verify "$JOB" --json >"$TMPD/verify.json" 2>"$TMPD/err"
ok $? "verify exits 0: nothing missing"
is "$(jq -r .missing "$TMPD/verify.json")" 0 "0 missing"
is "$(jq -r '.kinds[] | select(.kind == "c2c_msg") | .found' "$TMPD/verify.json")" 160 "160 messages found"
is "$(jq -r '.kinds[] | select(.kind == "group_msg") | .found' "$TMPD/verify.json")" 94 "94 group messages found"
is "$(jq -r '[.kinds[].differing] | add' "$TMPD/verify.json")" 0 "nothing differs"

# Delete an account in the target: verify finds it missing and exits 3.
SIG=$("$IMMIGRATE" usersig --sdkappid 1400000000 --identifier administrator --key-file "$TMPD/app.key")
Q="sdkappid=1400000000&identifier=administrator&usersig=$SIG&random=1&contenttype=json"
curl -s -H 'Content-Type: application/json' --data '{"DeleteItem":[{"UserID":"u07"}]}' \
	"$EP/v4/im_open_login_svc/account_delete?$Q" >/dev/null
"$IMMIGRATE" verify "$JOB" --kinds account,friend >"$TMPD/verify.txt" 2>"$TMPD/err"
is $? 3 "verify exits 3 when records are missing"
grep -Eq '^  account +u07: missing$' "$TMPD/verify.txt"; ok $? "and names the missing account"
grep -q 'verification FAILED' "$TMPD/verify.txt"; ok $? "and says the verification failed"
"$IMMIGRATE" verify "$JOB" --sample 3 --kinds c2c_msg --json >"$TMPD/sampled.json" 2>/dev/null
is "$(jq -r '.kinds[] | select(.kind == "c2c_msg") | .expected' "$TMPD/sampled.json")" 3 "verify --sample 3"

# A faulty, slow target: 20% of the reads fail (HTTP 502, dropped connections,
# internal errors) and the quotas are a twentieth of the spec's; verification
# retries, slows down on rate-limit answers, and still finds everything.
kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null
sim_start --faults rate=0.2,seed=7,kinds=502+drop+transient --qps-scale 0.05
"$IMMIGRATE" verify "$JOB" --set "target.endpoint=$EP" --kinds c2c_msg,group_msg,group --json \
	>"$TMPD/faulty.json" 2>"$TMPD/err"
ok $? "verify through faults and rate limits exits 0"
is "$(jq -r .missing "$TMPD/faulty.json")" 0 "nothing missing"
is "$(jq -r '[.kinds[].found] | add' "$TMPD/faulty.json")" 257 "160 + 94 + 3 records found"
is "$(jq -r '.calls > 30' "$TMPD/faulty.json")" true "failed calls were retried ($(jq -r .calls "$TMPD/faulty.json") calls)"
is "$(jq -r '.throttled > 0' "$TMPD/faulty.json")" true "rate-limit answers slowed it down ($(jq -r .throttled "$TMPD/faulty.json"))"

# The report.
"$IMMIGRATE" report "$JOB" --html "$TMPD/report.html" >"$TMPD/report.out" 2>"$TMPD/err"
ok $? "report writes the HTML"
is "$(cat "$TMPD/report.out")" "$TMPD/report.html" "and prints its path"
grep -q 'id="plan-floor">0.82s<' "$TMPD/report.html"; ok $? "the report shows the plan floor"
grep -q 'id="actual-time">' "$TMPD/report.html"; ok $? "and the actual time"
grep -q 'id="total-landed" class="ok">401<' "$TMPD/report.html"; ok $? "and 401 records landed"
grep -q 'id="verify-missing" class="ok">0<' "$TMPD/report.html"; ok $? "and the latest verification (sampled, nothing missing)"
check "no temporary file left" test ! -e "$TMPD/report.html.tmp"
done_testing
