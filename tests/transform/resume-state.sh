#!/bin/sh
# Script state across a resume: a run SIGKILLed at random points several times
# and resumed stages exactly what a clean run stages, also when the script's
# finish() output depends on every record it saw (counts per key), and for
# scripts/sendbird.lua over the Sendbird fixtures (channel facts grouped in
# upvalues, groups rebuilt in finish()).
. "$top_srcdir/tests/lib.sh"
[ -x "$IMMIGRATE" ] || skip_all "immigrate not built"
command -v sqlite3 >/dev/null 2>&1 || skip_all "the sqlite3 command is not installed"
ls "$top_builddir"/plugins/jsonl/.libs/jsonl.so >/dev/null 2>&1 || skip_all "the jsonl plugin is not built"
make_tmpdir
cd "$TMPD" || exit 1

dump() {
	sqlite3 "$1" "select kind, dedupe_key, payload, status from records order by dedupe_key;
		select stage, coalesce(origin, ''), coalesce(code, ''), reason from dead_letters order by origin, reason;
		select count(*) from raw; select namespace, old_id, new_id from idmap order by 1, 2;"
}

# Random kill points, printed so that a failure can be reproduced.
seed=${RESUME_SEED:-$$}
echo "# seed $seed"
# pick LO HI: a pseudo-random integer in [LO, HI] from $seed.
pick() {
	awk -v s="$seed" -v lo="$1" -v hi="$2" 'BEGIN { print lo + int(s / 7) % (hi - lo + 1) }'
}

# run_killed JOB DB TOTAL: three runs each SIGKILLed after a random native record
# (every record its own checkpoint), then one to the end. Says how many runs the
# kill really ended and how many resumed by replaying.
run_killed() {
	kills=0 replays=0
	for attempt in 1 2 3; do
		seed=$(awk -v s="$seed" 'BEGIN { print (s * 1103515245 + 12345) % 2147483648 }')
		at=$(pick 1 $(($3 / 4)))
		echo "# $2: kill after native record $at of run $attempt"
		(IMMIGRATE_EXTRACT_BATCH=1 IMMIGRATE_TEST_KILL_AT=$at STATE=$2 \
			exec "$IMMIGRATE" run "$1" --stage-only >"$2.out.$attempt" 2>&1)
		[ $? -eq 137 ] && kills=$((kills + 1))
		grep -q 'mapped the [1-9][0-9]* native records staged before again' "$2.out.$attempt" &&
			replays=$((replays + 1))
	done
	STATE=$2 "$IMMIGRATE" run "$1" --stage-only >"$2.out.last" 2>&1
	last_rc=$?
	grep -q 'mapped the [1-9][0-9]* native records staged before again' "$2.out.last" && replays=$((replays + 1))
}

# --- counts per key: finish() depends on every record ---
awk 'BEGIN { for (i = 1; i <= 1200; i++) {
	if (i % 97 == 0) { print "{\"k\":broken"; continue }
	printf "{\"k\":\"room-%d\",\"i\":%d,\"from\":\"u%d\"}\n", (i * 7) % 13, i, i % 11 } }' >count.jsonl
cat >count.lua <<'LUA'
-- Counts records per room and remembers the first and last sender; finish()
-- makes one group per room whose name carries the count.
local rooms, order = {}, {}
function map(rec, ctx)
	if rec.i % 89 == 0 then error("record " .. rec.i .. " is cursed") end
	local r = rooms[rec.k]
	if not r then
		r = { n = 0, first = rec.from, sum = 0 }
		rooms[rec.k] = r
		order[#order + 1] = rec.k
	end
	r.n = r.n + 1
	r.sum = r.sum + rec.i
	r.last = rec.from
	if r.n % 25 == 0 then
		-- Output that depends on the state mid-stream, too.
		return { kind = "account", UserID = rec.k .. "-" .. r.n, Nick = r.first }
	end
end
function finish(ctx)
	for _, k in ipairs(order) do
		local r = rooms[k]
		immigrate.emit { kind = "group", GroupId = k, Type = "Public", Name = k .. " n=" .. r.n,
			Introduction = "sum " .. r.sum .. " " .. r.first .. ".." .. r.last, Owner_Account = r.first }
	end
end
LUA
cat >count-job.lua <<'LUA'
return { source = { plugin = "jsonl", path = "count.jsonl" }, script = "count.lua", state = env("STATE") }
LUA
STATE=clean.db "$IMMIGRATE" run count-job.lua --stage-only >clean.out 2>&1
is "$?" 3 "clean run: exit 3 (broken lines and script errors)"
is "$(sqlite3 clean.db "select count(*) from records where kind = 'group'")" 13 "finish() made 13 groups"
is "$(sqlite3 clean.db "select sum(cast(substr(json_extract(payload, '\$.Name'), instr(json_extract(payload, '\$.Name'), 'n=') + 2) as integer)) from records where kind = 'group'")" \
	"$((1200 - 12 - 13))" "whose counts add up to every mapped record"
dump clean.db >clean.dump

run_killed count-job.lua killed.db 1200
is "$kills" 3 "three runs were SIGKILLed mid-extract"
is "$replays" 3 "each later run mapped the committed records again first"
is "$last_rc" 3 "the last run finishes"
dump killed.db >killed.dump
cmp -s clean.dump killed.dump; ok $? "killed 3 times + resumed stages exactly what a clean run stages"
diff clean.dump killed.dump | head -5 | sed 's/^/# /'
is "$(sqlite3 killed.db "select count(*) from dead_letters where stage = 'script'")" 13 \
	"replayed script failures are not dead-lettered twice"

# A resumed run of an already finished source does nothing more.
STATE=killed.db "$IMMIGRATE" run count-job.lua --stage-only >again.out 2>&1
grep -q 'read to its end' again.out; ok $? "a run after the end reads nothing again"

# --- Sendbird: channel facts in upvalues, groups and friendships in finish() ---
SBFIX="$top_srcdir/tests/sendbird/fixtures"
if [ -f "$top_builddir/plugins/sendbird/.libs/sendbird.so" ] && [ -f "$SBFIX/export/messages.json" ]; then
	cat >sb-job.lua <<EOJ
return {
	source = { plugin = "sendbird", path = { "$SBFIX/export", "$SBFIX/window2" } },
	script = "sendbird",
	state = env("STATE"),
}
EOJ
	STATE=sb-clean.db "$IMMIGRATE" run sb-job.lua --stage-only >sb-clean.out 2>&1
	is "$?" 0 "sendbird clean run"
	total=$(sed -n 's/^extract: \([0-9]*\) native records.*/\1/p' sb-clean.out)
	echo "# sendbird fixtures: $total native records"
	is "$(sqlite3 sb-clean.db "select count(*) from records where kind = 'group'")" 3 "three groups from finish()"
	dump sb-clean.db >sb-clean.dump
	run_killed sb-job.lua sb-killed.db "$total"
	is "$kills" 3 "sendbird: three runs were SIGKILLed mid-extract"
	is "$last_rc" 0 "sendbird: the last run finishes"
	dump sb-killed.db >sb-killed.dump
	cmp -s sb-clean.dump sb-killed.dump; ok $? "sendbird: killed 3 times + resumed stages exactly what a clean run stages"
	diff sb-clean.dump sb-killed.dump | head -5 | sed 's/^/# /'
else
	for i in 1 2 3 4 5 6; do skip "the sendbird plugin or its fixtures are missing"; done
fi
done_testing
