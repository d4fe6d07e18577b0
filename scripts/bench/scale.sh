#!/usr/bin/env bash
# Build copies of the real-kernel lab padded to 1M, 3M and 10M objects and
# time rtbot's transport against git's on each, side by side in the same run:
# the candidate fetch (rtbot vs `git fetch`) and the result push (rtbot vs
# `git push`), wall time and peak RSS (GNU time).
#
#   RTBOT_LAB=$HOME/rtbot-lab bash scripts/bench/scale.sh [--build-only] [--keep] [--runs N] [SIZE...]
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
# builds and stops.
set -euo pipefail
cd "$(dirname "$0")/../.."

LAB=${RTBOT_LAB:-$HOME/rtbot-lab}
BUILD_ONLY=0
KEEP=0
RUNS=3
SIZES=()
while [ $# -gt 0 ]; do
	case $1 in
	--build-only) BUILD_ONLY=1 KEEP=1 ;;
	--keep) KEEP=1 ;;
	--runs) RUNS=$2; shift ;;
	-h | --help) sed -n '2,21p' "$0"; exit 0 ;;
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
cleanup() {
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
