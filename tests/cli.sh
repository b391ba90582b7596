#!/bin/bash
# cli.sh BUILD_DIR: the launcher's own behaviour on bad input and hostile
# environments: each case checks the exit status and the one-line message.
set -u
B=${1:-build}
cd "$(dirname "$0")/.."
DR=$B/dunerun
T=$(mktemp -d /tmp/dunerun-cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0

. tests/lib.sh

# expect_trace NAME PATTERN CMD...: CMD's (long) stderr has a line
# matching PATTERN, whatever its status.
expect_trace() {
	local name=$1 pat=$2
	shift 2
	timeout -k 5 60 "$@" > "$T/out" 2> "$T/err"
	local ok=0
	grep -Eq -- "$pat" "$T/err" && ok=1
	verdict $ok "$name" "no line matching $pat in:"
}

# expect NAME STATUS PATTERN CMD...: CMD exits with STATUS and its stderr
# matches the extended regex PATTERN (and has no more than 3 lines), or is
# empty if PATTERN is "-".
expect() {
	local name=$1 want=$2 pat=$3
	shift 3
	timeout -k 5 60 "$@" > "$T/out" 2> "$T/err"
	local got=$?
	local ok=0
	if [ "$pat" = - ]; then
		[ -s "$T/err" ] || ok=1
	elif grep -Eq -- "$pat" "$T/err" && [ "$(wc -l < "$T/err")" -le 3 ]; then
		ok=1
	fi
	[ "$got" = "$want" ] || ok=0
	verdict $ok "$name" "status $got (want $want), stderr:"
}

printf '#include <stdio.h>\nint main(void){puts("hi");return 0;}\n' > "$T/hi.c"
musl-gcc -static -O1 "$T/hi.c" -o "$T/hi"
gcc -O1 "$T/hi.c" -o "$T/hi-dynamic"
gcc -O1 -static-pie "$T/hi.c" -o "$T/hi-static-pie"
head -c 100 "$T/hi" > "$T/truncated"
head -c 3000 "$T/hi" > "$T/truncated-phdrs"
printf '#!/bin/sh\necho hi\n' > "$T/script"
chmod +x "$T/script" "$T/truncated" "$T/truncated-phdrs"
cat > "$T/hog.c" <<'EOF'
#include <stdlib.h>
#include <string.h>
int main(void) { for (;;) { char *p = malloc(1 << 20); if (!p) return 3; memset(p, 1, 1 << 20); } }
EOF
musl-gcc -static -O1 "$T/hog.c" -o "$T/hog"
musl-gcc -static -O1 tests/bench/micro.c -o "$T/micro"

expect_trace version 'dunerun [0-9.]+ \(zstd 1\.[0-9.]+, libcap with [0-9]+ capabilities\)' \
	sh -c '"$0" --version >&2' "$DR"
expect no-args 2 'usage: dunerun .run. IMAGE.dz' "$DR"
expect unknown-option 2 "unknown option '--bogus'" "$DR" exec --bogus "$T/hi"
expect bad-mem 2 '^dunerun: --memory lots: ' "$DR" exec --mem lots "$T/hi"
expect tiny-mem 2 '--memory 1M: at least 32M' "$DR" exec --memory 1M "$T/hi"
expect not-found 127 'nosuchprogram: No such file or directory' "$DR" exec "$T/nosuchprogram"
expect not-in-path 127 'No such file' env PATH=/nonexistent "$DR" exec nosuchprogram
expect directory 126 'not a regular file' "$DR" exec "$T"
expect dynamic 0 - "$DR" exec "$T/hi-dynamic"
sed 's|/lib64/ld-linux-x86-64.so.2|/lib64/ld-nothe-x86-64.so.2|' "$T/hi-dynamic" > "$T/hi-no-interp"
chmod +x "$T/hi-no-interp"
expect missing-interpreter 127 'ld-nothe-x86-64.so.2: No such file.*|cannot load its interpreter /lib64/ld-nothe' \
	"$DR" exec "$T/hi-no-interp"
expect script 126 'not an ELF' "$DR" exec "$T/script"
expect truncated-header 126 'truncated|too small|short' "$DR" exec "$T/truncated"
expect truncated-phdrs 126 'truncated|beyond|outside|short' "$DR" exec "$T/truncated-phdrs"
expect static-pie 0 - "$DR" exec "$T/hi-static-pie"
expect out-of-memory 137 'memory limit of 64 MiB reached' "$DR" exec --mem 64M "$T/hog"
expect_trace trace-guest '^getpid\(\) = [0-9]+ \[guest\]$' "$DR" exec --trace "$T/micro" getpid 3
expect_trace trace-host '^writev\(1, 0x[0-9a-f]+, 2\) = 3 \[host\]$' "$DR" exec --trace "$T/hi"
# A site's first call takes the syscall instruction; from then on the
# site is a jump (patch/patch.h), and the trace says so.
expect_trace trace-patched '^write\(3, "x", 1\) = 1 \[host, patched\]$' \
	"$DR" exec --trace "$T/micro" write 3
expect_trace stats-patched '^dunerun: syscall sites: [1-9][0-9]* patched' "$DR" exec --stats "$T/micro" write 3
timeout -k 5 60 "$DR" exec --no-patch --trace "$T/micro" write 3 > "$T/out" 2> "$T/err"
ok=0
[ "$(grep -c '^write(3, "x", 1) = 1 \[host\]$' "$T/err")" = 3 ] && ! grep -q patched "$T/err" && ok=1
verdict $ok trace-no-patch "--no-patch: three writes, none patched, wanted in:"
expect_trace trace-errors '^openat\(AT_FDCWD, "/nonexistent", 0x0, 0\) = -1 ENOENT \(No such file or directory\) \[host\]$' \
	"$DR" exec --trace "$B/progs/busybox" cat /nonexistent

# A program attacking the launcher through syscalls and the mailbox: every
# attempt fails inside the program, which runs on to the end.
musl-gcc -static -O1 tests/hostile/abuse.c -o "$T/abuse"
"$DR" exec "$T/abuse" < /dev/null > "$T/abuse.out" 2> "$T/err"
st=$?
ok=0
[ "$st" = 0 ] && cmp -s tests/hostile/abuse.expected "$T/abuse.out" && ok=1
verdict $ok hostile-abuse "status $st or output differs: $(diff tests/hostile/abuse.expected "$T/abuse.out" | head -5)"

# A fault in the supervisor itself: a panic report with registers, 125.
DUNERUN_INJECT=supervisor-fault "$DR" exec "$T/hi" > "$T/out" 2> "$T/err"
st=$?
ok=0
[ "$st" = 125 ] && grep -q '^dunerun: supervisor panic: #PF page fault in the supervisor' "$T/err" &&
	grep -Eq '^  rip [0-9a-f]{16} rflags [0-9a-f]+ cs 0010 cr2' "$T/err" && ok=1
verdict $ok supervisor-panic "status $st (want 125 and a register dump):"

# /dev/kvm missing or forbidden: a clear one-line error, status 125.
if unshare --mount true 2> /dev/null; then
	expect no-dev-kvm 125 '/dev/kvm does not exist' \
		unshare --mount sh -c "mount -t tmpfs none /dev && exec $DR exec $T/hi"
else
	echo "SKIP no-dev-kvm: unshare --mount not permitted"
fi
if id nobody > /dev/null 2>&1 && command -v setpriv > /dev/null; then
	chmod 755 "$T"
	expect kvm-forbidden 125 'permission denied' \
		setpriv --reuid=nobody --regid=nogroup --clear-groups "$DR" exec "$T/hi"
fi

# Signals from outside reach the program: a handler for SIGINT, SIGTERM's
# default action, a program ignoring SIGINT (the second one ends the
# run), and the time limit's SIGTERM before the kill.
cat > "$T/sigwait.c" <<'EOF'
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static void caught(int sig) { printf("caught %s\n", strsignal(sig)); fflush(stdout); exit(3); }
int main(int argc, char **argv)
{
	if (!strcmp(argv[1], "handle")) { signal(SIGINT, caught); signal(SIGTERM, caught); }
	if (!strcmp(argv[1], "ignore")) { signal(SIGINT, SIG_IGN); signal(SIGTERM, SIG_IGN); }
	fclose(fopen(argv[2], "w"));
	for (;;)
		if (argc > 3) pause(); else for (volatile int i = 0; i < 1000000; i++);
}
EOF
musl-gcc -static -O1 "$T/sigwait.c" -o "$T/sigwait"

# signal_case NAME WANT-STATUS WANT-STDOUT MODE SIGNALS [pause]: starts the
# program under dunerun, waits until it is ready, sends SIGNALS.
signal_case() {
	local name=$1 want=$2 out=$3 mode=$4 sigs=$5 extra=${6:-}
	rm -f "$T/ready"
	"$DR" exec "$T/sigwait" "$mode" "$T/ready" $extra > "$T/out" 2> "$T/err" &
	local pid=$! i
	for i in $(seq 200); do [ -e "$T/ready" ] && break; sleep 0.05; done
	for s in $sigs; do kill -s "$s" "$pid"; sleep 0.3; done
	# At most 20 s more, then it counts as hung.
	for i in $(seq 200); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
	kill -9 "$pid" 2> /dev/null
	wait "$pid"
	local st=$? ok=0
	[ "$st" = "$want" ] && [ "$(cat "$T/out")" = "$out" ] && ok=1
	verdict $ok "$name" "status $st (want $want), stdout '$(cat "$T/out")' (want '$out')"
}
signal_case sigint-handler 3 "caught Interrupt" handle INT
signal_case sigint-handler-paused 3 "caught Interrupt" handle INT pause
signal_case sigterm-default 143 "" default TERM
signal_case sigint-twice 130 "" ignore "INT INT"
expect timeout-sigterm-handled 124 'time limit of 1000 ms reached: SIGTERM sent' \
	"$DR" exec --timeout 1s "$T/sigwait" handle "$T/ready"
grep -q '^caught Terminated$' "$T/out"
verdict $(( $? == 0 )) timeout-handler-ran "the SIGTERM handler did not run: $(cat "$T/out")"
expect timeout-sigterm-ignored 124 'outlived SIGTERM' \
	"$DR" exec --timeout 1s "$T/sigwait" ignore "$T/ready"

# Ctrl-C as a terminal sends it: SIGINT to the foreground process group,
# here a shell (with a trap) and the child it waits for, each in its own
# launcher.  The run must end as the native one does, long before the
# child's 30 s, with no process left.  (A background job of this script
# would start with SIGINT ignored: env gives it back its default.)
ctrl_c() {          # RUNNER...: prints the status and output
	rm -f "$T/ready"
	setsid env --default-signal=INT "$@" "$B/progs/busybox" sh -c \
		'trap "echo caught" INT; : > "$1"; "$0" sleep 30; echo "after $?"' \
		"$B/progs/busybox" "$T/ready" > "$T/cc" 2>&1 &
	local bg=$! i
	for i in $(seq 100); do [ -e "$T/ready" ] && break; sleep 0.1; done
	sleep 0.5
	kill -INT -- -"$bg"
	wait "$bg"
	echo "status $? $(cat "$T/cc")"
}
start=$SECONDS
want=$(ctrl_c)
got=$(ctrl_c "$DR" exec)
verdict $(( SECONDS - start < 20 )) ctrl-c-group-fast "the runs took $((SECONDS - start)) s"
[ "$got" = "$want" ]
verdict $(( $? == 0 )) ctrl-c-group "dunerun: '$got', native: '$want'"
sleep 0.2
verdict $(( $(pgrep -c -f "$B/progs/busybox sleep 30") == 0 )) ctrl-c-group-child \
	"the child outlived the group's SIGINT"

# A fork bomb under a process limit: fork fails with EAGAIN, said once,
# the run ends, and none of its processes is left behind.
musl-gcc -static -O2 tests/progs/forkbomb.c -o "$T/forkbomb"
expect forkbomb-contained 0 '^dunerun: the limit of 24 processes is reached' \
	"$DR" exec --limit procs=24 "$T/forkbomb"
grep -q '^fork failed with EAGAIN somewhere: yes$' "$T/out"
verdict $(( $? == 0 )) forkbomb-saw-eagain "the program saw no EAGAIN: $(cat "$T/out")"
sleep 0.2
verdict $(( $(pgrep -c -f "$T/forkbomb") == 0 )) forkbomb-no-leftovers "processes left: $(pgrep -a -f "$T/forkbomb")"
expect bad-limit 2 "^dunerun: --limit procs=lots: limit procs: 'lots' is not" \
	"$DR" exec --limit procs=lots "$T/hi"
expect unknown-limit 2 "unknown limit 'forks'" "$DR" exec --limit forks=3 "$T/hi"

# --deterministic: threads racing for a lock take it in the same order
# on every run (natively and without the option, the order varies).
musl-gcc -static -O2 tests/progs/pthreads.c -o "$T/pthreads"
for i in 1 2 3; do
	"$DR" exec --deterministic "$T/pthreads" order > "$T/order.$i" 2>&1
done
ok=0
cmp -s "$T/order.1" "$T/order.2" && cmp -s "$T/order.1" "$T/order.3" &&
	[ "$(wc -c < "$T/order.1")" = 241 ] && ok=1
verdict $ok deterministic-order "orders differ or are malformed: $(head -c 80 "$T/order.1"; echo; head -c 80 "$T/order.2")"

# Backends.  The program must reach no supervisor page under either: in
# the PVM native backend the user root maps the IDT, GDT, TSS and the
# supervisor's stacks (exception delivery needs them), without user
# access; the probe-* cases cover the rest of the supervisor.
expect backend-unknown 2 "^dunerun: --backend fast: use auto, portable or pvm-native" \
	"$DR" exec --backend fast "$T/hi"
expect backend-env-unknown 2 "^dunerun: DUNERUN_BACKEND=fast: use auto" \
	env DUNERUN_BACKEND=fast "$DR" exec "$T/hi"
backends=portable
if [ -d /sys/module/kvm_pvm ]; then
	backends="portable pvm-native"
else
	expect backend-not-pvm 125 "^dunerun: --backend pvm-native: this host's KVM is not PVM" \
		"$DR" exec --backend pvm-native "$T/hi"
fi
musl-gcc -static -O1 tests/progs/probe.c -o "$T/probe"
sym() { nm "$B/guest/guest.elf" | awk -v s="$1" '$3 == s { print $1 }'; }
stack=$(printf '%x' $((0x$(sym stack_top) - 8)))
df_stack=$(printf '%x' $((0x$(sym df_stack_top) - 8)))
for be in $backends; do
	expect "backend-$be-hello" 0 - "$DR" exec --backend "$be" "$T/hi"
	# make bench's supervisor loop: a time per iteration, then the program.
	DUNERUN_SUPERVISOR_LOOP=1000 "$DR" exec --backend "$be" "$T/hi" > "$T/out" 2> "$T/err"
	st=$?
	ok=0
	[ "$st" = 0 ] && [ "$(cat "$T/out")" = hi ] &&
		grep -Eq '^dunerun: supervisor loop: 1000 iterations, [0-9]+\.[0-9]{3} ns each$' "$T/err" && ok=1
	verdict $ok "backend-$be-supervisor-loop" "status $st: $(cat "$T/out" "$T/err")"
	for page in "gdt $(sym tables)" "idt $(sym idt)" "stack $stack" "df-stack $df_stack"; do
		set -- $page
		for mode in r w; do
			{ "$DR" exec --backend "$be" "$T/probe" "$2" "$mode" > "$T/out" 2> "$T/err"
			  st=$?; } 2> /dev/null
			ok=0
			[ "$st" = 139 ] && ! grep -q succeeded "$T/out" &&
				grep -q 'killed by Segmentation fault: #PF' "$T/err" && ok=1
			verdict $ok "backend-$be-probe-$1-$mode" "status $st: $(cat "$T/out" "$T/err")"
		done
	done
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
