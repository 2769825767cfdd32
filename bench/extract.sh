#!/bin/sh
# Extract + transform + stage throughput (issue 4's benchmark; not run by make check).
#
#   sh bench/extract.sh [BUILD_DIR] [N...]     (default: _build, 100000 1000000)
#
# Generates a chat export of max(N) native records (tests/transform/gen-chat.sh:
# users, direct and room messages, images, a few broken lines), maps it with a
# non-trivial stateful script (tests/transform/chat.lua: userid/seconds/truncate,
# text and image builders, accounts emitted on first sight) into a fresh stage,
# and reports records per CPU second on one core and peak RSS for each N. A
# "nostage" row runs the same records through `immigrate preview` into
# /dev/null (read, map, validate, print; no SQLite): what the stage costs is
# the difference. A "sqlcopy" row (sqlite3 shell installed) times SQLite alone
# doing the stage's writes: the rows of records and raw_chunk the staged run
# left, copied with INSERT ... SELECT into an empty stage of the same schema
# and settings in 50,000-row transactions, then the two indexes built as the
# extract builds them. Reading the rows back is included (about a third of it
# at 1M records), so it bounds from above what SQLite itself needs for this
# schema; staged minus nostage, what the stage costs in the run, should not
# exceed it.
#
# Comparing two builds on a noisy machine: BASELINE=/path/to/older/immigrate
# (with its own plugins/jsonl/.libs beside it, as in a build tree) runs it
# alternately with this build (ROUNDS times, default 2) and prints the CPU time
# ratio new/old per size. CALLGRIND=N (valgrind installed) also counts the
# instructions per native record over the first N records (repeatable, unlike
# times); with BASELINE, for both builds.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/_build}" && pwd); [ $# -gt 0 ] && shift
sizes=${*:-"100000 1000000"}
[ -x "$build/immigrate" ] || { echo "no $build/immigrate: build first" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (GNU time)" >&2; exit 1; }
# Each binary runs with the jsonl plugin of its own build directory (the plugin
# is part of what is measured); a binary outside a build tree uses this build's.
plugins_of() {
	d=$(dirname "$1")/plugins/jsonl/.libs
	[ -d "$d" ] && echo "$d" || echo "$build/plugins/jsonl/.libs"
}
work=$(mktemp -d "${TMPDIR:-/tmp}/immigrate-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
max=0; for n in $sizes; do [ "$n" -gt "$max" ] && max=$n; done
[ -n "${CALLGRIND:-}" ] && [ "$CALLGRIND" -gt "$max" ] && max=$CALLGRIND
echo "generating $max records..." >&2
sh "$top/tests/transform/gen-chat.sh" "$max" >"$work/all.jsonl"
cp "$top/tests/transform/chat.lua" "$work/chat.lua"
printf 'return { source = { plugin = "jsonl", path = env("BENCH_INPUT") },\n  script = "chat.lua", state = env("BENCH_STATE") }\n' >"$work/job.lua"

# one BINARY N LABEL [nostage]: one run; prints a row and leaves the CPU seconds in $work/cpu
one() {
	head -n "$2" "$work/all.jsonl" >"$work/in.jsonl"
	rm -f "$work"/stage.db*
	if [ "${4:-}" = nostage ]; then
		IMMIGRATE_PLUGIN_PATH=$(plugins_of "$1") BENCH_INPUT="$work/in.jsonl" BENCH_STATE="$work/stage.db" \
			/usr/bin/time -v -o "$work/time.txt" "$1" preview "$work/job.lua" --limit 0 \
			>"$work/run.out" 2>/dev/null || [ $? -eq 3 ]
	else
		IMMIGRATE_PLUGIN_PATH=$(plugins_of "$1") BENCH_INPUT="$work/in.jsonl" BENCH_STATE="$work/stage.db" \
			/usr/bin/time -v -o "$work/time.txt" "$1" run "$work/job.lua" --stage-only \
			>"$work/run.out" 2>&1 || [ $? -eq 3 ]
	fi
	[ "${4:-}" = nostage ] && staged=$(wc -l <"$work/run.out") ||
		staged=$(sed -n 's/^stage: \([0-9]*\) records.*/\1/p' "$work/run.out")
	row "$3" "$2" "$staged"
}

# row LABEL N STAGED: prints the row of the run $work/time.txt timed and leaves
# its CPU seconds in $work/cpu
row() {
	user=$(sed -n 's/.*User time (seconds): //p' "$work/time.txt")
	sys=$(sed -n 's/.*System time (seconds): //p' "$work/time.txt")
	wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/time.txt" |
		awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
	rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time.txt")
	awk -v n="$2" -v u="$user" -v s="$sys" -v w="$wall" -v st="$3" -v r="$rss" -v l="$1" 'BEGIN {
		cpu = u + s; printf "%-8s %10d %12.2f %10.2f %10d %12.0f %12.0f %10.1f\n", l, n, cpu, w, st, n / cpu, n / w, r / 1024 }'
	awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }' >"$work/cpu"
}

# sqlcopy N: the "sqlcopy" row, from the stage the last run of this build left.
sqlcopy() {
	command -v sqlite3 >/dev/null 2>&1 || return 0
	rm -f "$work"/copy.db*
	sqlite3 "$work/copy.db" "PRAGMA page_size=16384; PRAGMA journal_mode=WAL;" >/dev/null
	sqlite3 "$work/stage.db" "SELECT sql || ';' FROM sqlite_master WHERE name IN ('records', 'raw_chunk')" |
		sqlite3 "$work/copy.db"
	indexes=$(sqlite3 "$work/stage.db" \
		"SELECT sql || ';' FROM sqlite_master WHERE name IN ('records_dedupe', 'records_sched') ORDER BY name")
	last=$(sqlite3 "$work/stage.db" "SELECT max((SELECT max(id) FROM records), (SELECT max(id + n) FROM raw_chunk))")
	copy=$(echo "$last" | awk '{
		for (i = 0; i < $1; i += 50000)
			printf "BEGIN; INSERT INTO records SELECT * FROM s.records WHERE id > %d AND id <= %d;" \
				" INSERT INTO raw_chunk SELECT * FROM s.raw_chunk WHERE id > %d AND id <= %d; COMMIT;\n",
				i, i + 50000, i, i + 50000 }')
	/usr/bin/time -v -o "$work/time.txt" sqlite3 "$work/copy.db" "PRAGMA synchronous=NORMAL;
		PRAGMA cache_size=-8192; ATTACH '$work/stage.db' AS s; $copy $indexes" >/dev/null
	row sqlcopy "$1" "$(sqlite3 "$work/copy.db" "SELECT count(*) FROM records")"
}

printf '%-8s %10s %12s %10s %10s %12s %12s %10s\n' build records cpu_s wall_s staged rec/cpu_s rec/wall_s rss_MB
for n in $sizes; do
	if [ -n "${BASELINE:-}" ]; then
		new=0 old=0
		for r in $(seq "${ROUNDS:-2}"); do
			one "$BASELINE" "$n" old; old=$(awk -v a="$old" -v b="$(cat "$work/cpu")" 'BEGIN { print a + b }')
			one "$build/immigrate" "$n" new; new=$(awk -v a="$new" -v b="$(cat "$work/cpu")" 'BEGIN { print a + b }')
		done
		awk -v n="$n" -v a="$new" -v b="$old" 'BEGIN { printf "%d records: CPU time new/old = %.3f\n", n, a / b }'
	else
		one "$build/immigrate" "$n" new
	fi
	sqlcopy "$n"
	one "$build/immigrate" "$n" nostage nostage
done

if [ -n "${CALLGRIND:-}" ] && command -v valgrind >/dev/null 2>&1; then
	head -n "$CALLGRIND" "$work/all.jsonl" >"$work/in.jsonl"
	for b in ${BASELINE:-} "$build/immigrate"; do
		rm -f "$work"/stage.db*
		IMMIGRATE_PLUGIN_PATH=$(plugins_of "$b") BENCH_INPUT="$work/in.jsonl" BENCH_STATE="$work/stage.db" \
			valgrind --tool=callgrind \
			--callgrind-out-file="$work/cg.out" "$b" run "$work/job.lua" --stage-only >"$work/cg.log" 2>&1 || true
		ir=$(sed -n 's/.*Collected : //p' "$work/cg.log")
		awk -v b="$b" -v ir="$ir" -v n="$CALLGRIND" 'BEGIN {
			printf "callgrind %s: %d records, %.0f instructions per native record\n", b, n, ir / n }'
	done
fi
