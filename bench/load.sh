#!/bin/sh
# Load benchmark (issue 5): a generated data set migrated into immigrate-imsim at
# the default rate limits with 50 ms injected latency. Reports wall time against
# the rate-limit floor, rate-limit rejections and CPU time per one-to-one message,
# and the same load in the sequential one-request-at-a-time mode (--concurrency 1).
#
#   bench/load.sh [BUILD_DIR]      (default: the current directory)
#   env: C2C (one-to-one messages, 2000), USERS (200), NGROUPS (10), LATENCY (50),
#        SEQUENTIAL=0 to skip the --concurrency 1 run.
# Not run by `make check`.
set -eu
B=$(cd "${1:-.}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
C2C=${C2C:-2000}
USERS=${USERS:-200}
NGROUPS=${NGROUPS:-10}
LATENCY=${LATENCY:-50}
SEQUENTIAL=${SEQUENTIAL:-1}
IMSIM="$B/immigrate-imsim"
LOADRUN="$B/tests/load/loadrun"
[ -x "$IMSIM" ] && [ -x "$LOADRUN" ] || { echo "build immigrate-imsim and tests/load/loadrun first (make check TESTS=)"; exit 2; }
T=$(mktemp -d "${TMPDIR:-/tmp}/immigrate-bench-load.XXXXXX")
SIM=""
trap '[ -n "$SIM" ] && kill $SIM 2>/dev/null; rm -rf "$T"' EXIT
printf '%s' 5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e >"$T/key"
chmod 600 "$T/key"

python3 "$SRC/tests/load/gen.py" --seed 42 --users "$USERS" --c2c "$C2C" --convs $((C2C / 10)) --groups "$NGROUPS" \
	--members 30 --group-msgs 40 >"$T/all.jsonl"
# CPU per one-to-one message: a data set of accounts and one-to-one messages only.
grep -E '"kind":"(account|c2c_msg)"' "$T/all.jsonl" >"$T/c2c.jsonl"

start_sim() {
	rm -f "$T/port"
	"$IMSIM" --listen 127.0.0.1:0 --port-file "$T/port" --sdkappid 1400000000 --admin admin --key-file "$T/key" \
		--latency "$LATENCY" 2>"$T/sim.log" &
	SIM=$!
	while [ ! -s "$T/port" ]; do sleep 0.05; done
	PORT=$(cat "$T/port")
}
stop_sim() { kill "$SIM"; wait "$SIM" 2>/dev/null || true; SIM=""; }

# run NAME RECORDS [loadrun options]: prints one result line.
run() {
	name=$1 recs=$2; shift 2
	start_sim
	rm -f "$T/$name.db"*
	"$LOADRUN" --state "$T/$name.db" --records "$recs" --key-file "$T/key" >/dev/null
	# The loader's own CPU time (user + system), from its rusage.
	python3 -c 'import resource, subprocess, sys, time
t = time.monotonic()
with open(sys.argv[1], "w") as out, open(sys.argv[2], "w") as err:
    subprocess.run(sys.argv[4:], stdout=out, stderr=err)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[3], "w").write("%f %f %f" % (time.monotonic() - t, r.ru_utime, r.ru_stime))' \
		"$T/$name.out" "$T/$name.err" "$T/$name.time" \
		"$LOADRUN" --state "$T/$name.db" --endpoint "http://127.0.0.1:$PORT" --sdkappid 1400000000 --admin admin \
		--key-file "$T/key" --quiet --json "$@"
	rejected=$(curl -s "http://127.0.0.1:$PORT/_sim/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["rate_limited"])')
	stop_sim
	python3 - "$name" "$T/$name.out" "$T/$name.time" "$rejected" "$recs" <<'PY'
import json, sys
name, out, tfile, rejected, recs = sys.argv[1:6]
rows = [json.loads(l) for l in open(out) if l.startswith("{")]
tot = [r for r in rows if r.get("kind") == "total"][0]
c2c = [r for r in rows if r.get("kind") == "c2c_msg"]
real, user, sys_ = map(float, open(tfile).read().split())
msgs = c2c[0]["landed"] if c2c else 0
print("%-22s records %6d  calls %6d  wall %7.2fs  floor %7.2fs  wall/floor %5.2f  rejected %4s  retries %d  cpu %.2fs%s"
      % (name, tot["staged"], tot["calls"], tot["wall_s"], tot["floor_s"], tot["wall_s"] / tot["floor_s"] if tot["floor_s"] else 0,
         rejected, tot["retries"], user + sys_,
         ("  cpu/c2c msg %.1f us" % ((user + sys_) / msgs * 1e6)) if msgs and "c2c" in name else ""))
for r in rows:
    if r.get("event") == "summary" and r["kind"] != "total":
        print("    %-13s staged %6d landed %6d dead %3d calls %6d wall %6.2fs floor %6.2fs throttled %d"
              % (r["kind"], r["staged"], r["landed"], r["dead"], r["calls"], r["wall_s"], r["floor_s"], r["throttled"]))
PY
}

echo "# immigrate load benchmark: latency ${LATENCY} ms, default limits, $(nproc) CPUs, $(date -u +%FT%TZ)"
run "all kinds (default)" "$T/all.jsonl"
run "c2c only (default)" "$T/c2c.jsonl"
[ "$SEQUENTIAL" = 1 ] && run "all kinds (--concurrency 1)" "$T/all.jsonl" --concurrency 1
exit 0
