#!/bin/sh
# Throughput of immigrate-imsim: N importmsg calls (distinct messages) sent by one curl
# process over keep-alive connections, P in parallel, rate limits scaled out of the way.
# Usage: bench/imsim-throughput.sh BUILD_DIR [N] [P]. Not run by make check.
set -eu
build=$(cd "${1:?usage: imsim-throughput.sh BUILD_DIR [N] [P]}" && pwd)
n=${2:-5000}
p=${3:-8}
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
umask 077
printf 'bench-key\n' >"$tmp/key"
"$build/immigrate-imsim" --listen 127.0.0.1:0 --port-file "$tmp/port" --sdkappid 1400000000 --admin admin \
	--key-file "$tmp/key" --qps-scale 1000 ${IMSIM_BENCH_ARGS:-} 2>"$tmp/log" &
pid=$!
while [ ! -s "$tmp/port" ]; do sleep 0.05; done
sig=$("$build/tests/imsim/mksig" "$tmp/key" 1400000000 admin)
url="http://127.0.0.1:$(cat "$tmp/port")/v4"
q="sdkappid=1400000000&identifier=admin&usersig=$sig&random=1&contenttype=json"
curl -s -d '{"Accounts":["a","b"]}' "$url/im_open_login_svc/multiaccount_import?$q" >/dev/null
i=0
while [ $i -lt "$n" ]; do
	[ $i -gt 0 ] && echo next	# each transfer gets its own data, not the sum
	printf 'url = "%s/openim/importmsg?%s"\ndata = "{\\"SyncFromOldSystem\\":2,\\"From_Account\\":\\"a\\",\\"To_Account\\":\\"b\\",\\"MsgSeq\\":%d,\\"MsgRandom\\":7,\\"MsgTimeStamp\\":1600000000,\\"MsgBody\\":[{\\"MsgType\\":\\"TIMTextElem\\",\\"MsgContent\\":{\\"Text\\":\\"message %d\\"}}]}"\noutput = "/dev/null"\n' \
		"$url" "$q" "$i" "$i"
	i=$((i + 1))
done >"$tmp/curl.cfg"
start=$(date +%s.%N)
curl -s --no-progress-meter --parallel --parallel-max "$p" -K "$tmp/curl.cfg" || true	# faults fail some on purpose
end=$(date +%s.%N)
stats=$(curl -s "http://127.0.0.1:$(cat "$tmp/port")/_sim/stats")
stored=$(printf '%s' "$stats" | jq '.codes["0"]')
[ -n "${VERBOSE:-}" ] && printf '%s\n' "$stats" | jq -c .codes
awk -v n="$n" -v s="$start" -v e="$end" -v ok="$stored" -v p="$p" \
	'BEGIN { printf "%d importmsg calls, %d in parallel: %.2f s, %.0f calls/s (%d answered 0)\n", n, p, e - s, n / (e - s), ok - 1 }'
