#!/usr/bin/env bash
# build.sh - build the rtbot "real-kernel lab" from Debian bookworm's linux
# source packages (see docs/design.md, "Real data for tests and benchmarks").
#
# Usage: scripts/lab/build.sh [LAB_DIR]
#   LAB_DIR defaults to ${RTBOT_LAB:-$HOME/rtbot-lab}.
#
# Environment:
#   RTBOT_LAB_VERSIONS  Debian versions to use (space separated), default below.
#   RTBOT_LAB_IMPORT    "worktree" (default: extract to a temp work tree, then
#                       git add -A -f / write-tree / commit-tree) or
#                       "fast-import" (stream the tarball through python's
#                       tarfile into git fast-import).  Both give the same
#                       trees and commits.  First import of 6.1.164, two
#                       pairs of runs on 2 shared cores: worktree 32 s vs
#                       fast-import 151 s (load ~8), 53 s vs 51 s (load ~1.5):
#                       no clear winner, worktree needs no python.
#
# Layout produced:
#   LAB/dl/                         apt-get source --download-only output
#   LAB/linux.git                   bare repo, branch linux-6.1.y, one commit per
#                                   upstream release, lightweight tags v6.1.NNN
#   LAB/queues/6.1.NNN/             debian/patches-rt/ of that version
#   LAB/changelog/6.1.NNN-R.changelog   debian/changelog of that version
#   LAB/manifest.tsv                version, debian version, tag, commit, tree,
#                                   number of patches in the queue
#
# Idempotent: downloads, commits (by tag), queues and changelogs that already
# exist are skipped.  Needs root (or sudo-free apt) only for the first run,
# to add the deb-src entry.
set -euo pipefail

LAB="${1:-${RTBOT_LAB:-$HOME/rtbot-lab}}"
VERSIONS="${RTBOT_LAB_VERSIONS:-6.1.164-1 6.1.170-3 6.1.172-1 6.1.174-1 6.1.176-1 6.1.177-1}"
IMPORT="${RTBOT_LAB_IMPORT:-worktree}"
BRANCH="linux-6.1.y"
SRC_LIST="/etc/apt/sources.list.d/rtbot-lab-src.sources"

# Fixed identity so that the repository is reproducible.
export GIT_AUTHOR_NAME="rtbot lab"
export GIT_AUTHOR_EMAIL="lab@rtbot.invalid"
export GIT_COMMITTER_NAME="rtbot lab"
export GIT_COMMITTER_EMAIL="lab@rtbot.invalid"
# Keep the user's git configuration out of the way.
export GIT_CONFIG_NOSYSTEM=1
export GIT_CONFIG_GLOBAL=/dev/null

START=$(date +%s)
log() { printf '[%s +%4ss] %s\n' "$(date +%H:%M:%S)" "$(($(date +%s) - START))" "$*" >&2; }
die() { log "error: $*"; exit 1; }

for tool in apt-get apt-cache git tar xz sha256sum; do
	command -v "$tool" >/dev/null || die "missing tool: $tool"
done
if [ "$IMPORT" = fast-import ]; then
	command -v python3 >/dev/null || die "missing tool: python3 (RTBOT_LAB_IMPORT=fast-import)"
fi

mkdir -p "$LAB/dl" "$LAB/queues" "$LAB/changelog"
LAB="$(cd "$LAB" && pwd)"
GIT_REPO="$LAB/linux.git"

# Versions in ascending order (dpkg version order == sort -V for these).
read -r -a _vers <<<"$VERSIONS"
mapfile -t VLIST < <(printf '%s\n' "${_vers[@]}" | sort -V)
[ "${#VLIST[@]}" -gt 0 ] || die "empty version list"

upstream() { printf '%s\n' "${1%-*}"; } # 6.1.174-1 -> 6.1.174

downloaded() { # all three files of a version present?
	local v="$1" u
	u="$(upstream "$v")"
	[ -s "$LAB/dl/linux_$v.dsc" ] && [ -s "$LAB/dl/linux_$v.debian.tar.xz" ] &&
		[ -s "$LAB/dl/linux_$u.orig.tar.xz" ]
}

# --- 1. deb-src --------------------------------------------------------------
need_apt=0
for v in "${VLIST[@]}"; do downloaded "$v" || need_apt=1; done
served_versions() { apt-cache showsrc linux 2>/dev/null | sed -n 's/^Version: //p' | sort -uV; }
if [ "$need_apt" = 1 ]; then
	# (No `apt-cache ... | grep -q`: with pipefail, grep's early exit fails the pipe.)
	served="$(served_versions || true)"
	if ! grep -q '^6\.1\.' <<<"$served"; then
		if ! grep -rqs 'deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
			log "adding $SRC_LIST"
			cat >"$SRC_LIST" <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
		fi
		log "apt-get update"
		apt-get update -qq
		served="$(served_versions || true)"
	fi
	log "linux source versions served: $(printf '%s' "$served" | tr '\n' ' ')"
	for v in "${VLIST[@]}"; do
		grep -qx "$v" <<<"$served" || downloaded "$v" ||
			die "linux=$v is not served by apt (see the list above); set RTBOT_LAB_VERSIONS"
	done
fi

# --- 2. download ---------------------------------------------------------------
for v in "${VLIST[@]}"; do
	if downloaded "$v"; then
		log "dl: $v present"
		continue
	fi
	log "dl: apt-get source --download-only linux=$v"
	(cd "$LAB/dl" && apt-get source -qq --download-only "linux=$v") ||
		die "download of linux=$v failed"
	downloaded "$v" || die "download of linux=$v incomplete"
done

# --- 4 (first, it is cheap and gives the dates). queues + changelogs ---------------
for v in "${VLIST[@]}"; do
	u="$(upstream "$v")"
	q="$LAB/queues/$u"
	c="$LAB/changelog/$v.changelog"
	# The changelog is written last: it marks the queue of $v as complete.
	if [ -f "$q/series" ] && [ -s "$c" ]; then
		continue
	fi
	log "extract: patches-rt + changelog of $v"
	tmp="$(mktemp -d "$LAB/.extract.XXXXXX")"
	tar -xJf "$LAB/dl/linux_$v.debian.tar.xz" -C "$tmp" debian/changelog debian/patches-rt
	rm -rf "$q"
	mv "$tmp/debian/patches-rt" "$q"
	mv "$tmp/debian/changelog" "$c"
	rm -rf "$tmp"
done

# Date of the top changelog entry, as "EPOCH +ZZZZ" (git's raw date format).
changelog_date() {
	local line d
	line="$(grep -m1 '^ -- ' "$1")"
	d="${line##*>  }"
	printf '%s %s\n' "$(date -d "$d" +%s)" "${d##* }"
}

# --- 3. git repository -------------------------------------------------------------
if [ ! -d "$GIT_REPO" ]; then
	git init -q --bare "$GIT_REPO"
	git --git-dir="$GIT_REPO" symbolic-ref HEAD "refs/heads/$BRANCH"
fi
export GIT_DIR="$GIT_REPO"
git config gc.auto 0
git config core.bigFileThreshold 512m

# Streams an orig tarball ($1, via xz on stdin) into a fast-import stream:
# one commit on refs/heads/$BRANCH (parent $PARENT if set) whose tree is the
# tarball minus its top directory, and a lightweight tag.  All blobs inline.
FI_PY="$(
	cat <<'PY'
import sys, tarfile
tag, branch, parent, date, msg = sys.argv[1:6]
out = sys.stdout.buffer
w = out.write
def data(b):
    w(b"data %d\n" % len(b)); w(b); w(b"\n")
def quote(p):
    if p.startswith('"') or "\n" in p or "\\" in p:
        return '"' + p.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return p
who = "%s <%s> %s" % ("rtbot lab", "lab@rtbot.invalid", date)
w(("commit refs/heads/%s\nmark :1\nauthor %s\ncommitter %s\n" % (branch, who, who)).encode())
data(msg.encode() + b"\n")  # same commit object as git commit-tree -m
if parent:
    w(("from %s\n" % parent).encode())
w(b"deleteall\n")
files = links = 0
with tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as tf:
    for m in tf:
        parts = m.name.split("/", 1)
        if len(parts) < 2 or not parts[1]:
            continue
        path = parts[1].rstrip("/")
        if m.isdir():
            continue
        if m.issym():
            mode, content = "120000", m.linkname.encode()
            links += 1
        elif m.islnk():
            # git archive (kernel.org) tarballs have none; the stream cannot go back.
            sys.exit("hard link %s -> %s not supported" % (m.name, m.linkname))
        elif m.isreg():
            mode = "100755" if m.mode & 0o111 else "100644"
            content = tf.extractfile(m).read()
            files += 1
        else:
            continue
        w(("M %s inline %s\n" % (mode, quote(path))).encode())
        data(content)
w(b"\n")
w(("reset refs/tags/%s\nfrom :1\n\n" % tag).encode())
w(b"done\n")
sys.stderr.write("fast-import stream: %d files, %d symlinks\n" % (files, links))
PY
)"
fi_stream() { python3 -c "$FI_PY" "$1" "$BRANCH" "${@:2}"; }

import_fast() { # tarball tag parent date msg
	local tarball="$1"
	shift
	xz -T2 -dc "$tarball" | fi_stream "$@" |
		git fast-import --quiet --done --depth=50 --active-branches=1 --big-file-threshold=512m
}

import_worktree() { # tarball tag parent date msg
	local tarball="$1" tag="$2" parent="$3" date="$4" msg="$5" wt tree commit
	wt="$(mktemp -d "$LAB/.wt.XXXXXX")"
	xz -T2 -dc "$tarball" | tar -x -C "$wt" --strip-components=1
	export GIT_INDEX_FILE="$LAB/.wt-index"
	rm -f "$GIT_INDEX_FILE"
	# -f: tarballs may contain files matched by the tree's own .gitignore.
	GIT_WORK_TREE="$wt" git add -A -f .
	tree="$(git write-tree)"
	commit="$(GIT_AUTHOR_DATE="$date" GIT_COMMITTER_DATE="$date" \
		git commit-tree "$tree" ${parent:+-p "$parent"} -m "$msg")"
	git update-ref "refs/heads/$BRANCH" "$commit"
	git update-ref "refs/tags/$tag" "$commit"
	rm -f "$GIT_INDEX_FILE"
	unset GIT_INDEX_FILE
	rm -rf "$wt"
}

parent=""
imported=0
for i in "${!VLIST[@]}"; do
	v="${VLIST[$i]}"
	u="$(upstream "$v")"
	tag="v$u"
	if c="$(git rev-parse -q --verify "refs/tags/$tag^{commit}")"; then
		[ -z "$parent" ] || [ "$(git rev-parse "$c^")" = "$parent" ] ||
			die "$tag exists but is not a child of the previous release; remove $GIT_REPO and rerun"
		parent="$c"
		log "git: $tag present ($c)"
		continue
	fi
	# Refuse to insert an older release below an existing newer one.
	for later in "${VLIST[@]:$((i + 1))}"; do
		git rev-parse -q --verify "refs/tags/v$(upstream "$later")" >/dev/null &&
			die "v$(upstream "$later") exists but $tag does not: remove $GIT_REPO and rerun"
	done
	date="$(changelog_date "$LAB/changelog/$v.changelog")"
	tarball="$LAB/dl/linux_$u.orig.tar.xz"
	sha="$(sha256sum "$tarball" | cut -d' ' -f1)"
	msg="$(printf 'Linux %s\n\nTree of Debian linux_%s.orig.tar.xz (source package linux %s),\ntop directory stripped. sha256 %s\n' "$u" "$u" "$v" "$sha")"
	log "git: importing $tag from $(basename "$tarball") ($IMPORT)"
	t0=$(date +%s)
	case "$IMPORT" in
	fast-import) import_fast "$tarball" "$tag" "$parent" "$date" "$msg" ;;
	worktree) import_worktree "$tarball" "$tag" "$parent" "$date" "$msg" ;;
	*) die "RTBOT_LAB_IMPORT must be fast-import or worktree" ;;
	esac
	parent="$(git rev-parse "refs/tags/$tag^{commit}")"
	log "git: $tag = $parent ($(($(date +%s) - t0))s)"
	imported=1
done

# Repack only when this run imported something or the repository is not one
# pack: loose objects written later by tools using the lab (rtbot runs write
# their commits there) are left alone.
if [ "$imported" = 1 ] || [ "$(git count-objects -v | sed -n 's/^packs: //p')" != 1 ]; then
	log "git: repack -adf (2 threads)"
	t0=$(date +%s)
	git -c pack.threads=2 repack -adf -q
	git prune-packed
	rm -rf "$GIT_REPO/logs"
	log "git: repack done ($(($(date +%s) - t0))s)"
fi

# --- 5. summary ------------------------------------------------------------------
manifest="$LAB/manifest.tsv"
{
	printf 'upstream\tdebian\ttag\tcommit\ttree\tpatches\n'
	for v in "${VLIST[@]}"; do
		u="$(upstream "$v")"
		n="$(grep -cv '^[[:space:]]*\(#\|$\)' "$LAB/queues/$u/series" || true)"
		printf '%s\t%s\tv%s\t%s\t%s\t%s\n' "$u" "$v" "$u" \
			"$(git rev-parse "v$u^{commit}")" "$(git rev-parse "v$u^{tree}")" "$n"
	done
} >"$manifest"

echo
echo "lab:        $LAB"
echo "repository: $GIT_REPO (bare, branch $BRANCH, lightweight tags)"
column -t -s $'\t' "$manifest" 2>/dev/null || cat "$manifest"
echo "files in tip tree: $(git ls-tree -r --name-only "refs/heads/$BRANCH" | wc -l)"
git count-objects -vH | sed 's/^/  /'
echo "disk: $(du -sh "$GIT_REPO" | cut -f1) linux.git, $(du -sh "$LAB/dl" | cut -f1) dl, $(du -sh "$LAB/queues" | cut -f1) queues, $(du -sh "$LAB" | cut -f1) total"
echo "elapsed: $(($(date +%s) - START))s"
