#!/bin/bash
# supervisor.sh BUILD_DIR: supervisor mode (dunerun exec --supervisor):
# libdune's ring-0 calls (tests/dune/ring0.c prints one line per check)
# and the plugin sandbox of images/examples/plugin-sandbox, with a
# well-behaved plugin and hostile ones: each hostile act must be stopped
# or denied, and reported.  Hosts whose KVM cannot run a program in ring
# 0 natively (PVM) refuse --supervisor: the cases are skipped, saying so.
set -u
B=${1:-build}
cd "$(dirname "$0")/.."
DR=$B/dunerun
T=$(mktemp -d /tmp/dunerun-supervisor.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0 skip=0
. tests/lib.sh

make -s "$B/dunerun" "$B/libdune.a" || { echo "0 passed, 1 failed"; exit 1; }
E=images/examples/plugin-sandbox
CC="musl-gcc -static -O2 -Wall -Wextra -Iinclude"
$CC tests/dune/ring0.c "$B/libdune.a" -o "$T/ring0" &&
	$CC $E/sandbox.c "$B/libdune.a" -o "$T/sandbox" ||
	{ echo "0 passed, 1 failed"; exit 1; }
for p in $E/plugins/*.c; do
	$CC "$p" -o "$T/$(basename "$p" .c)" || { echo "0 passed, 1 failed"; exit 1; }
done

if ! "$DR" exec --supervisor "$B/progs/busybox" true 2> "$T/why"; then
	echo "SKIP supervisor mode: $(cat "$T/why")"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi

API_TIMEOUT=300 api ring0 "$DR" exec --supervisor "$T/ring0"
api ring3 "$DR" exec "$T/ring0" ring3

# A program in ring 0 that corrupts the supervisor's control block and
# its own page tables: whatever happens to it, the launcher ends the run
# itself and reports it.
timeout -k 5 120 "$DR" exec --supervisor --status-json "$T/status.json" "$T/ring0" hostile \
	> "$T/out" 2> "$T/err"
st=$?
ok=0
grep -q '"status": *'"$st" "$T/status.json" 2> /dev/null && ok=1
verdict $ok ring0-hostile-launcher-survives "status $st, status file: $(cat "$T/status.json" 2> /dev/null)"

# sandbox NAME WANT-STATUS STDERR-PATTERN PLUGIN ARGS...: the sandbox
# runs the plugin; its status and a stderr line matching the pattern.
S="$DR exec --supervisor $T/sandbox"
sandbox() {
	local name=$1 want=$2 pat=$3
	shift 3
	timeout -k 5 120 $S "$@" > "$T/out" 2> "$T/err"
	local st=$? ok=0
	[ "$st" = "$want" ] && grep -Eq -- "$pat" "$T/err" && ok=1
	verdict $ok "sandbox-$name" "status $st (want $want, stderr matching $pat):"
}

sandbox hello 0 '^sandbox: plugin exited, status 0, 0 calls denied$' "$T/hello" a b
ok=0
head -n 3 "$T/out" | cmp -s - $E/hello.expected &&
	grep -qx "checksum: $(awk 'BEGIN { s = 0; for (i = 1; i <= 1000; i++) s = (s * 31 + i) % 4294967296; print s }')" "$T/out" &&
	grep -qx 'shared page: the plugin was here' "$T/out" && ok=1
verdict $ok sandbox-hello-output "stdout differs from $E/hello.expected, its checksum or reply:"

# Reads and writes of what is not the plugin's: the sandbox's stack and
# heap, the supervisor, the direct map of guest memory, the mailbox, and
# the plugin's own read-only text.
for a in 7ffffffe0000 4000000 ffffffff80100000 ffff888000400000 7fffffff1000 7f0000000000; do
	sandbox "peek-$a" 139 "^sandbox: plugin stopped: read of 0x$a \((not mapped|protection)\)" "$T/peek" "$a"
	grep -q '^read ' "$T/out" && verdict 0 "sandbox-peek-$a-no-data" "the plugin printed what it read:"
done
sandbox peek-write-text 139 '^sandbox: plugin stopped: write of 0x401000 \(protection\)' "$T/peek" 401000 w

sandbox forker 3 '^sandbox: denied fork \(syscall 57\)' "$T/forker"
ok=0
grep -q '^sandbox: denied open (syscall 2)' "$T/err" && grep -q '^sandbox: denied syscall (syscall 1)' "$T/err" &&
	grep -qx 'fork: -1 (Operation not permitted)' "$T/out" &&
	grep -qx 'open: -1 (Operation not permitted)' "$T/out" &&
	grep -qx 'write to stderr: -1' "$T/out" && ok=1
verdict $ok sandbox-forker-denials "each denial logged, each call failed with EPERM:"

for insn in cli hlt cr3 wrmsr out lidt; do
	sandbox "priv-$insn" 132 '^sandbox: plugin stopped: privileged instruction \(#GP\)' "$T/priv" "$insn"
	grep -q 'did not fault' "$T/out" && verdict 0 "sandbox-priv-$insn-stopped" "it ran on:"
done

start=$SECONDS
sandbox spin-budget 137 '^sandbox: plugin stopped: its time budget of 300 ms ran out' \
	-b 300 "$T/spin"
verdict $(( SECONDS - start < 60 )) sandbox-spin-stops-in-time "it took $((SECONDS - start)) s"

head -c 3000 "$T/hello" > "$T/truncated"
sandbox truncated-plugin 1 "^sandbox: $T/truncated: " "$T/truncated"
timeout -k 5 60 "$DR" exec "$T/sandbox" "$T/hello" > "$T/out" 2> "$T/err"
st=$?
ok=0
[ $st = 1 ] && grep -q 'needs ring 0' "$T/err" && ok=1
verdict $ok sandbox-without-supervisor "status $st (want 1 and a reason):"

summary
