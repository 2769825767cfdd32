#!/bin/sh
# One-to-one read marks wait for their own conversation's messages only
# (batch.h conv_deps): a small conversation's read mark goes while a big one's
# messages are still loading, never before its own conversation's messages, and
# the target ends up exact. importmsg is paced at 20 calls/s and answered after
# 100 ms, so the big conversation's 40 messages (one call in flight at a time)
# take four seconds at least, while the small one's go whenever the big one's
# call is in flight (the scheduler gives the biggest conversation a slot first).
. "${top_srcdir:-.}/tests/lib.sh"

LOADRUN="$top_builddir/tests/load/loadrun"
[ -x "$IMSIM" ] || skip_all "immigrate-imsim not built"
[ -x "$LOADRUN" ] || skip_all "tests/load/loadrun not built"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not found (state check)"
command -v curl >/dev/null 2>&1 || skip_all "curl not found (emulator dump)"

make_tmpdir
printf '%s' 5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e >"$TMPD/key"
chmod 600 "$TMPD/key"
python3 - >"$TMPD/recs.jsonl" <<'PY'
import json
def rec(**k): print(json.dumps(k))
for u in ("ann", "bob", "cat", "dan"):
    rec(kind="account", UserID=u)
def msg(a, b, t):
    rec(kind="c2c_msg", From_Account=a, To_Account=b, MsgTimeStamp=t, MsgSeq=t % 65536, MsgRandom=t,
        MsgBody=[{"MsgType": "TIMTextElem", "MsgContent": {"Text": "m%d" % t}}])
for i in range(2):
    msg("ann", "bob", 1600000000 + i)
for i in range(40):
    msg("cat" if i % 2 else "dan", "dan" if i % 2 else "cat", 1600001000 + i)
rec(kind="c2c_read", Report_Account="bob", Peer_Account="ann", MsgReadTime=1600000001)
rec(kind="c2c_read", Report_Account="cat", Peer_Account="dan", MsgReadTime=1600001039)
PY

"$IMSIM" --listen 127.0.0.1:0 --port-file "$TMPD/port" --sdkappid 1400000000 --admin admin \
	--key-file "$TMPD/key" --latency 100 2>"$TMPD/sim.log" &
CLEANUP_PIDS=$!
i=0
while [ ! -s "$TMPD/port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
PORT=$(cat "$TMPD/port")

"$LOADRUN" --state "$TMPD/s.db" --records "$TMPD/recs.jsonl" --endpoint "http://127.0.0.1:$PORT" \
	--sdkappid 1400000000 --admin admin --key-file "$TMPD/key" --quiet --json --verbose \
	--limits '{"importmsg": 20}' >"$TMPD/out" 2>"$TMPD/err"
is "$?" 0 "the load exits 0"
curl -s "http://127.0.0.1:$PORT/_sim/dump" >"$TMPD/dump"
check "the target holds exactly the records" python3 "$top_srcdir/tests/load/expect.py" "$TMPD/recs.jsonl" \
	"$TMPD/dump"

# The order the loader sent its batches in (its debug log names each one's
# conversation; a conversation's next call goes only after the previous answer).
order=$(python3 - "$TMPD/err" <<'PY'
import re, sys
sent = [m.groups() for m in re.finditer(r"batch \d+: \d+ (c2c_msg|c2c_read) records? of conversation (\S+)",
                                          open(sys.argv[1]).read())]
def pos(kind, conv, last):
    idx = [i for i, (k, c) in enumerate(sent) if k == kind and c == conv]
    return (idx[-1] if last else idx[0]) if idx else None
small, big = "ann|bob", "cat|dan"
print("small-read-early" if pos("c2c_read", small, 0) < pos("c2c_msg", big, 1) else "small-read-late",
      "own-order" if all(pos("c2c_read", c, 0) > pos("c2c_msg", c, 1) for c in (small, big)) else "bad-order")
PY
)
is "$order" "small-read-early own-order" \
	"a read mark goes after its own conversation's messages, before another conversation's have finished"
[ "$order" = "small-read-early own-order" ] || grep 'batch ' "$TMPD/err" | sed 's/^/# /'

done_testing
