#!/bin/sh
# End to end: the loader against immigrate-imsim. Every kind lands with exactly
# the expected state; with 10 % injected faults the state is still exact; killed
# with SIGKILL at random points and resumed, the state is exact; a second run of
# a finished load sends nothing.
. "${top_srcdir:-.}/tests/lib.sh"

LOADRUN="$top_builddir/tests/load/loadrun"
[ -x "$IMSIM" ] || skip_all "immigrate-imsim not built"
[ -x "$LOADRUN" ] || skip_all "tests/load/loadrun not built"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not found (data generator and state check)"
command -v curl >/dev/null 2>&1 || skip_all "curl not found (emulator dump)"

make_tmpdir
GEN="$top_srcdir/tests/load/gen.py"
EXPECT="$top_srcdir/tests/load/expect.py"
printf '%s' 5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e >"$TMPD/key"
chmod 600 "$TMPD/key"
python3 "$GEN" --seed 11 >"$TMPD/recs.jsonl"

# start_sim NAME [imsim options...]: starts an emulator, sets PORT and SIM_PID.
start_sim() {
	name=$1; shift
	rm -f "$TMPD/$name.port"
	"$IMSIM" --listen 127.0.0.1:0 --port-file "$TMPD/$name.port" --sdkappid 1400000000 --admin admin \
		--key-file "$TMPD/key" "$@" 2>"$TMPD/$name.log" &
	SIM_PID=$!
	CLEANUP_PIDS="${CLEANUP_PIDS:-} $SIM_PID"
	i=0
	while [ ! -s "$TMPD/$name.port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	PORT=$(cat "$TMPD/$name.port" 2>/dev/null)
}
stop_sim() { kill "$SIM_PID" 2>/dev/null; wait "$SIM_PID" 2>/dev/null; }
load() { # load STATE [options...]
	st=$1; shift
	"$LOADRUN" --state "$TMPD/$st.db" --endpoint "http://127.0.0.1:$PORT" --sdkappid 1400000000 --admin admin \
		--key-file "$TMPD/key" --quiet "$@"
}
load_bg() { # load_bg STATE: the loader in the background, its own pid in $!
	"$LOADRUN" --state "$TMPD/$1.db" --endpoint "http://127.0.0.1:$PORT" --sdkappid 1400000000 --admin admin \
		--key-file "$TMPD/key" --quiet &
}
state_is_exact() { # state_is_exact NAME
	curl -s "http://127.0.0.1:$PORT/_sim/dump" >"$TMPD/$1.dump" && python3 "$EXPECT" "$TMPD/recs.jsonl" "$TMPD/$1.dump"
}
sim_requests() { curl -s "http://127.0.0.1:$PORT/_sim/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])'; }

# 1. A clean load.
start_sim clean
load clean --records "$TMPD/recs.jsonl" >"$TMPD/clean.out" 2>"$TMPD/clean.err"
is "$?" 0 "clean load exits 0"
check "clean load: the target holds exactly the records" state_is_exact clean
grep -q '^total' "$TMPD/clean.out"
ok $? "the summary table has a total line"
# Throughput samples for the report (report.h): one at the start and one at the end
# at least, landed counts never going down, the last one equal to what the stage
# holds as landed, for every kind.
samples_ok() { # samples_ok STATE
	python3 - "$TMPD/$1.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
rows = c.execute("SELECT t, kind, landed FROM progress_samples ORDER BY t").fetchall()
landed = dict(c.execute("SELECT kind, count(*) FROM records WHERE status = 2 GROUP BY kind").fetchall())
last, bad = {}, []
for t, kind, n in rows:
    if n < last.get(kind, 0):
        bad.append("%s went down at %f" % (kind, t))
    last[kind] = n
times = len(set(r[0] for r in rows))
if times < 2:
    bad.append("%d sample time(s)" % times)
for kind, n in landed.items():
    if last.get(kind) != n:
        bad.append("%s: last sample %s, landed %d" % (kind, last.get(kind), n))
if not landed:
    bad.append("nothing landed")
print("\n".join(bad) if bad else "ok")
PY
}
is "$(samples_ok clean)" ok "throughput samples from start to end, matching the landed counts"

# 2. A second run of the finished load sends nothing.
before=$(sim_requests)
load clean --json >"$TMPD/again.out" 2>"$TMPD/again.err"
is "$?" 0 "second run exits 0"
is "$(sim_requests)" "$before" "second run sends no request"
grep -q '"kind":"total".*"calls":0,' "$TMPD/again.out"
ok $? "second run reports 0 calls"
stop_sim

# 3. 10 % faults (502, dropped connections, hangs, internal errors, writes applied
#    but answers lost): the state is still exact.
start_sim faults --faults rate=0.1,seed=5 --hang-ms 300
load faults --records "$TMPD/recs.jsonl" --timeout-ms 3500 >"$TMPD/faults.out" 2>"$TMPD/faults.err"
is "$?" 0 "load through 10 % faults exits 0"
check "with faults: the target holds exactly the records" state_is_exact faults
retries=$(awk '$1 == "total" { print $5 }' "$TMPD/faults.out")
[ "${retries:-0}" -gt 0 ]
ok $? "faults caused retries ($retries)"
stop_sim

# 4. SIGKILL at random points, then resume.
start_sim kill --latency 5 --faults rate=0.05,seed=9,kinds=lost+502
"$LOADRUN" --state "$TMPD/kill.db" --records "$TMPD/recs.jsonl" --key-file "$TMPD/key" >/dev/null 2>&1
kills=0
for delay in 0.15 0.3 0.2 0.45 0.1 0.35; do
	load_bg kill >/dev/null 2>>"$TMPD/kill.err"
	pid=$!
	sleep "$delay"
	kill -9 "$pid" 2>/dev/null && kills=$((kills + 1))
	wait "$pid" 2>/dev/null
done
load kill >"$TMPD/kill.out" 2>>"$TMPD/kill.err"
is "$?" 0 "resumed load exits 0 (after $kills kills)"
check "after SIGKILLs and resume: the target holds exactly the records" state_is_exact kill
stop_sim

# 5. Limits above the service's (and 3 calls in flight per conversation): rate-limit
#    answers slow the loader down (AIMD)
#    and the state is still exact. The emulator runs at a tenth of the quotas.
python3 "$GEN" --seed 12 --users 8 --c2c 60 --convs 6 --groups 2 --group-msgs 10 >"$TMPD/small.jsonl"
cp "$TMPD/recs.jsonl" "$TMPD/recs.full"
cp "$TMPD/small.jsonl" "$TMPD/recs.jsonl"
start_sim throttle --qps-scale 0.1
load throttle --records "$TMPD/recs.jsonl" --limits '{"importmsg": 400, "portrait_set": 400, "c2c_conv_depth": 3}' >"$TMPD/throttle.out" \
	2>"$TMPD/throttle.err"
is "$?" 0 "load with limits above the service's exits 0"
check "rate-limited: the target holds exactly the records" state_is_exact throttle
throttled=$(awk '$1 == "total" { print $9 }' "$TMPD/throttle.out")
[ "${throttled:-0}" -gt 0 ]
ok $? "rate-limit answers were seen and counted ($throttled)"
stop_sim

# 6. Sequential mode (--concurrency 1) lands the same state.
start_sim seq
load seq --records "$TMPD/recs.jsonl" --concurrency 1 >"$TMPD/seq.out" 2>"$TMPD/seq.err"
is "$?" 0 "sequential load exits 0"
check "sequential: the target holds exactly the records" state_is_exact seq
stop_sim

# 7. SIGTERM: stops taking work, lets in-flight requests settle, exits 1; nothing
#    is left in flight, and a second run finishes the job exactly.
start_sim term --latency 100
"$LOADRUN" --state "$TMPD/term.db" --records "$TMPD/recs.jsonl" --key-file "$TMPD/key" >/dev/null 2>&1
load_bg term >"$TMPD/term.out" 2>"$TMPD/term.err"
pid=$!
sleep 0.3
kill -TERM "$pid"
wait "$pid"
is "$?" 1 "SIGTERM: exit 1"
grep -q 'run the job again to resume' "$TMPD/term.err"
ok $? "SIGTERM: says how to resume"
inflight=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM records WHERE status = 1").fetchone()[0])' "$TMPD/term.db")
is "$inflight" 0 "SIGTERM: no record left in flight"
load term >/dev/null 2>>"$TMPD/term.err"
is "$?" 0 "resumed after SIGTERM: exit 0"
check "after SIGTERM and resume: the target holds exactly the records" state_is_exact term
stop_sim
cp "$TMPD/recs.full" "$TMPD/recs.jsonl"

# 8. A second loader on a stage being loaded is refused (the lock is held here by
#    flock(1) so that the test does not depend on timing).
if command -v flock >/dev/null 2>&1; then
	start_sim lock
	flock "$TMPD/lock.db-load.lock" sleep 3 &
	lockpid=$!
	sleep 0.2
	load lock --records "$TMPD/recs.jsonl" >/dev/null 2>"$TMPD/lock.err"
	is "$?" 1 "a second loader on the same stage is refused"
	grep -q 'another immigrate is loading this stage' "$TMPD/lock.err"
	ok $? "and says why"
	kill "$lockpid" 2>/dev/null
	wait "$lockpid" 2>/dev/null
	stop_sim
else
	skip "flock(1) not installed"
	skip "flock(1) not installed"
fi

# 9. A record the target refuses becomes a dead letter; the rest lands; exit 3.
start_sim dead
printf '%s\n' '{"kind":"account","UserID":"ok1"}' '{"kind":"account","UserID":"ok2"}' \
	'{"kind":"c2c_msg","From_Account":"ok1","To_Account":"nobody","MsgTimeStamp":1500000000,"MsgSeq":1,"MsgRandom":2,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"x"}}]}' \
	>"$TMPD/dead.jsonl"
load dead --records "$TMPD/dead.jsonl" --json >"$TMPD/dead.out" 2>"$TMPD/dead.err"
is "$?" 3 "a refused record: exit 3"
grep -q '"kind":"c2c_msg".*"landed":0,"dead":1' "$TMPD/dead.out"
ok $? "the refused message is a dead letter"
grep -q '"kind":"account".*"landed":2,"dead":0' "$TMPD/dead.out"
ok $? "the accounts landed"
stop_sim

# 10. A wrong key stops the run with a message saying what to fix.
start_sim auth
printf '%s' 0000000000000000000000000000000000000000000000000000000000000000 >"$TMPD/wrong"
chmod 600 "$TMPD/wrong"
"$LOADRUN" --state "$TMPD/auth.db" --records "$TMPD/dead.jsonl" --endpoint "http://127.0.0.1:$PORT" \
	--sdkappid 1400000000 --admin admin --key-file "$TMPD/wrong" --quiet >/dev/null 2>"$TMPD/auth.err"
is "$?" 1 "wrong key: exit 1"
grep -q 'key' "$TMPD/auth.err"
ok $? "the message names the key"
grep -q "$(cat "$TMPD/wrong")" "$TMPD/auth.err"
ok $((1 - $?)) "the message does not contain the key"
stop_sim

# 11. An endpoint that does not answer stops the run after a while, and charges
#     no record for it: nothing is dead-lettered, everything stays pending.
"$LOADRUN" --state "$TMPD/down.db" --records "$TMPD/dead.jsonl" --endpoint "http://127.0.0.1:1" \
	--sdkappid 1400000000 --admin admin --key-file "$TMPD/key" --quiet --unreachable-s 2 >/dev/null 2>"$TMPD/down.err"
is "$?" 1 "unreachable endpoint: exit 1"
grep -q 'no answer from the endpoint' "$TMPD/down.err"
ok $? "the message says the endpoint does not answer"
pending=$(python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); print(c.execute("SELECT count(*) FROM records WHERE status = 0 AND attempts = 0").fetchone()[0], c.execute("SELECT count(*) FROM dead_letters").fetchone()[0])' "$TMPD/down.db")
is "$pending" "3 0" "all records still pending and uncharged, no dead letter"

# 12. A bad limit is a configuration error naming the key.
load badlimit --records "$TMPD/dead.jsonl" --limits '{"importmsg": -5}' >/dev/null 2>"$TMPD/badlimit.err"
is "$?" 2 "a negative limit: exit 2"
grep -q 'target.limits.importmsg' "$TMPD/badlimit.err"
ok $? "the message names target.limits.importmsg"

done_testing
