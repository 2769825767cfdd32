#!/bin/sh
# The quick start's demo end to end: every kind of the sample export lands in the
# emulator, counted independently from the sample file, and a second run sends nothing.
. "$top_srcdir/tests/lib.sh"
command -v python3 >/dev/null || skip_all "python3 not installed"
[ -x "$IMSIM" ] || skip_all "immigrate-imsim not built"
make_tmpdir
mkdir -p "$TMPD/build"
# run-demo.sh works on a build directory; give it one that points at ours.
for f in immigrate immigrate-imsim plugins; do ln -s "$top_builddir/$f" "$TMPD/build/$f"; done
sh "$top_srcdir/contrib/demo/run-demo.sh" "$TMPD/build" >"$TMPD/out" 2>&1
ok $? "the demo exits 0"
grep -q "wall time / rate-limit floor" "$TMPD/out"; ok $? "and prints the summary table"

sample="$top_srcdir/contrib/demo/sample.jsonl"
python3 - "$sample" "$TMPD/build/demo/imsim-dump.json" >"$TMPD/checks" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
dump = json.load(open(sys.argv[2]))
by = lambda t: [r for r in recs if r["type"] == t]
def check(cond, what):
    print(("ok" if cond else "not ok") + " " + what)
users = {u["id"] for u in by("user")}
check({a["user_id"] for a in dump["accounts"]} == users, "every user is an account")
nicks = {p["user_id"]: p["value"] for p in dump["profiles"] if p["tag"] == "Tag_Profile_IM_Nick"}
check(all(nicks.get(u["id"]) == u["name"] for u in by("user")), "every nickname landed (UTF-8 included)")
pairs = {(f["a"], f["b"]) for f in by("friendship")}
friends = {(f["owner"], f["peer"]) for f in dump["friends"]}
check(friends == pairs | {(b, a) for a, b in pairs}, "friendships landed in both directions")
check({(b["owner"], b["peer"]) for b in dump["blacklist"]}
      == {(b["by"], b["target"]) for b in by("block")}, "blocks landed")
c2c = [m for m in by("message") if "room" not in m]
check(len(dump["c2c_msgs"]) == len(c2c), "%d one-to-one messages, each once" % len(c2c))
check(sorted(m["msg_time"] for m in dump["c2c_msgs"]) == sorted(m["sent_at_ms"] // 1000 for m in c2c),
      "one-to-one send times are the originals in seconds")
rooms = {r["id"]: r for r in by("room")}
check({g["group_id"] for g in dump["groups"]} == set(rooms), "every room is a group")
check(all(g["owner"] == rooms[g["group_id"]]["owner"] for g in dump["groups"]), "group owners")
members = {(m["group_id"], m["account"]) for m in dump["members"]}
check(members == {(r, m["user"]) for r in rooms for m in rooms[r]["members"]}, "every member in its group")
admins = {(m["group_id"], m["account"]) for m in dump["members"] if m["role"] == "Admin"}
check(admins == {(r, m["user"]) for r in rooms for m in rooms[r]["members"] if m["role"] == "admin"}, "admins")
gmsgs = [m for m in by("message") if "room" in m]
check(len(dump["group_msgs"]) == len(gmsgs), "%d group messages, each once" % len(gmsgs))
for r in rooms:
    seqs = [m["msg_seq"] for m in dump["group_msgs"] if m["group_id"] == r]
    times = [m["send_time"] for m in sorted((m for m in dump["group_msgs"] if m["group_id"] == r), key=lambda m: m["msg_seq"])]
    check(sorted(seqs) == list(range(1, len(seqs) + 1)) and times == sorted(times), "group %s history in order from seq 1" % r)
unread = {(u["room"], u["user"]): u["count"] for u in by("unread")}
got = {(m["group_id"], m["account"]): m["unread"] for m in dump["members"] if (m["group_id"], m["account"]) in unread}
check(got == unread, "unread counts restored after group history")
PY
while read -r verdict what; do
	[ "$verdict" = ok ]; ok $? "$what"
done <"$TMPD/checks"

done_testing
