#!/usr/bin/env bash
# Stop the Dovecot started by scripts/dovecot/start.sh DIR PORT.
#
#   scripts/dovecot/stop.sh DIR
#
# Only the master process recorded in DIR/run/master.pid is signalled; its
# children exit with it. DIR itself is left for inspection (logs, maildir).
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
DIR=$1
PIDFILE=$DIR/run/master.pid
if [ ! -f "$PIDFILE" ]; then
	echo "stop.sh: no $PIDFILE: not running" >&2
	exit 0
fi
PID=$(cat "$PIDFILE")
case $PID in
'' | *[!0-9]*) echo "stop.sh: bad pid in $PIDFILE" >&2; exit 1 ;;
esac
if kill -0 "$PID" 2>/dev/null; then
	kill -TERM "$PID"
	for _ in $(seq 1 100); do
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$PID" 2>/dev/null; then
		echo "stop.sh: dovecot $PID did not exit in 10s; sending KILL" >&2
		kill -KILL "$PID" || true
	fi
fi
rm -f "$PIDFILE"
echo "stop.sh: stopped dovecot in $DIR" >&2
