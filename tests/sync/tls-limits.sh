#!/bin/sh
# immigrate sync over HTTPS (sync.tls_cert/tls_key), the body size limit (413 with
# nothing stored), configuration errors (exit 2 naming the key), and unknown routes.
. "$top_srcdir/tests/lib.sh"
command -v curl >/dev/null 2>&1 || skip_all "curl is not installed"
[ -f "$top_builddir/plugins/webhook/webhook.la" ] || skip_all "the webhook plugin is not built"
H="$top_builddir/tests/sync"
make_tmpdir
cd "$TMPD" || exit 1
IMMIGRATE_PLUGIN_PATH="$top_builddir/plugins/webhook/.libs${IMMIGRATE_PLUGIN_PATH:+:$IMMIGRATE_PLUGIN_PATH}"
export IMMIGRATE_PLUGIN_PATH
printf 'tls-hook-secret\n' >hook.secret
printf 'tls-cb-token\n' >cb.token
printf 'tls-key\n' >im.key
chmod 600 hook.secret cb.token im.key
printf 'function map(r, c) return nil end\nfunction reverse(e, c) return nil end\n' >m.lua

wait_for() {
	i=0
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -ge 200 ] && return 1
		sleep 0.1
	done
}
job() { # job EXTRA-SYNC-FIELDS
	cat >job.lua <<LUA
return {
  source = { plugin = "webhook", secret_file = "hook.secret", deliver_url = "http://127.0.0.1:9/" },
  script = "m.lua",
  target = { endpoint = "http://127.0.0.1:9", sdkappid = 1400000001, admin = "admin", key_file = "im.key" },
  state = "state.db",
  sync = { listen = "127.0.0.1:0", port_file = "sync.port", callback_token_file = "cb.token"$1 },
}
LUA
}

# Configuration errors.
job ', lisen = "x"'
"$IMMIGRATE" sync job.lua 2>err.txt
is $? 2 "an unknown sync key exits 2"
grep -q 'sync.lisen' err.txt
ok $? "naming the key"
job ', tls_cert = "missing.pem", tls_key = "missing.key"'
"$IMMIGRATE" sync job.lua 2>err.txt
is $? 2 "unreadable TLS files exit 2"
grep -q 'missing.pem' err.txt
ok $? "naming the file"
"$IMMIGRATE" sync 2>/dev/null
is $? 2 "no job: usage error"

# The body limit and routes, over plain HTTP.
job ', max_body_bytes = 1024'
"$IMMIGRATE" sync job.lua 2>sync.err &
PID=$!
CLEANUP_PIDS=$PID
wait_for test -s sync.port
ok $? "daemon started"
BASE="http://127.0.0.1:$(cat sync.port)"
head -c 5000 /dev/zero | tr '\0' 'x' >big.txt
is "$(curl -s -o /dev/null -w '%{http_code}' --data-binary @big.txt "$BASE/source/webhook")" 413 \
	"a body over max_body_bytes gets 413"
is "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/nowhere")" 404 "an unknown route gets 404"
is "$(curl -s -o /dev/null -w '%{http_code}' --data-binary '{}' "$BASE/source/sendbird")" 404 \
	"a webhook route for another plugin gets 404"
is "$(curl -s -o /dev/null -w '%{http_code}' -X GET "$BASE/im/callback")" 404 "GET on the callback route gets 404"
curl -s "$BASE/metrics" | grep -q '^immigrate_sync_invalid_total{direction="old_to_new"} 1$'
ok $? "the oversized request is counted as invalid"
kill -TERM $PID
wait $PID
is $? 0 "SIGTERM: exit 0"
if command -v sqlite3 >/dev/null 2>&1; then
	is "$(sqlite3 -cmd '.timeout 10000' state.db 'SELECT count(*) FROM sync_events')" 0 "nothing was stored"
else
	skip "sqlite3 not installed"
fi

# HTTPS.
if ! command -v openssl >/dev/null 2>&1; then
	skip "openssl not installed"; skip "openssl"; skip "openssl"
	done_testing
	exit $?
fi
openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 1 -subj /CN=127.0.0.1 \
	>/dev/null 2>&1
rm -f sync.port
job ', tls_cert = "cert.pem", tls_key = "key.pem"'
"$IMMIGRATE" sync job.lua 2>sync.err &
PID=$!
CLEANUP_PIDS=$PID
if ! wait_for test -s sync.port; then
	if grep -q 'without TLS' sync.err; then
		skip "libmicrohttpd built without TLS"; skip "no TLS"; skip "no TLS"
		done_testing
		exit $?
	fi
	ok 1 "the daemon starts with TLS"
else
	ok 0 "the daemon starts with TLS"
fi
P=$(cat sync.port)
is "$(curl -s --cacert cert.pem "https://127.0.0.1:$P/healthz")" ok "GET /healthz over HTTPS, certificate verified"
t=$(date +%s)
s=$("$H/hooksig" tencent cb.token "$t")
is "$(curl -s -o /dev/null -w '%{http_code}' --cacert cert.pem --data-binary '{"CallbackCommand":"C2C.CallbackAfterSendMsg","From_Account":"a","To_Account":"b","MsgBody":[]}' \
	"https://127.0.0.1:$P/im/callback?SdkAppid=1400000001&CallbackCommand=C2C.CallbackAfterSendMsg&OptPlatform=iOS&Sign=$s&RequestTime=$t")" 200 \
	"a signed callback over HTTPS is stored and acknowledged"
kill -TERM $PID
wait $PID
CLEANUP_PIDS=
done_testing
