#!/bin/bash
# no-kvm.sh BUILD_DIR: what the launcher does on a host without a usable
# /dev/kvm (check.sh runs it there, instead of hiding /dev/kvm as cli.sh
# does elsewhere): every way of starting a program is one line naming
# /dev/kvm and status 125, and what needs no VM (build, inspect, bad
# arguments) works as everywhere.
set -u
B=${1:-build}
cd "$(dirname "$0")/.."
DR=$B/dunerun
T=$(mktemp -d /tmp/dunerun-nokvm.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
. tests/lib.sh

# expect NAME STATUS PATTERN CMD...: status and a one-line stderr matching
# PATTERN, or an empty one if PATTERN is "-".
expect() {
	local name=$1 want=$2 pat=$3
	shift 3
	timeout -k 5 60 "$@" > "$T/out" 2> "$T/err"
	local got=$? ok=0
	if [ "$pat" = - ]; then
		[ -s "$T/err" ] || ok=1
	else
		[ "$(wc -l < "$T/err")" -le 1 ] && grep -Eq -- "$pat" "$T/err" && ok=1
	fi
	[ "$got" = "$want" ] || ok=0
	verdict $ok "$name" "status $got (want $want), stderr:"
}

mkdir -p "$T/ctx"
cp "$B/progs/busybox" "$T/ctx/busybox"
printf 'COPY busybox /bin/busybox\nENTRYPOINT ["/bin/busybox", "echo", "hi"]\n' > "$T/ctx/Dunefile"
expect build 0 - sh -c '"$0" build -o "$1" "$2" > /dev/null' "$DR" "$T/app.dz" "$T/ctx"
expect inspect 0 - sh -c '"$0" inspect "$1" | grep -q "^entrypoint: /bin/busybox echo hi$"' "$DR" "$T/app.dz"
expect exec 125 '^dunerun: /dev/kvm' "$DR" exec "$B/progs/busybox" true
expect exec-supervisor 125 '^dunerun: /dev/kvm' "$DR" exec --supervisor "$B/progs/busybox" true
expect run-image 125 '^dunerun: /dev/kvm' "$DR" "$T/app.dz"
expect run-image-explicit 125 '^dunerun: /dev/kvm' "$DR" run "$T/app.dz"
expect bad-option 2 "unknown option '--bogus'" "$DR" exec --bogus "$B/progs/busybox"
expect bad-memory 2 '^dunerun: --memory lots: ' "$DR" exec --memory lots "$B/progs/busybox"
expect no-program 2 'usage: dunerun' "$DR" exec
expect run-supervisor 125 '^dunerun: /dev/kvm' "$DR" run --supervisor "$T/app.dz"
summary
