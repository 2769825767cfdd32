#!/bin/sh
# Emulator conformance: HTTPS with a private CA (--tls-cert/--tls-key), so clients
# verify certificates for real.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/imsim/lib-imsim.sh"
command -v openssl >/dev/null 2>&1 || skip_all "openssl is not installed"

cd "$TMPD" || exit 1
mkca() { # mkca NAME
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.pem" -days 2 -subj "/CN=$1 test CA" \
		>/dev/null 2>&1
}
mkca ca && mkca other || skip_all "openssl cannot make certificates here"
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=127.0.0.1" >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >san.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 \
	-extfile san.ext >/dev/null 2>&1 || skip_all "openssl cannot sign a server certificate"
cd - >/dev/null || exit 1

SCHEME=https
imsim_start --tls-cert "$TMPD/server.pem" --tls-key "$TMPD/server.key" || { echo "Bail out! cannot start"; exit 1; }
CURL_EXTRA="--cacert $TMPD/ca.pem"
is "$(call_code im_open_login_svc/account_import '{"UserID":"a"}')" 0 "HTTPS call verified against the private CA"
CURL_EXTRA=
curl -s --max-time 10 --data-binary '{}' "$SIM_URL/v4/im_open_login_svc/account_check?$(QUERY_OK)" >/dev/null
is "$?" 60 "without the CA the certificate is not trusted"
curl -s --max-time 10 --cacert "$TMPD/other.pem" --data-binary '{}' "$SIM_URL/v4/im_open_login_svc/account_check?$(QUERY_OK)" >/dev/null
is "$?" 60 "a different CA does not verify it either"
curl -s --max-time 10 --data-binary '{}' "http://127.0.0.1:$SIM_PORT/v4/im_open_login_svc/account_check" >/dev/null
ok $([ $? -ne 0 ] && echo 0 || echo 1) "plain HTTP is not served on the HTTPS port"
imsim_stop
"$IMSIM" --listen 127.0.0.1:0 --sdkappid 1 --admin a --key-file "$TMPD/key" --tls-cert "$TMPD/server.pem" 2>"$TMPD/err"
is "$?" 2 "--tls-cert without --tls-key is a usage error"
"$IMSIM" --listen 127.0.0.1:0 --sdkappid 1 --admin a --key-file "$TMPD/key" --tls-cert "$TMPD/nope.pem" \
	--tls-key "$TMPD/server.key" 2>"$TMPD/err"
is "$?" 1 "a missing certificate file fails to start"
grep -q 'nope.pem' "$TMPD/err"; ok $? "... naming the file"
done_testing
