#!/bin/bash
# supervisor.sh BUILD_DIR: supervisor mode (dunerun exec --supervisor):
# libdune's ring-0 calls (tests/dune/ring0.c prints one line per check)
# and the plugin sandbox of images/examples/plugin-sandbox, with a
# well-behaved plugin and hostile ones: each hostile act must be stopped
# or denied, and reported.  On PVM hosts, whose ring 0 is emulated, the
# cases are skipped, saying so (supervisor_host in lib.sh).
set -u
B=${1:-build}
cd "$(dirname "$0")/.."
DR=$B/dunerun
T=$(mktemp -d /tmp/dunerun-supervisor.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0 skip=0
. tests/lib.sh

# The sandbox and its plugins are the image's, compiled by make.
E=images/examples/plugin-sandbox
IMG=$B/examples/plugin-sandbox.dz
P=$B/examples/plugin-sandbox/plugins
make -s "$B/dunerun" "$B/libdune.a" "$IMG" &&
	musl-gcc -static -O2 -Wall -Wextra -Iinclude tests/dune/ring0.c "$B/libdune.a" -o "$T/ring0" ||
	{ echo "0 passed, 1 failed"; exit 1; }

if ! supervisor_host "$DR" "$B/progs/busybox" true; then
	echo "SKIP supervisor mode: $SUPERVISOR_WHY"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi

API_TIMEOUT=300 api ring0 "$DR" exec --supervisor "$T/ring0"
api ring3 "$DR" exec "$T/ring0" ring3

# Appel and Li's primitives in ring 0 (the bench's program): each round
# checks its fault count, and neither a protection fault nor a user
# context's syscall leaves the guest, so two more rounds (1,000 more
# faults, 2,000 more syscalls) add almost no exits for faults or
# exceptions.  (The supervisor program's own calls, its output and its
# clock, may exit or not as the polling thread catches them: not what
# is checked.)
musl-gcc -static -O2 -Iinclude tests/bench/appel.c "$B/libdune.a" -o "$T/appel" ||
	{ echo "0 passed, 1 failed"; exit 1; }
# exits_after ARGS...: runs `dunerun exec --supervisor --stats ARGS`;
# prints its exits for page faults and other exceptions if it ended with
# status 0 (its stdout in $T/out).
exits_after() {
	timeout -k 5 300 "$DR" exec --supervisor --stats "$@" > "$T/out" 2> "$T/err" &&
		awk '/^dunerun: exits: [0-9]+ page faults, [0-9]+ other exceptions/ { print $3 + $6 }' "$T/err"
}
appel_rows() { [ "$(grep -Ec '^(trap|prot1|protN|appel1|appel2|syscall) [0-9]+ [0-9]+$' "$T/out")" = 6 ]; }
e2=$(exits_after "$T/appel" -n 2 -r 1 ring0 && appel_rows)
verdict $([ -n "$e2" ] && echo 1 || echo 0) appel-ring0-checks "6 rows of figures and status 0 wanted:"
e4=$(exits_after "$T/appel" -n 4 -r 1 ring0 && appel_rows)
verdict $([ -n "$e2" ] && [ -n "$e4" ] && [ $((e4 - e2)) -lt 100 ] && echo 1 || echo 0) appel-ring0-faults-without-exits \
	"2 rounds: ${e2:-?} fault exits, 4 rounds: ${e4:-?} (1,000 faults more):"

# Other vectors too: 1,000 more #UDs, each skipped by the handler, add
# almost no exits.
u1=$(exits_after "$T/ring0" ud 10 && grep -qx "10 traps" "$T/out")
u2=$(exits_after "$T/ring0" ud 1010 && grep -qx "1010 traps" "$T/out")
verdict $([ -n "$u1" ] && [ -n "$u2" ] && [ $((u2 - u1)) -lt 100 ] && echo 1 || echo 0) ring0-ud-without-exits \
	"10 #UDs: ${u1:-?} exits, 1,010: ${u2:-?} exits:"

# Real programs in ring 0 (their syscalls, signals, SSE, memory) end
# exactly as natively: stdout and status.  Each runs in $T.
X=$(cd "$B/progs" && pwd)
ADR=$(cd "$B" && pwd)/dunerun
printf 'x = 0\nfor i = 1, 200000 do x = x + math.sqrt(i) end\nprint(string.format("%%.3f", x))\n' > "$T/sum.lua"
while read -r name cmd; do
	eval "set -- $cmd"
	(cd "$T" && exec timeout -k 5 120 "$@" < /dev/null > native.out 2> /dev/null) 2> /dev/null
	nst=$?
	(cd "$T" && exec timeout -k 5 300 "$ADR" exec --supervisor "$@" < /dev/null > out 2> err) 2> /dev/null
	st=$?
	ok=0
	[ "$st" = "$nst" ] && [ -s "$T/out" ] && cmp -s "$T/native.out" "$T/out" && ok=1
	verdict $ok "real-$name" "status $st (native $nst), or stdout differs from native:"
done <<REAL
busybox-sha256 $X/busybox sha256sum $X/busybox
busybox-sh $X/busybox sh -c 'for i in 1 2 3; do echo \$i | $X/busybox tr 123 abc; done; exit 3'
lua $X/lua sum.lua
sqlite3 $X/sqlite3 :memory: 'create table t(x); insert into t values (1),(2),(3); select sum(x), group_concat(x) from t;'
busybox-segv $X/busybox sh -c 'echo before; kill -SEGV \$\$'
REAL

# A program in ring 0 that corrupts the supervisor's control block and
# its own page tables: whatever happens to it, the launcher ends the run
# itself and reports it.
timeout -k 5 120 "$DR" exec --supervisor --status-json "$T/status.json" "$T/ring0" hostile \
	> "$T/out" 2> "$T/err"
st=$?
ok=0
grep -q '"status": *'"$st" "$T/status.json" 2> /dev/null && ok=1
verdict $ok ring0-hostile-launcher-survives "status $st, status file: $(cat "$T/status.json" 2> /dev/null)"

# Acts only the launcher can end (ring0.c act NAME): each ends the run
# with its status and a reason, and the status file agrees.
while read -r act want pat; do
	# (In a subshell, whose stderr drops bash's own "Segmentation fault".)
	(timeout -k 5 60 "$DR" exec --supervisor --timeout 5s --status-json "$T/status.json" \
		"$T/ring0" act "$act" < /dev/null > "$T/out" 2> "$T/err"; exit $?) 2> /dev/null
	st=$?
	ok=0
	[ "$st" = "$want" ] && grep -Eq "$pat" "$T/err" && grep -q '"status": *'"$want" "$T/status.json" && ok=1
	verdict $ok "ring0-act-$act" "status $st (want $want, stderr matching $pat):"
done <<'ACTS'
spin 124 ^dunerun: time limit of 5000 ms reached
hlt 125 ^dunerun: supervisor panic: hlt in the supervisor
idt 125 ^dunerun: supervisor panic: triple fault
port-out 125 ^dunerun: supervisor panic: unexpected port output
port-in 125 ^dunerun: supervisor panic: unexpected port input
forged-exception 125 ^dunerun: supervisor panic: exception with the supervisor stack
kernel-text 139 supervisor write, protection violation
lstar 139 killed by Segmentation fault: #PF page fault at rip 0x1000
ACTS

# sandbox NAME WANT-STATUS STDERR-PATTERN PLUGIN ARGS...: the sandbox
# runs the plugin; its status and a stderr line matching the pattern.
S="$DR exec --supervisor $B/examples/plugin-sandbox/sandbox"
sandbox() {
	local name=$1 want=$2 pat=$3
	shift 3
	timeout -k 5 120 $S "$@" > "$T/out" 2> "$T/err"
	local st=$? ok=0
	[ "$st" = "$want" ] && grep -Eq -- "$pat" "$T/err" && ok=1
	verdict $ok "sandbox-$name" "status $st (want $want, stderr matching $pat):"
}

sandbox hello 0 '^sandbox: plugin exited, status 0, 0 calls denied$' "$P/hello" a b
ok=0
head -n 3 "$T/out" | cmp -s - $E/hello.expected &&
	grep -qx "checksum: $(awk 'BEGIN { s = 0; for (i = 1; i <= 1000; i++) s = (s * 31 + i) % 4294967296; print s }')" "$T/out" &&
	grep -qx 'shared page: the plugin was here' "$T/out" && ok=1
verdict $ok sandbox-hello-output "stdout differs from $E/hello.expected, its checksum or reply:"

# Reads and writes of what is not the plugin's: the sandbox's stack and
# heap, the supervisor, the direct map of guest memory, the mailbox, and
# the plugin's own read-only text.
for a in 7ffffffe0000 4000000 ffffffff80100000 ffff888000400000 7fffffff1000 7f0000000000; do
	sandbox "peek-$a" 139 "^sandbox: plugin stopped: read of 0x$a \((not mapped|protection)\)" "$P/peek" "$a"
	grep -q '^read ' "$T/out" && verdict 0 "sandbox-peek-$a-no-data" "the plugin printed what it read:"
done
sandbox peek-write-text 139 '^sandbox: plugin stopped: write of 0x401000 \(protection\)' "$P/peek" 401000 w

sandbox forker 3 '^sandbox: denied fork \(syscall 57\)' "$P/forker"
ok=0
grep -q '^sandbox: denied open (syscall 2)' "$T/err" && grep -q '^sandbox: denied syscall (syscall 1)' "$T/err" &&
	grep -qx 'fork: -1 (Operation not permitted)' "$T/out" &&
	grep -qx 'open: -1 (Operation not permitted)' "$T/out" &&
	grep -qx 'write to stderr: -1' "$T/out" && ok=1
verdict $ok sandbox-forker-denials "each denial logged, each call failed with EPERM:"

for insn in cli hlt cr3 wrmsr out lidt; do
	sandbox "priv-$insn" 132 '^sandbox: plugin stopped: privileged instruction \(#GP\)' "$P/priv" "$insn"
	grep -q 'did not fault' "$T/out" && verdict 0 "sandbox-priv-$insn-stopped" "it ran on:"
done

start=$SECONDS
sandbox spin-budget 137 '^sandbox: plugin stopped: its time budget of 300 ms ran out' \
	-b 300 "$P/spin"
verdict $(( SECONDS - start < 60 )) sandbox-spin-stops-in-time "it took $((SECONDS - start)) s"

head -c 3000 "$P/hello" > "$T/truncated"
sandbox truncated-plugin 1 "^sandbox: $T/truncated: " "$T/truncated"
timeout -k 5 60 "$DR" exec "$B/examples/plugin-sandbox/sandbox" "$P/hello" > "$T/out" 2> "$T/err"
st=$?
ok=0
[ $st = 1 ] && grep -q 'needs ring 0' "$T/err" && ok=1
verdict $ok sandbox-without-supervisor "status $st (want 1 and a reason):"

# The same sandbox as an image: its policy's `supervisor` puts it in
# ring 0, and without it (or --supervisor) the program runs in ring 3.
# image NAME WANT-STATUS STDERR-PATTERN DUNERUN-ARGS...
image() {
	local name=$1 want=$2 pat=$3
	shift 3
	timeout -k 5 120 "$DR" "$@" > "$T/out" 2> "$T/err"
	local st=$? ok=0
	[ "$st" = "$want" ] && grep -Eq -- "$pat" "$T/err" && ok=1
	verdict $ok "image-$name" "status $st (want $want, stderr matching $pat):"
}
image sandbox 0 '^sandbox: plugin exited, status 0, 0 calls denied$' "$IMG"
head -n 3 "$T/out" | cmp -s - $E/hello.expected
verdict $((! $?)) image-sandbox-output "stdout differs from $E/hello.expected:"
image sandbox-forker 3 '^sandbox: denied fork \(syscall 57\)' run "$IMG" /plugins/forker
image sandbox-spin 137 'time budget of 300 ms ran out' run "$IMG" -b 300 /plugins/spin

mkdir -p "$T/ring3"
cp -r "$B/examples/plugin-sandbox/." "$T/ring3/"
sed -i 's/^ALLOW .*/ALLOW stdio rpath/' "$T/ring3/Dunefile"
"$DR" build -o "$T/ring3.dz" "$T/ring3" > /dev/null
image without-supervisor-promise 1 'needs ring 0' "$T/ring3.dz"
image supervisor-flag 0 '^sandbox: plugin exited, status 0' run --supervisor "$T/ring3.dz"

# Ring 0 changes nothing the launcher enforces: an image that may not
# read files cannot, whichever ring its program runs in, and the two
# runs end alike.
mkdir -p "$T/bb"
cp "$B/progs/busybox" "$T/bb/busybox"
printf 'COPY busybox /bin/busybox\nENTRYPOINT ["/bin/busybox", "cat", "/bin/busybox"]\nALLOW stdio\n' > "$T/bb/Dunefile"
"$DR" build -o "$T/bb3.dz" "$T/bb" > /dev/null
printf 'ALLOW supervisor\n' >> "$T/bb/Dunefile"
"$DR" build -o "$T/bb0.dz" "$T/bb" > /dev/null
"$DR" run --audit "$T/audit3" "$T/bb3.dz" > "$T/out3" 2> "$T/err3"
st3=$?
image policy-in-ring0 "$st3" 'Operation not permitted' run --audit "$T/audit0" "$T/bb0.dz"
ok=0
[ "$st3" != 0 ] && cmp -s "$T/out3" "$T/out" && cmp -s "$T/err3" "$T/err" &&
	grep -q '"syscall":"open' "$T/audit0" && ok=1
verdict $ok image-policy-in-ring0-same "ring 3: status $st3, $(cat "$T/err3"); ring 0 audit: $(cat "$T/audit0" 2> /dev/null)"

summary
