#!/usr/bin/env bash
# Time a whole real `rtbot run` pass on a padded repository: the built
# binary, the lab's real RT queue, a real Dovecot, git daemon remotes and an
# SMTP server in another process. Then the same work done with git (fetch,
# am -3, push) on the same copies.
#
#   RTBOT_LAB=$HOME/rtbot-lab bash scripts/bench/realpass.sh [--runs N] [--rev-index] [--queue-range] [--rtbot BIN] [--keep] [REPO]
#
# REPO is a padded repository as scripts/bench/scale.sh builds it (default
# /work/scale/10M.git; it must hold the tags v6.1.176 and v6.1.177). It is
# never written to: every repository below is a hard-linked copy.
#
#  - the local repository: a copy of REPO without the tag v6.1.177 and with
#    linux-6.1.y at v6.1.176 (the release is not out yet);
#  - the candidate: linux-stable-rc.git, another copy whose linux-6.1.y is
#    one commit on v6.1.176 with v6.1.177's tree and EXTRAVERSION = -rc1 in
#    its Makefile, served by `git daemon` on a loopback port;
#  - push_remote: published.git, a third copy served by the same daemon
#    with receive-pack enabled;
#  - the announcement: the fixtures' real 6.1.12-rc1 cover from gregkh with
#    its version rewritten to 6.1.177-rc1 and a new Message-ID, delivered
#    with the other fixture mails (but the 6.1.12-rc1 cover itself) into a
#    real Dovecot (scripts/dovecot/start.sh; RTBOT_DOVECOT_MAILS generated
#    mails besides, default 0), read over STARTTLS;
#  - SMTP: scripts/bench/smtpsink, the fixtures' SMTP server in its own
#    process on a loopback port, writing what it accepts to a directory;
#  - the queue: $RTBOT_LAB/queues/6.1.176 (quilt), queue_base v6.1.176.
#
# Each run: fresh copies of the local repository and of published.git, a
# fresh state and a restarted Dovecot; `rtbot check`, then `rtbot run
# --json` twice (the second pass finds nothing new), each under GNU time
# (wall, user+sys CPU and the peak RSS of the largest process of its
# tree, git's children included). After each run it checks what the pass
# claims: the fetch (the candidate ref), the push (git ls-remote), the mail
# (the SMTP server's directory). Then once, on fresh copies, the git side:
# `git fetch` of the candidate, `git am -3` of the queue on a checkout of it
# (the checkout not timed), `git push` of what applied.
#
# --rev-index gives the copies of REPO's pack a reverse index (.rev, what
# `git gc` writes from git 2.41 on, or with pack.writeReverseIndex=true;
# scale.sh's repositories have none): without it, every git pack-objects
# (the push) builds one in memory, 16 bytes per object of the pack
# (~300 MiB at 10M). Writing it takes a few minutes (git index-pack).
# --queue-range gives the queue as a git range instead, as the example
# configuration does: the queue applied with `git am -3` onto v6.1.176 in
# the local repository (not timed), tagged v6.1.176-rt64 (annotated), and
# queue = "v6.1.176..v6.1.176-rt64".
# --rtbot BIN times that binary instead of one built from this tree (an
# older rtbot, say: `git archive REV | tar -x -C DIR` and go build there).
# --keep keeps the work directory (printed); RTBOT_REALPASS_DIR sets it.
set -euo pipefail
cd "$(dirname "$0")/../.."
SRC=$(pwd)

LAB=${RTBOT_LAB:-$HOME/rtbot-lab}
RUNS=1
KEEP=0
REV=0
RANGE=0
RTBOT_BIN=
REPO=/work/scale/10M.git
while [ $# -gt 0 ]; do
	case $1 in
	--runs) RUNS=$2; shift ;;
	--keep) KEEP=1 ;;
	--rev-index) REV=1 ;;
	--queue-range) RANGE=1 ;;
	--rtbot) RTBOT_BIN=$2; shift ;;
	-h | --help) sed -n '2,40p' "$0"; exit 0 ;;
	-*) echo "realpass.sh: unknown option $1" >&2; exit 2 ;;
	*) REPO=$1 ;;
	esac
	shift
done
QUEUE=$LAB/queues/6.1.176
[ -f "$QUEUE/series" ] || { echo "realpass.sh: no queue at $QUEUE (RTBOT_LAB; scripts/lab/build.sh)" >&2; exit 1; }
[ -f "$REPO/READY" ] || [ -f "$REPO/HEAD" ] || { echo "realpass.sh: no repository at $REPO (scripts/bench/scale.sh --build-only 10M)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "realpass.sh: GNU time is needed: apt-get install time" >&2; exit 1; }
command -v dovecot >/dev/null || { echo "realpass.sh: dovecot is needed: apt-get install dovecot-imapd" >&2; exit 1; }

W=${RTBOT_REALPASS_DIR:-$(mktemp -d)}
# Dovecot's auth and mail processes run as its own users: they must reach
# $W/dovecot (mktemp -d makes a directory only its owner may enter).
chmod 755 "$W"
mkdir -p "$W"
W=$(cd "$W" && pwd)
DAEMON=
SINK=
cleanup() {
	[ -z "$DAEMON" ] || kill "$DAEMON" 2>/dev/null || true
	[ -z "$SINK" ] || kill "$SINK" 2>/dev/null || true
	[ ! -f "$W/dovecot/run/master.pid" ] || bash "$SRC/scripts/dovecot/stop.sh" "$W/dovecot" 2>/dev/null || true
	if [ "$KEEP" = 1 ]; then
		echo "kept $W" >&2
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT
GIT="git -c gc.auto=0 -c maintenance.auto=false"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# 1. The binaries.
mkdir -p "$W/bin"
if [ -n "$RTBOT_BIN" ]; then
	cp "$RTBOT_BIN" "$W/bin/rtbot"
else
	go build -o "$W/bin/rtbot" ./cmd/rtbot
fi
go build -o "$W/bin/smtpsink" ./scripts/bench/smtpsink

# 2. The repositories (not timed). prep/ holds the pristine copies, srv/
# what git daemon serves.
copy() { # SRC DST: a hard-linked bare copy
	git clone -q --bare --local "$1" "$2"
}
mkdir -p "$W/prep" "$W/srv"
V176=$(git --git-dir="$REPO" rev-parse 'v6.1.176^{commit}')
V177=$(git --git-dir="$REPO" rev-parse 'v6.1.177^{commit}')
for r in "$W/prep/linux.git" "$W/prep/published.git" "$W/srv/linux-stable-rc.git"; do
	copy "$REPO" "$r"
	git --git-dir="$r" tag -d v6.1.177 >/dev/null
	git --git-dir="$r" update-ref refs/heads/linux-6.1.y "$V176"
done
if [ "$REV" = 1 ]; then
	mkdir -p "$W/rev"
	for pack in "$REPO"/objects/pack/pack-*.pack; do
		[ -e "${pack%.pack}.rev" ] && continue
		git index-pack --rev-index -o "$W/rev/$(basename "${pack%.pack}").idx" "$pack" >/dev/null
		for r in "$W/prep/linux.git" "$W/prep/published.git" "$W/srv/linux-stable-rc.git"; do
			cp "$W/rev/$(basename "${pack%.pack}").rev" "$r/objects/pack/"
		done
	done
fi
QUEUE_KEYS="queue = \"$QUEUE\"
queue_kind = \"path\""
if [ "$RANGE" = 1 ]; then
	git clone -q --shared --no-checkout "$W/prep/linux.git" "$W/qwt"
	git -C "$W/qwt" checkout -q --detach v6.1.176
	grep -v '^\s*\(#\|$\)' "$QUEUE/series" | awk -v q="$QUEUE" '{print q "/" $1}' |
		xargs git -C "$W/qwt" -c user.name=rtbot -c user.email=rtbot@example.org am -q -3
	git -C "$W/qwt" push -q "$W/prep/linux.git" HEAD:refs/heads/rt-queue
	git --git-dir="$W/prep/linux.git" -c user.name=rtbot -c user.email=rtbot@example.org tag -a -m "v6.1.176-rt64" v6.1.176-rt64 rt-queue
	git --git-dir="$W/prep/linux.git" update-ref -d refs/heads/rt-queue
	git --git-dir="$W/prep/linux.git" -c repack.writeBitmaps=false repack -dq # the queue's objects into a pack, as a fetch leaves them
	rm -rf "$W/qwt"
	QUEUE_KEYS="queue = \"v6.1.176..v6.1.176-rt64\""
fi
rc=$W/srv/linux-stable-rc.git
mk=$(git --git-dir="$rc" show "$V177:Makefile" | sed 's/^EXTRAVERSION =.*/EXTRAVERSION = -rc1/' |
	git --git-dir="$rc" hash-object -w --stdin)
tree=$(git --git-dir="$rc" ls-tree "$V177^{tree}" | awk -v mk="$mk" -F'\t' '$2 == "Makefile" {sub(/ [0-9a-f]+$/, " " mk, $1)} {print $1 "\t" $2}' |
	git --git-dir="$rc" mktree)
CAND=$(GIT_AUTHOR_NAME="Greg Kroah-Hartman" GIT_AUTHOR_EMAIL=gregkh@linuxfoundation.org \
	GIT_COMMITTER_NAME="Greg Kroah-Hartman" GIT_COMMITTER_EMAIL=gregkh@linuxfoundation.org \
	GIT_AUTHOR_DATE="2026-12-07T12:00:00Z" GIT_COMMITTER_DATE="2026-12-07T12:00:00Z" \
	git --git-dir="$rc" commit-tree "$tree" -p "$V176" -m "Linux 6.1.177-rc1")
git --git-dir="$rc" update-ref refs/heads/linux-6.1.y "$CAND"

# 3. The announcement and the other fixture mails.
mkdir -p "$W/mails"
for f in internal/fixtures/mails/*.eml; do
	[ "$(basename "$f")" = stable-6.1.12-rc1.eml ] || cp "$f" "$W/mails/"
done
sed -e 's/6\.1\.12-rc1/6.1.177-rc1/g; s/6\.1\.12 release/6.1.177 release/' \
	-e 's/^Message-Id: <.*>$/Message-Id: <20261207120000.177000001@linuxfoundation.org>/' \
	internal/fixtures/mails/stable-6.1.12-rc1.eml >"$W/mails/stable-6.1.177-rc1.eml"
grep -q '^Subject: \[PATCH 6.1 000/114\] 6.1.177-rc1 review' "$W/mails/stable-6.1.177-rc1.eml"
grep -q '^X-KernelTest-Version: 6.1.177-rc1' "$W/mails/stable-6.1.177-rc1.eml"

# 4. The servers: git daemon and the SMTP sink (for all runs), Dovecot
# (restarted by each run).
PORT=$(free_port)
git daemon --reuseaddr --listen=127.0.0.1 --port="$PORT" --base-path="$W/srv" --export-all \
	--enable=receive-pack --informative-errors "$W/srv" 2>"$W/daemon.log" &
DAEMON=$!
URL=git://127.0.0.1:$PORT
for _ in $(seq 100); do
	git ls-remote "$URL/linux-stable-rc.git" linux-6.1.y >/dev/null 2>&1 && break
	sleep 0.1
done
mkdir -p "$W/outbox"
"$W/bin/smtpsink" -dir "$W/outbox" -addr-file "$W/smtp.addr" &
SINK=$!
for _ in $(seq 100); do
	[ -s "$W/smtp.addr" ] && break
	sleep 0.1
done
SMTP=$(cat "$W/smtp.addr")
IMAP_PORT=$(free_port)

# 5. The configuration.
cat >"$W/rtbot.toml" <<EOF
[bot]
name = "rtbot realpass"
email = "rtbot@example.org"
state = "run/state.db"

[imap]
addr = "127.0.0.1:$IMAP_PORT"
tls = "starttls"
ca_file = "dovecot/ssl/cert.pem"
username = "rtbot"
password_file = "dovecot/password"
mark_processed = "\$rtbot-done"

[smtp]
addr = "$SMTP"
tls = "plain"

[[tree]]
name = "6.1-rt"
series = "6.1"
repo = "run/linux.git"
candidate_url = "$URL/linux-stable-rc.git"
announce_url = "git://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git"
$QUEUE_KEYS
queue_base = "v6.1.176"
maintainers = ["RT Maintainer <rt-maintainer@example.org>"]
senders = ["gregkh@linuxfoundation.org"]
push_remote = "$URL/published.git"
push_partial = true
EOF

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(git --version); $(go version | cut -d' ' -f3); $(dovecot --version | cut -d' ' -f1)"
echo "repository: $REPO, $(git --git-dir="$REPO" count-objects -v | awk '/^(count|in-pack):/{n+=$2} END{print n}') objects, $(du -sh "$REPO" | cut -f1); reverse index: $([ "$REV" = 1 ] && echo "written (--rev-index)" || ls "$REPO"/objects/pack/*.rev 2>/dev/null | wc -l)"
echo "candidate: $URL/linux-stable-rc.git linux-6.1.y = ${CAND:0:12} (v6.1.176 + v6.1.177's tree, -rc1); queue $(echo "$QUEUE_KEYS" | head -1 | cut -d'"' -f2); push $URL/published.git; smtp $SMTP"

# descendants PID: PID and every process under it.
descendants() {
	local c
	echo "$1"
	for c in $(pgrep -P "$1"); do descendants "$c"; done
}

# peaks PID: polls PID's tree every 50 ms until PID exits, then prints the
# peak RSS (VmHWM) of each command seen, largest first.
peaks() {
	local pid h c
	declare -A pk=()
	while kill -0 "$1" 2>/dev/null; do
		for pid in $(descendants "$1"); do
			h=$(awk '/^VmHWM/{print $2}' "/proc/$pid/status" 2>/dev/null) || continue
			c=$({ tr '\0' '\n' <"/proc/$pid/cmdline"; } 2>/dev/null | awk 'NR == 1 {n = $0; sub(/.*\//, "", n); g = n == "git"; next}
				g && skip {skip = 0; next} g && ($0 == "-C" || $0 == "-c") {skip = 1; next} g && /^-/ {next} {print n, $0; exit}') || continue
			[ -n "$h" ] && [ -n "$c" ] && [ "$c" != "time -f" ] || continue
			[ "${pk[$c]:-0}" -ge "$h" ] || pk[$c]=$h
		done
		sleep 0.05
	done
	for c in "${!pk[@]}"; do echo "${pk[$c]} $c"; done | sort -rn | awk '{printf "%s%.0f MiB %s %s", (NR > 1 ? ", " : ""), $1 / 1024, $2, $3} END {print ""}'
}

measure() { # LABEL OUT COMMAND...: prints "LABEL wall cpu peak-RSS exit load", and each process's peak
	local label=$1 out=$2 st=0 pid
	shift 2
	/usr/bin/time -f '%e %U %S %M' -o "$W/time" "$@" >"$out" 2>"$out.err" &
	pid=$!
	peaks "$pid" >"$out.peaks"
	wait "$pid" || st=$?
	awk -v l="$label" -v st="$st" -v load="$(cut -d' ' -f1 /proc/loadavg)" \
		'END {printf "%-10s %6.2f s wall  %6.2f s cpu  %5.0f MiB  exit %s  load %s\n", l, $1, $2 + $3, $4 / 1024, st, load}' "$W/time"
	echo "           per process: $(cat "$out.peaks")"
}

# 6. The passes.
for i in $(seq "$RUNS"); do
	rm -rf "$W/run" "$W/srv/published.git" "$W/outbox"/*
	mkdir -p "$W/run"
	cp -al "$W/prep/linux.git" "$W/run/linux.git"
	cp -al "$W/prep/published.git" "$W/srv/published.git"
	RTBOT_FIXTURES=$W/mails RTBOT_DOVECOT_MAILS=${RTBOT_DOVECOT_MAILS:-0} \
		bash scripts/dovecot/start.sh "$W/dovecot" "$IMAP_PORT" 2>"$W/dovecot.start.log"
	echo
	echo "== run $i: $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
	measure check "$W/check.out" "$W/bin/rtbot" check --config "$W/rtbot.toml"
	measure "pass 1" "$W/pass1.json" "$W/bin/rtbot" run --config "$W/rtbot.toml" --json
	measure "pass 2" "$W/pass2.json" "$W/bin/rtbot" run --config "$W/rtbot.toml" --json
	# What the passes claim, and what the other side has.
	fetched=$(git --git-dir="$W/run/linux.git" for-each-ref --format='%(objectname) %(refname)' | awk -v c="$CAND" '$1 == c && $2 != "refs/heads/linux-6.1.y" {print $2}' | head -1)
	echo "fetched:  ${fetched:-NOTHING} = ${CAND:0:12}"
	echo "pushed:   $(git ls-remote "$URL/published.git" 'refs/heads/rtbot/*' | awk '{print substr($1, 1, 12), $2}' | tr '\n' ' ')"
	echo "mailed:   $(find "$W/outbox" -name '*.eml' | wc -l) message(s) accepted by the SMTP server: $(grep -h '^Subject:' "$W/outbox"/*.eml 2>/dev/null | tr '\n' ' ')"
	python3 - "$W/pass1.json" "$W/pass2.json" <<'PY'
import json, sys
for name in sys.argv[1:]:
    try:
        d = json.load(open(name))
    except Exception as e:
        print(f"{name}: not JSON ({e})")
        continue
    runs = "; ".join(
        f"{r['candidate']} {r['outcome']}, pushed {r['pushed'] or '-'}, mail {'yes' if r['mail'] else 'no'}, {r['summary']['by_status']}"
        for r in d["runs"])
    print(f"{name.rsplit('/', 1)[-1]}: scanned {d['scanned']}, new {len(d['new'])}, runs: {runs or 'none'}")
PY
done
grep -v '^$' "$W/check.out" | sed 's/^/check: /' | head -40

# 7. The git side, once, on fresh copies: fetch, am -3 (checkout not
# timed), push of what applied.
echo
echo "== git: $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
rm -rf "$W/run" "$W/srv/published.git" "$W/am"
mkdir -p "$W/run"
cp -al "$W/prep/linux.git" "$W/run/linux.git"
cp -al "$W/prep/published.git" "$W/srv/published.git"
measure "git fetch" "$W/git-fetch.out" $GIT --git-dir="$W/run/linux.git" fetch -q --no-tags "$URL/linux-stable-rc.git" \
	"+refs/heads/linux-6.1.y:refs/rtbot/candidates/git"
git clone -q --shared --no-checkout "$W/run/linux.git" "$W/am"
git -C "$W/am" checkout -q --detach "$CAND"
git -C "$W/am" config user.name "rtbot realpass"
git -C "$W/am" config user.email rtbot@example.org
mapfile -t patches < <(grep -v '^\s*\(#\|$\)' "$QUEUE/series" | awk -v q="$QUEUE" '{print q "/" $1}')
measure "git am -3" "$W/git-am.out" $GIT -C "$W/am" am -3 "${patches[@]}"
applied=$(git -C "$W/am" rev-list --count "$CAND..HEAD")
echo "git am -3: $applied of ${#patches[@]} patches applied; stopped at: $(grep -h -m1 '^Patch failed at' "$W/git-am.out" "$W/git-am.out.err" || echo nothing)"
partial=$(git -C "$W/am" rev-parse HEAD)
git -C "$W/am" am --abort 2>/dev/null || true
measure "git push" "$W/git-push.out" $GIT -C "$W/am" push -q --no-verify "--force-with-lease=refs/heads/rtbot/git/partial:" \
	"$URL/published.git" "$partial:refs/heads/rtbot/git/partial"
echo "pushed:   $(git ls-remote "$URL/published.git" 'refs/heads/rtbot/git/*' | awk '{print substr($1, 1, 12), $2}')"
