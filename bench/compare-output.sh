#!/bin/sh
# Output equivalence of two builds (not run by make check: it needs a second,
# older build). Stages are resumed across versions and dedupe keys identify
# records in the target, so a change to the output path (Lua tables -> records
# -> validation -> payload) must stage the same bytes:
#
#   sh bench/compare-output.sh BASELINE_IMMIGRATE [BUILD_DIR] [N]
#
# runs both builds (each with the plugins of its own build tree) over
#   - tests/transform/gen-chat.sh N (default 100000) through tests/transform/chat.lua,
#   - bench/compare/im-records.jsonl (every kind, every rule, bad records) through
#     identity, native and with IMMIGRATE_NO_NATIVE_IDENTITY=1,
#   - bench/compare/tricky.jsonl through bench/compare/tricky.lua (table shapes,
#     markers, floats, bad values, emit, arrays, finish()),
#   - the sendbird and easemob fixtures through scripts/sendbird.lua and
#     scripts/easemob.lua when those plugins are built,
# and compares the records table (kind, conv, ord, seq, payload, source_id,
# dedupe_key), the raw records (their text is written by jsonout.c too), the
# dead letters (stage, kind, code, reason, payload, origin)
# and the `preview` output (stdout and stderr). Exits 1 on any difference.
#
# The corpora give each bad record one reason only: of a Lua table with several
# bad fields, the one reported is the first lua_next meets, and Lua 5.4 seeds
# its string hashes per state, so that varies from run to run of one build.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
base=${1:?usage: compare-output.sh BASELINE_IMMIGRATE [BUILD_DIR] [N]}
build=$(cd "${2:-$top/_build}" && pwd)
n=${3:-100000}
new=$build/immigrate
command -v sqlite3 >/dev/null 2>&1 || { echo "needs the sqlite3 command" >&2; exit 2; }
plugins_of() {
	ls -d "$(dirname "$1")"/plugins/*/.libs 2>/dev/null | tr '\n' ':' | sed 's/:$//'
}
work=$(mktemp -d "${TMPDIR:-/tmp}/immigrate-compare.XXXXXX")
trap 'rm -rf "$work"' EXIT
IMMIGRATE_SCRIPT_PATH=$top/scripts
export IMMIGRATE_SCRIPT_PATH
fail=0

dump() {
	sqlite3 "$1" "SELECT kind, conv, ord, seq, quote(payload), quote(source_id), dedupe_key FROM records ORDER BY seq;
		SELECT '--- raw';
		SELECT stream, quote(source_id), quote(origin), quote(data) FROM raw ORDER BY id;
		SELECT '--- dead letters';
		SELECT stage, quote(kind), quote(code), reason, quote(payload), quote(origin) FROM dead_letters ORDER BY id;"
}

# compare NAME JOBTEXT [ENV=VALUE...]: runs the job (its state at STATE) with
# both builds, staged and previewed, from the same paths (messages name them),
# and diffs what they made.
compare() {
	name=$1 job=$2
	shift 2
	printf '%s\n' "$job" | sed "s|STATE|$work/stage.db|" >"$work/job.lua"
	for who in old new; do
		bin=$base
		[ $who = new ] && bin=$new
		d=$work/$name.$who
		mkdir -p "$d"
		rm -f "$work"/stage.db*
		(cd "$work" && env "$@" IMMIGRATE_PLUGIN_PATH="$(plugins_of "$bin")" "$bin" run job.lua --stage-only \
			>"$d/run.out" 2>&1)
		echo "exit $?" >>"$d/run.out"
		# Progress lines ("extract      [###...] n/~total ..., rate") carry timings.
		sed -i '/^extract  /d' "$d/run.out"
		dump "$work/stage.db" >"$d/dump.txt" 2>&1
		cp "$work/stage.db" "$d/stage.db"
		rm -f "$work"/stage.db*
		(cd "$work" && env "$@" IMMIGRATE_PLUGIN_PATH="$(plugins_of "$bin")" "$bin" preview job.lua \
			--limit 0 >"$d/preview.out" 2>"$d/preview.err")
		echo "exit $?" >>"$d/preview.err"
	done
	for f in dump.txt preview.out preview.err run.out; do
		if ! cmp -s "$work/$name.old/$f" "$work/$name.new/$f"; then
			echo "DIFFERENT: $name $f"
			diff "$work/$name.old/$f" "$work/$name.new/$f" | head -20
			fail=1
		fi
	done
	records=$(sqlite3 "$work/$name.new/stage.db" 'SELECT count(*) FROM records')
	dead=$(sqlite3 "$work/$name.new/stage.db" 'SELECT count(*) FROM dead_letters')
	echo "$name: $records records, $dead dead letters, $(wc -l <"$work/$name.new/preview.out") preview lines: compared"
}

sh "$top/tests/transform/gen-chat.sh" "$n" >"$work/chat.jsonl"
cp "$top/tests/transform/chat.lua" "$work/chat.lua"
compare chat 'return { source = { plugin = "jsonl", path = "chat.jsonl" }, script = "chat.lua", state = "STATE" }'

cp "$top/bench/compare/im-records.jsonl" "$top/bench/compare/tricky.jsonl" "$top/bench/compare/tricky.lua" "$work/"
compare identity 'return { source = { plugin = "jsonl", path = "im-records.jsonl" }, script = "identity", state = "STATE" }'
compare identity-lua 'return { source = { plugin = "jsonl", path = "im-records.jsonl" }, script = "identity", state = "STATE" }' \
	IMMIGRATE_NO_NATIVE_IDENTITY=1
compare identity-rules 'return { source = { plugin = "jsonl", path = "im-records.jsonl" }, script = "identity",
	target = { rules = { ["group-msg-any-elem"] = true, ["msg-max-bytes"] = 60 } }, state = "STATE" }'
compare tricky 'return { source = { plugin = "jsonl", path = "tricky.jsonl" }, script = "tricky.lua", state = "STATE" }'

SBFIX=$top/tests/sendbird/fixtures
if [ -f "$build/plugins/sendbird/.libs/sendbird.so" ] && [ -d "$SBFIX/export" ]; then
	compare sendbird "return { source = { plugin = \"sendbird\", path = { \"$SBFIX/export\", \"$SBFIX/window2\" } },
		script = \"sendbird\", state = \"STATE\" }"
fi
EMFIX=$top/tests/easemob/fixtures
if [ -f "$build/plugins/easemob/.libs/easemob.so" ] && [ -d "$EMFIX/history" ]; then
	compare easemob "return { source = { plugin = \"easemob\", history = \"$EMFIX/history\",
		callbacks = \"$EMFIX/callbacks\", appkey = \"acme#chat\", callback_secret_env = \"EM_TEST_SECRET\" },
		script = \"easemob\", state = \"STATE\" }" EM_TEST_SECRET=s3cret
fi
[ $fail = 0 ] && echo "identical" || echo "DIFFERENCES FOUND"
exit $fail
