#!/bin/sh
# Every Usher container starts here: refuses the development secrets of
# docker-compose.yml unless USHER_DEV=1 says this is a development run, then runs the
# command (a daemon, or usherctl). The development keys are one byte repeated 32 times
# and the development database passwords end in "-dev": no real secret looks like either.
set -eu

# The value of setting $1, from $1 or from the file $1_FILE names.
value_of() {
	eval "v=\${$1:-}"
	eval "f=\${$1_FILE:-}"
	if [ -z "$v" ] && [ -n "$f" ] && [ -r "$f" ]; then
		v=$(head -c 4096 "$f")
	fi
	printf '%s' "$v"
}

is_dev_key() {
	case $1 in
	'') return 1 ;;
	esac
	first=$(printf '%s' "$1" | cut -c1-2)
	[ ${#1} -eq 64 ] && [ "$(printf '%s' "$1" | sed "s/$first//g")" = "" ]
}

if [ "${USHER_DEV:-0}" != 1 ]; then
	refused=""
	for name in RPC_SIGNING_KEY IDENTITY_TOKEN_KEY INVITATION_TOKEN_KEY NOTIFICATION_SEAL_KEY \
		GATEWAY_CSRF_KEY USHER_CALLER_KEY; do
		if is_dev_key "$(value_of "$name")"; then
			refused="$refused $name"
		fi
	done
	case $(value_of DATABASE_URL) in
	*-dev@*) refused="$refused DATABASE_URL" ;;
	esac
	if [ -n "$refused" ]; then
		echo "usher: refusing the development secrets of docker-compose.yml in:$refused." >&2
		echo "usher: put real ones in .env (docs/deployment.md), or set USHER_DEV=1 for a" >&2
		echo "usher: development run." >&2
		exit 78
	fi
fi
exec "$@"
