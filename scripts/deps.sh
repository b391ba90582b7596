#!/bin/bash
# deps.sh BUILD_DIR: host packages, kernel headers for musl-gcc, and static musl builds of
# libzstd, libcap and zlib in BUILD_DIR/deps/{include,lib}. Idempotent; a second run is offline.
# Why: Debian ships none of them built for musl, and its glibc builds need glibc's
# fortify symbols (see /work/shared/TOOLCHAIN.md).
. "$(dirname "$0")/lib.sh"
setup "$@"

# clang and libclang-rt-14-dev give libFuzzer for the fuzz targets.
need_pkgs musl-tools dpkg-dev busybox-static tcl clang libclang-rt-14-dev linux-libc-dev file
# Dynamic programs the suite runs under dunerun, and CPython's own tests.
need_pkgs python3 libpython3.11-testsuite gcc make

# musl-gcc cannot use -I/usr/include (glibc headers would shadow musl's), so expose only
# the kernel's UAPI folders, through symlinks, for -isystem BUILD_DIR/kinc.
STEP=kinc
mkdir -p "$B/kinc"
for d in $(dpkg -L linux-libc-dev | sed -n 's|^/usr/include/\([^/]*\)$|\1|p'); do
	[ -d "/usr/include/$d" ] && [ "$d" != x86_64-linux-gnu ] && ln -sfn "/usr/include/$d" "$B/kinc/$d"
done
ln -sfn /usr/include/x86_64-linux-gnu/asm "$B/kinc/asm"

fetch_src libzstd libcap2 zlib
D="$B/deps"

# Single-threaded; no legacy formats; per-function sections so the launcher can drop the
# unused ones with --gc-sections.
if ! done_ zstd; then
	STEP=zstd; log "build $STEP"
	zmake() {
		quiet zstd make -C "$B/src/libzstd/lib" -j2 CC=musl-gcc ZSTD_LEGACY_SUPPORT=0 \
			MOREFLAGS='-ffunction-sections -fdata-sections' PREFIX="$D" "$@"
	}
	zmake libzstd.a
	zmake install-static install-includes
	mark zstd
fi

# Only the libcap/ folder: the top-level Makefile would pull in Go and PAM parts.
# BUILD_CC builds its host-side name generator; lib=lib avoids lib64.
if ! done_ libcap; then
	STEP=libcap; log "build $STEP"
	cmake_() {
		quiet libcap make -C "$B/src/libcap2/libcap" -j2 CC=musl-gcc BUILD_CC=gcc \
			SHARED=no GOLANG=no USE_GPERF=no PAM_CAP=no lib=lib prefix="$D" "$@"
	}
	cmake_ libcap.a
	cmake_ install-static-cap
	mark libcap
fi

# zlib for gzip layers (rootfs/).  A copy of the source: progs.sh builds zlib's
# own test programs in src/zlib, with a configure of its own.
if ! done_ libz; then
	STEP=libz; log "build $STEP"
	rm -rf "$B/src/zlib-musl"
	cp -a "$B/src/zlib" "$B/src/zlib-musl"
	cd "$B/src/zlib-musl"
	CC=musl-gcc CFLAGS='-O2 -ffunction-sections -fdata-sections' \
		quiet libz ./configure --static --prefix="$D"
	quiet libz make -j2 libz.a
	quiet libz make install
	cd "$B"
	mark libz
fi

log "ok: $B/kinc $D/include $D/lib/libzstd.a $D/lib/libcap.a $D/lib/libz.a"
