#!/bin/sh
# The request layer and the UserSig against immigrate-imsim:
#  1. im_tim_run delivers an answer its first transfer step read, without polling
#     for its timeout first (tests/load/timrun);
#  2. UserSigs that expire during a load (IMMIGRATE_USERSIG_TTL, and a clock
#     behind the service's, IMMIGRATE_USERSIG_BACKDATE, so that the service
#     refuses them with 70001 before their planned renewal): the loader signs new
#     ones, resends, and the target ends up exact;
#  3. a service that refuses even fresh UserSigs stops the run with a message
#     about the clock, charging no record.
. "${top_srcdir:-.}/tests/lib.sh"

LOADRUN="$top_builddir/tests/load/loadrun"
TIMRUN="$top_builddir/tests/load/timrun"
[ -x "$IMSIM" ] || skip_all "immigrate-imsim not built"
[ -x "$LOADRUN" ] && [ -x "$TIMRUN" ] || skip_all "tests/load/loadrun or timrun not built"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not found (data generator and state check)"
command -v curl >/dev/null 2>&1 || skip_all "curl not found (emulator dump)"

make_tmpdir
printf '%s' 5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e >"$TMPD/key"
chmod 600 "$TMPD/key"

start_sim() { # start_sim NAME [imsim options...]: sets PORT and SIM_PID
	name=$1; shift
	"$IMSIM" --listen 127.0.0.1:0 --port-file "$TMPD/$name.port" --sdkappid 1400000000 --admin admin \
		--key-file "$TMPD/key" "$@" 2>"$TMPD/$name.log" &
	SIM_PID=$!
	CLEANUP_PIDS="${CLEANUP_PIDS:-} $SIM_PID"
	i=0
	while [ ! -s "$TMPD/$name.port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	PORT=$(cat "$TMPD/$name.port" 2>/dev/null)
}
stop_sim() { kill "$SIM_PID" 2>/dev/null; wait "$SIM_PID" 2>/dev/null; }

# 1. Prompt delivery: timrun's TAP lines are counted here.
start_sim timrun --latency 300
"$TIMRUN" "http://127.0.0.1:$PORT" "$TMPD/key" 300 >"$TMPD/timrun.out" 2>"$TMPD/timrun.err"
rc=$?
while IFS= read -r l; do
	case $l in
	"ok "*) ok 0 "timrun: ${l#ok * - }" ;;
	"not ok "*) ok 1 "timrun: ${l#not ok * - }" ;;
	"#"*) echo "$l" ;;
	esac
done <"$TMPD/timrun.out"
is "$rc" 0 "timrun exits 0 (not stopped by its alarm)"
stop_sim

# 2. UserSigs valid 3 s, signed by a clock 2 s behind the service's: every few
#    seconds the service refuses the one in use before the loader would renew it.
#    importmsg paced at 40/s makes the load last 5 s at least.
python3 "$top_srcdir/tests/load/gen.py" --seed 21 >"$TMPD/recs.jsonl"
start_sim expiry --latency 5 -v
IMMIGRATE_USERSIG_TTL=3 IMMIGRATE_USERSIG_BACKDATE=2 "$LOADRUN" --state "$TMPD/expiry.db" \
	--records "$TMPD/recs.jsonl" --endpoint "http://127.0.0.1:$PORT" --sdkappid 1400000000 --admin admin \
	--key-file "$TMPD/key" --quiet --json --verbose --limits '{"importmsg": 40}' \
	>"$TMPD/expiry.out" 2>"$TMPD/expiry.err"
is "$?" 0 "a load whose UserSigs expire during the run exits 0"
refused=$(grep -c 'UserSig expired (70001): signed a new one' "$TMPD/expiry.err")
[ "$refused" -ge 1 ]
ok $? "the service refused expired UserSigs and the loader signed new ones ($refused times)"
answered=$(grep -c -- '-> 70001' "$TMPD/expiry.log")
[ "$answered" -ge "$refused" ]
ok $? "the emulator did answer 70001 ($answered answers: one new UserSig serves every request that carried the old one)"
signed=$(grep -c 'signed a new UserSig' "$TMPD/expiry.err")
[ "$signed" -gt "$refused" ]
ok $? "each refusal logged signed a UserSig ($signed signatures in all, the first included)"
curl -s "http://127.0.0.1:$PORT/_sim/dump" >"$TMPD/expiry.dump"
check "the target holds exactly the records" python3 "$top_srcdir/tests/load/expect.py" "$TMPD/recs.jsonl" \
	"$TMPD/expiry.dump"
grep -q '"kind":"total".*"dead":0,"retries":0,' "$TMPD/expiry.out"
ok $? "no dead letter, and refusals are not charged to the records as retries"
grep -qi 'usersig=\|eJ[wy]' "$TMPD/expiry.err" "$TMPD/expiry.out"
ok $((1 - $?)) "no UserSig in the output"
stop_sim

# 3. A clock so far behind that even fresh UserSigs have expired for the service.
start_sim skew
IMMIGRATE_USERSIG_TTL=60 IMMIGRATE_USERSIG_BACKDATE=120 "$LOADRUN" --state "$TMPD/skew.db" \
	--records "$TMPD/recs.jsonl" --endpoint "http://127.0.0.1:$PORT" --sdkappid 1400000000 --admin admin \
	--key-file "$TMPD/key" --quiet >"$TMPD/skew.out" 2>"$TMPD/skew.err"
is "$?" 1 "fresh UserSigs refused: exit 1"
grep -q "check this machine's clock" "$TMPD/skew.err"
ok $? "the message says to check the clock"
left=$(python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); print(c.execute("SELECT count(*) FROM records WHERE status IN (0, 1) AND attempts = 0").fetchone()[0] == c.execute("SELECT count(*) FROM records").fetchone()[0], c.execute("SELECT count(*) FROM dead_letters").fetchone()[0])' "$TMPD/skew.db")
is "$left" "True 0" "no record charged, no dead letter"
stop_sim

done_testing
