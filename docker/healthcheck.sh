#!/bin/sh
# The image's HEALTHCHECK: healthy when the container's daemon says it is ready. With
# ADMIN_LISTEN set, that is its admin HTTP /readyz (false while Postgres, a required peer
# or migrations are missing, and from SIGTERM on); without, `usherctl health` of the
# daemon PID 1 runs (it answers Health/Check over RPC).
set -eu
if [ -n "${ADMIN_LISTEN:-}" ]; then
	# host:port, optionally with a scheme; a wildcard address is asked on loopback.
	addr=${ADMIN_LISTEN#*://}
	addr=${addr%%/*}
	case $addr in
	0.0.0.0:*) addr=127.0.0.1:${addr#0.0.0.0:} ;;
	'[::]:'*) addr="[::1]:${addr#\[::\]:}" ;;
	:*) addr=127.0.0.1$addr ;;
	esac
	exec curl --fail --silent --show-error --max-time 4 --output /dev/null "http://$addr/readyz"
fi
daemon=$(tr '\0' '\n' </proc/1/cmdline | head -n 1)
service=${daemon##*/}
service=${service#usher-}
service=${service%d}
exec usherctl health "$service"
