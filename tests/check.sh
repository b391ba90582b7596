#!/bin/bash
# check.sh BUILD_DIR: the whole suite.  Runs the unit tests (loader, syscall
# layer, image format, policy and Dunefile), the fuzz corpora as regression
# inputs, the launcher's command-line and image-building checks, hostile
# programs inside images, the native-vs-dunerun comparison suite, and
# busybox's own testsuite natively and under dunerun, libdune's API and
# the dirty-bit collector (the parts that run VMs once per supervisor backend), then prints one total line:
# "N passed, N failed".
set -u
B=${1:-build}
cd "$(dirname "$0")/.."
. tests/lib.sh
pass=0 fail=0 skip=0

# Adds the counts from a runner's "N passed, N failed[, N skipped]" line.
tally() {
	local line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
	if [ -z "$line" ]; then
		echo "FAIL $2: no summary line (crashed?)"
		fail=$((fail + 1))
		return
	fi
	set -- $line
	pass=$((pass + $1)) fail=$((fail + $3))
	case "$line" in *skipped*) skip=$((skip + $5)) ;; esac
}

run_part() {        # name command...
	local name=$1 log="$B/logs/test-$1.log"
	shift
	mkdir -p "$B/logs"
	echo "== $name"
	"$@" 2>&1 | tee "$log" | grep -E '^(FAIL|SKIP)' | head -n 50
	tally "$log" "$name"
}

make -s "$B/unit/test_loader" "$B/unit/test_sys" "$B/unit/test_image" "$B/unit/test_policy" "$B/unit/test_harden" ||
	{ echo "0 passed, 1 failed"; exit 1; }
run_part unit-loader "$B/unit/test_loader" "$B/progs/busybox" "$B/progs/lua"
run_part unit-sys "$B/unit/test_sys"
run_part unit-image "$B/unit/test_image"
run_part unit-policy "$B/unit/test_policy"
run_part unit-harden "$B/unit/test_harden"
run_part fuzz-corpus tests/fuzz/run.sh "$B"
# Everything that runs a VM, once under each supervisor backend the host
# has (docs/platform.md): the portable one always, PVM's native one on
# PVM hosts.
backends=portable
[ -d /sys/module/kvm_pvm ] && backends="portable pvm-native"
for be in $backends; do
	export DUNERUN_BACKEND=$be
	run_part "cli-$be" tests/cli.sh "$B"
	run_part "images-$be" tests/images.sh "$B"
	run_part "hostile-images-$be" tests/hostile-images.sh "$B"
	run_part "programs-$be" tests/run.sh "$B"
	run_part "busybox-suite-$be" tests/busybox-suite.sh "$B"
	run_part "dune-$be" tests/dune.sh "$B"
	run_part "dirtygc-$be" tests/dirtygc.sh "$B"
done
unset DUNERUN_BACKEND

echo
summary
