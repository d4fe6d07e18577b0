#!/usr/bin/env bash
# Time `rtbot merge` against one `git am -3` of the same queue on the same
# real-kernel lab repository, in the same run, and print wall time and peak
# RSS of each. Needs the lab (scripts/lab/build.sh) and GNU time.
#
#   RTBOT_LAB=$HOME/rtbot-lab bash scripts/bench/lab.sh [QUEUE BASE ONTO] [RUNS]
#
# Defaults: Debian 6.1.174's RT queue, materialised on v6.1.174, onto v6.1.176,
# 3 runs of rtbot (the median is reported; git am runs once: it is slow).
set -euo pipefail
cd "$(dirname "$0")/../.."

LAB=${RTBOT_LAB:-$HOME/rtbot-lab}
QUEUE=${1:-6.1.174}
BASE=${2:-v6.1.174}
ONTO=${3:-v6.1.176}
RUNS=${4:-3}
QDIR=$LAB/queues/$QUEUE
[ -d "$LAB/linux.git" ] || { echo "no lab at $LAB: run scripts/lab/build.sh" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "GNU time is needed: apt-get install time" >&2; exit 1; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
go build -o "$TMP/rtbot" ./cmd/rtbot
# Measure on a fresh copy of the lab repository: one pack, no loose objects,
# as a maintainer's mirror after git gc (every rtbot run adds a small pack).
REPO=$TMP/linux.git
git clone -q --bare --no-local "$LAB/linux.git" "$REPO"

measure() { # label, command...: prints "label wall_s maxrss_kib"
	local label=$1
	shift
	/usr/bin/time -f '%e %M' -o "$TMP/time" "$@" >"$TMP/out" 2>"$TMP/err" || true
	echo "$label $(cat "$TMP/time" | tail -1)"
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(git --version); $(go version | cut -d' ' -f3)"
echo "repo: $REPO ($(du -sh "$REPO" | cut -f1), $(git --git-dir="$REPO" count-objects -v | awk '/^count:/{l=$2} /^packs:/{p=$2} END{print l" loose objects, "p" packs"}'))"
echo "job: queue $QUEUE ($(grep -cv '^\s*\(#\|$\)' "$QDIR/series") patches) --base $BASE --onto $ONTO"
echo

for i in $(seq "$RUNS"); do
	measure "rtbot-run-$i" "$TMP/rtbot" merge --repo "$REPO" --queue "$QDIR" --base "$BASE" --onto "$ONTO" --json
done | tee "$TMP/rtbot.txt"
python3 - "$TMP/out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print("rtbot summary:", d["summary"]["by_status"], "stats:", d["stats"])
PY

# git am -3 needs a worktree; the checkout is not counted.
start=$(date +%s.%N)
git --git-dir="$REPO" worktree add -q --detach "$TMP/wt" "$ONTO"
echo "git worktree checkout: $(echo "$(date +%s.%N) - $start" | bc) s (not counted)"
mapfile -t patches < <(grep -v '^\s*\(#\|$\)' "$QDIR/series" | awk '{print $1}' | sed "s|^|$QDIR/|")
export GIT_AUTHOR_NAME=am GIT_AUTHOR_EMAIL=am@example.org GIT_COMMITTER_NAME=am GIT_COMMITTER_EMAIL=am@example.org
measure "git-am-3" git -C "$TMP/wt" am -q -3 "${patches[@]}" | tee "$TMP/am.txt"
applied=$(git -C "$TMP/wt" rev-list --count "$ONTO..HEAD")
if [ -d "$(git -C "$TMP/wt" rev-parse --git-path rebase-apply)" ]; then
	echo "git am -3 stopped after $applied of ${#patches[@]} patches: $(grep -m1 -i 'conflict\|error\|failed' "$TMP/out" "$TMP/err" | head -1)"
	git -C "$TMP/wt" am --abort
else
	echo "git am -3 applied all $applied patches"
fi

python3 - "$TMP/rtbot.txt" "$TMP/am.txt" <<'PY'
import sys, statistics
r = [l.split() for l in open(sys.argv[1])]
a = open(sys.argv[2]).read().split()
wall = statistics.median(float(x[1]) for x in r)
rss = max(int(x[2]) for x in r)
print(f"\nrtbot merge: median {wall:.2f} s, peak RSS {rss/1024:.0f} MiB")
print(f"git am -3:   {float(a[1]):.2f} s, peak RSS {int(a[2])/1024:.0f} MiB")
print(f"ratio: rtbot is {float(a[1])/wall:.1f}x faster")
PY
