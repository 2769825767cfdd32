#!/bin/sh
# immigrate usersig from the outside: output, verification exit codes and messages,
# key sources and the key-file permission warning.
. "$top_srcdir/tests/lib.sh"
make_tmpdir
KEY=5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e
V1=eJyrVgrxCdYrSy1SslIy0jNQ0gHzM1NS80oy0zLBwhWZiflZpXlQqeKU7MSCgswUJStDEwMogMikVhRkFqUCxU1NTY3goiWZuSAxc1S1xZnpQJN9yhzNU-Q9y83Tg4vzirPLwqqcXAL8nZ1dkkr9nMtN3D3KQ5wNkjILtJ1MbJVqAa3HMfI_
printf '%s\n' "$KEY" >"$TMPD/key"; chmod 600 "$TMPD/key"

out=$("$IMMIGRATE" usersig --sdkappid 1400000000 --identifier xiaojun --key-file "$TMPD/key" --time 1700000000 --expire 15552000 2>"$TMPD/err")
is "$out" "$V1" "prints the V1 UserSig and nothing else"
is "$(cat "$TMPD/err")" "" "nothing on stderr"

out=$(IMMIGRATE_SECRET_KEY=$KEY "$IMMIGRATE" usersig --sdkappid 1400000000 --identifier xiaojun --time 1700000000 --expire 15552000)
is "$out" "$V1" "key from IMMIGRATE_SECRET_KEY"

"$IMMIGRATE" usersig --verify "$V1" --sdkappid 1400000000 --identifier xiaojun --key-file "$TMPD/key" --now 1715552000
ok $? "verify at now = time+expire exits 0"
"$IMMIGRATE" usersig --verify "$V1" --sdkappid 1400000000 --identifier xiaojun --key-file "$TMPD/key" --now 1715552001 2>"$TMPD/err"
is $? 1 "verify one second later exits 1"
grep -q 70001 "$TMPD/err"; ok $? "and names 70001"
"$IMMIGRATE" usersig --verify "$V1" --sdkappid 1400000000 --identifier bob --key-file "$TMPD/key" --now 1700000000 2>"$TMPD/err"
is $? 1 "wrong identifier exits 1"
grep -q 70013 "$TMPD/err"; ok $? "and names 70013"
"$IMMIGRATE" usersig --verify "$V1" --sdkappid 1400000001 --identifier xiaojun --key-file "$TMPD/key" --now 1700000000 2>"$TMPD/err"
grep -q 70014 "$TMPD/err"; ok $? "wrong appid names 70014"

# Secrets never show up in what the tool prints.
chmod 644 "$TMPD/key"
"$IMMIGRATE" usersig --sdkappid 1400000000 --identifier xiaojun --key-file "$TMPD/key" >/dev/null 2>"$TMPD/err"
grep -q "accessible by group or others" "$TMPD/err"; ok $? "world-readable key file warns"
grep -q "$KEY" "$TMPD/err"; [ $? -ne 0 ]; ok $? "the warning does not contain the key"

"$IMMIGRATE" usersig --sdkappid 1400000000 --identifier xiaojun --key-file "$TMPD/missing" 2>"$TMPD/err"
is $? 2 "missing key file exits 2"
grep -q "$TMPD/missing" "$TMPD/err"; ok $? "and names the file"
env -u IMMIGRATE_SECRET_KEY "$IMMIGRATE" usersig --sdkappid 1400000000 --identifier xiaojun 2>/dev/null
is $? 2 "no key at all exits 2"
"$IMMIGRATE" usersig --sdkappid abc --identifier x --key-file "$TMPD/key" 2>/dev/null
is $? 2 "non-numeric sdkappid exits 2"
"$IMMIGRATE" usersig --key "$KEY" --sdkappid 1 --identifier x 2>/dev/null
is $? 2 "there is no option to pass the key on the command line"
done_testing
