#!/bin/bash
# check.sh BUILD_DIR: the whole suite.  Runs the unit tests (loader, syscall
# check.sh BUILD_DIR: the whole suite.  Runs the unit tests (loader, syscall
# layer, image format, policy and Dunefile, JSON, tar and layers, the run
# cache), the fuzz corpora as regression inputs, the launcher's
# command-line and image-building checks, the run cache, hostile programs
# inside images, images built FROM root filesystems, the native-vs-dunerun
# comparison suite, real builds and CPython's tests, and busybox's own
# testsuite natively and under dunerun, libdune's API and the dirty-bit
# collector and supervisor mode (the parts that run VMs, once per
# supervisor backend), then prints one total line:
# "N passed, N failed".
set -u
B=${1:-build}
cd "$(dirname "$0")/.."
. tests/lib.sh
pass=0 fail=0 skip=0
# Images the suite runs are cached in the build tree, not in ~/.cache.
export DUNERUN_CACHE=${DUNERUN_CACHE:-$(pwd)/$B/run-cache}

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

make -s "$B/unit/test_loader" "$B/unit/test_sys" "$B/unit/test_image" "$B/unit/test_policy" \
	"$B/unit/test_harden" "$B/unit/test_patch" "$B/unit/test_json" "$B/unit/test_rootfs" \
	"$B/unit/test_cache" ||
	{ echo "0 passed, 1 failed"; exit 1; }
# Dynamic programs of the host's: their interpreter must be found.
run_part unit-loader "$B/unit/test_loader" "$B/progs/busybox" "$B/progs/lua" \
	-d /bin/sh -d "$(readlink -f /usr/bin/python3)" /lib64/ld-linux-x86-64.so.2
run_part unit-sys "$B/unit/test_sys"
# The syscall-site decoder against objdump, over real programs' text.
run_part unit-patch bash -c 'objdump -d -w "$@" | "$0"' "$B/unit/test_patch" \
	"$B/progs/busybox" "$B/progs/lua" "$B/progs/speedtest1" "$B/progs/zsh-static" "$B/progs/gojq"
run_part unit-image "$B/unit/test_image"
run_part unit-policy "$B/unit/test_policy"
run_part unit-harden "$B/unit/test_harden"
run_part unit-json "$B/unit/test_json"
# The tar reader against Python's tarfile; symlink targets in a chroot.
run_part unit-rootfs "$B/unit/test_rootfs" "$B/progs/busybox"
run_part unit-cache "$B/unit/test_cache"
run_part fuzz-corpus tests/fuzz/run.sh "$B"
# Everything that runs a VM, once under each supervisor backend the host
# runs (docs/platform.md): the portable one wherever /dev/kvm works, PVM's
# native one on PVM hosts.
VM_PARTS="cli images cache hostile-images rootfs programs busybox-suite dune dirtygc supervisor"
script_of() { [ "$1" = programs ] && echo tests/run.sh || echo "tests/$1.sh"; }
# QEMU's emulated machine with SVM (tests/qemu-svm.sh) runs what this
# host cannot: the portable backend on hardware-style virtualization.  A
# part that hangs is stopped after 40 minutes, so that the run still ends
# within CI's 90.
in_qemu() {         # parts...: each in one machine, one after another
	for part; do
		QEMU_SVM_CPUS=1 QEMU_SVM_TIMEOUT=${QEMU_SVM_TIMEOUT:-2400} \
			tests/qemu-svm.sh "$B" . "$(script_of "$part")" "$B" \
			> "$B/logs/test-$part-qemu-svm.log" 2>&1
	done
}
qemu_tally() {      # parts...: their results, as run_part shows them
	for part; do
		log=$B/logs/test-$part-qemu-svm.log
		echo "== $part-qemu-svm"
		grep -E '^(FAIL|SKIP)' "$log" | head -n 50
		tally "$log" "$part-qemu-svm"
	done
}

make -s "$B/dunerun" || { echo "0 passed, 1 failed"; exit 1; }
vm_backends "$B/dunerun" "$B/progs/busybox"
for be in $VM_BACKENDS; do
	export DUNERUN_BACKEND=$be
	for part in $VM_PARTS; do
		run_part "$part-$be" "$(script_of "$part")" "$B"
	done
done
unset DUNERUN_BACKEND
# The comparison suite once more the old way, every syscall instruction
# trapping (--no-patch), under the default backend.
[ -z "$VM_BACKENDS" ] || DUNERUN_NO_PATCH=1 run_part programs-no-patch tests/run.sh "$B"
# A real build and CPython's tests, once, under the default backend: they
# are the suite's longest runs of dynamic programs.
[ -z "$VM_BACKENDS" ] || run_part realprogs tests/realprogs.sh "$B"

if [ -z "$VM_BACKENDS" ]; then
	# No usable /dev/kvm (a PVM guest, say): check the launcher's error,
	# then run the VM parts in QEMU, two machines at once, one per core.
	# busybox's testsuite (22,000 processes) would take hours emulated.
	echo "== this host cannot run VMs ($VM_WHY)"
	run_part no-kvm tests/no-kvm.sh "$B"
	echo "== the VM parts, in QEMU's emulated SVM machine (tests/qemu-svm.sh)"
	export DUNERUN_BACKEND=portable
	in_qemu programs dune dirtygc &
	in_qemu cli images cache hostile-images rootfs supervisor &
	wait
	unset DUNERUN_BACKEND
	qemu_tally programs dune dirtygc cli images cache hostile-images rootfs supervisor
	echo "SKIP busybox-suite: hours under QEMU's emulation; it runs where /dev/kvm works"
	echo "SKIP realprogs: a real build and CPython's tests, too long under QEMU's emulation"
	skip=$((skip + 2))
elif ! supervisor_host "$B/dunerun" "$B/progs/busybox" true; then
	# A PVM host skipped supervisor mode above (supervisor.sh, and
	# dirtygc.sh's ring-0 collector): QEMU's machine runs those parts, so
	# that every run of the suite checks ring 0.
	echo "== supervisor mode, in QEMU's emulated SVM machine ($SUPERVISOR_WHY)"
	in_qemu supervisor dirtygc
	# And the VT-x/SVM path of patched syscall sites (a jump to the entry
	# page in ring 3, the slow path through ring 0): the cases that make
	# the most kinds of calls, from every libc here.
	RUN_PATTERN='patch-|shell-|sig|pthreads|go-|bb-sh|sh-|fork|execve|sqlite-speedtest1|lua-' \
		in_qemu programs
	qemu_tally supervisor dirtygc programs
fi

echo
summary
