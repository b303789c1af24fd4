#!/usr/bin/env bash
# email: delivery throughput of usher-notificationd to a local SMTP sink. Run by
# `./usher bench email`, which builds bench/ without sanitizers and starts a private,
# durable Postgres cluster; this script writes its result to the JSON file it is given.
# COUNT (BENCH_EMAIL_COUNT, default 10000) invitations are queued with one SendEmails call
# and delivered by DELIVERY_WORKERS (default 4) workers. See README.md.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../scripts/lib.sh
. "$ROOT/scripts/lib.sh"

RESULT=${1:?usage: run.sh RESULT.json (run it through ./usher bench email)}
COUNT=${BENCH_EMAIL_COUNT:-10000}
WORKERS=${DELIVERY_WORKERS:-4}
BIN=${USHER_BIN_DIR:?run it through ./usher bench email}
BENCH_BIN=$(dirname "$BIN")/bench
sock=${USHER_TEST_PGHOST:?run it through ./usher bench email}
admin_pw=$USHER_TEST_ADMIN_PASSWORD
role_pw=$USHER_TEST_ROLE_PASSWORD

tmp=$(mktemp -d /tmp/usher-bench.XXXXXX)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

psql_admin "$sock" "$admin_pw" postgres -c "DROP DATABASE IF EXISTS email_bench" \
	-c "CREATE DATABASE email_bench" >/dev/null
psql_admin "$sock" "$admin_pw" email_bench -f "$ROOT/scripts/sql/database.sql" >/dev/null

sink() { # sink PORT_FILE ARGS...: starts the counting sink, waits for its port
	local port_file=$1; shift
	"$BENCH_BIN/bench-email-sink" --port 0 --port-file "$port_file" "$@" >"$port_file.out" &
	pids+=($!)
	for _ in $(seq 100); do [ -s "$port_file" ] && return 0; sleep 0.05; done
	die "the sink did not start"
}

say "1. the sink alone: $COUNT messages over $WORKERS connections"
sink "$tmp/alone.port" --expect "$COUNT"
drove=$("$BENCH_BIN/bench-email-sink" --port "$(cat "$tmp/alone.port")" --drive "$COUNT" \
	--connections "$WORKERS")
echo "$drove"
wait "${pids[-1]}" || true
cat "$tmp/alone.port.out"

say "2. usher-notificationd ($WORKERS delivery workers) to the sink: $COUNT messages"
sink "$tmp/sink.port" --expect "$COUNT"
sink_pid=${pids[-1]}
export NOTIFICATION_RPC_URL="tcp://127.0.0.1:${BENCH_RPC_PORT:-27004}"
# Its peers are required settings; this run calls none of them (its caller is in the
# policy file, so no service principal is looked up): an address nothing listens on.
unused_port=$(( ${BENCH_RPC_PORT:-27004} + 1 ))
# Every RPC is signed: the daemon trusts this run's key, which the queue client uses.
seed() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }
daemon_key=$(seed)
USHER_CALLER_KEY=$(seed)
export USHER_CALLER_KEY
echo "bench $(echo "$USHER_CALLER_KEY" | "$BIN/usherctl" keys public) system" >"$tmp/callers.conf"
DATABASE_URL="postgresql://usher_notification:$role_pw@/email_bench?host=$sock&port=5432" \
RPC_SIGNING_KEY="$daemon_key" RPC_CALLERS_FILE="$tmp/callers.conf" \
RPC_LISTEN="$NOTIFICATION_RPC_URL" LOG_LEVEL=warn \
IDENTITY_RPC_URL="tcp://127.0.0.1:$unused_port" TENANCY_RPC_URL="tcp://127.0.0.1:$unused_port" \
DELIVERY_WORKERS="$WORKERS" \
SMTP_URL="smtp://127.0.0.1:$(cat "$tmp/sink.port")" \
NOTIFICATION_SEAL_KEY=4242424242424242424242424242424242424242424242424242424242424242 \
	"$BIN/usher-notificationd" >"$tmp/notificationd.log" 2>&1 &
pids+=($!)
# Up to a minute: migrations on a loaded machine take a while; then fail with its log.
healthy=0
for _ in $(seq 600); do
	"$BIN/usherctl" --timeout 500 health notification >/dev/null 2>&1 && { healthy=1; break; }
	sleep 0.1
done
[ "$healthy" = 1 ] || { tail -20 "$tmp/notificationd.log" >&2; die "usher-notificationd did not start"; }
queued=$("$BENCH_BIN/bench-email-queue" "$NOTIFICATION_RPC_URL" "$COUNT")
echo "$queued"
wait "$sink_pid" || true
received=$(cat "$tmp/sink.port.out")
echo "$received"

# The sink counts what arrived; the queue is done when every message is recorded as sent.
sql() { psql_admin "$sock" "$admin_pw" email_bench -At -c "$1"; }
for _ in $(seq 300); do
	[ "$(sql "SELECT count(*) FROM notification.messages WHERE state <> 'sent'")" = 0 ] && break
	sleep 0.1
done
recorded=$(sql "SELECT extract(epoch FROM max(updated_at)) FROM notification.messages WHERE state = 'sent'")
unsent=$(sql "SELECT count(*) FROM notification.messages WHERE state <> 'sent'")

returned=$(sed -n 's/.*returned at \([0-9.]*\).*/\1/p' <<<"$queued")
first=$(sed -n 's/.*first at \([0-9.]*\),.*/\1/p' <<<"$received")
last=$(sed -n 's/.*last at \([0-9.]*\):.*/\1/p' <<<"$received")
awk -v n="$COUNT" -v r="$returned" -v f="$first" -v l="$last" -v d="$recorded" -v u="$unsent" 'BEGIN {
	printf "delivery: %d messages at the sink %.3f s after SendEmails returned: %.0f messages/s\n", n, l - r, n / (l - r)
	printf "          first to last message at the sink: %.3f s, %.0f messages/s\n", l - f, (n - 1) / (l - f)
	printf "          all recorded as sent %.3f s after SendEmails returned (%d not sent)\n", d - r, u
}'
alone=$(sed -n 's/.* s: \([0-9]*\) messages\/s.*/\1/p' <<<"$drove")
queue_s=$(sed -n 's/.*call in \([0-9.]*\) s.*/\1/p' <<<"$queued")
python3 - "$RESULT" "$COUNT" "$WORKERS" "$returned" "$first" "$last" "$recorded" "$unsent" "${alone:-0}" "$queue_s" <<'PY'
import json, sys
out, n, workers, returned, first, last, recorded, unsent, alone, queue_s = sys.argv[1:]
n, workers, unsent = int(n), int(workers), int(unsent)
returned, first, last, recorded = map(float, (returned, first, last, recorded))
rate = n / (last - returned)
measures = [
    {"name": "delivery, messages/s", "unit": "/s", "value": rate, "higher_is_better": True,
     "available": True, "goal": "≥ 1,000/s", "limit": 1000, "met": rate >= 1000},
    {"name": "messages not recorded as sent", "unit": "", "value": unsent,
     "higher_is_better": False, "available": True, "goal": "0", "limit": 0, "met": unsent == 0},
]
if float(alone or 0) > 0:
    # The floor: the sink driven alone over as many connections, in the same run.
    measures[0].update(floor="the sink alone, messages/s", floor_value=float(alone),
                       ratio=float(alone) / rate)
json.dump({
    "bench": "email",
    "summary": f"{n:,} invitation emails queued in usher-notificationd with one SendEmails call, "
               f"delivered by {workers} workers over reused SMTP connections to a local sink "
               "that only counts. The floor is the sink driven alone over as many "
               "connections, in the same run.",
    "measures": measures,
    "details": [
        ["SendEmails of all messages", f"{float(queue_s):.3f} s"],
        ["delivery after SendEmails returned", f"{last - returned:.3f} s"],
        ["all recorded as sent after SendEmails returned", f"{recorded - returned:.3f} s"],
    ],
}, open(out, "w"), indent=2)
PY
grep -v '"level":"debug"' "$tmp/notificationd.log" | grep -v '"msg":"\(serving\|delivering\|migration applied\|stopping on SIGTERM\|stopped\)"' | head -5 || true
