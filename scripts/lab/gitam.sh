#!/usr/bin/env bash
# gitam.sh - the baseline rtbot is benchmarked against: `git am -3` of a
# Debian patches-rt queue onto a release of the lab repository.
#
# Usage: scripts/lab/gitam.sh LAB QUEUE_VERSION ONTO_TAG
#   e.g. scripts/lab/gitam.sh ~/rtbot-lab 6.1.174 v6.1.176
#
# Steps:
#   1. git clone --shared --no-checkout LAB/linux.git into LAB/work/<run>
#      (objects borrowed through alternates; commits made by git am land in
#      the clone, so the packed lab repository stays untouched), then
#      git checkout --detach ONTO_TAG, timed separately (not part of the
#      baseline figure).
#   2. git am -3 <every patch of LAB/queues/QUEUE_VERSION/series, in order>,
#      timed with /usr/bin/time -v (wall time, max RSS).
#   3. Report how many patches applied; if git am stopped, which patch and
#      which files, then git am --abort.
#
# Environment:
#   RTBOT_GITAM_SKIP=1  after the timed run, keep going with `git am --skip`
#                       (untimed) to list every patch that does not apply.
#   RTBOT_GITAM_KEEP=1  keep the work tree (default: removed at the end).
#
# Results are printed and also written to LAB/results/gitam-QUEUE-onto-TAG.txt.
set -euo pipefail

if [ "$#" -ne 3 ]; then
	echo "usage: $0 LAB QUEUE_VERSION ONTO_TAG" >&2
	exit 2
fi
LAB="$(cd "$1" && pwd)"
QV="$2"
ONTO="$3"
REPO="$LAB/linux.git"
QUEUE="$LAB/queues/$QV"
RUN="gitam-$QV-onto-$ONTO"
WT="$LAB/work/$RUN"
OUT="$LAB/results/$RUN.txt"

die() { echo "gitam: $*" >&2; exit 1; }

[ -d "$REPO" ] || die "no repository $REPO (run build.sh first)"
[ -f "$QUEUE/series" ] || die "no queue $QUEUE/series"
git --git-dir="$REPO" rev-parse -q --verify "refs/tags/$ONTO^{commit}" >/dev/null ||
	die "no tag $ONTO in $REPO"
if [ ! -x /usr/bin/time ]; then
	apt-get install -y -qq time >/dev/null || die "cannot install time(1)"
fi

# Fixed identity and no user configuration, for repeatable runs.
export GIT_CONFIG_NOSYSTEM=1
export GIT_CONFIG_GLOBAL=/dev/null
export GIT_COMMITTER_NAME="rtbot lab"
export GIT_COMMITTER_EMAIL="lab@rtbot.invalid"
export GIT_COMMITTER_DATE="@0 +0000"
export LC_ALL=C

# Series order; quilt allows "patch -pN" options and comments.
patches=()
while read -r p _; do
	case "$p" in '' | '#'*) continue ;; esac
	[ -f "$QUEUE/$p" ] || die "series names $p but $QUEUE/$p is missing"
	patches+=("$QUEUE/$p")
done <"$QUEUE/series"
total="${#patches[@]}"

mkdir -p "$LAB/work" "$LAB/results"
rm -rf "$WT"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"; [ "${RTBOT_GITAM_KEEP:-0}" = 1 ] || rm -rf "$WT"' EXIT

# Pulls "wall" (seconds) and "rss" (KiB) out of a /usr/bin/time -v file.
wall_of() {
	awk -F': ' '/Elapsed \(wall clock\)/ {
		n = split($2, t, ":"); s = 0
		for (i = 1; i <= n; i++) s = s * 60 + t[i]
		printf "%.2f", s }' "$1"
}
rss_of() { awk -F': ' '/Maximum resident set size/ {print $2}' "$1"; }

# --- 1. work tree -------------------------------------------------------------------
git clone -q --shared --no-checkout "$REPO" "$WT"
# The checkout itself is timed on its own, it is not part of the baseline.
/usr/bin/time -v -o "$tmp/checkout.time" git -C "$WT" checkout -q --detach "$ONTO"
base="$(git -C "$WT" rev-parse HEAD)"

# --- 2. git am -3 -----------------------------------------------------------------
cd "$WT"
set +e
/usr/bin/time -v -o "$tmp/am.time" git am -3 "${patches[@]}" >"$tmp/am.out" 2>&1
am_rc=$?
set -e
applied="$(git rev-list --count "$base..HEAD")"

failed_name=""
failed_files=""
if [ -d .git/rebase-apply ]; then
	next="$(cat .git/rebase-apply/next)"
	failed_name="$(basename "${patches[$((next - 1))]}")"
	# Unmerged paths (3-way merge ran and conflicted) or, when the 3-way
	# fallback could not even start, the files git apply complained about.
	failed_files="$(git diff --name-only --diff-filter=U | tr '\n' ' ')"
	if [ -z "$failed_files" ]; then
		failed_files="$(sed -n 's/^error: patch failed: \(.*\):[0-9]*$/\1/p' "$tmp/am.out" | sort -u | tr '\n' ' ')"
	fi
fi

all_failed=()
if [ -n "$failed_name" ] && [ "${RTBOT_GITAM_SKIP:-0}" = 1 ]; then
	all_failed+=("$failed_name [$failed_files]")
	while [ -d .git/rebase-apply ]; do
		git am --skip >"$tmp/skip.out" 2>&1 && break
		[ -d .git/rebase-apply ] || break
		n="$(cat .git/rebase-apply/next)"
		f="$(git diff --name-only --diff-filter=U | tr '\n' ' ')"
		[ -n "$f" ] || f="$(sed -n 's/^error: patch failed: \(.*\):[0-9]*$/\1/p' "$tmp/skip.out" | sort -u | tr '\n' ' ')"
		all_failed+=("$(basename "${patches[$((n - 1))]}") [$f]")
	done
fi
[ -d .git/rebase-apply ] && git am --abort

# --- 3. report ------------------------------------------------------------------
{
	echo "run:        git am -3 of queue $QV ($total patches) onto $ONTO ($base)"
	echo "repository: $REPO (clone --shared into $WT)"
	echo "checkout:   wall $(wall_of "$tmp/checkout.time") s, max RSS $(rss_of "$tmp/checkout.time") KiB (not included below)"
	echo "git am -3:  wall $(wall_of "$tmp/am.time") s, max RSS $(rss_of "$tmp/am.time") KiB, exit $am_rc"
	echo "applied:    $applied of $total"
	# Patches that did not apply as they are but went through the 3-way
	# fallback (their "index" lines name blobs this repository has).
	threeway="$(awk '/^Applying: /{p=substr($0,11)} /^Falling back to patching base and 3-way merge/{print "  " p}' "$tmp/am.out")"
	echo "3-way:      $(printf '%s' "$threeway" | grep -c . || true) patch(es) needed the 3-way fallback"
	[ -z "$threeway" ] || printf '%s\n' "$threeway"
	if grep -q 'lacks the necessary blob\|lacks necessary blobs' "$tmp/am.out"; then
		echo "note:       git am reported missing blobs for the 3-way fallback"
	fi
	if [ -n "$failed_name" ]; then
		echo "stopped at: patch $((applied + 1)) $failed_name"
		echo "files:      $failed_files"
		echo "git am said:"
		grep -v '^hint:' "$tmp/am.out" | tail -n 15 | sed 's/^/  | /'
	fi
	if [ "${#all_failed[@]}" -gt 0 ]; then
		echo "with --skip past failures (untimed): ${#all_failed[@]} patch(es) do not apply:"
		printf '  %s\n' "${all_failed[@]}"
	fi
	echo "command:    cd $WT && /usr/bin/time -v git am -3 \$(sed 's|^|$QUEUE/|' $QUEUE/series)"
} | tee "$OUT"
