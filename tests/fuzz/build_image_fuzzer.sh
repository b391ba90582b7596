#!/bin/bash
# fuzz/build_image_fuzzer.sh BUILD_DIR: builds BUILD_DIR/fuzz/fuzz_image.
# The launcher's libzstd.a is built for musl, which clang's sanitizer
# runtimes cannot link with, so the fuzzer gets its own copy of zstd,
# built with clang from the same unpacked source into BUILD_DIR/fuzz/zstd
# (zstd itself is not instrumented: the harness fuzzes our checks, not
# zstd's).
set -eu
B=${1:-build}
cd "$(dirname "$0")/../.."
Z=$B/fuzz/zstd
if [ ! -f "$Z/libzstd.a" ]; then
	rm -rf "$Z"
	mkdir -p "$B/fuzz"
	cp -r "$B/src/libzstd/lib" "$Z"
	make -s -C "$Z" clean > /dev/null
	make -s -C "$Z" libzstd.a CC=clang > "$B/fuzz/zstd.build.log" 2>&1
fi
clang -g -O1 -fsanitize=fuzzer,address,undefined -Iimages -isystem "$Z" \
	images/image.c images/sha256.c tests/fuzz/fuzz_image.c \
	"$Z/libzstd.a" -o "$B/fuzz/fuzz_image"
