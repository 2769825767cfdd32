#!/bin/sh
# bench/sync-deliver.sh BUILD_DIR [MESSAGES] [CONVERSATIONS] [LATENCY_MS]: how fast
# `immigrate sync` delivers stored old -> new events into IM (the emulator with
# injected latency), against the floor the API limits set (importmsg: 200/s).
# The events are stored first with sync.deliver = false, then the daemon restarts
# with delivery on and the time until nothing is pending is measured, once with
# sync.concurrency = 32 (default) and once with 1 (one request at a time).
set -e
B=${1:?usage: bench/sync-deliver.sh BUILD_DIR [MESSAGES] [CONVERSATIONS] [LATENCY_MS]}
B=$(cd "$B" && pwd)
MSGS=${2:-2000}
CONVS=${3:-50}
LAT=${4:-50}
S=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/immigrate-bench-deliver.XXXXXX")
PIDS=
trap 'kill $PIDS 2>/dev/null; rm -rf "$T"' EXIT
cd "$T"
printf 'bench-hook-secret\n' >hook.secret
printf 'bench-cb\n' >cb.token
printf 'bench-key\n' >im.key
chmod 600 hook.secret cb.token im.key
export IMMIGRATE_PLUGIN_PATH="$B/plugins/webhook/.libs"

post() { # post BODY-FILE PORT
	ts=$(date +%s)
	sig=$("$B/tests/sync/hooksig" hmac hook.secret "$ts" "$1")
	curl -s -o /dev/null -H "X-Immigrate-Timestamp: $ts" -H "X-Immigrate-Signature: sha256=$sig" \
		--data-binary @"$1" "http://127.0.0.1:$2/source/webhook"
}
pending() { curl -s "http://127.0.0.1:$1/metrics" | awk '$1 == "immigrate_sync_pending{direction=\"old_to_new\"}" { print $2 }'; }

run() { # run CONCURRENCY
	rm -f state.db* im.port sync.port
	"$B/immigrate-imsim" --listen 127.0.0.1:0 --port-file im.port --sdkappid 1400000001 --admin admin \
		--key-file im.key --latency "$LAT" 2>imsim.err &
	IMPID=$!
	PIDS="$IMPID"
	while [ ! -s im.port ]; do sleep 0.1; done
	job() {
		cat >job.lua <<LUA
return {
  source = { plugin = "webhook", secret_file = "hook.secret", deliver_url = "http://127.0.0.1:9/" },
  script = "$S/tests/sync/sync.lua",
  target = { endpoint = "http://127.0.0.1:$(cat im.port)", sdkappid = 1400000001, admin = "admin",
             key_file = "im.key" },
  state = "state.db",
  sync = { listen = "127.0.0.1:0", port_file = "sync.port", callback_token_file = "cb.token",
           deliver = $1, concurrency = $2 },
}
LUA
	}
	job false 1
	"$B/immigrate" sync job.lua 2>sync.err &
	SPID=$!
	PIDS="$IMPID $SPID"
	while [ ! -s sync.port ]; do sleep 0.1; done
	P=$(cat sync.port)
	# Users first (one request), then the messages in requests of 100.
	{
		printf '{"events":['
		c=1
		while [ $c -le $CONVS ]; do
			[ $c -gt 1 ] && printf ','
			printf '{"id":"u%d","data":{"type":"user","id":"s%d"}},{"id":"v%d","data":{"type":"user","id":"r%d"}}' $c $c $c $c
			c=$((c + 1))
		done
		printf ']}'
	} >users.json
	post users.json "$P"
	i=1
	while [ $i -le "$MSGS" ]; do
		{
			printf '{"events":['
			j=0
			while [ $j -lt 100 ] && [ $i -le "$MSGS" ]; do
				[ $j -gt 0 ] && printf ','
				c=$((i % CONVS + 1))
				printf '{"id":"m%d","data":{"type":"message","from":"s%d","to":"r%d","text":"message %d","ts":1700000000}}' $i $c $c $i
				i=$((i + 1))
				j=$((j + 1))
			done
			printf ']}'
		} >msgs.json
		post msgs.json "$P"
	done
	kill -TERM $SPID
	wait $SPID || true
	rm -f sync.port
	job true "$1"
	start=$(date +%s.%N)
	"$B/immigrate" sync job.lua 2>>sync.err &
	SPID=$!
	PIDS="$IMPID $SPID"
	while [ ! -s sync.port ]; do sleep 0.05; done
	P=$(cat sync.port)
	while [ "$(pending "$P")" != 0 ]; do sleep 0.05; done
	end=$(date +%s.%N)
	n=$((MSGS + 2 * CONVS))
	dead=$(curl -s "http://127.0.0.1:$P/metrics" | awk '$1 == "immigrate_sync_dead_total{direction=\"old_to_new\"}" { print $2 }')
	[ "$dead" = 0 ] || grep -i dead sync.err | head -3
	landed=$(curl -s "http://127.0.0.1:$(cat im.port)/_sim/dump" | grep -o '"origin":"importmsg"' | wc -l)
	rl=$(curl -s "http://127.0.0.1:$(cat im.port)/_sim/stats" | grep -o '"rate_limited":[0-9]*' | head -1)
	awk -v n=$n -v s="$start" -v e="$end" -v c="$1" -v m="$MSGS" -v l="$landed" -v rl="$rl" -v dead="$dead" 'BEGIN {
		t = e - s; floor = m / 200.0
		printf "concurrency %d: %d events delivered in %.2f s (%.0f/s); %d messages in IM; floor %.1f s at importmsg 200/s -> %.2fx; %s; dead %s\n",
			c, n, t, n / t, l, floor, t / floor, rl, dead }'
	kill -TERM $SPID $IMPID
	wait $SPID $IMPID 2>/dev/null || true
	PIDS=
}
echo "== $MSGS messages in $CONVS conversations, emulator latency ${LAT} ms, load average $(cut -d' ' -f1-3 /proc/loadavg)"
run 32
[ -n "$QUICK" ] || run 1
