#!/bin/bash
# fuzz/run.sh BUILD_DIR [SECONDS]: builds the libFuzzer harnesses.  With
# SECONDS, fuzzes each for that long (new inputs land in build/, not in the
# committed corpus); without, replays each committed corpus as a regression
# test.  Ends with "N passed, N failed".
set -u
B=${1:-build}
SECONDS_EACH=${2:-}
cd "$(dirname "$0")/../.."
mkdir -p "$B/fuzz"
pass=0 fail=0

build() {           # name sources...
	local name=$1
	shift
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Iloader \
		"$@" -o "$B/fuzz/$name" 2> "$B/fuzz/$name.build.log" && return 0
	echo "FAIL $name: does not build (see $B/fuzz/$name.build.log)"
	fail=$((fail + 1))
	return 1
}

run() {             # name corpus
	local name=$1 corpus=$2
	local log="$B/fuzz/$name.log"
	if [ -n "$SECONDS_EACH" ]; then
		mkdir -p "$B/fuzz/$name.new"
		"$B/fuzz/$name" -max_total_time="$SECONDS_EACH" -max_len=8192 \
			-artifact_prefix="$B/fuzz/$name-" "$B/fuzz/$name.new" "$corpus" > "$log" 2>&1
	else
		"$B/fuzz/$name" -runs=0 "$corpus" > "$log" 2>&1
	fi
	if [ $? -eq 0 ]; then
		echo "PASS $name ($(grep -Eo '#[0-9]+' "$log" | tail -n 1 | tr -d '#') executions)"
		pass=$((pass + 1))
	else
		echo "FAIL $name: see $log"
		tail -n 20 "$log" | sed 's/^/    /'
		fail=$((fail + 1))
	fi
}

build fuzz_elf loader/elf.c loader/stack.c tests/fuzz/fuzz_elf.c &&
	run fuzz_elf tests/fuzz/corpus/elf
build fuzz_patch -Ipatch patch/x86.c patch/plan.c tests/fuzz/fuzz_patch.c &&
	run fuzz_patch tests/fuzz/corpus/patch
build fuzz_dunefile -Ipolicy policy/*.c tests/fuzz/fuzz_dunefile.c &&
	run fuzz_dunefile tests/fuzz/corpus/dunefile
# The image reader needs zstd built with clang (see the script).
if tests/fuzz/build_image_fuzzer.sh "$B" > "$B/fuzz/fuzz_image.build.log" 2>&1; then
	run fuzz_image tests/fuzz/corpus/image
else
	echo "FAIL fuzz_image: does not build (see $B/fuzz/fuzz_image.build.log)"
	fail=$((fail + 1))
fi
build fuzz_json -Ijson json/json.c tests/fuzz/fuzz_json.c &&
	run fuzz_json tests/fuzz/corpus/json
# rootfs/ with the clang-built zstd of fuzz_image's script, the host's zlib.
[ -f "$B/fuzz/zstd/libzstd.a" ] && build fuzz_rootfs -Irootfs -Ijson -Iimages -isystem "$B/fuzz/zstd" \
	rootfs/*.c json/json.c images/image.c images/sha256.c tests/fuzz/fuzz_rootfs.c \
	"$B/fuzz/zstd/libzstd.a" -lz &&
	run fuzz_rootfs tests/fuzz/corpus/rootfs
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
