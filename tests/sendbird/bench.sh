#!/bin/sh
# Measurement (not run by make check): the Sendbird plugin over a generated export
# of N messages (default 1,000,000) as a plain file and as a zip, through the ABI
# with sb-dump --count. Prints records/s and peak RSS. Needs python3.
#   top_builddir=... top_srcdir=... sh tests/sendbird/bench.sh [N]
. "${top_srcdir:-.}/tests/lib.sh"
N=${1:-1000000}
make_tmpdir
mkdir "$TMPD/export"
python3 - "$N" "$TMPD/export/messages.json" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write('{"messages": [\n')
    for i in range(n):
        f.write('%s{"type":"MESG","message_id":%d,"message":"message number %d with \\"quotes\\" and [brackets]",'
                '"custom_type":"","data":"","created_at":%d,"channel_url":"sendbird_group_channel_%d",'
                '"is_removed":false,"file":{},"mentioned_users":[],"user":{"user_id":"user%d","nickname":"User %d",'
                '"profile_url":"","metadata":{}}}\n' % ("," if i else "", 10**9 + i, i, 1700000000000 + i * 1000, i % 500, i % 1000, i % 1000))
    f.write('], "channel": {"channel_url": "x"}}\n')
PY
size=$(wc -c <"$TMPD/export/messages.json")
echo "# $N messages, $size bytes"
run() { # run LABEL OPTIONS
	/usr/bin/time -f "%e %M %U" -o "$TMPD/time" "$top_builddir/tests/sendbird/sb-dump" --count "$2" >"$TMPD/out" 2>/dev/null
	read secs kb user <"$TMPD/time"
	echo "# $1: $(cat "$TMPD/out"), ${secs}s, $(awk -v n="$N" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }') records/s, peak RSS ${kb} KB, user CPU ${user}s"
}
run "plain file" "{\"path\":\"$TMPD/export/messages.json\"}"
if command -v zip >/dev/null 2>&1; then
	(cd "$TMPD/export" && zip -q -1 ../export.zip messages.json)
	run "zip" "{\"path\":\"$TMPD/export.zip\"}"
fi
/usr/bin/time -f "%e %M %U" -o "$TMPD/time" "$top_builddir/tests/sendbird/sb-dump" --estimate "{\"path\":\"$TMPD/export/messages.json\"}" >"$TMPD/out" 2>/dev/null
read secs kb user <"$TMPD/time"
echo "# estimate (scan without parsing): $(cat "$TMPD/out"), ${secs}s, peak RSS ${kb} KB, user CPU ${user}s"
