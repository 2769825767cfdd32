#!/usr/bin/env python3
"""Writes sample.jsonl: the demo's export of a small self-built chat backend.

Deterministic (fixed seed), so the committed file can be regenerated and
compared. One JSON object per line with a "type": user, friendship, block,
room, message, read, unread. Run: python3 make-sample.py > sample.jsonl
"""
import json
import random

rng = random.Random(20261125)
T0 = 1672531200  # 2023-01-01T00:00:00Z

names = ["Alice", "Bob", "Chen Wei", "Dana", "Emeka", "Fatima", "Grace", "Hiro", "Ines", "Jonas",
         "Kavya", "Liam", "Mei", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq",
         "王芳", "李娜", "Zoë", "Émile"]
users = []
for i, name in enumerate(names, 1):
    uid = "u%02d" % i
    users.append(uid)
    rec = {"type": "user", "id": uid, "name": name,
           "avatar": "https://cdn.example.com/avatars/%s.png" % uid,
           "created_at": "2022-%02d-%02dT08:00:00Z" % (1 + i % 12, 1 + i % 28)}
    if i % 3 == 0:
        rec["bio"] = "Hello, I am %s" % name
    if i % 4 == 0:
        rec["gender"] = rng.choice(["female", "male"])
    print(json.dumps(rec, ensure_ascii=False))

pairs = set()
while len(pairs) < 30:
    a, b = rng.sample(users, 2)
    pairs.add(tuple(sorted((a, b))))
for a, b in sorted(pairs):
    print(json.dumps({"type": "friendship", "a": a, "b": b, "since": T0 - rng.randint(1, 300) * 86400}))
print(json.dumps({"type": "block", "by": "u05", "target": "u17"}))
print(json.dumps({"type": "block", "by": "u11", "target": "u02"}))

rooms = []
for r, (rid, title) in enumerate([("team-design", "Design team"), ("book-club", "Book club 📚"),
                                  ("launch-2023", "Launch war room")]):
    created = T0 + r * 3600
    members = rng.sample(users, 6 + 2 * r)
    owner = members[0]
    mlist = []
    for j, m in enumerate(members):
        role = "owner" if j == 0 else ("admin" if j == 1 else "member")
        mlist.append({"user": m, "role": role, "joined_at": (created + 60 + j) * 1000})
    rooms.append((rid, created, members))
    print(json.dumps({"type": "room", "id": rid, "name": title, "owner": owner,
                      "created_at": created * 1000, "members": mlist}, ensure_ascii=False))

texts = ["hi!", "how are you?", "see you tomorrow", "👍", "sounds good", "can you send the file?",
         "on my way", "会议改到三点", "merci !", "let's ship it"]
mid = 0
t = T0 + 86400
for _ in range(160):
    a, b = rng.sample(users[:12], 2)
    t += rng.randint(5, 900)
    mid += 1
    msg = {"type": "message", "id": "m%05d" % mid, "from": a, "to": b, "sent_at_ms": t * 1000 + rng.randint(0, 999)}
    if mid % 17 == 0:
        msg["attachment"] = {"kind": "image", "url": "https://cdn.example.com/img/%d.jpg" % mid,
                             "width": 640, "height": 480, "size": 48213}
    elif mid % 23 == 0:
        msg["attachment"] = {"kind": "file", "url": "https://cdn.example.com/f/%d.pdf" % mid,
                             "name": "notes-%d.pdf" % mid, "size": 120000}
    else:
        msg["text"] = rng.choice(texts)
    print(json.dumps(msg, ensure_ascii=False))
    if mid % 10 == 0:
        print(json.dumps({"type": "read", "user": b, "peer": a, "read_at": t + 30}))

for rid, created, members in rooms:
    gt = created + 7200
    for k in range(rng.randint(20, 40)):
        gt += rng.randint(10, 600)
        mid += 1
        msg = {"type": "message", "id": "m%05d" % mid, "room": rid, "from": rng.choice(members),
               "sent_at_ms": gt * 1000}
        if k % 11 == 5:
            msg["location"] = {"desc": "Office", "lat": 22.54, "lng": 113.93}
        else:
            msg["text"] = rng.choice(texts)
        print(json.dumps(msg, ensure_ascii=False))
    for m in members[2:5]:
        print(json.dumps({"type": "unread", "room": rid, "user": m, "count": rng.randint(1, 5)}))
