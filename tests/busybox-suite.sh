#!/bin/bash
# busybox-suite.sh BUILD_DIR: busybox's own testsuite (testsuite/runtest,
# what its `make check` runs) on the busybox that scripts/progs.sh builds
# from Debian's source with musl, natively and then whole inside one
# `dunerun exec`: the runner shell and every test and program it starts
# run in the sandbox.  Prints both counts and the tests whose result
# differs.  Each test that passes natively is a case here: it passes if it
# passes under dunerun too.  Ends with "N passed, N failed[, N skipped]".
#
# dunerun runs static programs only, so both runs see the same static
# world: PATH holds the applets alone (links to this busybox), SHELL is
# /bin/sh, and in a private mount namespace the host programs the
# testsuite names by path get static stand-ins: busybox over /bin/sh (the
# tests' #! line) and /bin/date (date-works-1 compares busybox's date with
# "the host's"), and a static false over /bin/false (start-stop-daemon -x
# needs a program that is not busybox).  With no zip, "unzip (subdir only)"
# fails in both runs.
#
# BUSYBOX_SUITE_STRICT=1 counts the known differences below as failures.
# With --wall native|dunerun|dunerun-no-patch it runs the testsuite once
# that way and prints
# only the wall time in seconds (tests/bench.sh).
set -u
B=${1:-build}
WALL=
[ "${2:-}" = --wall ] && WALL=${3:?--wall native or dunerun}
cd "$(dirname "$0")/.."
. tests/lib.sh
B=$(cd "$B" && pwd)
SRC=$B/src/busybox
BB=$SRC/busybox
W=$B/busybox-suite
# The bound is for a hang, not for slowness: the suite makes some 22,000
# processes, which under the portable backend on a PVM host (ring 0
# emulated) takes 15-25 minutes, varying with the host's load.
TIMEOUT=${BUSYBOX_SUITE_TIMEOUT:-2400}

# Tests that fail under dunerun for a reason known and not yet fixed, with
# the reason.  Each is reported as SKIP (FAIL with BUSYBOX_SUITE_STRICT=1);
# one that passes again is reported, to be taken off this list.
declare -A KNOWN=()

skip_all() {
	[ -z "$WALL" ] || { echo "busybox-suite: cannot run: $1" >&2; exit 1; }
	echo "SKIP busybox-suite: $1"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
}

[ -x "$BB" ] && [ -d "$SRC/testsuite" ] || skip_all "no $BB (scripts/progs.sh builds it)"
[ -x "$B/dunerun" ] || skip_all "no $B/dunerun"
# The stand-ins need a mount namespace: root's own, or a user namespace's.
if [ "$(id -u)" = 0 ]; then NS=(unshare -m --propagation private)
else NS=(unshare -r -m --propagation private); fi
"${NS[@]}" true 2> /dev/null || skip_all "cannot make a mount namespace (${NS[*]})"

# The applets, and a static false that is not busybox.
rm -rf "$W/bin" && mkdir -p "$W/bin"
for a in $("$BB" --list); do ln -s "$BB" "$W/bin/$a"; done
printf 'int main(void) { return 1; }\n' > "$W/false.c"
musl-gcc -static -O2 "$W/false.c" -o "$W/false" || skip_all "musl-gcc failed"
TIMEOUT_BIN=$(command -v timeout)
SH=$(readlink -f /bin/sh) FALSE=$(readlink -f /bin/false) DATE=$(readlink -f /bin/date)

# run_suite LOG [LAUNCHER...]: runs the testsuite under LAUNCHER (none:
# natively) in the static world, its output to LOG; prints the seconds.
run_suite() {
	local log=$1 t0 t1
	shift
	t0=$(date +%s.%N)
	"${NS[@]}" /bin/bash -c '
		mount --bind "$1" "$2" && mount --bind "$1" "$3" && mount --bind "$4" "$5" || exit 125
		cd "$6/testsuite" || exit 125
		shift 6
		exec "$@"' stand-ins "$BB" "$SH" "$DATE" "$W/false" "$FALSE" "$SRC" \
		env -i PATH="$W/bin" HOME="$W" SHELL=/bin/sh LANG=C.UTF-8 LC_ALL=C.UTF-8 \
		SKIP_INTERNET_TESTS=y "$TIMEOUT_BIN" "$TIMEOUT" "$@" "$BB" sh ./runtest > "$log" 2>&1
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", b - a }'
}

# results LOG: "RESULT<TAB>NAME" per test.  Names recur (md5sum.tests and
# its kin share theirs), so the Nth of a name is "NAME #N".
results() {
	grep -aE '^(PASS|FAIL|SKIPPED|UNTESTED): ' "$1" | awk '{
		r = $0; sub(/: .*/, "", r); n = substr($0, length(r) + 3)
		k = ++seen[n] > 1 ? n " #" seen[n] : n
		print r "\t" k }'
}

# counts FILE: "N passed, N failed, N not run" of a results file.
counts() {
	awk -F'\t' '{ c[$1]++ } END {
		printf "%d passed, %d failed, %d not run\n", c["PASS"], c["FAIL"], c["SKIPPED"] + c["UNTESTED"] }' "$1"
}

if [ -n "$WALL" ]; then
	case $WALL in
	native) run_suite "$W/wall-native.log" ;;
	dunerun) run_suite "$W/wall-dunerun.log" "$B/dunerun" exec ;;
	dunerun-no-patch) run_suite "$W/wall-dunerun.log" "$B/dunerun" exec --no-patch ;;
	*) echo "--wall native, dunerun or dunerun-no-patch" >&2; exit 2 ;;
	esac
	exit
fi

echo "busybox $("$BB" --help 2>&1 | head -n 1 | awk '{print $2}'), testsuite in $SRC/testsuite"
tn=$(run_suite "$W/native.log")
results "$W/native.log" > "$W/native.res"
td=$(run_suite "$W/dunerun.log" "$B/dunerun" exec)
results "$W/dunerun.log" > "$W/dunerun.res"
echo "native:  $(counts "$W/native.res") in ${tn} s (log: $W/native.log)"
echo "dunerun: $(counts "$W/dunerun.res") in ${td} s (log: $W/dunerun.log)"
grep -aE '^dunerun: ' "$W/dunerun.log" | sort | uniq -c | sort -rn | head -n 5 | sed 's/^/  launcher said: /'

pass=0 fail=0 skip=0
echo "tests whose result differs (native -> dunerun):"
while IFS=$'\t' read -r name rn rd; do
	[ "$rn" = "$rd" ] || echo "  $name: $rn -> $rd"
	[ "$rn" = PASS ] || continue
	base=${name% #[0-9]*}
	if [ "$rd" = PASS ]; then
		pass=$((pass + 1))
		[ -n "${KNOWN[$base]+x}" ] && echo "  note: '$base' passes now: take it off KNOWN"
	elif [ -n "${KNOWN[$base]+x}" ] && [ "${BUSYBOX_SUITE_STRICT:-0}" != 1 ]; then
		echo "SKIP busybox: $name: known: ${KNOWN[$base]}"
		skip=$((skip + 1))
	else
		echo "FAIL busybox: $name: passes natively, ${rd:-not run} under dunerun"
		fail=$((fail + 1))
	fi
done < <(awk -F'\t' 'NR == FNR { d[$2] = $1; next } { print $2 "\t" $1 "\t" d[$2] }' \
	"$W/dunerun.res" "$W/native.res")
# A test dunerun ran that the native run did not shows as differing too.
awk -F'\t' 'NR == FNR { n[$2] = 1; next } !($2 in n) { print "  " $2 ": (none) -> " $1 }' \
	"$W/native.res" "$W/dunerun.res"

echo
summary
