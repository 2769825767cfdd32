#!/bin/sh
# The loader over HTTPS: certificates are verified (target.ca_file), a failure
# to verify stops the run with a message saying what to fix, target.insecure
# turns verification off, and no UserSig reaches the output.
. "${top_srcdir:-.}/tests/lib.sh"

LOADRUN="$top_builddir/tests/load/loadrun"
[ -x "$IMSIM" ] || skip_all "immigrate-imsim not built"
[ -x "$LOADRUN" ] || skip_all "tests/load/loadrun not built"
command -v openssl >/dev/null 2>&1 || skip_all "openssl is not installed"

make_tmpdir
cd "$TMPD" || exit 1
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=load test CA" \
	>/dev/null 2>&1 || skip_all "openssl cannot make certificates here"
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=127.0.0.1" >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >san.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 \
	-extfile san.ext >/dev/null 2>&1 || skip_all "openssl cannot sign a server certificate"
printf '%s' 5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e >key
chmod 600 key
"$IMSIM" --listen 127.0.0.1:0 --port-file port --sdkappid 1400000000 --admin admin --key-file key \
	--tls-cert server.pem --tls-key server.key 2>sim.log &
CLEANUP_PIDS=$!
i=0
while [ ! -s port ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
URL="https://127.0.0.1:$(cat port)"
printf '%s\n' '{"kind":"account","UserID":"a1"}' '{"kind":"account","UserID":"a2"}' >recs.jsonl
printf '%s\n' '{"kind":"account","UserID":"a3"}' >more.jsonl
common="--endpoint $URL --sdkappid 1400000000 --admin admin --key-file key --quiet --json"

"$LOADRUN" --state untrusted.db --records recs.jsonl $common >untrusted.out 2>untrusted.err
is "$?" 1 "an untrusted certificate stops the run (exit 1)"
grep -q 'target.ca_file' untrusted.err
ok $? "and the message says to set target.ca_file"
grep -qi 'usersig=' untrusted.err untrusted.out
ok $((1 - $?)) "no URL with a UserSig in the output"

"$LOADRUN" --state trusted.db --records recs.jsonl $common --ca-file ca.pem >trusted.out 2>trusted.err
is "$?" 0 "with target.ca_file the load succeeds"
grep -q '"kind":"account".*"landed":2' trusted.out
ok $? "both accounts landed over HTTPS"

"$LOADRUN" --state insecure.db --records more.jsonl $common --insecure >insecure.out 2>insecure.err
is "$?" 0 "target.insecure loads without verification"
grep -q 'TLS verification is off' insecure.err
ok $? "and warns that verification is off"
done_testing
