#!/usr/bin/env bash
# rtbot's whole test suite, as the README tells users to run it and as CI
# runs it: formatting, go vet, staticcheck, every package's tests (with the
# Dovecot integration tests when dovecot is installed), and a short run of
# every fuzz target.
#
#   bash scripts/test.sh
#
# Environment:
#   RTBOT_FUZZTIME   how much each fuzz target runs, as go test -fuzztime takes
#                    it (default 20000x, a count of inputs; 0 skips fuzzing)
#   RTBOT_LAB        a real-kernel lab (scripts/lab/build.sh) for the lab tests
#   RTBOT_DOVECOT_PORT  the test Dovecot's port (default: the first free one
#                    from 31143)
set -euo pipefail
cd "$(dirname "$0")/.."

STATICCHECK_VERSION=v0.8.2 # staticcheck 2026.2.2
# A count, not a duration: Go 1.26's fuzz coordinator can fail a target with a
# bare "context deadline exceeded" when a duration runs out while a worker is
# mid-input on a loaded machine (golang/go#75804, fixed in Go 1.27). A count
# has no deadline to race. 20000 inputs take 1-8 s per target here.
FUZZTIME=${RTBOT_FUZZTIME:-20000x}

echo "== gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	echo "gofmt would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi

echo "== go vet"
go vet ./...

echo "== staticcheck ${STATICCHECK_VERSION%% *}"
go run "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION" ./...

# A real Dovecot on loopback for the IMAP integration tests.
if command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ]; then
	DOVECOT_DIR=$(mktemp -d /tmp/rtbot-dovecot.XXXXXX)
	trap 'bash scripts/dovecot/stop.sh "$DOVECOT_DIR" >/dev/null 2>&1 || true; rm -rf "$DOVECOT_DIR"' EXIT
	# The first port from 31143 nothing listens on: a Dovecot left over by
	# a killed run (or a second checkout testing at once) keeps its port.
	port=${RTBOT_DOVECOT_PORT:-}
	if [ -z "$port" ]; then
		for p in $(seq 31143 31242); do
			if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
				port=$p
				break
			fi
		done
	fi
	if [ -z "$port" ]; then
		echo "no free port in 31143-31242 for Dovecot; set RTBOT_DOVECOT_PORT" >&2
		exit 1
	fi
	echo "== starting Dovecot on 127.0.0.1:$port in $DOVECOT_DIR"
	bash scripts/dovecot/start.sh "$DOVECOT_DIR" "$port"
	set -a
	# shellcheck disable=SC1091
	. "$DOVECOT_DIR/env"
	set +a
else
	echo "== dovecot not installed: the Dovecot integration tests will skip (apt-get install dovecot-imapd)"
fi

echo "== go test"
go test -count=1 ./...

if [ "$FUZZTIME" != "0" ]; then
	echo "== fuzz targets, $FUZZTIME each"
	fuzzlog=$(mktemp /tmp/rtbot-fuzz.XXXXXX)
	for target in \
		./patchqueue:FuzzParse \
		./internal/patchqueue:FuzzApplyHunks \
		./internal/objstore:FuzzApplyDelta \
		./textmerge:FuzzDiff \
		./textmerge:FuzzMerge3 \
		./mailwatch:FuzzRecognize \
		./config:FuzzParse \
		./mailout:FuzzMessageBytes \
		./candidate:FuzzParseMakefile \
		./resolutions:FuzzRead; do
		pkg=${target%%:*}
		fn=${target##*:}
		if ! go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$FUZZTIME" "$pkg" >"$fuzzlog" 2>&1; then
			echo "FAIL $pkg $fn:" >&2
			tail -40 "$fuzzlog" >&2
			exit 1
		fi
		echo "ok  $pkg $fn"
	done
fi
echo "== all tests passed"
