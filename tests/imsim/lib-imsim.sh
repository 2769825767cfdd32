# Helpers for the emulator conformance tests (sourced after tests/lib.sh).
#
#   imsim_start [ARGS...]   start immigrate-imsim on a free port (sets SIM_PORT, SIM_URL)
#   imsim_stop              stop it (SIGTERM) and wait
#   call SERVICE/COMMAND JSON   POST with a valid admin UserSig; prints the body
#   rest PATH-AND-QUERY JSON    POST exactly that URL
#   code JSON-TEXT          the ErrorCode of an answer
#   jqr FILTER JSON-TEXT    jq -r on a text
MKSIG="$top_builddir/tests/imsim/mksig"
HOOKSINK="$top_builddir/tests/imsim/hooksink"
SDKAPPID=1400000000
ADMIN=admin

command -v curl >/dev/null 2>&1 || skip_all "curl is not installed"
command -v jq >/dev/null 2>&1 || skip_all "jq is not installed"
[ -x "$IMSIM" ] || skip_all "immigrate-imsim is not built"

make_tmpdir
# The placeholder key of the vendor's README (spec §2.5), as a private file.
printf '5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e\n' >"$TMPD/key"
chmod 600 "$TMPD/key"
SIG=$("$MKSIG" "$TMPD/key" "$SDKAPPID" "$ADMIN") || { echo "Bail out! mksig failed"; exit 1; }
SCHEME=http
CURL_EXTRA=

# Waits for a port file (the server writes it once it listens), up to ~30 s.
wait_port_file() {
	i=0
	while [ ! -s "$1" ]; do
		i=$((i + 1))
		[ $i -gt 600 ] && return 1
		sleep 0.05
	done
}

# With IMMIGRATE_VALGRIND=1 every emulator runs under memcheck; imsim_stop checks that
# it exited without errors or leaks.
SIM_WRAPPER=
if [ "${IMMIGRATE_VALGRIND:-0}" = 1 ] && [ -n "${VALGRIND:-}" ]; then
	SIM_WRAPPER="$VALGRIND -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect"
fi

imsim_start() {
	rm -f "$TMPD/port"
	$SIM_WRAPPER "$IMSIM" --listen 127.0.0.1:0 --sdkappid "$SDKAPPID" --admin "$ADMIN" \
		--key-file "$TMPD/key" --port-file "$TMPD/port" "$@" 2>>"$TMPD/imsim.log" &
	SIM_PID=$!
	CLEANUP_PIDS="${CLEANUP_PIDS:-} $SIM_PID"
	if ! wait_port_file "$TMPD/port"; then
		echo "# imsim did not start:"; sed 's/^/# /' "$TMPD/imsim.log"
		return 1
	fi
	SIM_PORT=$(cat "$TMPD/port")
	SIM_URL="$SCHEME://127.0.0.1:$SIM_PORT"
}

imsim_stop() {
	kill "$SIM_PID" 2>/dev/null
	wait "$SIM_PID" 2>/dev/null
	SIM_STATUS=$?
	CLEANUP_PIDS=$(echo "$CLEANUP_PIDS" | sed "s/ $SIM_PID//")
	# Exit 0 on SIGTERM; valgrind (99) or the sanitizers make it non-zero on errors or leaks.
	is "$SIM_STATUS" 0 "the emulator stops cleanly${SIM_WRAPPER:+ under valgrind}"
	[ "$SIM_STATUS" = 0 ] || sed 's/^/# /' "$TMPD/imsim.log" | tail -n 40
}

QUERY_OK() { echo "sdkappid=$SDKAPPID&identifier=$ADMIN&usersig=$SIG&random=12345&contenttype=json"; }

rest() {
	curl -s $CURL_EXTRA --max-time 20 -H 'Content-Type: application/json' --data-binary "$2" "$SIM_URL$1"
}

call() {
	rest "/v4/$1?$(QUERY_OK)" "$2"
}

code() { printf '%s' "$1" | jq -r '.ErrorCode'; }
jqr() { printf '%s' "$2" | jq -r "$1"; }

# Prints the ErrorCode of calling $1 with $2.
call_code() { code "$(call "$1" "$2")"; }

TEXT='[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hello"}}]'
