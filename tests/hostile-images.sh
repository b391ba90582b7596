#!/bin/bash
# hostile-images.sh BUILD_DIR [PATTERN]: programs that attack the host
# from inside an image (`dunerun run`).  Each attack runs in an image built
# here from a real Dunefile and must be denied, and the host must be
# unchanged afterwards: a sentinel file's bytes and time, a decoy
# directory the attacks aim at, the images' own bytes, /tmp and the host's
# mounts.  The limits (memory, time, output, fsize, nofile), --audit,
# --status-json, binds, the environment, bad images and cleanup after
# SIGKILL are checked the same way.  The programs are tests/hostile/*.c,
# built here with musl.
#
# Only the cases whose function name contains PATTERN run (t_dotdot:
# "dotdot").
# Environment:
#   INET_NET  host|none: what ALLOW inet is expected to give, the host's
#             network (the default, as docs/security.md says) or an empty
#             namespace.
set -u
ulimit -c 0
B=${1:-build}
PATTERN=${2:-}
cd "$(dirname "$0")/.."
DR=$(pwd)/$B/dunerun
T=$(mktemp -d /tmp/dunerun-hostile.XXXXXX)
HOST=$T/host        # the decoy host directory the attacks aim at
IMG=$T/img
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2> /dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
pass=0 fail=0 skip=0

# A launcher that honours TMPDIR puts its files here, and must leave none.
export TMPDIR=$T/tmpdir
mkdir -p "$TMPDIR" "$IMG"

# ---- Results -----------------------------------------------------------------

. tests/lib.sh

skip() {            # NAME WHY
	echo "SKIP $1: $2"
	skip=$((skip + 1))
}

# ---- The host, before and after ------------------------------------------------

mkdir -p "$HOST/dir"
printf 'host secret: if you can read this, the view leaks\n' > "$HOST/sentinel"
printf 'another host file\n' > "$HOST/dir/file"
touch -d '2001-02-03 04:05:06' "$HOST/sentinel" "$HOST/dir/file" "$HOST/dir"

snap_host() {       # everything an attack could change, in one listing
	find "$HOST" -printf '%P %y %s %T@ %m\n' | sort
	sha256sum "$HOST/sentinel"
	stat -c '%y' "$HOST/sentinel"
	(cd "$IMG" && sha256sum -- *.dz 2> /dev/null)
}
snap_tmp() {        # /tmp names a launcher could have left behind
	ls -A /tmp | grep -i 'dune' |
		grep -Ev '^dunerun-(cli|images|hostile|bench)\.|^dunerun-test$' | sort
}
snap_mounts() { cut -d' ' -f4- /proc/self/mountinfo | sort; }

host0=$T/host0 tmp0=$T/tmp0 mnt0=$T/mnt0

# host_changed: prints what changed since the last `host_mark`; nothing
# when the host is as it was.
host_mark() { snap_host > "$host0"; snap_tmp > "$tmp0"; snap_mounts > "$mnt0"; }
host_changed() {
	snap_host | diff "$host0" - > "$T/diff" || { echo "host files changed:"; head -n 5 "$T/diff"; }
	local left
	left=$(ls -A "$TMPDIR")
	[ -z "$left" ] || echo "left in TMPDIR: $left"
	left=$(snap_tmp | comm -13 "$tmp0" -)
	if [ -n "$left" ]; then
		sleep 1     # only what stays counts
		left=$(snap_tmp | comm -13 "$tmp0" -)
		[ -z "$left" ] || echo "left in /tmp: $left"
	fi
	left=$(snap_mounts | comm -13 "$mnt0" -)
	[ -z "$left" ] || echo "host mounts added: $left"
}

# judge OK NAME WHY: verdict, failing also when the host changed.
judge() {
	local changed
	changed=$(host_changed)
	if [ -n "$changed" ]; then
		verdict 0 "$2" "$changed"
	else
		verdict "$1" "$2" "$3"
	fi
}

# ---- Running dunerun ---------------------------------------------------------------

# dr ARGS...: dunerun ARGS under a 30 s watchdog, stdin /dev/null, output in
# $T/out and $T/err.  Sets st (the status, or "hang") and ms (wall time).
# The watchdog's own 124 cannot pass for a time limit: a hang is told by
# its duration.
dr() {
	local t0
	t0=$(date +%s%N)
	# The subshell reaps dunerun, so that its death by a signal is a
	# status here, not a "Killed" line from this shell.
	(timeout -k 5 30 "$DR" "$@" < /dev/null > "$T/out" 2> "$T/err"; exit $?) 2> /dev/null
	st=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ "$ms" -lt 29000 ] || st=hang
}

has() { grep -Eq -- "$1" "$T/${2:-out}"; }        # PATTERN [out|err]
count() { grep -Ec -- "$1" "$T/${2:-out}"; }      # PATTERN [out|err]

# attacks_denied N: the program ran to the end with status 0, every
# CONTROL line succeeded, and there are at least N ATTACK lines, none of
# which succeeded.  Sets why.
attacks_denied() {
	why=""
	local n
	n=$(count '^ATTACK ')
	[ "$st" = 0 ] || why+="status $st; "
	[ "$n" -ge "$1" ] || why+="$n ATTACK lines, want $1; "
	has '^CONTROL .* -> [^s]' && why+="a CONTROL failed: $(grep -E '^CONTROL .* -> [^s]' "$T/out" | head -n 1); "
	has '^ATTACK .* -> success' && why+="ESCAPED: $(grep -E '^ATTACK .* -> success' "$T/out" | head -n 3 | tr '\n' ';') "
	[ -z "$why" ]
}

# jcheck FILE EXPR: the file holds JSON and the Python expression EXPR
# (over j, the parsed object) is true.
jcheck() {
	python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))
sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)' "$1" "$2" 2> /dev/null
}

# ---- The programs and their images ---------------------------------------------------

for p in view net procs hog show; do
	musl-gcc -static -O2 -Wall -Itests/progs tests/hostile/$p.c -o "$T/$p" ||
		{ echo "FAIL compile-$p"; echo "$pass passed, $((fail + 1)) failed"; exit 1; }
done
musl-gcc -static -O2 -Wall tests/progs/forkbomb.c -o "$T/forkbomb" ||
	{ echo "FAIL compile-forkbomb"; echo "$pass passed, $((fail + 1)) failed"; exit 1; }

# The view context: the program, data, and a symlink chain that stays in
# the image when read lexically, as the builder and reader check it, but
# climbs nine levels above the root when `up` is followed: a runner that
# resolved paths on the host would land in the host's tree.
X=/x1/x2/x3/x4/x5/x6/x7/x8
ctx=$T/ctx
mkdir -p "$ctx/view/bin" "$ctx/view/app/sub" "$ctx/view$X/y"
cp "$T/view" "$ctx/view/bin/view"
printf 'image data\n' > "$ctx/view/app/data.txt"
printf 'under app/sub\n' > "$ctx/view/app/sub/file"
ln -s ../../../../../../../.. "$ctx/view$X/up"
ln -s ../up/../../../../../../../../.. "$ctx/view$X/y/esc"
for p in net procs hog show; do
	mkdir -p "$ctx/$p/bin" && cp "$T/$p" "$ctx/$p/bin/$p"
done
cp "$T/forkbomb" "$ctx/procs/bin/forkbomb"
cp "$B/progs/busybox" "$ctx/procs/bin/busybox"

# image NAME CONTEXT DUNEFILE-TEXT: builds $IMG/NAME.dz.
image() {
	printf '%s\n' "$3" > "$ctx/$2/Dunefile.$1"
	"$DR" build -f "$ctx/$2/Dunefile.$1" -o "$IMG/$1.dz" "$ctx/$2" > "$T/out" 2> "$T/err"
	local st=$? ok=0
	[ "$st" = 0 ] && [ -s "$IMG/$1.dz" ] && ok=1
	verdict $ok "build-$1" "dunerun build: status $st"
}
VIEW='COPY bin /bin
COPY app /app
COPY x1 /x1
ENTRYPOINT ["/bin/view"]'
image view-ro view "$VIEW
ALLOW stdio rpath"
image view-rw view "$VIEW
ALLOW stdio rpath wpath cpath fattr"
image view-fsize view "$VIEW
ALLOW stdio rpath wpath cpath
LIMIT fsize=1M"
image view-nofile view "$VIEW
ALLOW stdio rpath
LIMIT nofile=16"
image net net 'COPY bin /bin
ENTRYPOINT ["/bin/net"]
ALLOW stdio'
image net-inet net 'COPY bin /bin
ENTRYPOINT ["/bin/net"]
ALLOW stdio inet'
image net-unix net 'COPY bin /bin
ENTRYPOINT ["/bin/net"]
ALLOW stdio unix'
image procs procs 'COPY bin /bin
ENTRYPOINT ["/bin/procs"]
ALLOW stdio rpath'
image procs-kill procs 'COPY bin /bin
ENTRYPOINT ["/bin/procs"]
ALLOW stdio rpath
ON-DENY kill'
image forkbomb procs 'COPY bin /bin
ENTRYPOINT ["/bin/forkbomb"]
ALLOW stdio proc
LIMIT procs=16'
image shell procs 'COPY bin /bin
ENTRYPOINT ["/bin/busybox", "true"]
ALLOW stdio rpath proc exec'
image hog hog 'COPY bin /bin
ENTRYPOINT ["/bin/hog"]
ALLOW stdio'
image hog-mem hog 'COPY bin /bin
ENTRYPOINT ["/bin/hog"]
ALLOW stdio
LIMIT memory=64M'
image hog-time hog 'COPY bin /bin
ENTRYPOINT ["/bin/hog"]
ALLOW stdio
LIMIT time=1s'
image hog-out hog 'COPY bin /bin
ENTRYPOINT ["/bin/hog"]
ALLOW stdio
LIMIT output=1M'
image show show 'COPY bin /bin
ENTRYPOINT ["/bin/show", "default1", "default two"]
ENV A=1 B="two words"
ALLOW stdio rpath'

# Images no builder makes, each with one thing the reader must refuse,
# made by editing a built image's payload in place (same lengths) and
# sealing it again: a symlink out of the root, an absolute symlink, a
# `..` path; and one harmless edit, which must run.  Needs the zstd
# command.
craft() {           # NAME FROM TO: NAME.dz is crafted.dz with FROM replaced by TO
	python3 - "$IMG/crafted.dz" "$T/$1.dz" "$2" "$3" "$T/payload" <<'EOF'
import hashlib, struct, subprocess, sys
src, dst, old, new, tmp = sys.argv[1:]
assert len(old) == len(new)
data = open(src, "rb").read()
payload = subprocess.run(["zstd", "-d", "-q", "-c"], input=data[96:], stdout=subprocess.PIPE, check=True).stdout
assert payload.count(old.encode()) == 1
payload = payload.replace(old.encode(), new.encode())
open(tmp, "wb").write(payload)
frame = subprocess.run(["zstd", "-q", "-6", "--check", "-c", tmp], stdout=subprocess.PIPE, check=True).stdout
header = b"DUNEIMG\0" + struct.pack("<IIQQ", 1, 0, len(frame), len(payload)) + hashlib.sha256(payload).digest() + bytes(32)
open(dst, "wb").write(header + frame)
EOF
}
have_craft=0
if command -v zstd > /dev/null && command -v python3 > /dev/null; then
	mkdir -p "$ctx/craft/bin/d"
	cp "$T/show" "$ctx/craft/bin/show"
	ln -s AAAAAAAAAAAAAAA "$ctx/craft/bin/d/l1"     # ../../../../etc
	ln -s BBBBBBBBBBB "$ctx/craft/bin/l2"           # /etc/shadow
	printf 'x\n' > "$ctx/craft/bin/d/CCCCCCCCC"
	printf 'COPY bin /bin\nENTRYPOINT ["/bin/show"]\nALLOW stdio rpath\n' > "$ctx/craft/Dunefile"
	if "$DR" build -o "$IMG/crafted.dz" "$ctx/craft" > "$T/out" 2> "$T/err" &&
		craft harmless AAAAAAAAAAAAAAA ZZZZZZZZZZZZZZZ &&
		craft symlink-out AAAAAAAAAAAAAAA ../../../../etc &&
		craft symlink-absolute BBBBBBBBBBB /etc/shadow &&
		craft dotdot-path bin/d/CCCCCCCCC bin/d/../../etc; then
		have_craft=1
	else
		verdict 0 crafted-images "could not make the crafted images"
	fi
fi

# ---- The cases -----------------------------------------------------------------------

# Host secrets and devices: not in the view.
t_secrets() {
	dr run "$IMG/view-ro.dz" read +/app/data.txt /etc/shadow /etc/passwd /root /root/.bashrc \
		/home /proc/self/mem /proc/1/root /proc/1/root/etc/shadow /proc/kcore /dev/kvm \
		/dev/mem /sys/kernel "$HOST/sentinel" "$HOST"
	attacks_denied 14
	if grep '^ATTACK' "$T/out" | grep -Eqv ' -> (ENOENT|EPERM|EACCES)$'; then
		why+="not ENOENT: $(grep '^ATTACK' "$T/out" | grep -Ev ' -> (ENOENT|EPERM|EACCES)$' | head -n 1)"
	fi
	judge "$([ -z "$why" ] && echo 1)" read-host-secrets "$why"
}

# `..` from the root, directory descriptors, /dev/fd and /proc paths,
# open_by_handle_at.
t_dotdot() {
	dr run "$IMG/view-ro.dz" escape "$HOST/sentinel"
	attacks_denied 19
	has '^CONTROL cwd after 64 chdir\("\.\."\) is / -> success$' || why+="'..' from / did not stay at /; "
	judge "$([ -z "$why" ] && echo 1)" dotdot-escapes "$why"
}

# The image's own symlink chain (see the context above): `up` is the root,
# `y/esc` must be too.
t_chain() {
	dr run "$IMG/view-ro.dz" read "+$X/up/app/data.txt" "$X/y/esc$HOST/sentinel" \
		"$X/y/esc/etc/passwd" "$X/y/esc$HOST/dir/file" "$X/up/../../../etc/passwd"
	attacks_denied 4
	judge "$([ -z "$why" ] && echo 1)" image-symlink-chain "$why"
}

# Symlinks the program makes on a tmpfs: absolute ones resolve inside the
# view, relative ones stop at its root.
t_tmp_symlinks() {
	dr run --tmpfs /tmp "$IMG/view-rw.dz" symlinks "$HOST/sentinel"
	attacks_denied 5
	has '^SETUP symlink\(host path, "/tmp/abs"\) -> success' || why+="could not make symlinks on the tmpfs; "
	has '^WRITE symlink\("x", "/app/newlink"\) -> EROFS$' || why+="symlink in the image not EROFS; "
	judge "$([ -z "$why" ] && echo 1)" tmp-symlink-escapes "$why"
}

# Descriptors the launcher inherited (a file and a directory of the host)
# are not the program's: they would open the host to it.
t_inherited() {
	dr run "$IMG/view-ro.dz" inherited 7 8 7< "$HOST/sentinel" 8< "$HOST"
	attacks_denied 8
	judge "$([ -z "$why" ] && echo 1)" inherited-descriptors "$why"
}

# The directory dunerun was started in is not the program's.
t_cwd() {
	(cd "$HOST" && dr run "$IMG/view-ro.dz" read sentinel ./sentinel ../host/sentinel dir/file +/app/data.txt
	 echo "$st" > "$T/st")
	st=$(cat "$T/st")
	attacks_denied 4
	judge "$([ -z "$why" ] && echo 1)" host-cwd-hidden "$why"
}

# Writing to the read-only image with every file promise: EROFS, and the
# file still reads the same.
t_write_image() {
	dr run "$IMG/view-rw.dz" write /app/data.txt /app
	attacks_denied 5
	local n
	n=$(count '^WRITE ')
	[ "$n" = 16 ] || why+="$n WRITE lines, want 16; "
	if has '^WRITE .* -> ' && grep '^WRITE' "$T/out" | grep -qv ' -> EROFS$'; then
		why+="not EROFS: $(grep '^WRITE' "$T/out" | grep -v ' -> EROFS$' | head -n 3 | tr '\n' ';') "
	fi
	has '^CONTROL /app/data.txt still there -> success' || why+="/app/data.txt is gone; "
	local w=$why
	dr run "$IMG/view-ro.dz" read +/app/data.txt
	[ "$st" = 0 ] || w+="could not run the image again; "
	judge "$([ -z "$w" ] && echo 1)" write-read-only-image "$w"
}

# The same writes without wpath, cpath and fattr: refused by the policy,
# one stderr line per system call, naming the promise.
t_write_denied() {
	dr run "$IMG/view-ro.dz" write /app/data.txt /app
	attacks_denied 5
	if grep '^WRITE' "$T/out" | grep -Eqv ' -> (EPERM|EACCES)$'; then
		why+="not EPERM: $(grep '^WRITE' "$T/out" | grep -Ev ' -> (EPERM|EACCES)$' | head -n 2 | tr '\n' ';') "
	fi
	local l
	for l in 'open \(needs ALLOW wpath\)' 'unlink \(needs ALLOW cpath\)' 'rename \(needs ALLOW cpath\)' \
		'chmod \(needs ALLOW fattr\)' 'mkdir \(needs ALLOW cpath\)' 'truncate \(needs ALLOW wpath\)'; do
		[ "$(count "^dunerun: denied: $l\$" err)" = 1 ] || why+="no single stderr line 'denied: $l'; "
	done
	[ "$(count '^dunerun: denied: open ' err)" = 1 ] || why+="open denied more than once on stderr; "
	judge "$([ -z "$why" ] && echo 1)" write-without-promises "$why"
}

# Sockets without inet or unix, and families no promise allows.
t_sockets() {
	dr run "$IMG/net.dz" sockets
	attacks_denied 5
	[ "$(count '^ATTACK .* -> EPERM$')" = 5 ] || why+="not EPERM for each; "
	[ "$(count '^dunerun: denied: socket' err)" = 1 ] || why+="want one stderr line for socket; "
	has '^dunerun: denied: socket \(needs ALLOW inet\)$' err || why+="no 'denied: socket (needs ALLOW inet)'; "
	judge "$([ -z "$why" ] && echo 1)" sockets-denied "$why"
}

# With inet: TCP/UDP sockets, but still no AF_UNIX, netlink or packet.
t_sockets_inet() {
	dr run "$IMG/net-inet.dz" sockets
	why=""
	[ "$st" = 0 ] || why+="status $st; "
	has '^ATTACK socket\(AF_INET, SOCK_STREAM\) -> success$' || why+="AF_INET refused; "
	has '^ATTACK socket\(AF_INET6, SOCK_DGRAM\) -> EPERM$' && why+="AF_INET6 refused; "
	has '^ATTACK socket\(AF_UNIX, SOCK_STREAM\) -> EPERM$' || why+="AF_UNIX not EPERM; "
	has '^ATTACK socket\(AF_NETLINK, NETLINK_ROUTE\) -> EPERM$' || why+="AF_NETLINK not EPERM; "
	has '^ATTACK socket\(AF_PACKET, SOCK_RAW\) -> EPERM$' || why+="AF_PACKET not EPERM; "
	has '^dunerun: denied: socket \(needs ALLOW unix\)$' err || why+="no 'denied: socket (needs ALLOW unix)'; "
	judge "$([ -z "$why" ] && echo 1)" sockets-with-inet "$why"
}

# --allow adds to the image's promises.
t_allow_option() {
	dr run --allow inet "$IMG/net.dz" sockets
	why=""
	[ "$st" = 0 ] || why+="status $st; "
	has '^ATTACK socket\(AF_INET, SOCK_STREAM\) -> success$' || why+="AF_INET refused with --allow inet; "
	has '^ATTACK socket\(AF_PACKET, SOCK_RAW\) -> EPERM$' || why+="AF_PACKET not EPERM; "
	judge "$([ -z "$why" ] && echo 1)" allow-option "$why"
}

# host_listener READY [ABSTRACT-NAME]: a service on the host that greets
# each connection, on 127.0.0.1 (READY gets its port) or on an abstract
# AF_UNIX name (READY gets "up"); waits until it listens.
host_listener() {
	python3 - "$1" "${2:-}" <<'EOF' &
import os, socket, sys
ready, name = sys.argv[1], sys.argv[2]
if name:
    s = socket.socket(socket.AF_UNIX)
    s.bind("\0" + name)
else:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
s.listen(8)
open(ready + ".tmp", "w").write("up" if name else str(s.getsockname()[1]))
os.rename(ready + ".tmp", ready)
s.settimeout(120)
while True:
    c, _ = s.accept()
    c.sendall(b"hello from the host\n")
    c.close()
EOF
	pids+=($!)
	local i
	for i in $(seq 50); do [ -s "$1" ] && break; sleep 0.1; done
}

# A listener on the host's 127.0.0.1, and the program under ALLOW inet:
# whether it may reach it is a decision (INET_NET), reported either way.
t_inet_host_network() {
	host_listener "$T/port"
	"$T/net" connect "$(cat "$T/port")" > "$T/native" 2>&1
	if ! grep -q 'connect(127.0.0.1) -> success' "$T/native"; then
		skip inet-host-network "the host listener is not reachable natively"
		return
	fi
	dr run "$IMG/net-inet.dz" connect "$(cat "$T/port")"
	local got=none
	has 'connect\(127.0.0.1\) -> success' && got=host
	judge "$([ "$got" = "${INET_NET:-host}" ] && echo 1)" inet-host-network \
		"ALLOW inet should give the network ${INET_NET:-host}, but the program saw network '$got'"
}

# Abstract AF_UNIX addresses belong to a network namespace: with unix but
# not inet, a host service listening on one must be out of reach.
t_abstract_unix() {
	local name=dunerun-hostile-$$
	host_listener "$T/abstract" "$name"
	"$T/net" abstract "$name" > "$T/native" 2>&1
	if ! grep -q ' -> success' "$T/native"; then
		skip abstract-unix "the host's abstract socket is not reachable natively"
		return
	fi
	dr run "$IMG/net-unix.dz" abstract "$name"
	attacks_denied 1
	has '^ATTACK connect\(abstract unix\) -> ' || why+="no AF_UNIX socket under ALLOW unix; "
	judge "$([ -z "$why" ] && echo 1)" abstract-unix-socket "$why"
}

# No new processes, no new programs, no signals to others, without proc
# and exec; each denial names its promise.
t_spawn() {
	dr run "$IMG/procs.dz" spawn
	attacks_denied 7
	has '^EXEC-ED' && why+="execve ran a program; "
	has '^end$' || why+="did not run to the end; "
	local l
	for l in 'fork \(needs ALLOW proc\)' 'vfork \(needs ALLOW proc\)' 'clone \(needs ALLOW proc\)' \
		'execve \(needs ALLOW exec\)' 'kill \(needs ALLOW proc\)'; do
		[ "$(count "^dunerun: denied: $l\$" err)" = 1 ] || why+="no single stderr line 'denied: $l'; "
	done
	judge "$([ -z "$why" ] && echo 1)" spawn-denied "$why"
}

# Allowed: fork, vfork and clone make processes (in the run's own PID
# namespace), and execve replaces the program with the image's own.
t_spawn_allowed() {
	dr run --allow proc --allow exec "$IMG/procs.dz" spawn
	why=""
	[ "$st" = 0 ] || why+="status $st; "
	has '^EXEC-ED' || why+="the allowed execve did not run the new program; "
	has '^end$' && why+="the old program ran on after execve; "
	local a
	for a in fork vfork 'clone\(SIGCHLD\)'; do
		has "^ATTACK $a -> success\$" || why+="$a did not make a process; "
	done
	has '^dunerun: denied: (fork|vfork|clone|execve)' err && why+="denied although allowed; "
	judge "$([ -z "$why" ] && echo 1)" spawn-allowed "$why"
}

# A fork bomb in an image under LIMIT procs=16: fork fails with EAGAIN,
# said once, and the run ends with nothing left behind.
t_forkbomb() {
	dr run "$IMG/forkbomb.dz"
	why=""
	[ "$st" = 0 ] || why+="status $st; "
	has '^fork failed with EAGAIN somewhere: yes$' || why+="no EAGAIN seen; "
	[ "$(count '^dunerun: the limit of 16 processes is reached' err)" = 1 ] ||
		why+="the limit is not reported exactly once; "
	sleep 0.2
	pgrep -f "$IMG/forkbomb.dz" > /dev/null && why+="processes outlived the run; "
	judge "$([ -z "$why" ] && echo 1)" forkbomb-in-image "$why"
}

# A shell in an image with proc and exec: pipelines, subshells, command
# substitution, a background job, kill and exit statuses; in its PID
# namespace the shell is pid 1 and kill reaches nothing outside.
t_shell() {
	dr run "$IMG/shell.dz" sh -c 'echo one two | /bin/busybox wc -w; (echo sub); x=$(echo cmd); echo $x
/bin/busybox sleep 5 & kill $!; wait $!; echo "killed $?"; echo "pid $$"
/bin/busybox sh -c "exit 7"; echo "st $?"; kill -0 '"$$"' 2>/dev/null || echo "no such process outside"'
	why=""
	[ "$st" = 0 ] || why+="status $st; "
	[ "$(tr '\n' ' ' < "$T/out")" = "2 sub cmd killed 143 pid 1 st 7 no such process outside " ] ||
		why+="output: $(tr '\n' ' ' < "$T/out"); "
	judge "$([ -z "$why" ] && echo 1)" shell-in-image "$why"
}

# SIGKILL of dunerun in the middle of a forking run: every process of
# the run dies with it (its PID namespace).
t_sigkill_forking() {
	"$DR" run "$IMG/shell.dz" sh -c '/bin/busybox sleep 60 & /bin/busybox sleep 60 & echo started; wait' \
		< /dev/null > "$T/out" 2> "$T/err" &
	local pid=$!
	for _ in $(seq 100); do grep -q started "$T/out" 2> /dev/null && break; sleep 0.1; done
	why=""
	grep -q started "$T/out" || why+="the program never started; "
	[ "$(pgrep -c -f "$IMG/shell.dz")" -ge 4 ] || why+="fewer processes than a shell and two children; "
	kill -KILL "$pid"
	wait "$pid" 2> /dev/null
	sleep 0.5
	pgrep -f "$IMG/shell.dz" > /dev/null && why+="processes outlived dunerun: $(pgrep -a -f "$IMG/shell.dz" | head -3); "
	judge "$([ -z "$why" ] && echo 1)" cleanup-after-sigkill-forking "$why"
}

# ON-DENY kill: the first denial kills the program with SIGSYS.
t_on_deny_kill() {
	dr run --status-json "$T/status.json" "$IMG/procs-kill.dz" spawn
	why=""
	[ "$st" = 159 ] || why+="status $st, want 159 (SIGSYS); "
	has '^start$' || why+="did not start; "
	has '^ATTACK|^end$' && why+="ran on after the denial; "
	has '^dunerun: denied: fork \(needs ALLOW proc\)' err || why+="no 'denied: fork' line; "
	jcheck "$T/status.json" 'j["status"] == 159 and j["signal"] == "SIGSYS" and j["reason"] == "policy"' ||
		why+="status JSON is not status 159, SIGSYS, reason policy: $(head -c 300 "$T/status.json" 2> /dev/null); "
	judge "$([ -z "$why" ] && echo 1)" on-deny-kill "$why"
}

# Calls no promise allows, with every promise there is.
t_never() {
	dr run --allow proc --allow exec --allow wpath --allow cpath --allow fattr --allow inet \
		--allow unix --allow tty --allow prot_exec "$IMG/procs.dz" never
	attacks_denied 20
	if grep '^ATTACK' "$T/out" | grep -qv ' -> EPERM$'; then
		why+="not EPERM: $(grep '^ATTACK' "$T/out" | grep -v ' -> EPERM$' | head -n 3 | tr '\n' ';') "
	fi
	judge "$([ -z "$why" ] && echo 1)" never-allowed-calls "$why"
}

t_memory() {
	dr run "$IMG/hog-mem.dz" mem 512
	why=""
	[ "$st" = 137 ] || why+="status $st, want 137; "
	has '^ESCAPED' && why+="touched 512 MiB under a 64 MiB limit; "
	grep -qi 'memory' "$T/err" || why+="no message naming the memory limit; "
	judge "$([ -z "$why" ] && echo 1)" memory-limit "$why"
	dr run --memory 64M "$IMG/hog.dz" mem 512
	why=""
	[ "$st" = 137 ] || why+="status $st, want 137; "
	has '^ESCAPED' && why+="touched 512 MiB under --memory 64M; "
	grep -qi 'memory' "$T/err" || why+="no message naming the memory limit; "
	judge "$([ -z "$why" ] && echo 1)" memory-option "$why"
}

t_time() {
	dr run "$IMG/hog-time.dz" spin
	why=""
	[ "$st" = 124 ] || why+="status $st, want 124; "
	[ "$ms" -ge 900 ] && [ "$ms" -lt 5000 ] || why+="took $ms ms for a 1 s limit; "
	grep -Eqi 'time' "$T/err" || why+="no message; "
	judge "$([ -z "$why" ] && echo 1)" time-limit "$why"
	dr run --timeout 500ms "$IMG/hog.dz" spin
	why=""
	[ "$st" = 124 ] || why+="status $st, want 124; "
	[ "$ms" -ge 400 ] && [ "$ms" -lt 3000 ] || why+="took $ms ms for --timeout 500ms; "
	judge "$([ -z "$why" ] && echo 1)" timeout-option-ms "$why"
	dr run --timeout 1 "$IMG/hog.dz" sleep
	why=""
	[ "$st" = 124 ] || why+="status $st, want 124; "
	[ "$ms" -ge 900 ] && [ "$ms" -lt 5000 ] || why+="took $ms ms for --timeout 1 (seconds); "
	judge "$([ -z "$why" ] && echo 1)" timeout-option-seconds "$why"
}

t_output() {
	dr run "$IMG/hog-out.dz" output 10485760
	why=""
	local n
	n=$(stat -c %s "$T/out")
	[ "$st" = 153 ] || why+="status $st, want 153; "
	[ "$n" -le $((1048576 + 65536)) ] || why+="$n bytes delivered under a 1 MiB limit; "
	grep -qi 'output' "$T/err" || why+="no message naming the output limit; "
	judge "$([ -z "$why" ] && echo 1)" output-limit "$why"
}

# fsize: the write past the limit fails with EFBIG, and SIGXFSZ (default:
# death, 153) is sent, as Linux does under `ulimit -f`.
t_fsize() {
	dr run --tmpfs /tmp "$IMG/view-fsize.dz" fill /tmp/big 2097152
	why=""
	[ "$st" = 153 ] || why+="status $st, want 153; "
	local last
	last=$(grep '^wrote ' "$T/out" | tail -n 1 | cut -d' ' -f2)
	[ -n "$last" ] && [ "$last" -le 1048576 ] || why+="wrote '${last:-nothing}' under a 1 MiB limit; "
	has '^fill: all' && why+="wrote it all; "
	judge "$([ -z "$why" ] && echo 1)" fsize-limit "$why"
	dr run --tmpfs /tmp "$IMG/view-fsize.dz" fill /tmp/big 2097152 ignore
	why=""
	[ "$st" = 0 ] || why+="status $st with SIGXFSZ ignored, want 0; "
	has '^fill: EFBIG after 1048576 bytes$' || why+="no EFBIG at 1 MiB; "
	judge "$([ -z "$why" ] && echo 1)" fsize-efbig "$why"
}

t_tmpfs_size() {
	dr run --tmpfs /tmp:1M "$IMG/view-rw.dz" fill /tmp/big 2097152
	why=""
	[ "$st" = 0 ] || why+="status $st; "
	local n
	n=$(sed -n 's/^fill: ENOSPC after \([0-9]*\) bytes$/\1/p' "$T/out")
	[ -n "$n" ] && [ "$n" -le 1048576 ] || why+="no ENOSPC within 1 MiB; "
	judge "$([ -z "$why" ] && echo 1)" tmpfs-size "$why"
	dr run --tmpfs /tmp "$IMG/view-rw.dz" fill /tmp/big $((70 << 20))
	why=""
	n=$(sed -n 's/^fill: ENOSPC after \([0-9]*\) bytes$/\1/p' "$T/out")
	[ -n "$n" ] && [ "$n" -le $((64 << 20)) ] && [ "$n" -ge $((60 << 20)) ] ||
		why+="status $st, no ENOSPC at 64 MiB: $(grep '^fill:' "$T/out"); "
	judge "$([ -z "$why" ] && echo 1)" tmpfs-default-size "$why"
}

t_nofile() {
	dr run "$IMG/view-nofile.dz" fds
	why=""
	[ "$st" = 0 ] || why+="status $st; "
	local n
	n=$(sed -n 's/^fds: opened up to fd \([0-9]*\), then EMFILE$/\1/p' "$T/out")
	[ -n "$n" ] && [ "$n" -le 15 ] && [ "$n" -ge 8 ] || why+="want EMFILE after fd 15 or below (nofile=16); "
	judge "$([ -z "$why" ] && echo 1)" nofile-limit "$why"
}

t_audit() {
	dr run --audit "$T/audit.jsonl" "$IMG/net.dz" sockets
	why=""
	local denied lines
	denied=$(count ' -> EPERM$')
	lines=$(wc -l < "$T/audit.jsonl" 2> /dev/null || echo 0)
	[ "$denied" -ge 5 ] || why+="$denied denials, want 5; "
	[ "$lines" = "$denied" ] || why+="$lines audit lines for $denied denials; "
	python3 -c 'import json, sys; [json.loads(l) for l in sys.stdin]' < "$T/audit.jsonl" 2> /dev/null ||
		why+="not one JSON object a line: $(head -n 1 "$T/audit.jsonl" 2> /dev/null); "
	python3 -c 'import json, sys
ls = [json.loads(l) for l in sys.stdin]
ok = all(l["syscall"] == "socket" and l["nr"] == 41 and l["action"] == "eperm" for l in ls)
sys.exit(0 if ok and ls[0]["promise"] == "inet" else 1)' < "$T/audit.jsonl" 2> /dev/null ||
		why+="lines are not {\"syscall\":\"socket\",\"nr\":41,\"promise\":\"inet\",\"action\":\"eperm\"}: $(head -n 1 "$T/audit.jsonl" 2> /dev/null); "
	judge "$([ -z "$why" ] && echo 1)" audit-log "$why"
}

# status JSON FIELDS-EXPR NAME: the common shape, then EXPR.
status_json() {
	local shape='isinstance(j["status"], int) and (j["signal"] is None or j["signal"].startswith("SIG")) and
j["reason"] in ("exit", "signal", "timeout", "memory", "policy", "panic") and
j["limit"] in (None, "time", "cpu", "memory", "output", "fsize") and
all(isinstance(j[k], int) and j[k] >= 0 for k in ("wall_ms", "cpu_ms", "peak_memory_bytes")) and
all(isinstance(j["syscalls"][k], int) for k in ("guest", "forwarded", "denied"))'
	why=""
	jcheck "$T/status.json" "$shape" || why+="fields missing or of the wrong type; "
	jcheck "$T/status.json" "$1" || why+="not $1; "
	[ -z "$why" ] || why+="got: $(head -c 400 "$T/status.json" 2> /dev/null)"
	judge "$([ -z "$why" ] && echo 1)" "$2" "$why"
}

t_status_json() {
	rm -f "$T/status.json"
	dr run --status-json "$T/status.json" "$IMG/show.dz"
	status_json 'j["status"] == 0 and j["signal"] is None and j["reason"] == "exit" and
j["limit"] is None and j["syscalls"]["denied"] == 0 and j["peak_memory_bytes"] > 0 and
j["syscalls"]["guest"] + j["syscalls"]["forwarded"] > 0' status-json-exit
	rm -f "$T/status.json"
	dr run --status-json "$T/status.json" "$IMG/net.dz" sockets
	status_json 'j["status"] == 0 and j["reason"] == "exit" and j["syscalls"]["denied"] == 5' status-json-denied
	rm -f "$T/status.json"
	dr run --status-json "$T/status.json" "$IMG/hog-time.dz" spin
	status_json 'j["status"] == 124 and j["reason"] == "timeout" and j["limit"] == "time" and
j["wall_ms"] >= 900' status-json-timeout
	rm -f "$T/status.json"
	dr run --status-json "$T/status.json" "$IMG/hog-mem.dz" mem 512
	status_json 'j["status"] == 137 and j["reason"] == "memory" and j["limit"] == "memory" and
j["peak_memory_bytes"] <= 64 << 20' status-json-memory
	rm -f "$T/status.json"
	dr run --status-json "$T/status.json" "$IMG/hog.dz" crash
	status_json 'j["status"] == 139 and j["signal"] == "SIGSEGV" and j["reason"] == "signal" and
j["limit"] is None' status-json-signal
}

t_exit_status() {
	dr run "$IMG/hog.dz" exit 7
	local a=$st
	dr run "$IMG/hog.dz" crash
	judge "$([ "$a" = 7 ] && [ "$st" = 139 ] && echo 1)" exit-status \
		"exit 7 gave $a, SIGSEGV gave $st (want 7 and 139)"
}

# Binds: read-only ones are readable and refuse writes; symlinks in a
# bound directory resolve inside the view, not on the host.
t_bind_ro() {
	local src=$T/bindsrc
	rm -rf "$src" && mkdir -p "$src/sub"
	printf 'bound data\n' > "$src/file.txt"
	ln -s "$HOST/sentinel" "$src/abs"
	ln -s ../host/sentinel "$src/rel"
	ln -s "$HOST" "$src/dirlink"
	local before
	before=$(find "$src" -printf '%P %y %s %T@\n' | sort; sha256sum "$src/file.txt")
	dr run --bind "$src:/data:ro" "$IMG/view-ro.dz" read +/data/file.txt /data/abs /data/rel \
		/data/dirlink/sentinel /data/../host/sentinel
	attacks_denied 4
	local w=$why
	dr run --bind "$src:/data:ro" "$IMG/view-rw.dz" cat /data/file.txt
	[ "$st" = 0 ] && [ "$(cat "$T/out")" = "bound data" ] || w+="cat /data/file.txt: status $st; "
	dr run --bind "$src:/data:ro" "$IMG/view-rw.dz" write /data/file.txt /data
	if [ "$(count '^WRITE .* -> EROFS$')" != 16 ]; then
		w+="writes to a :ro bind not all EROFS: $(grep '^WRITE' "$T/out" | grep -v 'EROFS$' | head -n 2 | tr '\n' ';') "
	fi
	[ "$(find "$src" -printf '%P %y %s %T@\n' | sort; sha256sum "$src/file.txt")" = "$before" ] ||
		w+="the bound host directory changed; "
	judge "$([ -z "$w" ] && echo 1)" bind-read-only "$w"
}

t_bind_rw() {
	local out=$T/outdir
	rm -rf "$out" && mkdir -p "$out"
	dr run --bind "$out:/out:rw" "$IMG/view-rw.dz" put /out/result.txt 'made in the image'
	why=""
	[ "$st" = 0 ] && has '^put /out/result.txt -> success$' || why+="put failed (status $st); "
	[ "$(cat "$out/result.txt" 2> /dev/null)" = 'made in the image' ] || why+="the file is not on the host; "
	dr run --bind "$out:/out" "$IMG/view-rw.dz" put /out/default.txt 'rw by default'
	[ "$(cat "$out/default.txt" 2> /dev/null)" = 'rw by default' ] || why+="a bind without a mode is not writable; "
	# A host symlink in a writable bind leads nowhere on the host.
	ln -s "$HOST/sentinel" "$out/abs"
	ln -s ../host/dir/new "$out/rel"
	dr run --bind "$out:/out" "$IMG/view-rw.dz" put /out/abs 'overwritten from the image'
	has '^put /out/abs -> success$' && why+="wrote through an absolute host symlink; "
	dr run --bind "$out:/out" "$IMG/view-rw.dz" put /out/rel 'created from the image'
	has '^put /out/rel -> success$' && why+="wrote through a relative host symlink; "
	judge "$([ -z "$why" ] && echo 1)" bind-read-write "$why"
}

t_bind_missing() {
	dr run --bind "$T/nothere:/data" "$IMG/view-ro.dz" read /data
	why=""
	[ "$st" = 125 ] || why+="status $st, want 125; "
	grep -q "$T/nothere" "$T/err" || why+="the message does not name $T/nothere; "
	[ "$(wc -l < "$T/err")" -le 2 ] || why+="more than a line or two on stderr; "
	judge "$([ -z "$why" ] && echo 1)" bind-missing-host-path "$why"
}

# Mount points named through the image's escaping symlink chain, or with
# `..`: refused, and nothing made on the host (a runner that made the
# mount point by following the links would create /tmp/dunerun-evil*).
t_mount_points() {
	local src=$T/bindsrc2 why=""
	mkdir -p "$src"
	dr run --bind "$src:$X/y/esc/tmp/dunerun-evil" "$IMG/view-ro.dz" read /
	[ "$st" = 125 ] || why+="bind through the chain: status $st, want 125; "
	dr run --tmpfs "$X/y/esc/tmp/dunerun-evil2" "$IMG/view-ro.dz" read /
	[ "$st" = 125 ] || why+="tmpfs through the chain: status $st, want 125; "
	dr run --bind "$src:/../../tmp/dunerun-evil3" "$IMG/view-ro.dz" read /
	[ "$st" != 0 ] && [ -s "$T/err" ] && ! has '^CONTROL|^ATTACK' || why+="bind at /../..: status $st; "
	dr run --tmpfs "/../../tmp/dunerun-evil4" "$IMG/view-ro.dz" read /
	[ "$st" != 0 ] && [ -s "$T/err" ] && ! has '^CONTROL|^ATTACK' || why+="tmpfs at /../..: status $st; "
	ls -d /tmp/dunerun-evil* > /dev/null 2>&1 && why+="made $(ls -d /tmp/dunerun-evil*); "
	judge "$([ -z "$why" ] && echo 1)" mount-points-escaping "$why"
}

# The environment is the image's ENV and --env, nothing of the host's.
t_env() {
	export DUNERUN_LEAK=host-value
	dr run --env C=3 --env 'D=x=y' "$IMG/show.dz"
	unset DUNERUN_LEAK
	grep '^env ' "$T/out" | sort > "$T/env.got"
	printf 'env A=1\nenv B=two words\nenv C=3\nenv D=x=y\n' | sort > "$T/env.want"
	judge "$([ "$st" = 0 ] && cmp -s "$T/env.got" "$T/env.want" && echo 1)" environment \
		"status $st; environment differs: $(diff "$T/env.want" "$T/env.got" | grep '^[<>]' | head -n 4 | tr '\n' ';')"
	dr run --env A=override "$IMG/show.dz"
	judge "$([ "$st" = 0 ] && [ "$(grep -c '^env A=' "$T/out")" = 1 ] && has '^env A=override$' && echo 1)" \
		environment-override "want one A, --env's: $(grep '^env A=' "$T/out" | tr '\n' ';')"
}

# ARGS replace the ENTRYPOINT's arguments; argv[0] stays.
t_args() {
	dr run "$IMG/show.dz"
	grep '^argv' "$T/out" > "$T/args1"
	dr run "$IMG/show.dz" x 'y z'
	grep '^argv' "$T/out" > "$T/args2"
	dr "$IMG/show.dz" x 'y z'
	grep '^argv' "$T/out" > "$T/args3"
	why=""
	[ "$(cat "$T/args1")" = $'argv[0]=/bin/show\nargv[1]=default1\nargv[2]=default two' ] ||
		why+="without ARGS: $(tr '\n' ' ' < "$T/args1"); "
	[ "$(cat "$T/args2")" = $'argv[0]=/bin/show\nargv[1]=x\nargv[2]=y z' ] ||
		why+="with ARGS: $(tr '\n' ' ' < "$T/args2"); "
	cmp -s "$T/args2" "$T/args3" || why+="short form differs: $(tr '\n' ' ' < "$T/args3"); "
	judge "$([ -z "$why" ] && echo 1)" entrypoint-args "$why"
	judge "$(has '^cwd /$' && echo 1)" default-workdir "the working directory without WORKDIR is not /"
}

t_bad_images() {
	dr run "$T/nothere.dz"
	judge "$([ "$st" = 125 ] && grep -q 'nothere.dz' "$T/err" && echo 1)" missing-image \
		"status $st (want 125 and a message naming nothere.dz)"
	dr "$T/nothere.dz"
	judge "$([ "$st" = 125 ] && grep -q 'nothere.dz' "$T/err" && echo 1)" missing-image-short-form \
		"status $st (want 125 and a message naming nothere.dz)"
	for i in 1 2 3 4 5 6 7 8; do printf 'definitely not an image, '; done > "$T/junk.dz"
	dr run "$T/junk.dz"
	judge "$([ "$st" = 125 ] && [ "$(wc -l < "$T/err")" = 1 ] && echo 1)" junk-image \
		"status $st (want 125 and one line)"
	head -c 2000 "$IMG/show.dz" > "$T/cut.dz"
	dr run "$T/cut.dz"
	judge "$([ "$st" = 125 ] && [ ! -s "$T/out" ] && echo 1)" truncated-image "status $st (want 125)"
	if [ "$have_craft" = 1 ]; then
		local c
		dr run "$T/harmless.dz"      # the crafting itself makes good images
		judge "$([ "$st" = 0 ] && has '^argv\[0\]=/bin/show$' && echo 1)" crafted-harmless \
			"status $st (want 0: an image edited without breaking a rule runs)"
		for c in symlink-out symlink-absolute dotdot-path; do
			dr run "$T/$c.dz"
			judge "$([ "$st" = 125 ] && [ ! -s "$T/out" ] && echo 1)" "crafted-$c" \
				"status $st (want 125, and the program not run)"
		done
	else
		skip crafted-images "needs the zstd command and python3"
	fi
}

t_trace() {
	dr run --trace "$IMG/show.dz"
	judge "$([ "$st" = 0 ] && has '^writev?\(1, .*\) = [0-9]+ \[host\]$' err && echo 1)" trace-option \
		"status $st; no traced write to stdout on stderr"
}

# /dev/kvm missing: a launcher error, 125, one line.
t_no_kvm() {
	if ! unshare --mount true 2> /dev/null; then
		skip no-dev-kvm "unshare --mount not permitted"
		return
	fi
	local img=$IMG/show.dz
	(timeout -k 5 30 unshare --mount sh -c "mount -t tmpfs none /dev && exec $DR run $img" \
		< /dev/null > "$T/out" 2> "$T/err"; exit $?) 2> /dev/null
	st=$?
	judge "$([ "$st" = 125 ] && grep -q '/dev/kvm' "$T/err" && [ "$(wc -l < "$T/err")" = 1 ] && echo 1)" \
		no-dev-kvm "status $st (want 125 and one line naming /dev/kvm)"
}

# dunerun killed with SIGKILL mid-run leaves nothing: no files, no
# mounts (host_changed), no processes.
descendants() { local c; for c in $(pgrep -P "$1"); do echo "$c"; descendants "$c"; done; }
t_sigkill() {
	rm -f "$T/out"
	"$DR" run "$IMG/hog.dz" sleep < /dev/null > "$T/out" 2> "$T/err" &
	local pid=$! kids k
	for _ in $(seq 100); do grep -q sleeping "$T/out" 2> /dev/null && break; sleep 0.1; done
	why=""
	grep -q sleeping "$T/out" || why+="the program never started; "
	kids=$(descendants "$pid")
	kill -KILL "$pid"
	wait "$pid" 2> /dev/null
	sleep 0.5
	for k in $kids; do
		kill -0 "$k" 2> /dev/null && why+="process $k ($(ps -o args= -p "$k")) outlived dunerun; "
	done
	judge "$([ -z "$why" ] && echo 1)" cleanup-after-sigkill "$why"
}

CASES="t_secrets t_dotdot t_chain t_tmp_symlinks t_inherited t_cwd t_write_image
t_write_denied t_sockets t_sockets_inet t_allow_option t_inet_host_network t_abstract_unix
t_spawn t_spawn_allowed t_forkbomb t_shell t_sigkill_forking t_on_deny_kill t_never t_memory t_time t_output t_fsize t_tmpfs_size
t_nofile t_audit t_status_json t_exit_status t_bind_ro t_bind_rw t_bind_missing t_mount_points t_env t_args
t_bad_images t_trace t_no_kvm t_sigkill"

for c in $CASES; do
	[[ $c == *$PATTERN* ]] || continue
	host_mark
	$c
done

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
