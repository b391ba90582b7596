#!/bin/bash
# bench.sh BUILD_DIR: dunerun against native, measured side by side in one
# run (the two alternate, so drift hits both), min and median over repeats.
# These machines are noisy: read the ratios, not the absolute numbers.
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

# One sample: the median of a handful of spawns, in microseconds.
startup() { "$D/timeit" 5 "$@" | stats | awk '{print $2}'; }
wall_ms() { "$D/timeit" 1 "$@" | awk '{printf "%.1f\n", $1 / 1000}'; }

echo "dunerun benchmarks, $(date -u +%Y-%m-%d), $(nproc) cores, kernel $(uname -r), $R repeats"
echo
echo '| benchmark                          | unit     | native min | native med | dunerun min | dunerun med | ratio |'
echo '|------------------------------------|----------|-----------:|-----------:|-----------:|-----------:|------:|'
row "startup of hello" us "startup $D/hello" -- "dunerun" "startup $B/dunerun exec $D/hello"
row "getpid round trip" ns "$D/micro getpid 200000" -- "dunerun" "$DR $D/micro getpid 200000" \
	-- "no-poll" "$DR --no-poll $D/micro getpid 200000"
row "1-byte write to /dev/null" ns "$D/micro write 50000" -- "dunerun" "$DR $D/micro write 50000" \
	-- "no-poll" "$DR --no-poll $D/micro write 20000"
row "first touch of 256 MiB" ns/page "$D/micro touch" -- "dunerun" "$DR $D/micro touch"
row "mmap+touch+munmap 4 KiB" ns "$D/micro mmap 20000" -- "dunerun" "$DR $D/micro mmap 5000"
row "busybox sha256sum 100 MiB" ms "wall_ms $B/progs/busybox sha256sum $D/data100m" \
	-- "dunerun" "wall_ms $B/dunerun exec $B/progs/busybox sha256sum $D/data100m"
row "sqlite speedtest1 --size 25 --memdb" ms "wall_ms $B/progs/speedtest1 --size 25 --memdb" \
	-- "dunerun" "wall_ms $B/dunerun exec $B/progs/speedtest1 --size 25 --memdb"

# Image build rate for a 100 MiB tree: half random bytes, half text, in
# 100 files, with the lua interpreter as the entrypoint.
tree=$D/tree100m
if [ ! -f "$tree/Dunefile" ]; then
	rm -rf "$tree" && mkdir -p "$tree/data"
	for i in $(seq 1 50); do dd if="$D/data100m" of="$tree/data/bin$i" bs=1M skip=$i count=1 2> /dev/null; done
	for i in $(seq 1 50); do seq -f "line %g of a text file $i" 1 40000 | head -c 1M > "$tree/data/text$i"; done
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
