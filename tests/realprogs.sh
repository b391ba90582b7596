#!/bin/bash
# realprogs.sh BUILD_DIR: real work of real dynamic programs, whole inside
# one `dunerun exec` each, against the same work done natively.
#
#  - A real build: zlib's Debian source (the suite's copy), configured and
#    built by sh, make -j2 and gcc, and its own `make test`; natively and
#    then under dunerun, in the same directory, so that the objects, the
#    libraries and the test programs must be the same bytes.
#  - CPython's own regression tests (Debian's libpython3.11-testsuite):
#    each module's count of tests run, failed and in error must equal
#    native's.
#
# Ends with "N passed, N failed[, N skipped]".
set -u
B=${1:-build}
cd "$(dirname "$0")/.."
. tests/lib.sh
B=$(cd "$B" && pwd)
DR=$B/dunerun
T=$(mktemp -d /tmp/dunerun-realprogs.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0 skip=0

# ---- zlib, built twice ------------------------------------------------------
ZTAR=$(ls "$B"/src/dl-zlib/zlib_*.orig.tar.* 2> /dev/null | head -n 1)
if [ -z "$ZTAR" ] || ! command -v make > /dev/null || ! command -v gcc > /dev/null; then
	echo "SKIP zlib-build: no zlib source in $B/src/dl-zlib, or no make and gcc"
	skip=$((skip + 1))
else
	mkdir -p "$T/z" "$T/native"
	tar xf "$ZTAR" -C "$T/z" --strip-components=1
	build='./configure > configure.out 2>&1 && make -j2 > make.out 2>&1 && make test 2>&1 | tail -n 4'
	(cd "$T/z" && sh -c "$build") > "$T/native.test" 2>&1
	want=$?
	built=$(cd "$T/z" && ls *.o *.a libz.so* example minigzip 2> /dev/null)
	(cd "$T/z" && cp -P $built "$T/native/" && make distclean > /dev/null 2>&1)
	(cd "$T/z" && "$DR" exec /bin/sh -c "$build") > "$T/dunerun.test" 2>&1
	got=$? ok=0 differ=
	for f in $built; do
		cmp -s "$T/native/$f" "$T/z/$f" || differ="$differ $f"
	done
	[ "$got" = "$want" ] && [ "$want" = 0 ] && [ -z "$differ" ] && [ -n "$built" ] &&
		cmp -s "$T/native.test" "$T/dunerun.test" && grep -q 'zlib .*test OK' "$T/dunerun.test" && ok=1
	verdict $ok zlib-build "status $got (native $want); files that differ:${differ:- none}; test output: $(diff "$T/native.test" "$T/dunerun.test" | head -n 6)"
fi

# ---- CPython's regression tests ----------------------------------------------
# Modules that need no network (the run has none) and finish in seconds;
# test_threading and test_subprocess fork and wait the most.
PY=/usr/bin/python3
MODULES="test_json test_math test_re test_csv test_tempfile test_shutil test_glob test_threading"
counts() {          # LOG: "ran N failures N errors N"
	awk '/^Ran [0-9]+ test/ { ran = $2 }
	     /^FAILED/ { if (match($0, /failures=[0-9]+/)) f = substr($0, RSTART + 9, RLENGTH - 9)
			 if (match($0, /errors=[0-9]+/)) e = substr($0, RSTART + 7, RLENGTH - 7) }
	     END { printf "ran %d failures %d errors %d\n", ran, f, e }' "$1"
}
if [ ! -x "$PY" ] || ! "$PY" -c 'import test.libregrtest' 2> /dev/null; then
	echo "SKIP cpython-tests: no $PY with its test package (libpython3.11-testsuite)"
	skip=$((skip + 1))
else
	for m in $MODULES; do
		(cd "$T" && "$PY" -m test -v "$m") > "$T/$m.native" 2>&1
		(cd "$T" && "$DR" exec "$PY" -m test -v "$m") > "$T/$m.dunerun" 2>&1
		n=$(counts "$T/$m.native") d=$(counts "$T/$m.dunerun") ok=0
		[ "$n" = "$d" ] && [ "${n#ran 0 }" = "$n" ] && ok=1
		verdict $ok "cpython-$m" "native: $n; dunerun: $d; $(grep -E '^(FAIL|ERROR):' "$T/$m.dunerun" | head -n 3)"
	done
fi

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
