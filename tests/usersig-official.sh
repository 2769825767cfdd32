#!/bin/sh
# Cross-check with Tencent's official Node.js library (npm tls-sig-api-v2):
# its fresh UserSigs verify with ours, and ours verify with its HMAC.
. "$top_srcdir/tests/lib.sh"
command -v node >/dev/null 2>&1 && [ -n "${NPM:-$(command -v npm)}" ] || skip_all "node/npm not installed"
make_tmpdir
npm=${NPM:-npm}
if ! timeout 120 "$npm" install --silent --no-audit --no-fund --prefix "$TMPD" tls-sig-api-v2@1.0.2 >"$TMPD/npm.log" 2>&1; then
	skip_all "npm could not install tls-sig-api-v2 (no registry access?)"
fi
KEY=5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e
printf '%s' "$KEY" >"$TMPD/key"; chmod 600 "$TMPD/key"
now=$(date +%s)

# Theirs -> ours, for a few identities and expiries.
for id in administrator user_1 "u-x" 中文id; do
	sig=$(cd "$TMPD" && node -e "const A=require('tls-sig-api-v2').Api; console.log(new A(1400000001, process.argv[1]).genUserSig(process.argv[2], 3600))" "$KEY" "$id")
	"$IMMIGRATE" usersig --verify "$sig" --sdkappid 1400000001 --identifier "$id" --key-file "$TMPD/key" --now "$now" 2>"$TMPD/err"
	ok $? "official Node UserSig for '$id' verifies with ours"
done

# Ours -> theirs: decode our UserSig with Node's zlib and recompute TLS.sig with the library's own HMAC.
sig=$("$IMMIGRATE" usersig --sdkappid 1400000001 --identifier admin --key-file "$TMPD/key" --time "$now" --expire 86400)
cat >"$TMPD/check.js" <<'JS'
const zlib = require('zlib');
const A = require('tls-sig-api-v2').Api;
const [key, sig, id] = process.argv.slice(2);
const b64 = sig.replace(/_/g, '=').replace(/-/g, '/').replace(/\*/g, '+');
const doc = JSON.parse(zlib.inflateSync(Buffer.from(b64, 'base64')).toString());
const api = new A(doc['TLS.sdkappid'], key);
const want = api._hmacsha256(id, doc['TLS.time'], doc['TLS.expire'], null);
process.exit(doc['TLS.identifier'] === id && doc['TLS.sig'] === want ? 0 : 1);
JS
(cd "$TMPD" && node check.js "$KEY" "$sig" admin)
ok $? "our UserSig verifies with the official library's HMAC"
(cd "$TMPD" && node check.js "$KEY" "$sig" admin2)
[ $? -ne 0 ]; ok $? "and fails there for another identifier"
done_testing
