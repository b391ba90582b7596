#!/bin/bash
# qemu-svm.sh BUILD_DIR DIR CMD...: runs CMD in DIR inside a QEMU virtual
# machine whose emulated CPU has AMD's SVM, with Debian's own kernel and
# its kvm_amd module, so /dev/kvm there is hardware-style virtualization
# (no PVM): syscall enters ring 0, ring 0 runs every instruction, EPT/NPT
# holds the guest's memory.  The machine's root is this host's, shared
# read-write over 9p, so CMD sees the same files, tools and build.
#
# Why: hosts without a usable /dev/kvm (a PVM guest cannot nest PVM) can
# still run every VM test, and hosts with one can run the VT-x/SVM path,
# which the CI machines' kvm_pvm never takes.  QEMU emulates the CPU
# (TCG), so it is slow: a figure measured in it says nothing about speed.
#
# Prints CMD's output as it runs and exits with CMD's status (125 when
# the machine itself could not run it).  QEMU_SVM_MEM and QEMU_SVM_CPUS
# size it; QEMU_SVM_TIMEOUT (seconds, default 3600) bounds the run.
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 BUILD_DIR DIR CMD..." >&2; exit 2; }
B=$(cd "$1" && pwd)
DIR=$(cd "$2" && pwd)
shift 2
# The machine's /tmp is its own (a tmpfs: machines side by side must not
# share test directories), so a tree under /tmp, a fresh clone say, is
# reached there through a bind mount of it outside /tmp.
ALIAS=
if [[ $DIR/ == /tmp/* || $B/ == /tmp/* ]]; then
	top=/tmp/$(echo "${DIR#/tmp/}" | cut -d/ -f1)
	ALIAS=/var/tmp/qemu-svm-tree.$$
	[[ $DIR/ == "$top"/* && $B/ == "$top"/* ]] && mkdir -p "$ALIAS" &&
		mount --bind "$top" "$ALIAS" ||
		{ echo "qemu-svm: cannot show $DIR and $B to the machine, whose /tmp is its own: run from outside /tmp" >&2; exit 125; }
	DIR=$ALIAS${DIR#"$top"} B=$ALIAS${B#"$top"}
fi
job=
cleanup() {
	[ -z "$job" ] || rm -f "$job" "$job.status"
	[ -z "$ALIAS" ] || { umount -l "$ALIAS"; rmdir "$ALIAS"; }
}
trap cleanup EXIT
Q=$B/qemu-svm
mkdir -p "$Q"
cd "$(dirname "$0")/.."
. scripts/lib.sh
setup "$B"
need_pkgs qemu-system-x86 cpio busybox-static

# Debian's kernel and the modules kvm_amd and a 9p root need, once.
MODS="irqbypass ccp kvm kvm-amd virtio_ring virtio virtio_pci_modern_dev
      virtio_pci_legacy_dev virtio_pci 9pnet 9pnet_virtio netfs fscache 9p"
if [ ! -e "$Q/vmlinuz" ]; then
	STEP="fetch Debian's kernel"; log "$STEP"
	rm -rf "$Q/dl" "$Q/root"
	mkdir -p "$Q/dl" && chown _apt "$Q/dl" 2> /dev/null || true
	# The metapackage's kernel first, then any other the index lists: an
	# index may name files the archive no longer serves.
	pkg=
	for p in $(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2 }') \
		 $(apt-cache search --names-only '^linux-image-[0-9.]+-[0-9]+-amd64$' | awk '{ print $1 }' | sort -rV); do
		(cd "$Q/dl" && apt-get download "$p" >> "$B/logs/apt.log" 2>&1) && { pkg=$p; break; }
	done
	[ -n "$pkg" ] || die "no Debian kernel package could be downloaded (apt-get update?)"
	dpkg-deb -x "$Q"/dl/*.deb "$Q/root"
	mkdir -p "$Q/initrd/mods" "$Q/initrd/bin"
	for m in $MODS; do
		f=$(find "$Q/root/lib/modules" -name "$m.ko" -o -name "$m.ko.xz" | head -n 1)
		[ -n "$f" ] || die "module $m is not in $pkg"
		case $f in *.xz) xz -dc "$f" > "$Q/initrd/mods/$m.ko" ;; *) cp "$f" "$Q/initrd/mods/" ;; esac
	done
	cp "$(ls "$Q"/root/boot/vmlinuz-* | head -n 1)" "$Q/vmlinuz.new"
	rm -rf "$Q/root" "$Q/dl"
	cp /bin/busybox "$Q/initrd/bin/busybox"
	# The first process: modules, the host's root over 9p, then the job,
	# chrooted there; its status goes to a file the host reads.
	cat > "$Q/initrd/init" <<EOF
#!/bin/busybox sh
set -u
bb=/bin/busybox
\$bb mkdir -p /proc /sys /dev /host
\$bb mount -t proc proc /proc
\$bb mount -t sysfs sys /sys
\$bb mount -t devtmpfs dev /dev
for m in $(echo $MODS); do \$bb insmod /mods/\$m.ko || \$bb echo "qemu-svm: insmod \$m failed"; done
\$bb mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=loose host /host || \$bb poweroff -f
\$bb mount --bind /dev /host/dev
\$bb mkdir -p /dev/pts /dev/shm
\$bb mount -t devpts devpts /host/dev/pts 2> /dev/null
\$bb mount -t tmpfs tmpfs /host/dev/shm 2> /dev/null
\$bb mount -t proc proc /host/proc
\$bb mount -t sysfs sys /host/sys
\$bb mount -t tmpfs -o size=8g tmpfs /host/tmp
\$bb ip link set lo up
job=\$(\$bb sed -n 's/.*qemu_svm_job=\([^ ]*\).*/\1/p' /proc/cmdline)
\$bb chroot /host /bin/bash "\$job" < /dev/console > /dev/console 2>&1
\$bb echo \$? > "/host\$job.status"
\$bb sync
\$bb poweroff -f
EOF
	chmod +x "$Q/initrd/init"
	(cd "$Q/initrd" && find . | cpio -o -H newc 2> /dev/null | gzip -1) > "$Q/initrd.gz"
	mv "$Q/vmlinuz.new" "$Q/vmlinuz"
fi
exec 9>&-                       # the setup lock: not held while CMD runs

# The job: CMD in DIR with this environment's PATH and the test settings.
job=$Q/job.$$
{
	# The run cache in the machine's own tmpfs: HOME is the host's /root
	# over 9p, whose cached attributes fail the cache's check (every run
	# then said so and ran from memory), and whose cache is the host's.
	echo "export PATH='$PATH' HOME=/root LANG=C.UTF-8 TERM=dumb DUNERUN_TEST_MACHINE=qemu-svm DUNERUN_CACHE=/tmp/dunerun-cache"
	for v in DUNERUN_BACKEND BENCH_REPEATS CI RUN_PATTERN; do
		[ -n "${!v:-}" ] && printf 'export %s=%q\n' "$v" "${!v}"
	done
	printf 'cd %q || exit 125\n' "$DIR"
	# A hang leaves a trace: every 2 minutes, each dunerun older than 5
	# (longer than any test allows) with its threads' kernel stacks.
	cat <<'WATCHDOG'
( while sleep 120; do
	for p in $(pgrep -x dunerun); do
		[ "$(ps -o etimes= -p "$p")" -gt 300 ] 2> /dev/null || continue
		echo "qemu-svm: watchdog: dunerun $p running for over 5 min: $(tr '\0' ' ' < /proc/$p/cmdline)"
		for t in /proc/$p/task/*; do
			echo "  thread ${t##*/}: $(cut -d' ' -f3 "$t/stat") in $(cat "$t/wchan")"
			sed 's/^/    /' "$t/stack" 2> /dev/null | head -n 12
		done
	done
done ) &
WATCHDOG
	printf '%q ' "$@"
	echo
} > "$job"
rm -f "$job.status"

# -cpu max: every feature TCG emulates, SVM with nested paging among them.
timeout -k 10 "${QEMU_SVM_TIMEOUT:-3600}" qemu-system-x86_64 -M q35 -accel tcg,thread=multi \
	-cpu max -smp "${QEMU_SVM_CPUS:-2}" -m "${QEMU_SVM_MEM:-6144}" \
	-display none -no-reboot -serial stdio -monitor none \
	-kernel "$Q/vmlinuz" -initrd "$Q/initrd.gz" \
	-append "console=ttyS0 quiet panic=-1 qemu_svm_job=$job" \
	-fsdev local,id=host,path=/,security_model=passthrough,multidevs=remap \
	-device virtio-9p-pci,fsdev=host,mount_tag=host < /dev/null |
	sed -u -e 's/\r$//' -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g' -e 's/\x1bc//g' |
	grep --line-buffered -v -e '^\[ *[0-9.]*\] reboot: Power down' -e 'SeaBIOS' \
		-e 'iPXE' -e 'Press Ctrl-B' -e '^Booting from' -e '^$' || true
[ -s "$job.status" ] || { echo "qemu-svm: the machine ended without the job's status" >&2; exit 125; }
exit "$(cat "$job.status")"
