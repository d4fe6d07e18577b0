#!/usr/bin/env bash
# Build copies of the real-kernel lab padded to 1M, 3M and 10M objects and
# time rtbot's transport against git's on each, side by side in the same run:
# the candidate fetch (rtbot vs `git fetch`) and the result push (rtbot vs
# `git push`), wall time and peak RSS (GNU time).
#
#   RTBOT_LAB=$HOME/rtbot-lab bash scripts/bench/scale.sh [--build-only] [--keep] [--runs N] [--baseline REV] [SIZE...]
#
# SIZE is 1M, 3M or 10M (default: all three), or a plain number of objects.
# A padded repository is the lab's linux.git plus a synthetic history
# (scripts/bench/padgen, written with git fast-import, reachable from
# refs/heads/pad so every walk sees it), repacked into ONE pack as after
# `git gc` in a bare repository (no delta search: --window=0 keeps the
# build to a few minutes; a bitmap and a commit-graph, as gc writes them).
# Sizes: ~0.1 GB of pack per million objects, 10M ~1.3 GB.
#
# The repositories go to $SCALE_DIR/<SIZE>.git (default: a temporary
# directory removed at the end); --keep or --build-only keeps them, and a
# repository whose READY file exists is reused as it is. --build-only
# builds and stops. --remote daemon (the default) serves the remotes with
# `git daemon` on a loopback port, so the figures are the client's alone, as
# with a remote on another machine; --remote path uses local paths, and then
# the serving git-upload-pack/receive-pack (run as children) count too.
# --baseline REV also times rtbot's transport as of the
# commit REV (e.g. 3f3adb3, go-git's fetch and push) in the same scenario.
# --pass also times a whole pass (preflight, IMAP scan, fetch, rebase,
# push, report mail: scripts/bench/pass) of the demo's announcement and
# queue with the demo's history grafted onto the padded repository.
set -euo pipefail
cd "$(dirname "$0")/../.."

LAB=${RTBOT_LAB:-$HOME/rtbot-lab}
BUILD_ONLY=0
KEEP=0
RUNS=3
BASELINE=
REMOTE=daemon
PASS=0
SIZES=()
while [ $# -gt 0 ]; do
	case $1 in
	--build-only) BUILD_ONLY=1 KEEP=1 ;;
	--keep) KEEP=1 ;;
	--runs) RUNS=$2; shift ;;
	--baseline) BASELINE=$2; shift ;;
	--remote) REMOTE=$2; shift ;;
	--pass) PASS=1 ;;
	-h | --help) sed -n '2,30p' "$0"; exit 0 ;;
	-*) echo "scale.sh: unknown option $1" >&2; exit 2 ;;
	*) SIZES+=("$1") ;;
	esac
	shift
done
[ ${#SIZES[@]} -gt 0 ] || SIZES=(1M 3M 10M)
[ -d "$LAB/linux.git" ] || { echo "no lab at $LAB: run scripts/lab/build.sh" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "GNU time is needed: apt-get install time" >&2; exit 1; }

TMP=$(mktemp -d)
if [ -n "${SCALE_DIR:-}" ]; then
	mkdir -p "$SCALE_DIR"
else
	SCALE_DIR=$TMP/scale
	mkdir -p "$SCALE_DIR"
	[ "$KEEP" = 1 ] && echo "keeping the repositories in $SCALE_DIR" >&2
fi
DAEMON=
cleanup() {
	[ -z "$DAEMON" ] || kill "$DAEMON" 2>/dev/null || true
	rm -rf "$TMP/work" "$TMP/bin"
	[ "$KEEP" = 1 ] || rm -rf "$TMP"
}
trap cleanup EXIT
mkdir -p "$TMP/bin" "$TMP/work"

objects_of() { # SIZE -> number of objects
	case $1 in
	*M) echo $((${1%M} * 1000000)) ;;
	*k) echo $((${1%k} * 1000)) ;;
	*) echo "$1" ;;
	esac
}

in_pack() { # REPO -> number of packed + loose objects
	git --git-dir="$1" count-objects -v | awk '/^(count|in-pack):/{n+=$2} END{print n}'
}

# build SIZE: the padded repository $SCALE_DIR/SIZE.git, READY when done.
build() {
	local size=$1 repo=$SCALE_DIR/$1.git want have start
	if [ -e "$repo/READY" ]; then
		echo "build $size: reusing $repo" >&2
		return
	fi
	start=$(date +%s)
	rm -rf "$repo"
	git clone -q --bare --no-local "$LAB/linux.git" "$repo"
	want=$(objects_of "$size")
	have=$(in_pack "$repo")
	[ "$want" -gt "$have" ] || { echo "build $size: the lab already has $have objects" >&2; return 1; }
	"$TMP/bin/padgen" -objects $((want - have)) | git --git-dir="$repo" fast-import --quiet
	git --git-dir="$repo" -c pack.threads=2 repack -adq --window=0 --depth=50 --write-bitmap-index
	git --git-dir="$repo" commit-graph write --reachable --no-progress
	git --git-dir="$repo" prune-packed
	touch "$repo/READY"
	echo "build $size: $(in_pack "$repo") objects, $(du -sh "$repo" | cut -f1), $(($(date +%s) - start)) s" >&2
}

go build -o "$TMP/bin/padgen" ./scripts/bench/padgen
for s in "${SIZES[@]}"; do build "$s"; done
[ "$BUILD_ONLY" = 1 ] && exit 0

# The scenario, on each padded repository R (copies are hard-linked
# clones, made before each timed run and not counted):
#  - the candidate: U, a copy of R whose linux-6.1.y has 20 more commits
#    (an -rc on top of the release the local repository has);
#  - fetch: the local repository L (a copy of R) fetches linux-6.1.y from
#    U into refs/rtbot/candidates/bench: rtbot's remote.Fetch against
#    `git fetch` with the options that keep it lean;
#  - push: from L (which has the candidate and a result of 300 commits on
#    top of it, as a rebased RT queue) to P (a copy of U), branch
#    rtbot/6.1-rt/bench that must not exist yet: rtbot's remote.Push
#    against `git push --force-with-lease=<branch>:` (the same lease).
GIT="git -c gc.auto=0 -c maintenance.auto=false -c fetch.writeCommitGraph=false"
BR=refs/rtbot/candidates/bench
PUSHED=rtbot/6.1-rt/bench
go build -o "$TMP/bin/transport" ./scripts/bench/transport
go build -o "$TMP/bin/pass" ./scripts/bench/pass
if [ -n "$BASELINE" ]; then
	mkdir -p "$TMP/base"
	git archive "$BASELINE" | tar -x -C "$TMP/base"
	mkdir -p "$TMP/base/scripts/bench/transport"
	cp scripts/bench/transport/main.go "$TMP/base/scripts/bench/transport/"
	(cd "$TMP/base" && go build -o "$TMP/bin/transport-base" ./scripts/bench/transport)
fi

commits() { # REPO REF FROM N LABEL: N commits on FROM into REF, one new file each
	local i
	{
		for i in $(seq "$4"); do
			printf 'commit %s\ncommitter Bench <bench@example.org> %d +0000\ndata <<EOM\n%s %d\nEOM\n' "$2" $((1800000000 + i)) "$5" "$i"
			[ "$i" = 1 ] && printf 'from %s\n' "$3"
			printf 'M 100644 inline %s/%04d.c\ndata <<EOM\n/* %s %d */\nint %s_%d;\nEOM\n\n' "rtbot-bench/$5" "$i" "$5" "$i" "$5" "$i"
		done
	} | git --git-dir="$1" fast-import --quiet
	git --git-dir="$1" rev-parse "$2"
}

measure() { # LABEL COMMAND...: prints "LABEL wall_s maxrss_kib"
	local label=$1
	shift
	if ! /usr/bin/time -f '%e %M' -o "$TMP/work/time" "$@" >"$TMP/work/out" 2>"$TMP/work/err"; then
		echo "$label FAILED: $(tail -3 "$TMP/work/err")" >&2
	fi
	echo "$label $(tail -1 "$TMP/work/time")"
}

# scenario SIZE: set up U and the result commit for the padded repository.
scenario() {
	local repo=$SCALE_DIR/$1.git w=$TMP/work/$1
	rm -rf "$w" && mkdir -p "$w"
	git clone -q --bare --local "$repo" "$w/U.git"
	CAND=$(commits "$w/U.git" refs/heads/linux-6.1.y "$(git --git-dir="$repo" rev-parse linux-6.1.y)" 20 candidate)
	git clone -q --bare --local "$repo" "$w/L.git"
	$GIT --git-dir="$w/L.git" fetch -q --no-tags "$w/U.git" "+refs/heads/linux-6.1.y:refs/rtbot/candidates/base"
	RESULT=$(commits "$w/L.git" refs/heads/result "$CAND" 300 result)
}

fresh() { # SIZE NAME SOURCE: a hard-linked copy of SOURCE as NAME
	rm -rf "$TMP/work/$1/$2.git"
	git clone -q --bare --local "$3" "$TMP/work/$1/$2.git"
}

# serve DIR: sets URL to the prefix the repositories under DIR are
# reached by (git daemon on a loopback port, or the directory itself).
serve() {
	local port i
	if [ "$REMOTE" = path ]; then
		URL=$1
		return
	fi
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	git daemon --reuseaddr --listen=127.0.0.1 --port="$port" --base-path="$1" --export-all \
		--enable=receive-pack --informative-errors "$1" 2>"$TMP/work/daemon.log" &
	DAEMON=$!
	URL=git://127.0.0.1:$port
	for i in $(seq 100); do
		git ls-remote "$URL/U.git" >/dev/null 2>&1 && return
		sleep 0.1
	done
	echo "git daemon did not start: $(cat "$TMP/work/daemon.log")" >&2
	return 1
}

unserve() {
	[ -z "$DAEMON" ] || kill "$DAEMON" 2>/dev/null || true
	wait "$DAEMON" 2>/dev/null || true
	DAEMON=
}

run_size() {
	local size=$1 repo=$SCALE_DIR/$1.git w=$TMP/work/$1 i
	scenario "$size"
	serve "$w"
	echo
	echo "== $size: $(in_pack "$repo") objects, $(du -sh "$repo" | cut -f1); remotes $URL; $(date -u +%FT%TZ); load $(cut -d' ' -f1-3 /proc/loadavg)"
	for i in $(seq "$RUNS"); do
		fresh "$size" F "$repo"
		measure "fetch-rtbot" "$TMP/bin/transport" fetch "$w/F.git" "$URL/U.git" linux-6.1.y "$BR"
		[ "$(git --git-dir="$w/F.git" rev-parse "$BR")" = "$CAND" ] || echo "fetch-rtbot: wrong result" >&2
		if [ -n "$BASELINE" ]; then
			fresh "$size" F "$repo"
			measure "fetch-base" "$TMP/bin/transport-base" fetch "$w/F.git" "$URL/U.git" linux-6.1.y "$BR"
		fi
		fresh "$size" F "$repo"
		measure "fetch-git" $GIT --git-dir="$w/F.git" fetch -q --no-tags --no-write-fetch-head --no-show-forced-updates \
			--no-auto-gc --no-write-commit-graph "$URL/U.git" "+refs/heads/linux-6.1.y:$BR"
		fresh "$size" P "$w/U.git"
		measure "push-rtbot" "$TMP/bin/transport" push "$w/L.git" "$URL/P.git" "$PUSHED" "$RESULT" 0
		[ "$(git --git-dir="$w/P.git" rev-parse "$PUSHED")" = "$RESULT" ] || echo "push-rtbot: wrong result" >&2
		if [ -n "$BASELINE" ]; then
			fresh "$size" P "$w/U.git"
			measure "push-base" "$TMP/bin/transport-base" push "$w/L.git" "$URL/P.git" "$PUSHED" "$RESULT" 0
		fi
		fresh "$size" P "$w/U.git"
		measure "push-git" $GIT --git-dir="$w/L.git" push -q --no-verify "--force-with-lease=refs/heads/$PUSHED:" \
			"$URL/P.git" "$RESULT:refs/heads/$PUSHED"
	done | tee "$TMP/work/$size.txt"
	unserve
	if [ "$PASS" = 1 ]; then
		"$TMP/bin/pass" setup "$w/pass" "$repo"
		for i in $(seq "$RUNS"); do
			rm -rf "$w/pass-run" && cp -al "$w/pass" "$w/pass-run"
			measure "pass-rtbot" "$TMP/bin/pass" run "$w/pass-run"
			grep -q '"pushed"' "$TMP/work/out" || echo "pass-rtbot: nothing pushed" >&2
			grep '^preflight' "$TMP/work/out" >&2
		done | tee -a "$TMP/work/$size.txt"
	fi
	rm -rf "$w"
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(git --version); $(go version | cut -d' ' -f3)"
opts="--runs $RUNS --remote $REMOTE${BASELINE:+ --baseline $BASELINE}"
[ "$PASS" = 0 ] || opts+=" --pass"
echo "command: scripts/bench/scale.sh $opts ${SIZES[*]}"
for s in "${SIZES[@]}"; do run_size "$s"; done
echo
head="| objects | candidate fetch: rtbot vs git fetch | result push: rtbot vs git push |"
rule="|---|---|---|"
[ -z "$BASELINE" ] || { head+=" rtbot at $BASELINE: fetch; push |"; rule+="---|"; }
[ "$PASS" = 0 ] || { head+=" rtbot: preflight and pass |"; rule+="---|"; }
echo "$head"
echo "$rule"
for s in "${SIZES[@]}"; do
	python3 - "$s" "$TMP/work/$s.txt" <<'PY'
import sys, statistics
rows = {}
for line in open(sys.argv[2]):
    f = line.split()
    if len(f) == 3:
        rows.setdefault(f[0], []).append((float(f[1]), int(f[2])))
def cell(k):
    r = rows.get(k, [])
    if not r:
        return "failed"
    return f"{statistics.median(w for w, _ in r):.2f} s, {max(m for _, m in r) / 1024:.0f} MiB"
line = f"| {sys.argv[1]} | {cell('fetch-rtbot')} vs {cell('fetch-git')} | {cell('push-rtbot')} vs {cell('push-git')} |"
if "fetch-base" in rows:
    line += f" {cell('fetch-base')}; {cell('push-base')} |"
if "pass-rtbot" in rows:
    line += f" {cell('pass-rtbot')} |"
print(line)
PY
done
