#!/bin/sh
# The plumbing every job command shares (src/cmd_common.c), command by command:
# --help, unknown options, the one JOB operand, a job that does not load, a bad
# --log-format, --set reaching the job, and the stage opened where the job says.
. "$top_srcdir/tests/lib.sh"
make_tmpdir
cd "$TMPD" || exit 1

for cmd in check preview run plan verify report sync; do
	extra=
	[ $cmd = report ] && extra="--html x.html" # report's required option
	"$IMMIGRATE" $cmd --help >out 2>err
	is $? 0 "$cmd --help exits 0"
	grep -q "^usage: immigrate $cmd JOB" out; ok $? "$cmd --help prints its usage on stdout"
	is "$(cat err)" "" "$cmd --help: nothing on stderr"
	"$IMMIGRATE" $cmd --bogus job.lua >out 2>err
	is $? 2 "$cmd: an unknown option exits 2"
	grep -q "^usage: immigrate $cmd" err; ok $? "$cmd: with the usage on stderr"
	"$IMMIGRATE" $cmd $extra >out 2>err
	is $? 2 "$cmd without JOB exits 2"
	"$IMMIGRATE" $cmd a.lua b.lua $extra >out 2>err
	is $? 2 "$cmd with two JOBs exits 2"
	grep -q "^usage: immigrate $cmd" err; ok $? "$cmd: two JOBs print the usage"
	"$IMMIGRATE" $cmd missing.lua $extra >out 2>err
	is $? 2 "$cmd: a job file that does not exist exits 2"
	is "$(cat err)" "immigrate $cmd: missing.lua: No such file or directory" "$cmd: naming the command and the file"
done
for cmd in run sync; do
	"$IMMIGRATE" $cmd job.lua --log-format xml >out 2>err
	is $? 2 "$cmd --log-format xml exits 2"
	is "$(cat err)" "immigrate $cmd: --log-format is text or json" "$cmd: saying what it takes"
done

# dlq: ACTION JOB [ID]; failures go through the log, so --log-format json covers them.
"$IMMIGRATE" dlq --help >out; is $? 0 "dlq --help exits 0"
grep -q "^usage: immigrate dlq list JOB" out; ok $? "dlq --help prints its usage"
"$IMMIGRATE" dlq list >out 2>err; is $? 2 "dlq list without JOB exits 2"
grep -q "^usage: immigrate dlq" err; ok $? "with the usage on stderr"
"$IMMIGRATE" dlq show job.lua >out 2>err; is $? 2 "dlq show without ID exits 2"
"$IMMIGRATE" dlq list job.lua --log-format xml >out 2>err; is $? 2 "dlq --log-format xml exits 2"
grep -q "^immigrate dlq: --log-format is text or json" err; ok $? "saying what it takes"
"$IMMIGRATE" dlq list job.lua --concurrency 0 >out 2>err; is $? 2 "dlq --concurrency 0 exits 2"
"$IMMIGRATE" dlq list missing.lua >out 2>err; is $? 2 "dlq: a missing job file exits 2"
is "$(cat err)" "immigrate: error: missing.lua: No such file or directory" "logged as an error"
"$IMMIGRATE" dlq list missing.lua --log-format json >out 2>err
is "$(sed -n 's/.*"level":"\([a-z]*\)".*"msg":"\([^"]*\)".*/\1 \2/p' err)" \
	"error missing.lua: No such file or directory" "as JSON with --log-format json"

# A job that loads: --set reaches it, and the stage is where state says.
printf '{"kind":"account","UserID":"u1"}\n' >in.jsonl
cat >job.lua <<'EOF'
return { source = { plugin = "jsonl", path = "in.jsonl" }, state = "first.db" }
EOF
if [ -n "$IMMIGRATE_PLUGIN_PATH" ]; then
	"$IMMIGRATE" run job.lua --set state=second.db --stage-only >out 2>err
	ok $? "run with --set state=... stages"
	check "--set moved the stage" test -f second.db -a ! -f first.db
	"$IMMIGRATE" dlq list job.lua --set state=second.db >out 2>err
	ok $? "dlq list opens the stage --set names"
	grep -q "^0 dead letters" out; ok $? "and lists no dead letter"
	"$IMMIGRATE" run job.lua --set state=nodir/x.db --stage-only >out 2>err
	is $? 1 "a stage that cannot be opened is a failure (exit 1)"
	grep -q "^immigrate run: .*nodir/x.db" err; ok $? "naming the stage"
	"$IMMIGRATE" report job.lua --set state=none.db --html r.html >out 2>err
	is $? 2 "report without a stage exits 2"
	grep -q "none.db: no stage yet (run \`immigrate run\` or \`immigrate plan\` first)" err; ok $? "saying what makes one"
	"$IMMIGRATE" report job.lua --set state=second.db --set target.plan=gold --html r.html >out 2>err
	is $? 2 "report refuses an unknown target.plan"
	grep -q "target.plan: 'gold' is not an IM edition" err; ok $? "naming the key and the value"
	"$IMMIGRATE" report job.lua --set state=second.db --edition gold --html r.html >out 2>err
	is $? 2 "report refuses an unknown --edition"
	grep -q "^immigrate report: --edition: target.plan" err; ok $? "naming --edition"
	"$IMMIGRATE" report job.lua --set state=second.db --set target.plan=pro --html r.html >out 2>err
	ok $? "report with target.plan = pro writes the report"
else
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13; do skip "no plugin is built"; done
fi
done_testing
