#!/usr/bin/env python3
"""Checks an immigrate-imsim dump (GET /_sim/dump) against the IM records that were
loaded: every record is in the target exactly once with exactly its fields.

usage: expect.py RECORDS.jsonl DUMP.json    (exit 0 when equal, else prints the differences)
"""
import json, sys
from collections import Counter

recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
dump = json.load(open(sys.argv[2]))
bad = []


def same(name, want, got):
    if want != got:
        w, g = Counter(want), Counter(got)
        missing, extra = list((w - g).elements()), list((g - w).elements())
        bad.append("%s: %d missing, %d extra; missing %s; extra %s" % (name, len(missing), len(extra), missing[:3], extra[:3]))


by = lambda k: [r for r in recs if r["kind"] == k]
same("accounts", sorted(r["UserID"] for r in by("account")), sorted(a["user_id"] for a in dump["accounts"]))
want = []
for r in by("account"):
    if "Nick" in r:
        want.append((r["UserID"], "Tag_Profile_IM_Nick", r["Nick"]))
    if "FaceUrl" in r:
        want.append((r["UserID"], "Tag_Profile_IM_Image", r["FaceUrl"]))
for r in by("profile"):
    for it in r["ProfileItem"]:
        want.append((r["From_Account"], it["Tag"], it["Value"]))
same("profiles", sorted(want), sorted((p["user_id"], p["tag"], p["value"]) for p in dump["profiles"]))
given_time = {(r["From_Account"], r["To_Account"]): r.get("AddTime") for r in by("friend")}
same("friends", sorted((r["From_Account"], r["To_Account"], r["AddSource"], r.get("Remark"), r.get("AddTime")) for r in by("friend")),
     sorted((f["owner"], f["peer"], f["add_source"], f["remark"],
             f["add_time"] if given_time.get((f["owner"], f["peer"])) is not None else None) for f in dump["friends"]))
same("blacklist", sorted((r["From_Account"], r["To_Account"]) for r in by("blacklist")),
     sorted((b["owner"], b["peer"]) for b in dump["blacklist"]))
key = lambda f, t, s, rn, ts, b: (f, t, s, rn, ts, json.dumps(b, sort_keys=True))
same("c2c_msgs", sorted(key(r["From_Account"], r["To_Account"], r["MsgSeq"], r["MsgRandom"], r["MsgTimeStamp"], r["MsgBody"]) for r in by("c2c_msg")),
     sorted(key(m["from_account"], m["to_account"], m["msg_seq"], m["msg_random"], m["msg_time"], m["body"]) for m in dump["c2c_msgs"]))
same("groups", sorted((r["GroupId"], r["Type"], r["Name"], r.get("Owner_Account"), r.get("CreateTime")) for r in by("group")),
     sorted((g["group_id"], g["type"], g["name"], g["owner"], g["create_time"]) for g in dump["groups"]))
msgs = {}
for r in by("group_msg"):
    msgs.setdefault(r["GroupId"], []).append(r)
unread = {}
for r in by("group_member"):
    if "UnreadMsgNum" in r and msgs.get(r["GroupId"]):
        unread[(r["GroupId"], r["Member_Account"])] = min(r["UnreadMsgNum"], len(msgs[r["GroupId"]]))
for r in by("group_unread"):
    unread[(r["GroupId"], r["Member_Account"])] = min(r["UnreadMsgNum"], len(msgs.get(r["GroupId"], [])))
want = []
for r in by("group"):
    if r.get("Owner_Account"):
        want.append((r["GroupId"], r["Owner_Account"], "Owner", r.get("CreateTime"), unread.get((r["GroupId"], r["Owner_Account"]), 0)))
for r in by("group_member"):
    want.append((r["GroupId"], r["Member_Account"], r.get("Role", "Member"), r.get("JoinTime"), unread.get((r["GroupId"], r["Member_Account"]), 0)))
same("members", sorted(want), sorted((m["group_id"], m["account"], m["role"], m["join_time"], m["unread"]) for m in dump["members"]))
want, got = [], []
for g, lst in msgs.items():
    for seq, r in enumerate(sorted(lst, key=lambda r: r["SendTime"]), 1):
        want.append((g, seq, r["From_Account"], r["SendTime"], r["Random"], json.dumps(r["MsgBody"], sort_keys=True)))
for m in dump["group_msgs"]:
    got.append((m["group_id"], m["msg_seq"], m["from_account"], m["send_time"], m["random"], json.dumps(m["body"], sort_keys=True)))
same("group_msgs (in order, no gaps)", sorted(want), sorted(got))
for b in bad:
    print("# " + b)
sys.exit(1 if bad else 0)
