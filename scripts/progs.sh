#!/bin/bash
# progs.sh BUILD_DIR: real, fully static programs for the tests, in BUILD_DIR/progs:
# busybox (Debian's static build), and lua, sqlite3, speedtest1 built from Debian source
# with musl-gcc; and busybox's own source tree, built with musl, for its testsuite
# (BUILD_DIR/src/busybox). Idempotent; a second run is offline.
. "$(dirname "$0")/lib.sh"
setup "$@"
P="$B/progs"
mkdir -p "$P"

# tcl: sqlite's build generates its amalgamation with tclsh.
need_pkgs musl-tools dpkg-dev busybox-static bash-static zsh-static sash mksh tcl file gojq shfmt

# check NAME ARGS...: the program must be static and run natively before we call it done.
check() {
	local f="$P/$1"; shift
	file "$f" | grep -q 'statically linked' || die "$f is not statically linked: $(file -b "$f")"
	"$f" "$@" >"$B/logs/check-$(basename "$f").log" 2>&1 || die "$f $* failed; see $B/logs/check-$(basename "$f").log"
}

if ! done_ busybox; then
	STEP=busybox; log "install $STEP"
	install -m 755 /bin/busybox "$P/busybox"
	check busybox echo ok
	mark busybox
fi

# Shells linked with other static libcs: glibc (bash-static), dietlibc and
# klibc (mksh's variants).  Each libc starts a program its own way.
if ! done_ shells; then
	STEP=shells; log "install $STEP"
	install -m 755 /bin/bash-static "$P/bash-static"
	install -m 755 /usr/lib/diet/bin/mksh "$P/mksh-diet"
	install -m 755 /usr/lib/klibc/bin/mksh "$P/mksh-klibc"
	for sh in bash-static mksh-diet mksh-klibc; do check "$sh" -c 'echo ok'; done
	mark shells
fi

# More of glibc's static programs, which start and call the kernel their
# own way (not musl's): Debian's zsh-static and sash.
if ! done_ glibc-shells; then
	STEP=glibc-shells; log "install $STEP"
	install -m 755 /bin/zsh-static "$P/zsh-static"
	install -m 755 /bin/sash "$P/sash"
	check zsh-static -c 'echo ok'
	check sash -c '-echo ok'
	mark glibc-shells
fi

# Go programs, static as Debian builds them: the Go runtime makes threads,
# waits on futexes, preempts with signals and polls with epoll.
if ! done_ go; then
	STEP=go; log "install $STEP programs"
	install -m 755 /usr/bin/gojq "$P/gojq"
	install -m 755 /usr/bin/shfmt "$P/shfmt"
	check gojq -n '1+1'
	check shfmt --version
	mark go
fi

# Debian's patches turn both builds into libtool shared-library builds; upstream's
# Makefiles build static programs directly.
fetch_src --skip-patches lua5.4 sqlite3 zlib

if ! done_ lua; then
	STEP=lua; log "build $STEP"
	quiet lua make -C "$B/src/lua5.4/src" -j2 CC=musl-gcc MYLDFLAGS=-static linux
	install -m 755 "$B/src/lua5.4/src/lua" "$P/lua"
	check lua -e 'assert(1+1 == 2)'
	mark lua
fi

if ! done_ sqlite3; then
	STEP=sqlite3; log "build $STEP and speedtest1"
	mkdir -p "$B/src/sqlite3/bld"
	cd "$B/src/sqlite3/bld"
	quiet sqlite3 ../configure CC=musl-gcc --disable-shared --disable-tcl --disable-readline
	# -all-static: libtool's spelling of -static for the programs it links.
	quiet sqlite3 make -j2 sqlite3 speedtest1 LTLINK_EXTRAS=-all-static
	install -m 755 sqlite3 speedtest1 "$P/"
	cd "$B"
	check sqlite3 :memory: 'select 1'
	check speedtest1 --size 1 --memdb
	mark sqlite3
fi

# zlib's own test programs: example (its API self-test) and minigzip.
if ! done_ zlib; then
	STEP=zlib; log "build $STEP"
	cd "$B/src/zlib"
	CC=musl-gcc LDFLAGS=-static quiet zlib ./configure --static
	quiet zlib make -j2 example minigzip
	install -m 755 example "$P/zlib-example"
	install -m 755 minigzip "$P/minigzip"
	cd "$B"
	check zlib-example
	mark zlib
fi

# fuzzcheck replays SQL inputs found by fuzzers (thousands of them, in
# test/fuzzdata1.db): a hard real-program workload for memory and files.
if ! done_ fuzzcheck; then
	STEP=fuzzcheck; log "build $STEP"
	cd "$B/src/sqlite3/bld"
	quiet fuzzcheck make -j2 fuzzcheck LTLINK_EXTRAS=-all-static
	install -m 755 fuzzcheck "$P/"
	install -m 644 ../test/fuzzdata1.db "$P/"
	cd "$B"
	check fuzzcheck --help
	mark fuzzcheck
fi

# busybox built from Debian's source with musl, kept as a tree in
# src/busybox: tests/busybox-suite.sh runs its testsuite (what `make
# check` runs) natively and under dunerun.  defconfig builds with musl as
# it is; the applets and features it selects are what the testsuite tests.
fetch_src busybox
if ! done_ busybox-tree; then
	STEP=busybox-tree; log "build $STEP"
	cd "$B/src/busybox"
	quiet busybox-tree make defconfig
	sed -i 's/^# CONFIG_STATIC is not set$/CONFIG_STATIC=y/' .config
	quiet busybox-tree make -j2 CC=musl-gcc HOSTCC=gcc EXTRA_CFLAGS="-isystem $B/kinc" \
		busybox busybox.links
	cd "$B"
	file src/busybox/busybox | grep -q 'statically linked' || die "src/busybox/busybox is not static"
	src/busybox/busybox true || die "src/busybox/busybox does not run"
	mark busybox-tree
fi

log "ok: $(echo "$P"/*)"
