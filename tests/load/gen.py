#!/usr/bin/env python3
"""Writes a deterministic data set of IM records (JSON Lines, every kind) for the
load tests and the load benchmark.

usage: gen.py [--users N] [--c2c N] [--groups N] [--group-msgs N] [--seed S]
"""
import argparse, json, random

ap = argparse.ArgumentParser()
ap.add_argument("--users", type=int, default=20)
ap.add_argument("--c2c", type=int, default=200, help="one-to-one messages")
ap.add_argument("--convs", type=int, default=20, help="one-to-one conversations")
ap.add_argument("--groups", type=int, default=4)
ap.add_argument("--members", type=int, default=8, help="members per group besides the owner")
ap.add_argument("--group-msgs", type=int, default=15, help="messages per group")
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()
R = random.Random(a.seed)
T0 = 1500000000
out = []
users = ["user%03d" % i for i in range(a.users)]


def text(s):
    return [{"MsgType": "TIMTextElem", "MsgContent": {"Text": s}}]


for i, u in enumerate(users):
    r = {"kind": "account", "UserID": u}
    if i % 2 == 0:
        r["Nick"] = "Nick %d" % i
    if i % 3 == 0:
        r["FaceUrl"] = "https://img.example.com/%s.png" % u
    out.append(r)
for i, u in enumerate(users[: max(1, a.users // 2)]):
    out.append({"kind": "profile", "From_Account": u,
                "ProfileItem": [{"Tag": "Tag_Profile_IM_Gender", "Value": "Gender_Type_Female" if i % 2 else "Gender_Type_Male"},
                                {"Tag": "Tag_Profile_IM_SelfSignature", "Value": "sig %d" % i}]})
pairs = set()
while len(pairs) < min(2 * a.users, a.users * (a.users - 1) // 2):
    x, y = R.sample(users, 2)
    pairs.add((x, y))
pairs = sorted(pairs)
for n, (x, y) in enumerate(pairs):
    r = {"kind": "friend", "From_Account": x, "To_Account": y, "AddSource": "AddSource_Type_Web"}
    if n % 2 == 0:
        r["AddTime"] = T0 + n
        r["Remark"] = "r%d" % n
    out.append(r)
friends = set(pairs) | {(y, x) for x, y in pairs}
blocked = []
for x in users:
    for y in users:
        if x != y and (x, y) not in friends and len(blocked) < a.users // 2 and R.random() < 0.05:
            blocked.append((x, y))
for x, y in blocked:
    out.append({"kind": "blacklist", "From_Account": x, "To_Account": y})
convs = set()
while len(convs) < min(a.convs, a.users * (a.users - 1) // 2):
    x, y = sorted(R.sample(users, 2))
    convs.add((x, y))
convs = sorted(convs)
for n in range(a.c2c):
    x, y = convs[n % len(convs)]
    if R.random() < 0.5:
        x, y = y, x
    out.append({"kind": "c2c_msg", "From_Account": x, "To_Account": y, "MsgTimeStamp": T0 + 1000 + n,
                "MsgSeq": n + 1, "MsgRandom": R.randrange(1 << 32), "MsgBody": text("c2c message %d" % n)})
for x, y in convs:
    out.append({"kind": "c2c_read", "Report_Account": x, "Peer_Account": y, "MsgReadTime": str(T0 + 1000 + a.c2c)})
for g in range(a.groups):
    gid = "group-%02d" % g
    owner = users[g % a.users]
    out.append({"kind": "group", "GroupId": gid, "Type": "Public" if g % 2 else "Private", "Name": "Group %d" % g,
                "Owner_Account": owner, "CreateTime": T0 - 100000 + g})
    members = [u for u in R.sample(users, min(a.members + 1, a.users)) if u != owner][: a.members]
    for m, u in enumerate(members):
        r = {"kind": "group_member", "GroupId": gid, "Member_Account": u, "JoinTime": T0 - 50000 + m}
        if m == 0:
            r["Role"] = "Admin"
        if m % 3 == 1 and a.group_msgs > 0:
            r["UnreadMsgNum"] = 1 + m % max(1, a.group_msgs)
        out.append(r)
    for n in range(a.group_msgs):
        sender = R.choice(members + [owner])
        out.append({"kind": "group_msg", "GroupId": gid, "From_Account": sender, "SendTime": T0 + 2000 + n * 3 + g,
                    "Random": R.randrange(1 << 32), "MsgBody": text("group %d message %d" % (g, n))})
    if members and a.group_msgs > 0:
        out.append({"kind": "group_unread", "GroupId": gid, "Member_Account": members[-1],
                    "UnreadMsgNum": min(2, a.group_msgs)})
# Input order is not dependency order: the loader must sort it out.
R.shuffle(out)
for r in out:
    print(json.dumps(r, ensure_ascii=False, separators=(",", ":")))
