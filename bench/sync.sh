#!/bin/sh
# bench/sync.sh BUILD_DIR [DURATION_S] [CONNECTIONS]: Tencent IM callbacks per second
# that `immigrate sync` acknowledges durably (stored in the outbox, group-committed,
# then answered), with p50/p99 acknowledgement latency, measured with wrk on
# loopback. Three runs: fsync on every group commit (the default) with the
# delivery worker running, the same with sync.deliver = false (acceptance alone),
# and sync.fsync = false (crash-safe, not power-loss-safe). The mapping script's
# reverse() returns nothing, so delivery costs one Lua call and one mark per
# event, and no network I/O.
set -e
B=${1:?usage: bench/sync.sh BUILD_DIR [DURATION_S] [CONNECTIONS]}
B=$(cd "$B" && pwd)
DUR=${2:-10}
CONN=${3:-64}
S=$(cd "$(dirname "$0")" && pwd)
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/immigrate-bench-sync.XXXXXX")
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$T"' EXIT
cd "$T"
printf 'bench-hook-secret\n' >hook.secret
printf 'bench-callback-token\n' >cb.token
printf 'bench-key\n' >im.key
chmod 600 hook.secret cb.token im.key
cat >bench.lua <<'LUA'
function map(rec, ctx) return nil end
function reverse(event, ctx) return nil end
LUA
export IMMIGRATE_PLUGIN_PATH="$B/plugins/webhook/.libs"

run() { # run FSYNC DELIVER
	rm -f state.db* sync.port
	cat >job.lua <<LUA
return {
  source = { plugin = "webhook", secret_file = "hook.secret", deliver_url = "http://127.0.0.1:9/" },
  script = "bench.lua",
  target = { endpoint = "http://127.0.0.1:9", sdkappid = 1400000001, admin = "admin", key_file = "im.key" },
  state = "state.db",
  sync = { listen = "127.0.0.1:0", port_file = "sync.port", callback_token_file = "cb.token",
           fsync = $1, deliver = $2, max_connections = 4096 },
}
LUA
	"$B/immigrate" sync job.lua 2>sync.err &
	PID=$!
	i=0
	while [ ! -s sync.port ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	P=$(cat sync.port)
	t=$(date +%s)
	sign=$(printf '%s%s' "$(cat cb.token)" "$t" | sha256sum | cut -d' ' -f1)
	url="http://127.0.0.1:$P/im/callback?SdkAppid=1400000001&CallbackCommand=C2C.CallbackAfterSendMsg&contenttype=json&ClientIP=127.0.0.1&OptPlatform=iOS&Sign=$sign&RequestTime=$t"
	echo "== fsync=$1 deliver=$2, $CONN connections, ${DUR}s, load average $(cut -d' ' -f1-3 /proc/loadavg)"
	wrk -t2 -c"$CONN" -d"${DUR}s" -s "$S/sync-wrk.lua" "$url" | grep -E '^(requests|ack/s|p[0-9])'
	curl -s "http://127.0.0.1:$P/metrics" >metrics.txt
	stored=$(awk '$1 == "immigrate_sync_stored_total{direction=\"new_to_old\"}" { print $2 }' metrics.txt)
	commits=$(awk '$1 == "immigrate_sync_commits_total" { print $2 }' metrics.txt)
	rejected=$(awk '$1 == "immigrate_sync_rejected_total{direction=\"new_to_old\"}" { print $2 }' metrics.txt)
	echo "server: stored $stored events in $commits commits (mean group $(( stored / (commits > 0 ? commits : 1) ))), rejected $rejected"
	kill -TERM $PID
	wait $PID || true
	PID=
	echo "rows in the outbox after SIGTERM: $(sqlite3 state.db 'SELECT count(*) FROM sync_events' 2>/dev/null || echo '?')"
}
run true true
[ -n "$QUICK" ] || run true false
[ -n "$QUICK" ] || run false true
