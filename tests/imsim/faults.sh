#!/bin/sh
# Emulator conformance: --faults is deterministic for a seed, and each kind behaves as
# a network or server failure does.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/imsim/lib-imsim.sh"

# Sends 40 numbered account_imports; prints one outcome per line: the ErrorCode, or
# "http502", or "conn" (connection closed or timed out without an answer).
run_series() {
	for i in $(seq 1 40); do
		out=$(curl -s --max-time 5 -w '\n%{http_code}' --data-binary "{\"UserID\":\"u$i\"}" \
			"$SIM_URL/v4/im_open_login_svc/account_import?$(QUERY_OK)")
		rc=$?
		status=$(printf '%s' "$out" | tail -n 1)
		body=$(printf '%s' "$out" | sed '$d')
		if [ $rc -ne 0 ] || [ "$status" = 000 ]; then echo conn
		elif [ "$status" = 502 ]; then echo "http502:${#body}"
		else code "$body"; fi
	done
}

imsim_start --faults rate=0.5,seed=42,kinds=502+drop+transient+lost || { echo "Bail out! cannot start"; exit 1; }
run_series >"$TMPD/run1"
stats1=$(curl -s "$SIM_URL/_sim/stats")
dump1=$(curl -s "$SIM_URL/_sim/dump" | jq -c '[.accounts[].user_id]')
imsim_stop
imsim_start --faults rate=0.5,seed=42,kinds=502+drop+transient+lost || { echo "Bail out! cannot restart"; exit 1; }
run_series >"$TMPD/run2"
dump2=$(curl -s "$SIM_URL/_sim/dump" | jq -c '[.accounts[].user_id]')
imsim_stop
check "the same seed fails the same requests the same way" cmp -s "$TMPD/run1" "$TMPD/run2"
is "$dump1" "$dump2" "... and leaves the same state"
imsim_start --faults rate=0.5,seed=7,kinds=502+drop+transient+lost || { echo "Bail out! cannot restart"; exit 1; }
run_series >"$TMPD/run3"
imsim_stop
check "another seed fails other requests" sh -c "! cmp -s '$TMPD/run1' '$TMPD/run3'"

ok_n=$(grep -c '^0$' "$TMPD/run1")
bad_n=$((40 - ok_n))
ok $([ "$bad_n" -ge 8 ] && [ "$bad_n" -le 32 ] && echo 0 || echo 1) "rate 0.5 fails roughly half (here $bad_n of 40)"
is "$(jqr '.faults["502"] + .faults.drop + .faults.transient + .faults.lost' "$stats1")" "$bad_n" \
	"stats count every injected fault"
ok $(grep -q '^http502:0$' "$TMPD/run1" && echo 0 || echo 1) "502 answers have no body"
ok $(grep -q '^70500$' "$TMPD/run1" && echo 0 || echo 1) "transient faults answer the family's internal error (70500)"
ok $(grep -q '^conn$' "$TMPD/run1" && echo 0 || echo 1) "dropped connections happen"
# Lost answers apply the write; the others do not: the imported accounts are exactly the
# answered ones plus the lost ones.
answered=$(awk '$0 == "0" { printf "u%d\n", NR }' "$TMPD/run1" | sort)
stored=$(printf '%s' "$dump1" | jq -r '.[]' | sort)
lost=$(jqr '.faults.lost' "$stats1")
extra=$(printf '%s\n' "$stored" | grep -cvxF "$answered")
is "$(printf '%s\n' "$answered" | grep -cvxF "$stored")" 0 "every answered import is stored"
is "$extra" "$lost" "the only unanswered writes stored are the lost answers ($lost)"

# A hang holds the connection past the client's timeout, then closes it.
imsim_start --faults rate=1,seed=1,kinds=hang --hang-ms 3000 || { echo "Bail out! cannot restart"; exit 1; }
out=$(curl -s --max-time 1 -w '%{http_code}' --data-binary '{"UserID":"h"}' \
	"$SIM_URL/v4/im_open_login_svc/account_import?$(QUERY_OK)")
is "$?" 28 "a hung request times out at the client"
is "$(jqr '.accounts|length' "$(curl -s "$SIM_URL/_sim/dump")")" 0 "a hung request writes nothing"
imsim_stop
# (imsim_stop above checked that stopping releases the hung request)

# --latency is a floor on every answer (a WAN round trip); only the lower bound is
# asserted, which no machine load can break.
imsim_start --latency 400 || { echo "Bail out! cannot restart"; exit 1; }
t=$(curl -s -o /dev/null -w '%{time_total}' --data-binary '{"UserID":"l"}' \
	"$SIM_URL/v4/im_open_login_svc/account_import?$(QUERY_OK)")
ok $(awk -v t="$t" 'BEGIN { exit !(t >= 0.4) }' && echo 0 || echo 1) "--latency 400 delays the answer (${t}s)"
t=$(curl -s -o /dev/null -w '%{time_total}' "$SIM_URL/v4/nosuch/x")
ok $(awk -v t="$t" 'BEGIN { exit !(t >= 0.4) }' && echo 0 || echo 1) "... error answers too (${t}s)"
imsim_stop

"$IMSIM" --listen 127.0.0.1:0 --sdkappid 1 --admin a --key-file "$TMPD/key" --faults rate=2 2>"$TMPD/err"
is "$?" 2 "a bad --faults spec is a usage error"
grep -q 'rate wants a number in 0..1' "$TMPD/err"; ok $? "... with a clear message"
done_testing
