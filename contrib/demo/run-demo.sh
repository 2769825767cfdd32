#!/bin/sh
# The embedded default job: the sample export of a small self-built chat backend
# (contrib/demo/sample.jsonl, every kind of record) migrated into the local IM
# emulator, with no credentials and no network. Usage: run-demo.sh BUILD_DIR
#
# It plans, runs, verifies and reports. What it leaves in BUILD_DIR/demo/: the stage
# (demo.db), the emulator's final state (imsim-dump.json) and the HTML report
# (report.html), so the result can be inspected after the run.
set -eu
build=$(cd "${1:?usage: run-demo.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
out="$build/demo"
rm -rf "$out"
mkdir -p "$out"
sim_pid=""
trap '[ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null; wait 2>/dev/null || true' EXIT INT TERM

# Plugins and bundled scripts from the build tree, not from an installation.
IMMIGRATE_PLUGIN_PATH=$(ls -d "$build"/plugins/*/.libs | tr '\n' ':')
IMMIGRATE_SCRIPT_PATH="$here/../../scripts"
export IMMIGRATE_PLUGIN_PATH IMMIGRATE_SCRIPT_PATH

# A throwaway app key, readable only by us, shared by the emulator and the runner.
umask 077
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$out/app.key"

echo "== starting immigrate-imsim (the local Tencent IM emulator)"
"$build/immigrate-imsim" --listen 127.0.0.1:0 --port-file "$out/port" --sdkappid 1400000000 \
	--admin administrator --key-file "$out/app.key" --state "$out/imsim.db" 2>"$out/imsim.log" &
sim_pid=$!
for _ in $(seq 50); do [ -s "$out/port" ] && break; sleep 0.1; done
[ -s "$out/port" ] || { cat "$out/imsim.log" >&2; echo "the emulator did not start" >&2; exit 1; }
endpoint="http://127.0.0.1:$(cat "$out/port")"
echo "   listening on $endpoint"

set -- --set "target.endpoint=$endpoint" --set "target.key_file=$out/app.key" --set "state=$out/demo.db"
echo "== immigrate check"
"$build/immigrate" check "$here/job.lua" "$@"
echo "== immigrate plan: what will be sent, and the wall-time floor at the rate limits"
"$build/immigrate" plan "$here/job.lua" "$@"
echo "== immigrate run: extract, transform, stage, then load into the emulator"
status=0
"$build/immigrate" run "$here/job.lua" "$@" || status=$?
echo "== immigrate verify: read the emulator back and compare with what landed"
"$build/immigrate" verify "$here/job.lua" "$@" || status=$?
echo "== immigrate report"
"$build/immigrate" report "$here/job.lua" "$@" --html "$out/report.html" >/dev/null || status=$?

curl -sf "$endpoint/_sim/dump" >"$out/imsim-dump.json" 2>/dev/null || true
echo "== done (exit $status). Stage: $out/demo.db; emulator state: $out/imsim-dump.json"
echo "Report: $out/report.html"
exit $status
