# Shell functions behind ./usher: packages, build, a private Postgres cluster, the daemons.
# Sourced, not run. Expects ROOT to be set.

# Everything a fresh Debian 12 needs to build, run and test Usher.
PACKAGES=(
	build-essential cmake pkg-config
	protobuf-c-compiler libprotobuf-c-dev libnng-dev libpq-dev libsodium-dev
	libcurl4-openssl-dev libmicrohttpd-dev libjansson-dev libcmocka-dev libcsv-dev
	postgresql-15 postgresql-client-15 python3 python3-aiosmtpd python3-yaml python3-prometheus-client curl
	clang libclang-rt-14-dev
	chromium chromium-driver python3-selenium
)

# The daemons, in start order, and the schema (= role suffix) each owns.
DAEMONS=(identity tenancy notification invitation gateway)

say() { printf 'usher: %s\n' "$*"; }
die() { printf 'usher: %s\n' "$*" >&2; exit 1; }

# Installs what is missing, with sudo when not root.
ensure_packages() {
	local missing=() p
	for p in "${PACKAGES[@]}"; do
		[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	say "installing ${missing[*]}"
	local sudo=()
	[ "$(id -u)" -eq 0 ] || sudo=(sudo)
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
}

# build DIR [cmake options...]
build() {
	local dir=$1; shift
	cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
	cmake --build "$dir" -j"$(nproc)" >/dev/null || cmake --build "$dir" -j1
}

pg_bin() {
	local d
	for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
		[ -x "$d/initdb" ] && { echo "$d"; return 0; }
	done
	die "PostgreSQL server binaries not found (package postgresql-15)"
}

# Runs a command as the owner of the cluster: initdb refuses root, so root uses postgres.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Makes dir owned by the cluster's user.
pg_own() {
	mkdir -p "$1"
	chmod 700 "$1"
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres:postgres "$1"
		runuser -u postgres -- test -w "$1" ||
			die "the postgres user cannot reach $1; set USHER_VAR to a directory it can (e.g. /var/tmp/usher)"
	fi
}

random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

# pg_init DATADIR ADMIN_PASSWORD: a new cluster whose superuser usher_admin logs in by
# password, like every other role.
pg_init() {
	local data=$1 password=$2
	pg_own "$data"
	local pwfile="$data.pw"
	( umask 077; printf '%s\n' "$password" >"$pwfile" )
	[ "$(id -u)" -eq 0 ] && chown postgres "$pwfile"
	as_pg "$(pg_bin)/initdb" -D "$data" -U usher_admin --pwfile="$pwfile" \
		--auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
	rm -f "$pwfile"
}

# pg_start DATADIR SOCKDIR LOGFILE [postgres -c settings...]: Unix socket only.
pg_start() {
	local data=$1 sock=$2 log=$3; shift 3
	local opts="-c listen_addresses='' -c unix_socket_directories='$sock' -c port=5432"
	local s
	for s in "$@"; do opts="$opts -c $s"; done
	pg_own "$sock"
	touch "$log"
	[ "$(id -u)" -eq 0 ] && chown postgres "$log"
	as_pg "$(pg_bin)/pg_ctl" -D "$data" -l "$log" -w -t 60 -o "$opts" start >/dev/null
}

pg_stop() {
	local data=$1
	[ -f "$data/postmaster.pid" ] || return 0
	as_pg "$(pg_bin)/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null || true
}

# psql_admin SOCKDIR PASSWORD DB [psql args...]
psql_admin() {
	local sock=$1 password=$2 db=$3; shift 3
	PGPASSWORD=$password psql -X -q -v ON_ERROR_STOP=1 -h "$sock" -p 5432 -U usher_admin -d "$db" "$@"
}

# create_roles SOCKDIR ADMIN_PASSWORD IDENTITY TENANCY INVITATION NOTIFICATION (passwords)
create_roles() {
	psql_admin "$1" "$2" postgres -v identity_password="$3" -v tenancy_password="$4" \
		-v invitation_password="$5" -v notification_password="$6" -f "$ROOT/scripts/sql/roles.sql"
}

# A directory for Unix sockets: under the preferred one when its paths stay within the
# 107-byte socket limit, else a private one under /tmp.
socket_dir() {
	local preferred=$1
	if [ ${#preferred} -le 80 ]; then
		echo "$preferred"
	else
		echo "/tmp/usher-$(printf '%s' "$preferred" | md5sum | cut -c1-12)"
	fi
}
