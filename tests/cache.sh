#!/bin/bash
# cache.sh BUILD_DIR: the run cache (cache/cache.h).  A big image (a
# host tree of ~1,500 files and busybox) runs the same from the tmpfs
# path, on its first run (which makes the entry) and cached; two first
# runs at once make one entry; a run killed while extracting leaves
# nothing that is used; an entry edited between runs is made again and
# the run sees the image's files; a cache that is full, read-only, a
# symlink or not the user's gives a note and a correct run; prune; and
# nothing is written outside the cache.
set -u
B=${1:-build}
cd "$(dirname "$0")/.."
DR=$(pwd)/$B/dunerun
T=$(mktemp -d /tmp/dunerun-cache.XXXXXX)
MNT=
cleanup() {
	[ -z "$MNT" ] || umount "$MNT" 2> /dev/null
	chmod -R u+rwx "$T" 2> /dev/null
	rm -rf "$T"
}
trap cleanup EXIT
pass=0 fail=0 skip=0
. tests/lib.sh

C=$T/cache
export DUNERUN_CACHE=$C
unset XDG_CACHE_HOME

# The big image: a host tree (symlinks dropped: some leave it) and busybox.
ctx=$T/ctx
mkdir -p "$ctx/bin"
cp "$B/progs/busybox" "$ctx/bin/"
cp -a /usr/lib/python3.11 "$ctx/py"
find "$ctx/py" -type l -delete
chmod 0555 "$ctx/py/json"       # a directory its owner cannot write
cat > "$ctx/Dunefile" <<'EOF'
COPY bin /bin
COPY py /usr/lib/python3.11
WORKDIR /work
ENTRYPOINT ["/bin/busybox", "sh", "-c", "cd /usr/lib/python3.11 && find . | sort | md5sum && md5sum os.py json/__init__.py && stat -c '%a %s %n' os.py && stat -c '%a %n' json && pwd && ls /"]
ALLOW stdio rpath exec proc
EOF
"$DR" build -o "$T/big.dz" "$ctx" > /dev/null 2> "$T/err" ||
	{ echo "FAIL build: $(cat "$T/err")"; echo "0 passed, 1 failed"; exit 1; }
DIGEST=$(od -An -tx1 -j32 -N32 "$T/big.dz" | tr -d ' \n')
E=$C/$DIGEST

# run NAME OPTIONS...: runs the image; $T/out, $T/err, $got.
run() {
	local name=$1
	shift
	timeout -k 5 120 "$DR" "$@" > "$T/out" 2> "$T/err"
	got=$?
}
# same NAME WANT-NOTE OPTIONS...: the run prints the reference output,
# with an empty stderr, or a stderr matching WANT-NOTE.
same() {
	local name=$1 note=$2 ok=0
	shift 2
	run "$name" "$@"
	# busybox gives up root's privileges: not the cache's business.
	sed -i '/^dunerun: denied: set[ug]id/d' "$T/err"
	if [ "$got" = 0 ] && cmp -s "$T/ref" "$T/out"; then
		if [ "$note" = - ]; then [ ! -s "$T/err" ] && ok=1
		else grep -Eq -- "$note" "$T/err" && ok=1; fi
	fi
	verdict $ok "$name" "status $got, output differs from the uncached run or stderr is not as expected: $(diff "$T/ref" "$T/out" | head -n 4)"
}
entries() { ls "$C" 2> /dev/null | grep -Evc '\.lock$'; }
leftovers() { ls "$C" 2> /dev/null | grep -c '^tmp\.'; }

"$DR" --no-cache "$T/big.dz" > "$T/ref" 2> "$T/err"
s=$? ok=0
[ $s = 0 ] && [ -s "$T/ref" ] && [ ! -e "$C" ] && grep -q '^555 ' "$T/ref" && ok=1
verdict $ok no-cache "the uncached run failed, or it touched the cache"

same first-run - "$T/big.dz"
ok=0
[ -d "$E/root" ] && [ -f "$E/meta" ] && [ "$(entries)" = 1 ] && [ "$(leftovers)" = 0 ] &&
	[ "$(stat -c %a "$C")" = 700 ] && ok=1
verdict $ok entry-made "no entry $E, or leftovers: $(ls "$C")"
same cached-run - "$T/big.dz"

# A cached run reads the image's header only: a copy whose payload is
# corrupt runs from the entry, and is refused without the cache.
cp "$T/big.dz" "$T/flip.dz"
printf '\xff\xff\xff\xff' | dd of="$T/flip.dz" bs=1 seek=100000 conv=notrunc 2> /dev/null
same cached-no-decompression - "$T/flip.dz"
run corrupt-uncached --no-cache "$T/flip.dz"
ok=0
[ "$got" = 125 ] && grep -q 'flip.dz: ' "$T/err" && ok=1
verdict $ok corrupt-uncached "status $got (want 125)"

# Mount points: WORKDIR and /dev are in the entry; a --tmpfs elsewhere
# makes the run read the image onto a tmpfs, leaving the entry as it is.
before=$(stat -c %Y.%Z "$E/root")
run tmpfs-elsewhere --tmpfs /scratch "$T/big.dz" sh -c 'ls -d /scratch /work /dev/null && md5sum /usr/lib/python3.11/os.py'
ok=0
[ "$got" = 0 ] && grep -q '^/scratch$' "$T/out" && grep -q "$(grep ' os.py' "$T/ref" | cut -d' ' -f1)" "$T/out" &&
	[ "$(stat -c %Y.%Z "$E/root")" = "$before" ] && [ ! -e "$E/root/scratch" ] && ok=1
verdict $ok tmpfs-elsewhere "status $got, or the entry changed"
same tmpfs-in-entry - --tmpfs /work "$T/big.dz"

# Edits between runs: each is noticed, the entry made again, and the run
# sees the image's files.
edit() {            # NAME COMMAND: edits the entry, then runs twice
	local name=$1
	(cd "$E/root" && eval "$2")
	same "edited-$name" 'cache entry .*making it again' "$T/big.dz"
	same "edited-$name-then-clean" - "$T/big.dz"
}
edit bytes 'printf X | dd of=usr/lib/python3.11/os.py bs=1 seek=10 conv=notrunc 2> /dev/null'
edit bytes-times-kept 'cp -p usr/lib/python3.11/os.py $T/os && printf Y | dd of=usr/lib/python3.11/os.py bs=1 seek=10 conv=notrunc 2> /dev/null && touch -r $T/os usr/lib/python3.11/os.py'
edit added 'echo new > usr/lib/python3.11/email/added'
edit added-at-root 'echo new > added'
edit removed 'rm usr/lib/python3.11/os.py'
edit mode 'chmod 600 usr/lib/python3.11/os.py'
edit dir-mode 'chmod 755 usr/lib/python3.11/json'
edit replaced 'cp usr/lib/python3.11/os.py $T/os2 && mv $T/os2 usr/lib/python3.11/os.py'
edit truncated 'truncate -s 0 usr/lib/python3.11/os.py'
edit meta 'printf Z | dd of=../meta bs=1 seek=200 conv=notrunc 2> /dev/null'
edit meta-gone 'rm ../meta'
edit tree-gone 'cd .. && chmod -R u+w root && rm -rf root'

# Hostile cache contents: the entry's tree a symlink to a directory
# outside, leftovers that are symlinks: the launcher writes and removes
# nothing through them.
out=$T/outside
mkdir -p "$out/keep"
echo precious > "$out/keep/file"
chmod -R u+w "$E" && rm -rf "$E"
mkdir -p "$E" && ln -s "$out/keep" "$E/root"
ln -s "$out/keep" "$C/tmp.$DIGEST.999"
same symlinked-tree 'cache entry .*making it again' "$T/big.dz"
ok=0
[ "$(cat "$out/keep/file" 2> /dev/null)" = precious ] && [ "$(ls "$out/keep")" = file ] &&
	[ ! -L "$E/root" ] && [ "$(leftovers)" = 0 ] && ok=1
verdict $ok symlinks-not-followed "something outside the cache changed: $(ls -la "$out/keep")"

# Two first runs at once: both print the same, one makes the entry, the
# other waits for it (neither prints a note).
"$DR" prune > /dev/null
"$DR" "$T/big.dz" > "$T/out1" 2> "$T/err1" & p1=$!
"$DR" "$T/big.dz" > "$T/out2" 2> "$T/err2" & p2=$!
wait $p1; s1=$?
wait $p2; s2=$?
ok=0
[ $s1 = 0 ] && [ $s2 = 0 ] && cmp -s "$T/ref" "$T/out1" && cmp -s "$T/ref" "$T/out2" &&
	[ "$(entries)" = 1 ] && [ "$(leftovers)" = 0 ] && ok=1
cat "$T/err1" "$T/err2" | sed '/^dunerun: denied: set[ug]id/d' > "$T/err"
[ ! -s "$T/err" ] || ok=0
verdict $ok concurrent-first-runs "status $s1 and $s2, or notes, or $(ls "$C")"

# A run killed while it extracts: its temporary directory is never used,
# and the next run removes it and makes the entry.
"$DR" prune > /dev/null
"$DR" "$T/big.dz" > /dev/null 2>&1 & pk=$!
for i in $(seq 1 400); do
	[ "$(leftovers)" = 0 ] || break
	sleep 0.01
done
sleep 0.05
kill -9 $pk 2> /dev/null
wait $pk 2> /dev/null
ok=0
[ "$(leftovers)" = 1 ] && [ ! -e "$E" ] && ok=1
verdict $ok killed-extraction-left-partial "expected one tmp.* leftover and no entry: $(ls "$C")"
same after-killed-extraction - "$T/big.dz"
ok=0
[ "$(leftovers)" = 0 ] && [ -f "$E/meta" ] && ok=1
verdict $ok killed-extraction-cleaned "leftovers remain: $(ls "$C")"

# prune: keeps an entry a run is using, then removes it.
"$DR" "$T/big.dz" sh -c 'sleep 1; md5sum /usr/lib/python3.11/os.py' > "$T/out1" 2>&1 & pr=$!
sleep 0.5
"$DR" prune > "$T/out" 2> "$T/err"
s=$?
wait $pr; s1=$?
ok=0
[ $s = 0 ] && [ $s1 = 0 ] && grep -q 'in use' "$T/out" && [ -f "$E/meta" ] &&
	grep -q "$(grep ' os.py' "$T/ref" | cut -d' ' -f1)" "$T/out1" && ok=1
verdict $ok prune-keeps-busy "status $s, run $s1, or the entry went"
"$DR" prune > "$T/out" 2> "$T/err"
ok=0
[ $? = 0 ] && grep -q '1 entry removed' "$T/out" && [ -z "$(ls "$C")" ] && ok=1
verdict $ok prune "the cache is not empty: $(ls "$C")"
run prune-again prune
ok=0
[ "$got" = 0 ] && grep -q '0 entries removed' "$T/out" && ok=1
verdict $ok prune-empty "status $got"
ok=0
DUNERUN_CACHE=$T/nothere "$DR" prune > "$T/out" 2> "$T/err" && [ ! -e "$T/nothere" ] && ok=1
verdict $ok prune-no-cache "prune of a missing cache failed or made it"
run prune-usage prune extra
ok=0
[ "$got" = 2 ] && grep -q '^usage: dunerun prune \[--cache DIR\]' "$T/err" && ok=1
verdict $ok prune-usage "status $got (want 2)"

# Caches that cannot be used: a note, and the run as without a cache.
ln -s "$C" "$T/link"
same cache-is-symlink 'note: cache .*symlink' --cache "$T/link" "$T/big.dz"
mkdir -p "$T/open" && chmod 777 "$T/open"
same cache-world-writable 'note: cache .*writable by others' --cache "$T/open" "$T/big.dz"
touch "$T/file"
same cache-is-file 'note: cache ' --cache "$T/file" "$T/big.dz"
MNT=$T/small
mkdir -p "$MNT"
if mount -t tmpfs -o size=2m,mode=0700 tmpfs "$MNT" 2> /dev/null; then
	same cache-full 'note: cannot make entry .*No space left' --cache "$MNT" "$T/big.dz"
	ok=0
	[ -z "$(ls "$MNT" | grep -v '\.lock$')" ] && ok=1
	verdict $ok cache-full-cleaned "a full cache kept a partial entry: $(ls "$MNT")"
	umount "$MNT"
	mount -t tmpfs -o ro,mode=0700 tmpfs "$MNT"
	same cache-read-only 'note: cache .*Read-only' --cache "$MNT" "$T/big.dz"
	umount "$MNT"
	MNT=
else
	echo "SKIP cache-full, cache-read-only: cannot mount a tmpfs here"
	skip=$((skip + 2))
fi

# Nothing outside the cache: runs and prune write only under it, with
# HOME here (the default cache is not made when DUNERUN_CACHE is set).
mkdir -p "$T/home"
touch "$T/stamp"
sleep 0.01
for i in 1 2; do HOME=$T/home "$DR" "$T/big.dz" > /dev/null 2>&1; done
HOME=$T/home "$DR" prune > /dev/null 2>&1
find "$T" -newer "$T/stamp" -not -path "$C" -not -path "$C/*" -not -path "$T" -not -path "$T/new" > "$T/new"
ok=0
[ ! -s "$T/new" ] && [ -z "$(ls -A "$T/home")" ] && ok=1
verdict $ok nothing-outside "new files outside the cache: $(head -5 "$T/new")"

summary
