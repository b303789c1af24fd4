#!/usr/bin/env bash
# The deployment files, run for real: the container entrypoint refuses the development
# secrets unless USHER_DEV=1 (also from NAME_FILE); the health check follows /readyz on
# ADMIN_LISTEN; every setting the packaged environment files name is one the daemon
# knows, and with its secrets filled in each daemon accepts them (--print-config).
set -euo pipefail
SRC=${USHER_SOURCE_DIR:?} BIN=${USHER_BIN_DIR:?}
tmp=$(mktemp -d)
server_pid=
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# --- entrypoint.sh ---
entry=$SRC/docker/entrypoint.sh
dev_key=4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a
real_key=0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0
rc=0
out=$(env -i PATH="$PATH" RPC_SIGNING_KEY=$dev_key \
	DATABASE_URL=postgresql://usher_identity:identity-dev@postgres/usher \
	sh "$entry" echo started 2>&1) || rc=$?
[ "$rc" -eq 78 ] || fail "development secrets: exit $rc, want 78 ($out)"
[[ $out == *"refusing the development secrets of docker-compose.yml in: RPC_SIGNING_KEY DATABASE_URL."* ]] ||
	fail "development secrets not named: $out"
[[ $out != *started* ]] || fail "the daemon ran with development secrets"
out=$(env -i PATH="$PATH" USHER_DEV=1 RPC_SIGNING_KEY=$dev_key sh "$entry" echo started) ||
	fail "USHER_DEV=1 refused: $out"
[ "$out" = started ] || fail "USHER_DEV=1: $out"
out=$(env -i PATH="$PATH" RPC_SIGNING_KEY=$real_key \
	DATABASE_URL=postgresql://usher_identity:s3cret@db/usher sh "$entry" echo started) ||
	fail "real secrets refused: $out"
printf '%s\n' "$dev_key" >"$tmp/key"
rc=0
out=$(env -i PATH="$PATH" GATEWAY_CSRF_KEY_FILE="$tmp/key" sh "$entry" echo started 2>&1) || rc=$?
[ "$rc" -eq 78 ] && [[ $out == *"in: GATEWAY_CSRF_KEY."* ]] ||
	fail "a development key from GATEWAY_CSRF_KEY_FILE: exit $rc ($out)"

# --- healthcheck.sh against a real HTTP server whose /readyz we switch ---
health=$SRC/docker/healthcheck.sh
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$tmp/server.py" <<'PY'
import http.server, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ready = os.path.exists(sys.argv[2])
        self.send_response(200 if self.path == "/readyz" and ready else 503)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
python3 "$tmp/server.py" "$port" "$tmp/ready" &
server_pid=$!
for _ in $(seq 100); do
	curl -s -o /dev/null "http://127.0.0.1:$port/" && break
	sleep 0.1
done
touch "$tmp/ready"
for listen in "0.0.0.0:$port" "127.0.0.1:$port" "http://127.0.0.1:$port" ":$port"; do
	ADMIN_LISTEN=$listen sh "$health" || fail "healthcheck: ready, but unhealthy with ADMIN_LISTEN=$listen"
done
rm "$tmp/ready"
if ADMIN_LISTEN="0.0.0.0:$port" sh "$health" 2>/dev/null; then
	fail "healthcheck: healthy while /readyz says not ready"
fi

# --- the packaged environment files ---
# Every name offered (commented-out ones too) is a setting: of this daemon in its own
# file, of some daemon or usherctl in common.env.
all_help=$("$BIN/usherctl" --help)
for short in identityd tenancyd invitationd notificationd gatewayd; do
	all_help+=$("$BIN/usher-$short" --help)
done
names_in() { grep -oE '^#?[A-Z][A-Z0-9_]*=' "$1" | tr -d '#='; }
for name in $(names_in "$SRC/packaging/env/common.env"); do
	[[ $all_help == *"  $name "* ]] || fail "common.env: no daemon has a setting $name"
done
for short in identityd tenancyd invitationd notificationd gatewayd; do
	bin=$BIN/usher-$short
	help=$("$bin" --help)
	for name in $(names_in "$SRC/packaging/env/$short.env"); do
		[[ $help == *"  $name "* ]] || fail "$short.env: usher-$short has no setting $name"
	done
	# The active (uncommented) settings, secrets filled in, pass the daemon's checks.
	active=()
	while IFS= read -r line; do
		[[ $line =~ ^([A-Z][A-Z0-9_]*)=(.*)$ ]] || continue
		name=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]}
		case $name in
		RPC_SIGNING_KEY | *_TOKEN_KEY | NOTIFICATION_SEAL_KEY | GATEWAY_CSRF_KEY) value=$real_key ;;
		DATABASE_URL) value=postgresql://usher:secret@db/usher ;;
		esac
		active+=("$name=$value")
	done < <(cat "$SRC/packaging/env/common.env" "$SRC/packaging/env/$short.env")
	out=$(env -i PATH="$PATH" "${active[@]}" "$bin" --print-config 2>&1) ||
		fail "usher-$short refuses its packaged settings: $out"
	# Unfilled, the daemon stops and names the missing secret: nothing runs on a default key.
	rc=0
	out=$(env -i PATH="$PATH" $(grep -E '^[A-Z]' "$SRC/packaging/env/common.env" "$SRC/packaging/env/$short.env" | cut -d: -f2-) "$bin" --print-config 2>&1) || rc=$?
	[ "$rc" -eq 2 ] && [[ $out == *"required setting is not set"* ]] ||
		fail "usher-$short with unfilled secrets: exit $rc ($out)"
done
# --- docker-compose.yml: one Postgres per service, every daemon scalable ---
# (No Docker engine here: the resolved configuration is what is checked.)
if command -v docker-compose >/dev/null; then
	for profile in "" monitoring; do
		(cd "$SRC" && IDENTITY_REPLICAS=3 GATEWAY_REPLICAS=2 docker-compose -f docker-compose.yml \
			${profile:+--profile "$profile"} config) >"$tmp/compose.yml" ||
			fail "docker-compose config${profile:+ --profile $profile} refused the file"
	done
	python3 - "$tmp/compose.yml" <<'PY' || fail "docker-compose.yml (above)"
import sys, yaml
services = yaml.safe_load(open(sys.argv[1]))["services"]
problems = []
for d in ("identity", "tenancy", "invitation", "notification", "gateway"):
    svc = services[d]
    env = svc.get("environment", {})
    if "container_name" in svc:
        problems.append(f"{d}: a container_name stops it from scaling")
    for port in svc.get("ports", []):
        if "-" not in str(port.get("published", "")):
            problems.append(f"{d}: host port {port} is fixed: a second replica cannot bind it")
    want = {"identity": 3, "gateway": 2}.get(d, 1)
    if svc.get("deploy", {}).get("replicas") != want:
        problems.append(f"{d}: deploy.replicas is not taken from {d.upper()}_REPLICAS")
    if d == "gateway":
        continue
    url = env.get("DATABASE_URL", "")
    if f"@postgres-{d}/" not in url:
        problems.append(f"{d}: DATABASE_URL is not its own Postgres: {url}")
    pg = services.get(f"postgres-{d}")
    if pg is None or pg["environment"].get("USHER_SERVICES") != d:
        problems.append(f"postgres-{d}: missing, or not prepared for {d} alone")
    if not str(services.get(f"postgres-{d}", {}).get("volumes", [""])[0]).startswith(f"pgdata-{d}:"):
        problems.append(f"postgres-{d}: no volume of its own")
    if services[d].get("depends_on", {}).get(f"postgres-{d}", {}).get("condition") != "service_healthy":
        problems.append(f"{d}: does not wait for postgres-{d}")
if "postgres" in services:
    problems.append("a shared postgres service is still there")
for p in problems:
    print("FAIL: " + p)
sys.exit(1 if problems else 0)
PY
else
	echo "SKIP: docker-compose is not installed (CI installs it): docker-compose.yml not checked"
fi
echo "deployment files fine"
