#!/bin/sh
# The immigrate command line: help, version, unknown commands and flags.
. "$top_srcdir/tests/lib.sh"
make_tmpdir
"$IMMIGRATE" --help >"$TMPD/out"; ok $? "--help exits 0"
grep -q usersig "$TMPD/out"; ok $? "--help lists the usersig command"
"$IMMIGRATE" --version >"$TMPD/out"; ok $? "--version exits 0"
grep -Eq '^immigrate [0-9]+\.[0-9]+\.[0-9]+' "$TMPD/out"; ok $? "--version prints the version"
"$IMMIGRATE" frobnicate >"$TMPD/out" 2>"$TMPD/err"; is $? 2 "unknown subcommand exits 2"
grep -q usage "$TMPD/err"; ok $? "and prints a usage to stderr"
is "$(cat "$TMPD/out")" "" "and nothing to stdout"
"$IMMIGRATE" --frobnicate 2>"$TMPD/err"; is $? 2 "unknown flag exits 2"
grep -q usage "$TMPD/err"; ok $? "and prints a usage to stderr"
"$IMMIGRATE" 2>/dev/null; is $? 2 "no arguments exits 2"
"$IMMIGRATE" usersig --bogus 2>"$TMPD/err"; is $? 2 "unknown subcommand flag exits 2"
done_testing
