#!/bin/bash
# debian-rootfs.sh BUILD_DIR: a Debian 12 minbase root filesystem with python3, made once by
# mmdebstrap from Debian's archive and cached in BUILD_DIR/rootfs-cache/ under a key of its
# command line (a changed command line makes a new one); prints its path.  Status 1, with a
# one-line reason on stderr, if mmdebstrap cannot be installed or cannot reach the archive.
# For `make run`'s Debian example and tests/rootfs.sh.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
mkdir -p "$1/rootfs-cache"
C=$(cd "$1/rootfs-cache" && pwd)
CMD="mmdebstrap --variant=minbase --include=python3 bookworm"
OUT=$C/debian-$(printf '%s' "$CMD" | sha256sum | cut -c1-16)
if [ ! -d "$OUT" ]; then
	# One builder at a time; a crash leaves only OUT.tmp, which the next run redoes.
	exec 9>"$C/.lock"
	flock 9
fi
if [ ! -d "$OUT" ]; then
	command -v mmdebstrap > /dev/null ||
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mmdebstrap \
			> "$C/apt.log" 2>&1 ||
		{ echo "debian-rootfs.sh: cannot install mmdebstrap (see $C/apt.log)" >&2; exit 1; }
	rm -rf "$OUT.tmp"
	if ! $CMD "$OUT.tmp" > "$C/mmdebstrap.log" 2>&1; then
		rm -rf "$OUT.tmp"
		echo "debian-rootfs.sh: mmdebstrap failed (see $C/mmdebstrap.log)" >&2
		exit 1
	fi
	mv "$OUT.tmp" "$OUT"
fi
echo "$OUT"
