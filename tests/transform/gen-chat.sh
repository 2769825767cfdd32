#!/bin/sh
# gen-chat.sh N: N native records of a made-up chat backend on stdout (JSON Lines),
# deterministic. Every 1000th line is broken JSON, every 997th an unknown record
# type, every 991st a direct message without a recipient.
awk -v n="${1:-1000}" 'BEGIN {
	for (u = 0; u < 50; u++) {
		id = (u % 10 == 0) ? sprintf("user-with-a-rather-long-legacy-id-%04d", u) : sprintf("u%02d", u)
		ids[u] = id
		printf "{\"type\":\"user\",\"id\":\"%s\",\"name\":\"User %d\"}\n", id, u
	}
	for (i = 1; i <= n - 50; i++) {
		f = ids[i % 50]; t = ids[(i * 7 + 3) % 50]
		ms = 1600000000000 + i * 1500
		if (i % 1000 == 0) { print "{\"type\":\"message\",broken"; continue }
		if (i % 997 == 0) { printf "{\"type\":\"sticker\",\"id\":\"s%d\"}\n", i; continue }
		if (i % 991 == 0) {
			printf "{\"type\":\"message\",\"id\":\"m%d\",\"from\":\"%s\",\"sent_at\":%.0f,\"text\":\"lost\"}\n", i, f, ms
			continue
		}
		if (i % 10 == 0)
			printf "{\"type\":\"message\",\"id\":\"m%d\",\"from\":\"%s\",\"room\":\"room-%d\",\"sent_at\":\"2020-09-13T12:26:%02d.500+00:00\",\"text\":\"hello room %d\"}\n", i, f, i % 5, i % 60, i
		else if (i % 17 == 0)
			printf "{\"type\":\"message\",\"id\":\"m%d\",\"from\":\"%s\",\"to\":\"%s\",\"sent_at\":%.0f,\"image\":{\"url\":\"https://cdn.example.com/%d.png\",\"w\":640,\"h\":480}}\n", i, f, t, ms, i
		else
			printf "{\"type\":\"message\",\"id\":\"m%d\",\"from\":\"%s\",\"to\":\"%s\",\"sent_at\":%.0f,\"text\":\"hello %d from %s\"}\n", i, f, t, ms, i, f
	}
}'
