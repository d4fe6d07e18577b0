#!/usr/bin/env bash
# Time `rtbot merge` against one `git am -3` of the same queue on the same
# real-kernel lab repository, in the same run, and print wall time and peak
# RSS of each. Needs the lab (scripts/lab/build.sh) and GNU time.
#
#   RTBOT_LAB=$HOME/rtbot-lab bash scripts/bench/lab.sh [QUEUE BASE ONTO] [RUNS]
#   RTBOT_REPO=/work/scale/10M.git RTBOT_LAB=... bash scripts/bench/lab.sh ...
#
# Defaults: Debian 6.1.174's RT queue, materialised on v6.1.174, onto v6.1.176,
# 3 runs of rtbot (the median is reported; git am runs once: it is slow).
# The queues always come from the lab; the repository is a fresh clone of the
# lab's, or, with RTBOT_REPO, a copy of that repository (e.g. one of the padded
# ones scripts/bench/scale.sh builds) made of hard links, so that neither the
# runs' packs nor git am's worktree touch the original. Every rtbot run prints
# its CPU time (user+sys) too: on a busy machine it varies less than the wall
# time.
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
REPO=$TMP/linux.git
if [ -n "${RTBOT_REPO:-}" ]; then
	# Packs are never modified in place, so hard links are a safe copy
	# (git am may only refresh a pack's mtime, as git does for any clone
	# that hard-links its packs); another file system gets a --shared
	# clone (its objects borrowed).
	cp -al "$RTBOT_REPO" "$REPO" 2>/dev/null || {
		rm -rf "$REPO"
		git clone -q --bare --shared "$RTBOT_REPO" "$REPO"
	}
	rm -f "$REPO/READY"
else
	# Measure on a fresh copy of the lab repository: one pack, no loose
	# objects, as a maintainer's mirror after git gc (every rtbot run adds
	# a small pack).
	git clone -q --bare --no-local "$LAB/linux.git" "$REPO"
fi

measure() { # label, command...: prints "label wall_s maxrss_kib cpu_s"
	local label=$1
	shift
	/usr/bin/time -f '%e %M %U %S' -o "$TMP/time" "$@" >"$TMP/out" 2>"$TMP/err" || true
	echo "$label $(tail -1 "$TMP/time" | awk '{printf "%s %s %.2f", $1, $2, $3 + $4}')"
}

echo "date: $(date -u +%Y-%m-%dT%H:%MZ); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
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
cpu = statistics.median(float(x[3]) for x in r)
print(f"\nrtbot merge: median {wall:.2f} s, CPU median {cpu:.2f} s, peak RSS {rss/1024:.0f} MiB (first run {float(r[0][1]):.2f} s, CPU {float(r[0][3]):.2f} s)")
print(f"git am -3:   {float(a[1]):.2f} s, CPU {float(a[3]):.2f} s, peak RSS {int(a[2])/1024:.0f} MiB")
print(f"ratio: rtbot is {float(a[1])/wall:.1f}x faster ({float(a[3])/cpu:.1f}x less CPU)")
PY
