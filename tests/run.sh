#!/bin/bash
# run.sh BUILD_DIR [PATTERN]: dunerun's test suite.
#
# Each case in tests/cases/*.case runs twice, natively and under $RUNNER
# (default: BUILD_DIR/dunerun exec), in the same fresh work directory
# (TEST_TMP/NAME/work, default TEST_TMP=/tmp/dunerun-test), and the two runs
# are compared.  Only cases whose name contains PATTERN (a glob; several
# separated by |) run.
#
# Environment:
#   RUNNER    the command prefix under test.  RUNNER=env (or RUNNER=) runs
#             natively on both sides, which must pass: it checks the suite.
#   EXPECT    dunerun|native.  With "dunerun" (the default when RUNNER is not
#             set) a case's dunerun_stdout/dunerun_status replace the native
#             result as the reference; with "native" (the default when RUNNER
#             is set) the native result is the reference for every case.
#   RING0     1: the default runner runs each program in guest ring 0
#             (dunerun exec --supervisor), where it must still end as
#             natively; cases marked ring3_only are skipped.
#   TIMEOUT   seconds per run (default 60); TEST_TMP as above.
#   RUN_PATTERN  PATTERN, when none is given (tests/qemu-svm.sh passes it on).
#
# A case file is shell, sourced by this script.  Keys:
#   name=NAME            default: the file name without .case
#   cmd='PROG ARGS'      one command, run under the runner
#   script='SH'          instead of cmd: a shell snippet in which `run CMD...`
#                        runs CMD under the runner (everything else is native)
#   compare=LIST         of stdout,stderr,status,files (files: the work
#                        directory's names, types, modes, sizes, contents);
#                        default stdout,stderr,status
#   status=N             the native run must exit with N: guards the test itself
#                        (dunerun is judged against native by compare=status)
#   stdin=FILE           default /dev/null
#   needs='VAR...'       skip unless each VAR names an executable
#   pending='REASON'     skip: the feature is planned, not built (say which issue)
#   unlike_qemu_svm='REASON'  skip in tests/qemu-svm.sh's emulated machine
#                        (DUNERUN_TEST_MACHINE=qemu-svm), where the native
#                        side or KVM itself behaves otherwise: say how
#   ring3_only='REASON'  skip under RING0=1: the case checks what ring 3
#                        cannot do (a privileged instruction, the
#                        supervisor's memory), which ring 0 may
#   timeout=SECONDS
#   options='OPTS'       dunerun exec options for this case (--allow ...);
#                        used only with the default RUNNER
#   dunerun_stdout=FILE  (in tests/cases/) the expected stdout under dunerun
#   dunerun_status=N     the expected status under dunerun
# Single-quoted values are expanded when the case runs, with these set:
#   PROGS (the compiled tests/progs), BUSYBOX, LUA, SQLITE3, SPEEDTEST1,
#   DATA (generated input files), CASES (tests/cases), WORK (the work dir,
#   also the current directory).
set -u

[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: $0 BUILD_DIR [PATTERN]" >&2; exit 2; }
mkdir -p "$1" && B=$(cd "$1" && pwd) || exit 2
PATTERN=${2:-${RUN_PATTERN:-}}
TESTS=$(cd "$(dirname "$0")" && pwd)
T=${TEST_TMP:-/tmp/dunerun-test}
TIMEOUT=${TIMEOUT:-60}
OWN_RUNNER=
if [ -n "${RUNNER+set}" ]; then
	EXPECT=${EXPECT:-native}
else
	OWN_RUNNER=1
	RUNNER="$B/dunerun exec"
	[ "${RING0:-}" = 1 ] && RUNNER+=" --supervisor"
	EXPECT=${EXPECT:-dunerun}
	[ -x "$B/dunerun" ] || echo "warning: $B/dunerun does not exist; every case will fail" >&2
fi

die() { echo "run.sh: $*" >&2; exit 2; }

# One run at a time per TEST_TMP: the work paths are fixed.
mkdir -p "$T" || die "cannot create $T"
exec 9>"$T/.lock"
flock -n 9 || { echo "run.sh: waiting for another run using $T" >&2; flock 9; }

# ---- Build tests/progs/*.c into BUILD_DIR/tests when stale ----------------
PROGS=$B/tests
mkdir -p "$PROGS"
if ! command -v musl-gcc >/dev/null; then
	echo "run.sh: installing musl-tools" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y musl-tools >/dev/null || die "musl-gcc is missing"
fi
for src in "$TESTS"/progs/*.c; do
	exe=$PROGS/$(basename "$src" .c)
	if [ ! -x "$exe" ] || [ "$src" -nt "$exe" ] || [ "$TESTS/progs/t.h" -nt "$exe" ]; then
		musl-gcc -static -O2 -Wall -I"$TESTS/progs" -o "$exe" "$src" || die "cannot build $src"
	fi
done

# Dynamic programs: tests/progs/dyn/X.c as $PROGS/dyn-X (glibc's loader)
# and $PROGS/musl-dyn-X (musl's).
for src in "$TESTS"/progs/dyn/*.c; do
	x=$(basename "$src" .c)
	for cc in gcc:dyn musl-gcc:musl-dyn; do
		exe=$PROGS/${cc#*:}-$x
		if [ ! -x "$exe" ] || [ "$src" -nt "$exe" ]; then
			${cc%:*} -O2 -Wall -pthread -o "$exe" "$src" || die "cannot build $src"
		fi
	done
done

# ---- Programs the cases use ------------------------------------------------
prog() { [ -x "$B/progs/$1" ] && echo "$B/progs/$1"; }
BUSYBOX=$(prog busybox || echo /bin/busybox)
LUA=$(prog lua) SQLITE3=$(prog sqlite3) SPEEDTEST1=$(prog speedtest1)
BASH_STATIC=$(prog bash-static) MKSH_DIET=$(prog mksh-diet) MKSH_KLIBC=$(prog mksh-klibc) ZSH_STATIC=$(prog zsh-static) SASH=$(prog sash)
FUZZCHECK=$(prog fuzzcheck) FUZZDATA=$B/progs/fuzzdata1.db
ZLIB_EXAMPLE=$(prog zlib-example) MINIGZIP=$(prog minigzip)
GOJQ=$(prog gojq) SHFMT=$(prog shfmt)
host() { [ -x "$1" ] && echo "$1"; }
PYTHON3=$(host /usr/bin/python3) GCC=$(host /usr/bin/gcc) MAKE=$(host /usr/bin/make)
CASES=$TESTS/cases
DATA=$T/.data
export PROGS BUSYBOX LUA SQLITE3 SPEEDTEST1 BASH_STATIC ZSH_STATIC SASH PYTHON3 GCC MAKE MKSH_DIET MKSH_KLIBC FUZZCHECK FUZZDATA ZLIB_EXAMPLE MINIGZIP GOJQ SHFMT CASES DATA
# Determinism: the same locale and time zone for every run.
export LC_ALL=C TZ=UTC DUNERUN_TEST_VAR='some value'
ulimit -c 0

# ---- Input data: deterministic, regenerated on every run ------------------
rm -rf "$DATA" && mkdir -p "$DATA" || die "cannot create $DATA"
awk 'BEGIN {
	split("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike " \
	      "november oscar papa quebec romeo sierra tango uniform victor whiskey xray", w, " ");
	x = 7;
	for (i = 1; i <= 3000; i++) {
		x = (x * 75 + 74) % 65537; a = w[x % 24 + 1];
		x = (x * 75 + 74) % 65537; b = w[x % 24 + 1];
		printf "%s %d %s line%d\n", a, x % 1000, b, i;
	}
}' >"$DATA/words.txt"
for i in $(seq 0 255); do printf "\\$(printf %03o "$i")"; done >"$DATA/bytes.bin"
{ cat "$DATA/bytes.bin"; gzip -n -9 -c "$DATA/words.txt"; cat "$DATA/bytes.bin"; } >"$DATA/binary.bin"
for i in $(seq 1 40); do cat "$DATA/words.txt" "$DATA/binary.bin"; done >"$DATA/big.bin"
printf 'line one\nline two\n\nlast line without newline' >"$DATA/input.txt"
mkdir -p "$DATA/tree/sub/deeper" "$DATA/tree/empty"
printf 'alpha\n' >"$DATA/tree/a.txt"
printf 'bravo bravo\n' >"$DATA/tree/b.txt"
head -c 5000 "$DATA/binary.bin" >"$DATA/tree/sub/blob.bin"
printf 'deep\n' >"$DATA/tree/sub/deeper/c.txt"
ln -s a.txt "$DATA/tree/link-to-a"
chmod 600 "$DATA/tree/b.txt"; chmod 755 "$DATA/tree/sub/deeper"
find "$DATA/tree" -exec touch -h -d '2020-01-02 03:04:05 UTC' {} +

# ---- Running one case -------------------------------------------------------
# The shell that runs a case body: no inherited descriptors beyond 0-2, and
# `run` puts the runner in front of a command.
PRELUDE='set -o pipefail
for f in /proc/$$/fd/*; do f=${f##*/}; [ "$f" -gt 2 ] && exec {f}>&-; done
run() { $RUN_PREFIX "$@"; }
eval "$CASE_BODY"; exit $?'

# side LABEL PREFIX: run the current case with PREFIX as the runner.
side() {
	local o=$T/$name/$1
	rm -rf "$T/$name/work" && mkdir -p "$T/$name/work"
	(cd "$T/$name/work" && WORK=$(pwd -P) RUN_PREFIX=$2 CASE_BODY=$body \
		timeout -k 5 "$timeout" bash -c "$PRELUDE") <"$stdin" >"$o.out" 2>"$o.err"
	echo $? >"$o.status"
	(cd "$T/$name/work" && find . -mindepth 1 \( -type d -printf 'dir %m %P\n' \) \
		-o \( -type l -printf 'link %P -> %l\n' \) -o \( -type f -printf 'file %m %s %P\n' \) \
		-o -printf 'other %y %P\n' | sort && find . -type f -exec sha256sum {} + | sort -k2) >"$o.files"
}

# differ WHAT REF GOT: report a difference between two files.
differ() {
	why+=" $1"
	details+=$(diff -u --label "$ref/$1" --label "dunerun/$1" "$2" "$3" | head -n 12 | sed 's/^/    /')$'\n'
}

passed=0 failed=0 skipped=0
for file in "$CASES"/*.case; do
	name='' cmd='' script='' compare=stdout,stderr,status status='' stdin=/dev/null needs='' pending=''
	unlike_qemu_svm='' ring3_only=''
	timeout=$TIMEOUT dunerun_stdout='' dunerun_status='' options=''
	. "$file"
	name=${name:-$(basename "$file" .case)}
	matched=
	for p in ${PATTERN//|/ }; do [[ $name == *$p* ]] && matched=1; done
	[ -z "$PATTERN" ] || [ -n "$matched" ] || continue
	if [ -n "$pending" ]; then
		echo "SKIP $name (pending: $pending)"; skipped=$((skipped + 1)); continue
	fi
	if [ -n "$unlike_qemu_svm" ] && [ "${DUNERUN_TEST_MACHINE:-}" = qemu-svm ]; then
		echo "SKIP $name (in QEMU's emulated machine: $unlike_qemu_svm)"; skipped=$((skipped + 1)); continue
	fi
	if [ -n "$ring3_only" ] && [ "${RING0:-}" = 1 ]; then
		echo "SKIP $name (in ring 0: $ring3_only)"; skipped=$((skipped + 1)); continue
	fi
	missing=''
	for v in $needs; do [ -x "${!v:-}" ] || missing+=" $v"; done
	if [ -n "$missing" ]; then
		echo "SKIP $name (not built:$missing)"; skipped=$((skipped + 1)); continue
	fi
	body=${script:-"run $cmd"}
	rm -rf "${T:?}/$name" && mkdir -p "$T/$name"
	side native ''
	side dunerun "$RUNNER${OWN_RUNNER:+ $options}"
	R=$T/$name
	ref=native ref_out=$R/native.out ref_status=$(cat "$R/native.status")
	if [ "$EXPECT" = dunerun ] && [ -n "$dunerun_stdout$dunerun_status" ]; then
		ref=expected
		[ -n "$dunerun_stdout" ] && ref_out=$CASES/$dunerun_stdout
		[ -n "$dunerun_status" ] && ref_status=$dunerun_status
	fi
	echo "$ref_status" >"$R/ref.status"
	why='' details=''
	for what in ${compare//,/ }; do
		case $what in
		stdout) cmp -s "$ref_out" "$R/dunerun.out" || differ stdout "$ref_out" "$R/dunerun.out" ;;
		stderr) cmp -s "$R/native.err" "$R/dunerun.err" || differ stderr "$R/native.err" "$R/dunerun.err" ;;
		status) cmp -s "$R/ref.status" "$R/dunerun.status" || why+=" status" ;;
		files) cmp -s "$R/native.files" "$R/dunerun.files" || differ files "$R/native.files" "$R/dunerun.files" ;;
		*) why+=" bad-compare-key:$what" ;;
		esac
	done
	# A native run that does not end as the case says means the test itself is broken.
	[ -z "$status" ] || [ "$(cat "$R/native.status")" = "$status" ] || why+=" native-status-not-$status"
	if [ -z "$why" ]; then
		echo "PASS $name"; passed=$((passed + 1))
	else
		got=$(cat "$R/dunerun.status")
		case $got in 124 | 137) got+=", timed out after ${timeout}s" ;; esac
		echo "FAIL $name:$why (status: $ref $ref_status, dunerun $got)"
		printf '%s' "$details"
		[ -s "$R/dunerun.err" ] && [[ $compare != *stderr* ]] && sed 's/^/    stderr: /' "$R/dunerun.err" | head -n 3
		failed=$((failed + 1))
	fi
done

summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary+=", $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ]
