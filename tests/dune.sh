#!/bin/bash
# dune.sh BUILD_DIR: libdune's ring-3 API (include/dune.h) under dunerun
# (tests/dune/api.c prints one line per check), natively (a clean
# -ENOSYS), and traps that cannot be delivered (the program dies of the
# fault; nothing hangs).  The backend is DUNERUN_BACKEND's.
set -u
B=${1:-build}
cd "$(dirname "$0")/.."
T=$(mktemp -d /tmp/dunerun-dune.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
. tests/lib.sh

make -s "$B/dunerun" "$B/libdune.a" || { echo "0 passed, 1 failed"; exit 1; }
musl-gcc -static -O2 -Wall -Iinclude tests/dune/api.c "$B/libdune.a" -o "$T/api" ||
	{ echo "0 passed, 1 failed"; exit 1; }

api native "$T/api" native
api dunerun "$B/dunerun" exec "$T/api"
# In an image, under its policy and the launcher's hardening: stdio
# covers the Dune calls (proc is for the fork check).
mkdir -p "$T/ctx" && cp "$T/api" "$T/ctx/api"
printf 'COPY api /bin/api\nALLOW stdio proc\nENTRYPOINT ["/bin/api"]\n' > "$T/ctx/Dunefile"
"$B/dunerun" build -o "$T/api.dz" "$T/ctx" > /dev/null 2>&1
api image "$B/dunerun" "$T/api.dz"

# dies_of_segv MODE NAME: api MODE ends in SIGSEGV, reported, in time.
dies_of_segv() {
	{ timeout -k 5 60 "$B/dunerun" exec "$T/api" "$1" > "$T/out" 2> "$T/err"; } 2> /dev/null
	local st=$? ok=0
	[ $st -eq 139 ] && grep -q 'killed by Segmentation fault' "$T/err" && ok=1
	verdict $ok "dune: $2" "status $st (want 139)"
}
dies_of_segv badstack "a trap with no room for its frame is SIGSEGV"
dies_of_segv badentry "a trap entry that faults itself is SIGSEGV, not a loop"

summary
