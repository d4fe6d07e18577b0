#!/usr/bin/env bash
# Runs two rtbot binaries over the same list of command lines and shows
# where their stdout, stderr or exit codes differ: a check that a change to
# cmd/rtbot kept the command line's behaviour (texts, exit codes) as it was.
#
#   go build -o /tmp/old/rtbot ./cmd/rtbot    # at the commit to compare with
#   go build -o /tmp/new/rtbot ./cmd/rtbot
#   bash scripts/cli-compare.sh /tmp/old/rtbot /tmp/new/rtbot
#
# Each binary runs every case in turn in the same scratch directory (its
# own `rtbot demo` leaves the repository, state and configuration the later
# cases use), so paths are the same for both. What differs from run to run
# anyway is normalised before the comparison: loopback ports, times, elapsed
# times, commit ids (each named by its order of appearance in its file,
# since a commit id carries its commit's time), and merge --json's count of
# objects written (none when an earlier merge made the same commits in the
# same second). Exit 0 when nothing differs,
# 1 when something does (the diff is printed), 2 on a usage error.
#
# Needs bash, perl, diff and flock (util-linux). RTBOT_COMMITTER and
# RTBOT_CONFIG are unset for every case that does not set them, and
# XDG_CONFIG_HOME points into the scratch directory, so that no case reads
# the user's configuration. RTBOT_CLI_COMPARE_KEEP=1 keeps the scratch directory
# (each side's outputs in old/ and new/, normalised) to look at.
set -euo pipefail

if [ $# -ne 2 ]; then
	echo "usage: $0 OLD_BINARY NEW_BINARY" >&2
	exit 2
fi
old=$(realpath "$1")
new=$(realpath "$2")
repo=$(cd "$(dirname "$0")/.." && pwd)
root=$(mktemp -d "${TMPDIR:-/tmp}/rtbot-cli-compare-XXXXXX")
if [ -n "${RTBOT_CLI_COMPARE_KEEP:-}" ]; then
	echo "cli-compare: keeping $root" >&2
else
	trap 'rm -rf "$root"' EXIT
fi
work=$root/work # the same path for both binaries

# c NAME [VAR=VALUE...] rtbot ARGS... runs one case in the repository's
# root, the word rtbot standing for the binary under test, and keeps its
# stdout, stderr and exit code under $out/NAME.
c() {
	local name=$1 args=() a
	shift
	for a in "$@"; do
		if [ "$a" = rtbot ]; then a=$bin; fi
		args+=("$a")
	done
	local code=0
	(cd "$repo" && env -u RTBOT_COMMITTER -u RTBOT_CONFIG XDG_CONFIG_HOME="$work/xdg" TMPDIR="$work/tmp" "${args[@]}") \
		</dev/null >"$out/$name.stdout" 2>"$out/$name.stderr" || code=$?
	echo "$code" >"$out/$name.exit"
}

cases() {
	local d=$work/demo cfg=$work/demo/rtbot.toml
	local mails=(internal/fixtures/mails/*.eml)

	# The command line as a whole.
	c none rtbot
	c unknown rtbot frobnicate
	c help rtbot help
	c help-h rtbot -h
	c help-long rtbot --help
	c help-extra rtbot help run extra
	c help-unknown rtbot help frobnicate
	c version rtbot version
	c version-flag rtbot --version
	c misspelt rtbot stauts
	c completion-bash rtbot completion bash
	c man rtbot man "$work/man"

	# Every command: help, a flag it lacks, its required flags missing, and
	# a configuration that does not exist.
	local cmd
	for cmd in merge demo announce run watch history action resolve status release check rerun; do
		c "$cmd-h" rtbot "$cmd" -h
		c "$cmd-help" rtbot "$cmd" --help
		c "$cmd-helpcmd" rtbot help "$cmd"
		c "$cmd-badflag" rtbot "$cmd" --frob
		c "$cmd-badvalue" rtbot "$cmd" --json=maybe
		c "$cmd-dangling" rtbot "$cmd" --config
	done
	for cmd in merge announce run watch history action resolve status release; do
		c "$cmd-noargs" rtbot "$cmd"
	done
	for cmd in run watch history status resolve check; do
		c "$cmd-noconfig" rtbot "$cmd" --config "$work/nope.toml"
		c "$cmd-defaultconfig" rtbot "$cmd"
		c "$cmd-envconfig" RTBOT_CONFIG="$work/nope.toml" rtbot "$cmd"
	done
	c run-logformat-bad rtbot run --config "$work/nope.toml" --log-format xml
	c resolve-noconfig-list rtbot resolve --config "$work/nope.toml" --list
	c action-noconfig rtbot action --config "$work/nope.toml" --done 1
	c run-extra rtbot run --config "$work/nope.toml" extra
	c watch-extra rtbot watch --config "$work/nope.toml" extra

	# The demo, and what it leaves.
	c demo rtbot demo --dir "$d"
	c demo-again rtbot demo --dir "$d"
	c demo-tmp rtbot demo
	c history rtbot history --config "$cfg"
	c history-run rtbot history --config "$cfg" --run 1
	c history-run-json rtbot history --config "$cfg" --run 1 --json
	c history-json rtbot history --config "$cfg" --json
	c history-tree rtbot history --config "$cfg" --tree nope --json
	c history-norun rtbot history --config "$cfg" --run 99
	c history-arg rtbot history 1 --config "$cfg"
	c history-arg-missing rtbot history 99 --config "$cfg"
	c history-tree-text rtbot history --config "$cfg" --tree nope
	c history-limit rtbot history --config "$cfg" -n 1
	c status-envconfig RTBOT_CONFIG="$cfg" rtbot status
	c run-locked flock "$d/state.db.lock" rtbot run --config "$cfg"
	c rerun-locked flock "$d/state.db.lock" rtbot rerun --config "$cfg" 1
	c rerun-missing rtbot rerun --config "$cfg" 99
	c status rtbot status --config "$cfg"
	c status-json rtbot status --config "$cfg" --json
	c run-demo rtbot run --config "$cfg"
	c run-demo-json rtbot run --config "$cfg" --json
	c run-onto rtbot run --config "$cfg" --onto v6.1.11
	c run-onto-json rtbot run --config "$cfg" --onto v6.1.11 --json
	c run-onto-bad rtbot run --config "$cfg" --onto v9.9.9
	c run-onto-tree rtbot run --config "$cfg" --onto v6.1.11 --tree nope
	c action-none rtbot action --config "$cfg"
	c action-both rtbot action --config "$cfg" --done --retry 1
	c action-badid rtbot action --config "$cfg" --done x
	c action-zero rtbot action --config "$cfg" --retry 0
	c action-missing rtbot action --config "$cfg" --done 999
	c resolve-none rtbot resolve --config "$cfg"
	c resolve-two rtbot resolve --config "$cfg" --list --export -
	c resolve-runonly rtbot resolve --config "$cfg" --run 1
	c resolve-list rtbot resolve --config "$cfg" --list
	c resolve-export rtbot resolve --config "$cfg" --export -
	c resolve-export-file rtbot resolve --config "$cfg" --export "$work/res.jsonl"
	c resolve-import rtbot resolve --config "$cfg" --import "$work/res.jsonl"
	c resolve-import-missing rtbot resolve --config "$cfg" --import "$work/nope.jsonl"
	c resolve-fix-bad rtbot resolve --config "$cfg" --run 1 --fix no-such-branch
	c resolve-run-bad rtbot resolve --config "$cfg" --run 99 --fix v6.1.11
	c status-after rtbot status --config "$cfg"

	# A configuration whose state does not exist yet.
	mkdir -p "$work/nostate"
	cp "$cfg" "$d/imap.password" "$work/nostate/"
	for cmd in history status; do
		c "$cmd-nostate" rtbot "$cmd" --config "$work/nostate/rtbot.toml"
	done
	c action-nostate rtbot action --config "$work/nostate/rtbot.toml" --retry 1

	# announce on the real mails.
	c announce-json rtbot announce --json "${mails[@]}"
	c announce-text rtbot announce "${mails[@]}"
	c announce-missing rtbot announce --json "${mails[0]}" "$work/nope.eml" "${mails[1]}"
	c announce-dir rtbot announce internal/fixtures/mails
	c announce-json-after rtbot announce "${mails[0]}" --json

	# merge on the demo's repository and queue.
	local m=(rtbot merge --repo "$d/linux.git" --queue "$d/patches-rt" --base v6.1.11)
	c merge "${m[@]}" --onto v6.1.12-rc1
	c merge-json "${m[@]}" --onto v6.1.12-rc1 --json
	c merge-drop "${m[@]}" --onto v6.1.12-rc1 --drop-applied --fuzz 2
	c merge-clean "${m[@]}" --onto v6.1.11
	c merge-branch "${m[@]}" --onto v6.1.12-rc1 --branch rtbot/compare
	c merge-branch-bad "${m[@]}" --onto v6.1.12-rc1 --branch ../HEAD
	c merge-fuzz-bad "${m[@]}" --onto v6.1.12-rc1 --fuzz 4
	c merge-committer-bad "${m[@]}" --onto v6.1.12-rc1 --committer nobody
	c merge-committer-env RTBOT_COMMITTER=nobody "${m[@]}" --onto v6.1.12-rc1
	c merge-onto-bad "${m[@]}" --onto v9.9.9
	c merge-base-bad rtbot merge --repo "$d/linux.git" --queue "$d/patches-rt" --base v9.9.9 --onto v6.1.12-rc1
	c merge-range-base rtbot merge --repo "$d/linux.git" --queue v6.1.11..v6.1.12-rc1 --base v6.1.11 --onto v6.1.12-rc1
	c merge-norepo rtbot merge --repo "$work/nope" --queue "$d/patches-rt" --onto v6.1.12-rc1
	c merge-noqueue "${m[@]}" --queue "$work/nope" --onto v6.1.12-rc1
	c merge-extra "${m[@]}" --onto v6.1.12-rc1 extra
	c merge-export "${m[@]}" --onto v6.1.12-rc1 --export "$work/export"
	c merge-export-again "${m[@]}" --onto v6.1.12-rc1 --export "$work/export"
	c merge-export-json "${m[@]}" --onto v6.1.12-rc1 --json --export "$work/export2"
	c merge-res "${m[@]}" --onto v6.1.12-rc1 --resolutions "$work/res.jsonl"
	c merge-res-missing "${m[@]}" --onto v6.1.12-rc1 --resolutions "$work/nope.jsonl"
	c merge-res-bad "${m[@]}" --onto v6.1.12-rc1 --resolutions "$d/rtbot.toml"
	c merge-cpuprofile-bad "${m[@]}" --onto v6.1.12-rc1 --cpuprofile "$work/nope/cpu.prof"

	# release on the branch the demo published.
	local r=(rtbot release --repo "$d/published.git" --branch rtbot/6.1-rt/6.1.12-rc1-partial)
	local id=(--name "Clark Williams" --email williams@redhat.com)
	c release-noid "${r[@]}"
	c release-badenv RTBOT_COMMITTER=nobody "${r[@]}"
	c release-nameonly "${r[@]}" --name N
	c release-bademail "${r[@]}" --name N --email "N <n@x.org>"
	c release-branch-bad rtbot release --repo "$d/published.git" --branch ../x "${id[@]}"
	c release-on-norc "${r[@]}" "${id[@]}" --release-on 2026-01-01
	c release-on-bad "${r[@]}" "${id[@]}" --rc --release-on soon
	c release-norepo rtbot release --repo "$work/nope" --branch v6.1-rt "${id[@]}"
	c release-nobranch rtbot release --repo "$d/published.git" --branch v6.2-rt "${id[@]}"
	c release-extra "${r[@]}" "${id[@]}" extra
	c release-rckernel "${r[@]}" "${id[@]}"
	c release-dry "${r[@]}" "${id[@]}" --allow-rc-kernel --dry-run --announce "$work/announce.txt"
	c release-announce-bad "${r[@]}" "${id[@]}" --allow-rc-kernel --announce "$work/nope/announce.txt"
	c release "${r[@]}" "${id[@]}" --allow-rc-kernel --announce "$work/announce.txt"
	c release-rc RTBOT_COMMITTER="Tom Zanussi <zanussi@kernel.org>" "${r[@]}" --allow-rc-kernel --rc --release-on 2026-12-24 --signature Tom
	c release-again rtbot release --repo "$d/published.git" --branch rtbot/6.1-rt/6.1.12-rc1-partial "${id[@]}" --allow-rc-kernel --tag-prefix v --rc
}

# normalise FILE rewrites what differs from run to run in FILE.
normalise() {
	perl -0777 -i -pe '
		my %seen;
		sub commit { my $h = shift;
			for my $k (keys %seen) { return $seen{$k} if index($k, $h) == 0 || index($h, $k) == 0 }
			my $n = keys %seen; $seen{$h} = "COMMIT$n"; return $seen{$h} }
		s{127\.0\.0\.1:\d+}{127.0.0.1:PORT}g;
		s{rtbot-demo-\d+}{rtbot-demo-N}g;
		s{\.tmp\d+\b}{.tmpN}g;
		s{\d{4}-\d\d-\d\d[ T]\d\d:\d\d(?::\d\d)?(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?}{TIME}g;
		s{"elapsed": "[^"]*"}{"elapsed": "ELAPSED"}g;
		s{"elapsed_seconds": [0-9.e-]+}{"elapsed_seconds": ELAPSED}g;
		s{^(revision \S+|go\d\S* \S+)$}{VERSION}mg;
		s{"objects_written": \d+}{"objects_written": N}g;
		s{^Date: .*$}{Date: DATE}mg;
		s{(?<![0-9a-f])([0-9a-f]{12,40})(?![0-9a-f])}{commit($1)}ge;
	' "$1"
}

for side in old new; do
	bin=${!side}
	out=$root/$side
	rm -rf "$work"
	mkdir -p "$work/tmp" "$out"
	cases
	for f in "$out"/*; do
		normalise "$f"
	done
done

n=$(ls "$root/old" | grep -c '\.exit$')
if diff -r -u "$root/old" "$root/new"; then
	echo "cli-compare: $n cases, stdout, stderr and exit codes the same"
	exit 0
fi
echo "cli-compare: $n cases: the binaries differ (diff above)" >&2
exit 1
