#!/bin/sh
# The embedded default job: a sample migration into the local IM emulator, with no
# credentials and no network. Usage: run-demo.sh BUILD_DIR
set -eu
build=$(cd "${1:?usage: run-demo.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/immigrate-demo.XXXXXX")
trap 'kill $sim_pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
sim_pid=""

# A throwaway app key, readable only by us.
umask 077
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/app.key"

echo "immigrate demo: a generated app key in $work; UserSig for the admin account:"
"$build/immigrate" usersig --sdkappid 1400000000 --identifier administrator --key-file "$work/app.key" --expire 86400 |
	cut -c1-40 | sed 's/$/... (truncated)/'
echo "immigrate demo: the migration pipeline (extract, transform, load into immigrate-imsim) is not built yet;"
echo "immigrate demo: this demo grows as it lands."
