#!/bin/bash
# dirtygc.sh BUILD_DIR: the garbage collector whose write barrier is the
# page-table dirty bit (images/examples/dirtygc).  Its output depends only
# on the seed, so every tracking method, natively and under dunerun, must
# print the same; without the barrier (-B) it must catch a live object
# freed.  In supervisor mode it also reads the dirty bits itself
# (-m ring0).  dunerun runs under the backend DUNERUN_BACKEND names (check.sh
# sets it per backend; unset, dunerun picks).
set -u
B=${1:-build}
cd "$(dirname "$0")/.."
DR=$B/dunerun
T=$(mktemp -d /tmp/dunerun-dirtygc.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0 skip=0

. tests/lib.sh

D=images/examples/dirtygc
ARGS="-c 5 -h 16"               # 16 MiB heap, 5 cycles: a second or so
SEEDS="1 2 3"

# run NAME CMD...: CMD's stdout, stderr and status in $T/NAME.{out,err,st},
# and in $T/out and $T/err for verdict.
run() {
	local name=$1
	shift
	timeout -k 5 120 "$@" > "$T/out" 2> "$T/err"
	echo $? > "$T/$name.st"
	cp "$T/out" "$T/$name.out"
	cp "$T/err" "$T/$name.err"
}

st() { cat "$T/$1.st"; }

# same NAME REF: runs NAME and REF both succeeded, with the same stdout
# (two runs failing alike are no comparison).
same() {
	local ok=0
	[ "$(st "$1")" = 0 ] && [ "$(st "$2")" = 0 ] && cmp -s "$T/$1.out" "$T/$2.out" && ok=1
	verdict $ok "$1" "status $(st "$1"), $2's $(st "$2") (want 0 and the same stdout):
$(diff "$T/$2.out" "$T/$1.out" | head -5)"
}

# detects NAME: run NAME found the freed object, as -B must.
detects() {
	local ok=0
	[ "$(st "$1")" = 1 ] && grep -q '^dirtygc: LIVE OBJECT FREED' "$T/$1.err" && ok=1
	verdict $ok "$1" "status $(st "$1") (want 1 and LIVE OBJECT FREED)"
}

musl-gcc -static -O2 -Wall -Iinclude -isystem "$B/kinc" -o "$T/dirtygc" \
	"$D/gc.c" "$D/main.c" "$D/track.c" "$B/libdune.a" > "$T/out" 2> "$T/err"
ok=0
[ -x "$T/dirtygc" ] && ok=1
verdict $ok build "musl-gcc failed"
[ $ok = 1 ] || { summary; exit; }
G=$T/dirtygc

# Natively: the reference, then the other kernel methods.
run native-mprotect "$G" -m mprotect $ARGS
ok=0
[ "$(st native-mprotect)" = 0 ] && [ ! -s "$T/err" ] &&
	[ "$(grep -c '^cycle [0-9]*: live [0-9]* freed [0-9]*$' "$T/out")" = 5 ] &&
	grep -q '^checksum [0-9a-f]\{16\}$' "$T/out" && ok=1
verdict $ok native-mprotect "status $(st native-mprotect) (want 0, 5 cycle lines, a checksum)"
for m in soft-dirty pagemap-scan; do
	run "native-$m" "$G" -m $m $ARGS
	if [ "$(st "native-$m")" = 2 ] && grep -q "^dirtygc: method $m: " "$T/err"; then
		echo "SKIP native-$m: not on this kernel: $(cat "$T/err")"
		skip=$((skip + 1))
		continue
	fi
	same "native-$m" native-mprotect
done

# -v adds timings on stderr, and changes nothing on stdout.
run native-verbose "$G" -m mprotect -v $ARGS
ok=0
cmp -s "$T/native-verbose.out" "$T/native-mprotect.out" &&
	grep -q '^dirtygc: cycle 1: pause [0-9.]* ms' "$T/err" && ok=1
verdict $ok native-verbose "stdout changed or no pause times on stderr"

# dune needs dunerun: natively it says so and fails.
run native-dune "$G" -m dune $ARGS
ok=0
[ "$(st native-dune)" != 0 ] && grep -q '^dirtygc: method dune: dune_init: Function not implemented' "$T/err" &&
	[ ! -s "$T/out" ] && ok=1
verdict $ok native-dune "status $(st native-dune) (want nonzero and dune_init's ENOSYS)"

# Without the barrier a moved object is lost, and the check sees it.
run native-no-barrier "$G" -m mprotect -B $ARGS
detects native-no-barrier

# Under dunerun: the hardware dirty bits, and signals, as natively.
for s in $SEEDS; do
	[ "$s" = 1 ] || run "native-seed-$s" "$G" -m mprotect -s "$s" $ARGS
	ref=native-seed-$s
	[ "$s" = 1 ] && ref=native-mprotect
	for m in dune mprotect; do
		run "dunerun-$m-seed-$s" "$DR" exec "$G" -m $m -s "$s" $ARGS
		same "dunerun-$m-seed-$s" "$ref"
	done
done
run dunerun-dune-no-barrier "$DR" exec "$G" -m dune -B $ARGS
detects dunerun-dune-no-barrier

# In ring 0 (supervisor mode, VT-x/SVM hosts) the collector reads and
# clears the dirty bits itself; in ring 3 that method refuses.
run ring0-in-ring3 "$DR" exec "$G" -m ring0 $ARGS
ok=0
[ "$(st ring0-in-ring3)" = 2 ] && grep -q '^dirtygc: method ring0: needs ring 0' "$T/err" && ok=1
verdict $ok ring0-in-ring3 "status $(st ring0-in-ring3) (want 2 and a reason)"
if supervisor_host "$DR" "$G" -m mprotect -c 1 -h 1; then
	for s in $SEEDS; do
		ref=native-seed-$s
		[ "$s" = 1 ] && ref=native-mprotect
		run "ring0-seed-$s" "$DR" exec --supervisor "$G" -m ring0 -s "$s" $ARGS
		same "ring0-seed-$s" "$ref"
	done
	run ring0-no-barrier "$DR" exec --supervisor "$G" -m ring0 -B $ARGS
	detects ring0-no-barrier
else
	echo "SKIP ring0: $SUPERVISOR_WHY"
	skip=$((skip + 1))
fi

summary
