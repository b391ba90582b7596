#!/bin/bash
# bench.sh BUILD_DIR: dunerun against native, measured side by side in one
# run (the two alternate, so drift hits both), min and median over repeats.
# These machines are noisy: read the ratios, not the absolute numbers.
# Images run as `dunerun IMAGE.dz` and under bubblewrap where this machine
# can; docs/benchmarks.md says how each row is measured.
set -euo pipefail
B=${1:-build}
R=${BENCH_REPEATS:-7}
D=$B/bench
mkdir -p "$D"
cd "$(dirname "$0")/.."

musl-gcc -static -O2 tests/bench/micro.c -o "$D/micro"
musl-gcc -static -O2 tests/bench/timeit.c -o "$D/timeit"
printf '#include <stdio.h>\nint main(void){puts("hello, world");return 0;}\n' > "$D/hello.c"
musl-gcc -static -O2 "$D/hello.c" -o "$D/hello"
[ -f "$D/data100m" ] || head -c 100M /dev/urandom > "$D/data100m"

DR="$B/dunerun exec"
# Rows run dunerun under each supervisor backend this host has
# (docs/platform.md): per_backend CMD sets $V to row()'s variants, one per
# backend, with @DR@ in CMD standing for `dunerun exec --backend NAME`.
. tests/lib.sh
set +e
vm_backends "$B/dunerun" "$D/hello"
set -e
backends=$VM_BACKENDS
if [ -z "$backends" ]; then
	# QEMU's emulated machine (tests/qemu-svm.sh) runs the tests, but a
	# time measured in it says nothing about dunerun's speed.
	echo "bench: this host cannot run VMs ($VM_WHY): nothing to measure" >&2
	exit 1
fi
# Each backend twice: with syscall sites rewritten (patch/patch.h), and
# with --no-patch, where every syscall instruction traps as before.
per_backend() {
	V=()
	for be in $backends; do
		V+=(-- "$be" "${1//@DR@/$B/dunerun exec --backend $be}")
		V+=(-- "$be,no-patch" "${1//@DR@/$B/dunerun exec --backend $be --no-patch}")
	done
}

# Images (`dunerun IMAGE.dz`) when this build can run them, and bubblewrap,
# a namespace sandbox without a VM, for comparison.  Rows that cannot run
# here say so instead of a figure.
HAVE_RUN=0
"$B/dunerun" run --help > /dev/null 2>&1 && HAVE_RUN=1
command -v bwrap > /dev/null ||
	DEBIAN_FRONTEND=noninteractive apt-get install -y bubblewrap > /dev/null 2>&1 || true
HAVE_BWRAP=0 BWRAP=
if command -v bwrap > /dev/null &&
	bwrap --unshare-all --ro-bind "$D/hello" /hello /hello > /dev/null 2>&1; then
	HAVE_BWRAP=1
	# Only the program and its files, as in an image; no /proc, no /dev.
	BWRAP="$(command -v bwrap) --unshare-all --die-with-parent"
fi

# words_text BYTES SEED: English-like text, the same for the same
# arguments: words drawn from the GPL's (so with its frequencies) by a
# fixed generator (MINSTD), twelve to a line.
words_text() {
	awk -v n="$1" -v x="$2" 'BEGIN {
		while ((getline line < "/usr/share/common-licenses/GPL-3") > 0)
			for (i = split(line, f, " "); i > 0; i--) t[++nt] = f[i];
		while (out < n) {
			s = "";
			for (k = 0; k < 12; k++) {
				x = (x * 48271) % 2147483647;
				s = s (k ? " " : "") t[x % nt + 1];
			}
			s = s "\n";
			if (out + length(s) > n)
				s = substr(s, 1, n - out);
			printf "%s", s;
			out += length(s);
		}
	}'
}

# image NAME DUNEFILE-TEXT SRC:DEST...: builds $D/NAME.dz from a context
# holding each SRC as DEST.
image() {
	local name=$1 text=$2 ctx=$D/ctx-$1 f
	shift 2
	rm -rf "$ctx" && mkdir -p "$ctx"
	for f in "$@"; do cp "${f%%:*}" "$ctx/${f#*:}"; done
	printf '%s\n' "$text" > "$ctx/Dunefile"
	"$B/dunerun" build -o "$D/$name.dz" "$ctx" > /dev/null
}

# also IMAGE-CMD BWRAP-CMD: sets $extra to the row() variants this machine
# can run ("-- image IMAGE-CMD -- bwrap BWRAP-CMD") and $missing to the
# others, which na_rows prints.
also() {
	extra=() missing=()
	if [ "$HAVE_RUN" = 1 ]; then extra+=(-- image "$1"); else missing+=("image|n/a (run not available)"); fi
	if [ "$HAVE_BWRAP" = 1 ]; then extra+=(-- bwrap "$2"); else missing+=("bwrap|n/a (bwrap not available)"); fi
}
na_rows() {         # NAME UNIT
	local m
	for m in "${missing[@]}"; do
		printf '| %-34s | %-8s | %10s | %10s | %10s | %10s | %7s |\n' "$1 (${m%%|*})" "$2" "" "" "${m#*|}" "" ""
	done
}
# min and median of the numbers on stdin
stats() { sort -g | awk '{v[NR]=$1} END {printf "%.1f %.1f\n", v[1], v[int((NR+1)/2)]}'; }

# row NAME UNIT NATIVE-CMD -- VARIANT-LABEL CMD [-- LABEL CMD ...]
# Each command prints one number per run.
row() {
	local name=$1 unit=$2
	shift 2
	local -a labels=() cmds=()
	local cur=""
	for a in "$@"; do
		if [ "$a" = "--" ]; then cmds+=("$cur"); cur=""; else cur+="$a "; fi
	done
	cmds+=("$cur")
	local n=${#cmds[@]}
	for ((i = 0; i < n; i++)); do : > "$D/s$i"; done
	# Variants are "LABEL CMD": the label is the first word.
	for ((r = 0; r < R; r++)); do
		eval "${cmds[0]}" >> "$D/s0"
		for ((i = 1; i < n; i++)); do eval "${cmds[$i]#* }" >> "$D/s$i"; done
	done
	read -r nmin nmed < <(stats < "$D/s0")
	for ((i = 1; i < n; i++)); do
		read -r label rest <<< "${cmds[$i]}"
		read -r dmin dmed < <(stats < "$D/s$i")
		printf '| %-34s | %-8s | %10s | %10s | %10s | %10s | %7s |\n' \
			"$name ($label)" "$unit" "$nmin" "$nmed" "$dmin" "$dmed" \
			"$(awk -v a="$dmed" -v b="$nmed" 'BEGIN{printf("%.2fx", (b > 0 ? a / b : 0))}')"
	done
}

# One sample: ns per iteration of the supervisor's timing loop, as the
# launcher command given reports it (DUNERUN_SUPERVISOR_LOOP).
supervisor_loop() {
	DUNERUN_SUPERVISOR_LOOP=100000 "$@" "$D/hello" 2>&1 > /dev/null |
		awk '/supervisor loop/ { print $(NF - 2) }'
}
# One sample: the median of a handful of spawns, in microseconds.
startup() { "$D/timeit" 5 "$@" | stats | awk '{print $2}'; }
wall_ms() { "$D/timeit" 1 "$@" | awk '{printf "%.1f\n", $1 / 1000}'; }

# BENCH_ONLY=dune: libdune's tables alone (tests/bench/dune.sh).
if [ "${BENCH_ONLY:-}" = dune ]; then
	echo "dunerun benchmarks (libdune only), $(date -u +%Y-%m-%d), $(nproc) cores, kernel $(uname -r), $R repeats"
	. tests/bench/dune.sh
	exit 0
fi

echo "dunerun benchmarks, $(date -u +%Y-%m-%d), $(nproc) cores, kernel $(uname -r), $R repeats"
echo
echo '| benchmark                          | unit     | native min | native med | dunerun min | dunerun med | ratio |'
echo '|------------------------------------|----------|-----------:|-----------:|-----------:|-----------:|------:|'
image hello 'COPY hello /bin/hello
ENTRYPOINT ["/bin/hello"]
ALLOW stdio' "$D/hello:hello"
also "startup $B/dunerun $D/hello.dz" "startup $BWRAP --ro-bind $D/hello /bin/hello /bin/hello"
per_backend "startup @DR@ $D/hello"
row "startup of hello" us "startup $D/hello" "${V[@]}" "${extra[@]}"
na_rows "startup of hello" us
# A big image from the run cache (cache/cache.h): a Debian system's
# Python library and docs (~11,000 files, ~200 MiB, symlinks dropped)
# and busybox.  Its first run (the cache emptied before each) makes the
# entry; later runs check it (an lstat per file) and bind it.  The last
# row puts the cached run beside the hello image, alternating.
if [ "$HAVE_RUN" = 1 ]; then
	if [ ! -f "$D/big.dz" ]; then
		rm -rf "$D/ctx-big" && mkdir -p "$D/ctx-big/bin"
		cp "$B/progs/busybox" "$D/ctx-big/bin/"
		cp -a /usr/lib/python3.11 "$D/ctx-big/py"
		cp -a /usr/lib/python3 "$D/ctx-big/py3"
		cp -a /usr/share/doc "$D/ctx-big/doc"
		find "$D/ctx-big" -type l -delete
		printf '%s\n' 'COPY bin /bin' 'COPY py /usr/lib/python3.11' 'COPY py3 /usr/lib/python3' \
			'COPY doc /usr/share/doc' 'ENTRYPOINT ["/bin/busybox", "true"]' 'ALLOW stdio rpath' \
			> "$D/ctx-big/Dunefile"
		"$B/dunerun" build -o "$D/big.dz" "$D/ctx-big" > /dev/null
	fi
	BC=$D/run-cache
	first_run() { "$B/dunerun" prune --cache "$BC" > /dev/null; wall_ms "$B/dunerun" --cache "$BC" "$D/big.dz"; }
	BIG="$(find "$D/ctx-big" | wc -l) files, $(( $(du -sb "$D/ctx-big" | cut -f1) >> 20 )) MiB"
	row "big image ($BIG), first run" ms "wall_ms $B/progs/busybox true" -- image first_run
	row "big image, cached run" us "startup $B/progs/busybox true" \
		-- image "startup $B/dunerun --cache $BC $D/big.dz"
	row "big image, --no-cache (a tmpfs)" ms "wall_ms $B/progs/busybox true" \
		-- image "wall_ms $B/dunerun --no-cache $D/big.dz"
	row "big image cached, against hello image" us "startup $B/dunerun $D/hello.dz" \
		-- image "startup $B/dunerun --cache $BC $D/big.dz"
fi
# A Debian root filesystem as an image (images/examples/debian-python,
# FROM the mmdebstrap tree of scripts/debian-rootfs.sh): python3 -c pass
# in it, first run and cached, against the host's python3 natively.
if [ "$HAVE_RUN" = 1 ] && make -s "$B/examples/debian-python.dz" > /dev/null 2>&1; then
	DC=$D/debian-cache
	deb_first() { "$B/dunerun" prune --cache "$DC" > /dev/null; wall_ms "$B/dunerun" --cache "$DC" "$B/examples/debian-python.dz" -I -S -B -c pass; }
	row "Debian rootfs image: python3 -c pass, first run" ms "wall_ms /usr/bin/python3 -I -S -c pass" \
		-- image deb_first
	row "Debian rootfs image: python3 -c pass, cached" ms "wall_ms /usr/bin/python3 -I -S -c pass" \
		-- image "wall_ms $B/dunerun --cache $DC $B/examples/debian-python.dz -I -S -B -c pass"
fi
# BENCH_ONLY=startup: the start-up rows alone.
[ "${BENCH_ONLY:-}" != startup ] || exit 0
# The supervisor's own speed: a dec/jnz loop in ring 0 (ring 3 natively).
per_backend "supervisor_loop @DR@"
row "supervisor-mode loop, 1 iteration" ns "$D/micro loop 100000000" "${V[@]}"
per_backend "@DR@ $D/micro getpid 200000"
row "getpid round trip" ns "$D/micro getpid 200000" "${V[@]}"
per_backend "@DR@ $D/micro write 50000"
row "1-byte write to /dev/null" ns "$D/micro write 50000" "${V[@]}" \
	-- "no-poll" "$DR --no-poll $D/micro write 20000"
per_backend "@DR@ $D/micro touch"
row "first touch of 256 MiB" ns/page "$D/micro touch" "${V[@]}"
per_backend "@DR@ $D/micro mmap 5000"
row "mmap+touch+munmap 4 KiB" ns "$D/micro mmap 20000" "${V[@]}"
per_backend "@DR@ $D/micro fork 50"
row "fork+exit+waitpid" ns "$D/micro fork 200" "${V[@]}"
per_backend "@DR@ $D/micro spawn 50"
row "fork+exec+waitpid" ns "$D/micro spawn 200" "${V[@]}"
per_backend "@DR@ $D/micro pingpong 5000"
row "pipe ping-pong, 2 processes" ns "$D/micro pingpong 20000" "${V[@]}"
per_backend "@DR@ $D/micro pipe 5000"
row "pipe throughput, 64 KiB writes" ns/64KiB "$D/micro pipe 20000" "${V[@]}"
per_backend "@DR@ $D/micro futex 5000"
row "futex ping-pong, 2 threads" ns "$D/micro futex 20000" "${V[@]}"
per_backend "wall_ms @DR@ $B/progs/busybox sha256sum $D/data100m"
row "busybox sha256sum 100 MiB" ms "wall_ms $B/progs/busybox sha256sum $D/data100m" "${V[@]}"
image speedtest1 'COPY speedtest1 /bin/speedtest1
ENTRYPOINT ["/bin/speedtest1", "--size", "25", "--memdb"]
ALLOW stdio rpath' "$B/progs/speedtest1:speedtest1"
also "wall_ms $B/dunerun $D/speedtest1.dz" \
	"wall_ms $BWRAP --ro-bind $B/progs/speedtest1 /bin/speedtest1 /bin/speedtest1 --size 25 --memdb"
per_backend "wall_ms @DR@ $B/progs/speedtest1 --size 25 --memdb"
row "sqlite speedtest1 --size 25 --memdb" ms "wall_ms $B/progs/speedtest1 --size 25 --memdb" \
	"${V[@]}" "${extra[@]}"
na_rows "sqlite speedtest1 --size 25 --memdb" ms

# A three-command pipeline in busybox's shell: three processes.
PIPE="$B/progs/busybox sh -c 'seq 1 20000 | sort -r | md5sum'"
per_backend "wall_ms @DR@ $PIPE"
row "busybox sh: seq | sort -r | md5sum" ms "wall_ms $PIPE" "${V[@]}"

# The example image's workload (images/examples/wordfreq) on 8 MiB of text.
WF=images/examples/wordfreq/wordfreq.lua
[ -f "$D/text8m" ] || words_text $((8 << 20)) 1 > "$D/text8m"
image wordfreq 'COPY lua /bin/lua
COPY wordfreq.lua /app/wordfreq.lua
COPY text /data/text
ENTRYPOINT ["/bin/lua", "/app/wordfreq.lua", "/data/text"]
ALLOW stdio rpath' "$B/progs/lua:lua" "$WF:wordfreq.lua" "$D/text8m:text"
also "wall_ms $B/dunerun $D/wordfreq.dz" \
	"wall_ms $BWRAP --ro-bind $B/progs/lua /bin/lua --ro-bind $WF /app/wordfreq.lua --ro-bind $D/text8m /data/text /bin/lua /app/wordfreq.lua /data/text"
per_backend "wall_ms @DR@ $B/progs/lua $WF $D/text8m"
row "lua wordfreq.lua 8 MiB" ms "wall_ms $B/progs/lua $WF $D/text8m" "${V[@]}" "${extra[@]}"
na_rows "lua wordfreq.lua 8 MiB" ms

# Dynamic programs (glibc's loader and libraries): a hello's start-up,
# python3's, and a real build, zlib's configure and make -j2 with gcc,
# whole inside one dunerun exec (forks and execs dominate it: each is a
# new VM until processes share one).
gcc -O2 "$D/hello.c" -o "$D/dynhello"
per_backend "startup @DR@ $D/dynhello"
row "startup of dynamic hello (glibc)" us "startup $D/dynhello" "${V[@]}"
row "python3 -c pass" ms "wall_ms /usr/bin/python3 -c pass" -- exec "wall_ms $DR /usr/bin/python3 -c pass"
ZTAR=$(ls "$B"/src/dl-zlib/zlib_*.orig.tar.* 2> /dev/null | head -n 1)
if [ -n "$ZTAR" ]; then
	[ -d "$D/zlib" ] || { mkdir -p "$D/zlib" && tar xf "$ZTAR" -C "$D/zlib" --strip-components=1; }
	# zlib_build [LAUNCHER...]: seconds for a clean configure and build.
	zlib_build() {
		(cd "$D/zlib" && make distclean > /dev/null 2>&1
		 t0=$(date +%s.%N)
		 "$@" /bin/sh -c './configure > /dev/null && make -j2 > /dev/null' || exit 1
		 t1=$(date +%s.%N)
		 awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", b - a }')
	}
	R=${BENCH_BUILD_REPEATS:-1} row "zlib configure + make -j2 (gcc)" s "zlib_build" -- exec "zlib_build $DR"
fi

# busybox's own testsuite, whole (tests/busybox-suite.sh): every process
# it starts runs in the sandbox.  Minutes a run under dunerun, so one
# repeat unless BENCH_BUSYBOX_REPEATS asks for more.
if [ -x "$B/src/busybox/busybox" ]; then
	R=${BENCH_BUSYBOX_REPEATS:-1} row "busybox testsuite (runtest)" s \
		"tests/busybox-suite.sh $B --wall native" \
		-- "exec" "tests/busybox-suite.sh $B --wall dunerun" \
		-- "exec,no-patch" "tests/busybox-suite.sh $B --wall dunerun-no-patch"
fi

# What still leaves the guest: VM exits per 1,000 syscalls for each
# workload, and why (dunerun --stats, summed over a pipeline's
# processes), with the rewrite and without.
exits_row() {       # NAME OPTIONS CMD...
	local name=$1 opts=$2
	shift 2
	"$B/dunerun" exec $opts --stats "$@" 2>&1 >/dev/null | awk -v name="$name" -v opts="$opts" '
		/ exits; syscalls:/ { ex += $2; pol += $5; exi += $9; gst += $12 }
		/dunerun: exits:/ { pf += $3; un += $9; bo += $12; as += $16; it += $19; r0 += $23 }
		END { sc = pol + exi + gst
		      printf "| %-28s | %-22s | %8d | %7d | %9.1f | %6d | %8d | %7d | %5d | %4d | %6d |\n",
			name, opts, sc, ex, sc ? ex * 1000 / sc : 0, pf, un, bo, as, it, r0 }'
}
echo
echo "| workload (exits)             | options                | syscalls |   exits | per 1,000 | faults | unpolled | bounced | after | intr | ring 0 |"
echo "|------------------------------|------------------------|---------:|--------:|----------:|-------:|---------:|--------:|------:|-----:|-------:|"
for be in $backends; do
	for np in "" " --no-patch"; do
		o="--backend $be$np"
		exits_row "getpid x200000" "$o" "$D/micro" getpid 200000
		exits_row "1-byte write x50000" "$o" "$D/micro" write 50000
		exits_row "speedtest1 --size 25" "$o" "$B/progs/speedtest1" --size 25 --memdb
		exits_row "sha256sum 100 MiB" "$o" "$B/progs/busybox" sha256sum "$D/data100m"
		exits_row "seq | sort -r | md5sum" "$o" "$B/progs/busybox" sh -c 'seq 1 20000 | sort -r | md5sum'
		exits_row "lua wordfreq 8 MiB" "$o" "$B/progs/lua" "$WF" "$D/text8m"
	done
done

# Image build rate for a 100 MiB tree, the same wherever the build is the
# same: the programs of $B/progs (executables and a database) copied in
# turn until they make 50 MiB, and 50 files of 1 MiB of English-like text,
# with the lua interpreter as the entrypoint.  A program recurs only after
# all the others (27 MiB later), beyond zstd's window, so its copies do
# not compress against each other.
tree=$D/tree100m-det
if [ ! -f "$tree/Dunefile" ]; then
	rm -rf "$tree" && mkdir -p "$tree/data"
	n=0 size=0
	while [ "$size" -lt $((50 << 20)) ]; do
		for f in "$B"/progs/*; do
			[ "$size" -lt $((50 << 20)) ] || break
			cp "$f" "$tree/data/$(printf %03d "$n")-$(basename "$f")"
			size=$((size + $(stat -c %s "$f"))) n=$((n + 1))
		done
	done
	for i in $(seq 0 49); do words_text $((1 << 20)) $((i + 1)) > "$tree/data/$(printf %03d "$i")-text"; done
	cp "$B/progs/lua" "$tree/lua"
	printf 'COPY lua /bin/lua\nCOPY data /data\nENTRYPOINT ["/bin/lua"]\n' > "$tree/Dunefile"
fi
: > "$D/build.times"
for ((r = 0; r < R; r++)); do
	"$D/timeit" 1 "$B/dunerun" build -o "$D/tree.dz" "$tree" >> "$D/build.times"
done
read -r bmin bmed < <(stats < "$D/build.times")
in=$(du -sb "$tree/data" "$tree/lua" | awk '{s += $1} END {print s}')
out=$(stat -c %s "$D/tree.dz")
echo
echo "| image build of a 100 MiB tree | min | median | rate (median) | compression |"
echo "|---|--:|--:|--:|--:|"
awk -v mn="$bmin" -v md="$bmed" -v isz="$in" -v osz="$out" 'BEGIN {
	printf "| dunerun build | %.0f ms | %.0f ms | %.1f MiB/s | %.2fx (%.1f -> %.1f MiB) |\n",
		mn / 1000, md / 1000, isz / 1048576 / (md / 1e6), isz / osz, isz / 1048576, osz / 1048576 }'

# libdune: dirty-page tracking and the Appel-Li primitives (docs/dune-api.md).
. tests/bench/dune.sh
