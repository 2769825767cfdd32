#!/bin/sh
# The real public Sendbird export sample (../shared/fixtures/sendbird) through the
# plugin. Expected ids and counts were read off the files by hand.
. "${top_srcdir:-.}/tests/lib.sh"
S="$SHARED/fixtures/sendbird/talkjs-examples"
[ -d "$S" ] || skip_all "reference sample not present ($S)"
command -v jq >/dev/null 2>&1 || skip_all "jq not installed"
make_tmpdir
DUMP="$top_builddir/tests/sendbird/sb-dump"

"$DUMP" "{\"path\":\"$S/exported-data\"}" >"$TMPD/a.jsonl" 2>"$TMPD/err"
ok $? "exported-data reads to the end"
is "$(jq -r '"\(.stream) \(.id)"' "$TMPD/a.jsonl" | tr '\n' ' ')" \
	"users 523917 users 523918 users 523915 users 523916 channels sendbird_group_channel_229583953_53183fc50174e861b9a7d5c6684636dc94922349 messages 4889309712 messages 4889313019 messages 4889315713 messages 4889327007 " \
	"exported-data: 4 users, 1 channel, 4 messages, in stream order"
is "$(jq -r 'select(.stream=="channels") | [.data.is_distinct, (.data.members | length), .data.created_at] | @tsv' "$TMPD/a.jsonl")" \
	"$(printf 'true\t4\t1674850716')" "the channel: distinct, 4 members, created_at in seconds"
is "$(jq -r 'select(.id=="523917") | .data.metadata.emailId' "$TMPD/a.jsonl")" "shane.riley@domain.com" "user metadata kept"

"$DUMP" "{\"path\":\"$S/example-data\"}" >"$TMPD/b.jsonl" 2>"$TMPD/err"
ok $? "example-data reads to the end"
is "$(jq -r '"\(.stream) \(.id)"' "$TMPD/b.jsonl" | tr '\n' ' ')" \
	"users alice-sendbird users sebastian-sendbird users nina-sendbird channels sendbird_group_channel_483424280_ac14e7e8e6d5b3bc2dd3979fb360ad432ae0d6e9 messages 10463242990 messages 10463258210 messages 10463264206 messages 10463405355 " \
	"example-data: 3 users, 1 channel, 4 messages (the messages file's trailing channel object is not read when a channels file exists)"
is "$(jq -r 'select(.id=="10463264206") | .data.is_removed' "$TMPD/b.jsonl")" "true" "the removed message is flagged"
is "$(jq -r 'select(.id=="10463258210") | .data.message' "$TMPD/b.jsonl")" "Hi 👋" "escaped emoji decoded"

# Only the messages file: its own "channel" object stands in for the channels export.
"$DUMP" "{\"path\":\"$S/example-data/example-messages.json\"}" >"$TMPD/c.jsonl" 2>"$TMPD/err"
is "$(jq -r '"\(.stream) \(.id)"' "$TMPD/c.jsonl" | head -2 | tr '\n' ' ')" \
	"channels sendbird_group_channel_483424280_ac14e7e8e6d5b3bc2dd3979fb360ad432ae0d6e9 messages 10463242990 " \
	"a lone messages file yields its embedded channel first"
is "$(jq -r 'select(.stream=="channels") | .data.members | length' "$TMPD/c.jsonl")" 3 "with its 3 members"

is "$("$DUMP" --estimate "{\"path\":[\"$S/exported-data\",\"$S/example-data\"]}" 2>/dev/null)" \
	'{"blocks":0,"channels":2,"messages":8,"users":7}' "estimate over both sample exports"
done_testing
