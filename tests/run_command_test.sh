#!/usr/bin/env bash
# The run command as a new user would try it: `./usher up` from the README, on a fresh
# var/ directory, must come up serving, answer `./usher ctl health`, and stop everything
# on `./usher stop`. How fast it comes up is reported, not judged (a loaded machine is slow).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export USHER_VAR
USHER_VAR=$(mktemp -d /tmp/usher-up.XXXXXX)
chmod 755 "$USHER_VAR"
# Ports of its own: above the kernel's ephemeral range (to 60999) and away from the
# 20000-32000 that the other tests' daemons, running at the same time, take theirs from
# (tests/support/harness.c); each checked free. RPC takes five from its base.
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
	local port
	for _ in $(seq 100); do
		port=$((61000 + RANDOM % 4000))
		if ! in_use "$port" && ! in_use $((port + 1)) && ! in_use $((port + 2)) &&
		   ! in_use $((port + 3)) && ! in_use $((port + 4)); then
			echo "$port"
			return
		fi
	done
	echo "no free port found from 61000" >&2
	exit 1
}
export USHER_HTTP_PORT USHER_RPC_PORT USHER_ADMIN_PORT
USHER_HTTP_PORT=$(pick_port)
USHER_RPC_PORT=$(pick_port)
while [ $((USHER_RPC_PORT - USHER_HTTP_PORT)) -ge -4 ] && [ $((USHER_RPC_PORT - USHER_HTTP_PORT)) -le 4 ]; do
	USHER_RPC_PORT=$(pick_port)
done
near() { [ $(($1 - $2)) -ge -4 ] && [ $(($1 - $2)) -le 4 ]; }
USHER_ADMIN_PORT=$(pick_port)
while near "$USHER_ADMIN_PORT" "$USHER_HTTP_PORT" || near "$USHER_ADMIN_PORT" "$USHER_RPC_PORT"; do
	USHER_ADMIN_PORT=$(pick_port)
done
out="$USHER_VAR.out"
cleanup() { "$ROOT/usher" stop >/dev/null 2>&1 || true; rm -rf "$USHER_VAR" "$out"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- ./usher up said:"; cat "$out"; exit 1; }

start=$(date +%s)
"$ROOT/usher" up >"$out" 2>&1 &
up_pid=$!
for _ in $(seq 1800); do
	grep -q '^usher: ready' "$out" && break
	kill -0 $up_pid 2>/dev/null || fail "./usher up exited before it was ready"
	sleep 0.1
done
took=$(( $(date +%s) - start ))
grep -q '^usher: ready' "$out" || fail "not ready within 180 s"
echo "ready after ${took}s"

"$ROOT/usher" ctl health || fail "usherctl health failed against ./usher up"
curl -fsS "http://127.0.0.1:$USHER_HTTP_PORT/livez" >/dev/null || fail "gateway /livez did not answer"
# Every daemon's admin /readyz turns 200 (its peers and Postgres answer).
for i in 0 1 2 3 4; do
	for _ in $(seq 200); do
		curl -fsS "http://127.0.0.1:$((USHER_ADMIN_PORT + i))/readyz" >/dev/null 2>&1 && break
		sleep 0.1
	done
	curl -fsS "http://127.0.0.1:$((USHER_ADMIN_PORT + i))/readyz" >/dev/null ||
		fail "the admin /readyz on port $((USHER_ADMIN_PORT + i)) did not turn ready"
done

"$ROOT/usher" stop || fail "./usher stop failed"
wait $up_pid && rc=0 || rc=$?
[ "$rc" -eq 0 ] || fail "./usher up exited $rc after stop"
if pgrep -f "$USHER_VAR" >/dev/null; then fail "processes survived the stop"; fi
# As tests/support/harness.c: a sanitizer's report in a daemon's log fails the test.
if grep -E 'ERROR: (AddressSanitizer|LeakSanitizer|ThreadSanitizer)|WARNING: ThreadSanitizer|UndefinedBehaviorSanitizer|runtime error' \
	"$USHER_VAR"/log/*.log; then
	fail "a daemon logged a sanitizer report (above)"
fi
"$ROOT/usher" ctl health >/dev/null 2>&1 && fail "health still passes after stop"
echo "ok"
