#!/bin/bash
# images.sh BUILD_DIR: `dunerun build` and `dunerun inspect` on real
# contexts: round trips, reproducible output, and every refusal, each with
# its status and message.
set -u
B=${1:-build}
cd "$(dirname "$0")/.."
DR=$(pwd)/$B/dunerun
T=$(mktemp -d /tmp/dunerun-images.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0

. tests/lib.sh

# expect NAME STATUS PATTERN CMD...: status and a stderr line matching
# PATTERN, or an empty stderr if PATTERN is "-".
expect() {
	local name=$1 want=$2 pat=$3
	shift 3
	"$@" > "$T/out" 2> "$T/err"
	local got=$? ok=0
	if [ "$pat" = - ]; then
		[ "$got" = "$want" ] && [ ! -s "$T/err" ] && ok=1
	else
		[ "$got" = "$want" ] && grep -Eq -- "$pat" "$T/err" && ok=1
	fi
	verdict $ok "$name" "status $got (want $want), stderr:"
}

# A context with a real program, data, a subdirectory and a symlink.
ctx=$T/app
mkdir -p "$ctx/data/sub" "$ctx/bin"
cp "$B/progs/lua" "$ctx/bin/lua"
printf 'print("hello from the image")\n' > "$ctx/data/hello.lua"
printf 'one\ntwo\n' > "$ctx/data/sub/words.txt"
chmod 600 "$ctx/data/sub/words.txt"
ln -s hello.lua "$ctx/data/link.lua"
cat > "$ctx/Dunefile" <<'EOF'
# A lua interpreter and its script.
COPY bin/lua /bin/lua
COPY data /srv
ENTRYPOINT ["/bin/lua", "/srv/hello.lua"]
ENV GREETING=hello LANG=C
WORKDIR /srv
VOLUME /out
ALLOW stdio rpath
LIMIT memory=256M time=60s nofile=64
EOF

(cd "$ctx" && "$DR" build > "$T/out" 2> "$T/err")
ok=0
[ $? = 0 ] && [ -f "$ctx/app.dz" ] && ok=1
verdict $ok build-defaults "no app.dz from 'dunerun build' in the context"

expect build-explicit 0 - "$DR" build -f "$ctx/Dunefile" -o "$T/a.dz" "$ctx"
"$DR" inspect "$T/a.dz" > "$T/inspect" 2> "$T/err"
ok=0
grep -q '^entrypoint: /bin/lua /srv/hello.lua$' "$T/inspect" &&
	grep -q '^env: GREETING=hello$' "$T/inspect" &&
	grep -q '^workdir: /srv$' "$T/inspect" &&
	grep -q '^volume: /out$' "$T/inspect" &&
	grep -q '^allow stdio rpath$' "$T/inspect" &&
	grep -Eq "^-rwxr-xr-x +$(stat -c %s "$ctx/bin/lua") /bin/lua$" "$T/inspect" &&
	grep -Eq '^-rw------- +8 /srv/sub/words.txt$' "$T/inspect" &&
	grep -Eq '^lrwxrwxrwx +0 /srv/link.lua -> hello.lua$' "$T/inspect" &&
	grep -Eq '^digest: sha256:[0-9a-f]{64}$' "$T/inspect" && ok=1
verdict $ok inspect-contents "inspect output lacks what was built:"
[ $ok = 1 ] || sed 's/^/    /' "$T/inspect" | head -20

# Reproducible: the same inputs, built again (with other times), same bytes.
touch -d '2001-02-03 04:05:06' "$ctx/data/hello.lua"
"$DR" build -f "$ctx/Dunefile" -o "$T/b.dz" "$ctx" > /dev/null 2> "$T/err"
ok=0
cmp -s "$T/a.dz" "$T/b.dz" && ok=1
verdict $ok reproducible "two builds differ"

# Build refusals: file:line: message, status 1, no output left behind.
refuse() {          # NAME PATTERN DUNEFILE-TEXT
	printf '%s\n' "$3" > "$ctx/Bad"
	rm -f "$T/bad.dz"
	expect "$1" 1 "$2" "$DR" build -f "$ctx/Bad" -o "$T/bad.dz" "$ctx"
	if [ -e "$T/bad.dz" ] || ls "$T"/bad.dz.tmp.* > /dev/null 2>&1; then
		verdict 0 "$1-no-output" "a refused build left a file behind"
	fi
}
refuse missing-copy 'Bad:1: COPY source .nothere. not found' \
	'COPY nothere /x
ENTRYPOINT ["/x"]'
refuse unknown-instruction 'Bad:2: .*FROBNICATE' \
	'COPY bin/lua /bin/lua
FROBNICATE yes
ENTRYPOINT ["/bin/lua"]'
refuse unknown-promise 'Bad:3: .*teleport' \
	'COPY bin/lua /bin/lua
ENTRYPOINT ["/bin/lua"]
ALLOW stdio teleport'
refuse shell-form 'Bad:2: .*exec form' \
	'COPY bin/lua /bin/lua
ENTRYPOINT /bin/lua -e 1'
refuse no-entrypoint-file 'Bad:2: ENTRYPOINT /bin/nothere: no such file' \
	'COPY bin/lua /bin/lua
ENTRYPOINT ["/bin/nothere"]'
gcc -O1 -x c - -o "$ctx/bin/dyn" <<< 'int main(void){return 0;}'
refuse dynamic-entrypoint 'Bad:2: ENTRYPOINT the interpreter /lib64/ld-linux-x86-64.so.2: no such file in the image' \
	'COPY bin/dyn /bin/dyn
ENTRYPOINT ["/bin/dyn"]'
printf 'not an elf\n' > "$ctx/bin/script"
chmod +x "$ctx/bin/script"
refuse script-entrypoint 'Bad:2: ENTRYPOINT /bin/script: not an ELF' \
	'COPY bin/script /bin/script
ENTRYPOINT ["/bin/script"]'
refuse bad-limit 'Bad:3: .*memory' \
	'COPY bin/lua /bin/lua
ENTRYPOINT ["/bin/lua"]
LIMIT memory=lots'
ln -s /etc/shadow "$ctx/data/escape"
refuse symlink-escape 'Bad:1: COPY data/escape: symlink to ./etc/shadow. leaves the image' \
	'COPY data /srv
COPY bin/lua /bin/lua
ENTRYPOINT ["/bin/lua"]'
rm "$ctx/data/escape"
refuse dotdot-source 'Bad:1: .*\.\.' \
	'COPY ../../etc/passwd /x
ENTRYPOINT ["/x"]'
expect missing-dunefile 1 'nothere/Dunefile: No such file' "$DR" build "$T/nothere"

# Inspect refusals: bad magic, truncation, corruption, not a file.
for i in 1 2 3 4 5 6 7 8; do printf 'definitely not an image, '; done > "$T/junk.dz"
expect inspect-bad-magic 1 'junk.dz: .*magic' "$DR" inspect "$T/junk.dz"
size=$(stat -c %s "$T/a.dz")
for cut in 1 50 96 200 $((size / 2)) $((size - 1)); do
	head -c "$cut" "$T/a.dz" > "$T/cut.dz"
	expect "inspect-truncated-$cut" 1 'cut.dz: ' "$DR" inspect "$T/cut.dz"
done
cp "$T/a.dz" "$T/flip.dz"
printf '\xff' | dd of="$T/flip.dz" bs=1 seek=$((size - 100)) conv=notrunc 2> /dev/null
expect inspect-corrupted 1 'flip.dz: ' "$DR" inspect "$T/flip.dz"
cp "$T/a.dz" "$T/digest.dz"
printf '\x00\x00\x00\x00' | dd of="$T/digest.dz" bs=1 seek=40 conv=notrunc 2> /dev/null
expect inspect-wrong-digest 1 'digest.dz: ' "$DR" inspect "$T/digest.dz"
: > "$T/empty.dz"
expect inspect-empty 1 'empty.dz: not an image' "$DR" inspect "$T/empty.dz"
expect inspect-directory 1 'not a regular file' "$DR" inspect "$T"
expect inspect-missing 1 'nothere.dz: No such file' "$DR" inspect "$T/nothere.dz"

# Round trips: real programs run from an image print what they print
# natively on the same files (paths relative to the image's root, which
# is the native run's working directory).  The ENTRYPOINT is busybox;
# its applet `env` execs lua, sqlite3, the pthread test program and gojq
# (Go: threads, futexes, signals, epoll) inside the image.
rt=$T/roundtrip
mkdir -p "$rt/bin" "$rt/app" "$rt/data"
cp "$B/progs/lua" "$B/progs/sqlite3" "$B/progs/busybox" "$B/progs/gojq" "$rt/bin/"
musl-gcc -static -O2 -o "$rt/bin/pthreads" tests/progs/pthreads.c
cp images/examples/wordfreq/wordfreq.lua "$rt/app/"
cp images/examples/planets/planets.csv "$rt/data/"
for i in 1 2 3 4; do cat README.md docs/*.md; done > "$rt/data/text"
cat > "$rt/Dunefile" <<'EOF'
COPY bin /bin
COPY app /app
COPY data /data
WORKDIR /
ENTRYPOINT ["/bin/busybox", "true"]
ALLOW stdio rpath exec proc
EOF
"$DR" build -o "$T/rt.dz" "$rt" > /dev/null 2> "$T/err"
# roundtrip NAME ARGS...: busybox ARGS natively in $rt and as the image's
# arguments; stdout and status must match.
roundtrip() {
	local name=$1
	shift
	(cd "$rt" && bin/busybox "$@") > "$T/native" 2> /dev/null
	local want=$?
	"$DR" run "$T/rt.dz" "$@" > "$T/out" 2> "$T/err"
	local got=$? ok=0
	[ "$got" = "$want" ] && cmp -s "$T/native" "$T/out" && [ -s "$T/out" ] && ok=1
	verdict $ok "$name" "status $got (native $want), or stdout differs: $(diff "$T/native" "$T/out" | head -n 4)"
}
roundtrip roundtrip-lua env bin/lua app/wordfreq.lua data/text
roundtrip roundtrip-sqlite3 env bin/sqlite3 :memory: '.import --csv data/planets.csv p' \
	'SELECT name, diameter_km FROM p ORDER BY CAST(diameter_km AS INT) DESC'
roundtrip roundtrip-busybox sha256sum data/planets.csv data/text app/wordfreq.lua
roundtrip roundtrip-awk awk '{ n += NF } END { print n, NR }' data/text
roundtrip roundtrip-status grep -c nosuchword data/text
roundtrip roundtrip-sh sh -c 'bin/busybox cat data/text | bin/busybox tr -s " " "\n" | bin/busybox sort |
bin/busybox uniq -c | bin/busybox sort -rn | bin/busybox head -5; (cd data && ls | ../bin/busybox wc -l)
for f in data/*; do bin/busybox wc -c < "$f"; done; x=$(bin/busybox echo sub); echo "$x"
bin/busybox sleep 0.1 & wait $!; echo "bg $?"; exit 3'
roundtrip roundtrip-pthreads env bin/pthreads
roundtrip roundtrip-gojq env bin/gojq -c '[splits(" +")] | map(select(length > 3)) | group_by(.) | map([.[0], length]) | sort_by(-.[1]) | .[:5]' -R data/text

# A dynamic image: the host's dash and coreutils with the libraries ldd
# names, under "ALLOW stdio rpath exec proc tmppath": loading libraries
# from the image needs no prot_exec, while code the program could have
# written (anonymous memory, a file on the writable /tmp) still does.
dy=$T/dyn
rm -rf "$dy" && mkdir -p "$dy/bin" "$dy/src"
cat > "$dy/src/wx.c" <<'EOF'
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
int main(void)
{
	int fd = open("/tmp/code", O_RDWR | O_CREAT, 0700);
	void *a = mmap(0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *f = fd < 0 || write(fd, "\xc3", 1) != 1 ? MAP_FAILED :
		  mmap(0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	printf("anonymous exec: %s, exec of /tmp/code: %s\n",
	       a == MAP_FAILED ? "refused" : "mapped", f == MAP_FAILED ? "refused" : "mapped");
	return 0;
}
EOF
gcc -O1 -o "$dy/bin/wx" "$dy/src/wx.c"
for prog in /bin/sh /usr/bin/sort /usr/bin/wc /usr/bin/tr /usr/bin/cat "$dy/bin/wx"; do
	[ "$prog" = "$dy/bin/wx" ] || cp -L "$prog" "$dy/bin/"
	for lib in $(ldd "$prog" | grep -Eo '/[^ ]+'); do
		mkdir -p "$dy/root$(dirname "$lib")" && cp -L "$lib" "$dy/root$lib"
	done
done
mv "$dy/bin" "$dy/root/bin"
cat > "$dy/Dunefile" <<'EOF'
COPY root /
ENTRYPOINT ["/bin/sh"]
ALLOW stdio rpath exec proc tmppath
EOF
ok=0
"$DR" build -o "$T/dyn.dz" "$dy" > /dev/null 2> "$T/err" && ok=1
verdict $ok dynamic-build "$(head -n 3 "$T/err")"
script='printf "pear\napple\nfig\n" | sort | tr a-z A-Z | cat; echo words $(printf "a b c\n" | wc -w); exit 4'
sh -c "$script" > "$T/native"
want=$?
"$DR" run "$T/dyn.dz" -c "$script" > "$T/out" 2> "$T/err"
got=$? ok=0
[ "$got" = "$want" ] && cmp -s "$T/native" "$T/out" && ok=1
verdict $ok dynamic-run "status $got (native $want): $(diff "$T/native" "$T/out" | head -n 4) $(head -n 2 "$T/err")"
"$DR" run "$T/dyn.dz" -c /bin/wx > "$T/out" 2> "$T/err"
ok=0
grep -q '^anonymous exec: refused, exec of /tmp/code: refused$' "$T/out" &&
	grep -q 'prot_exec' "$T/err" && ok=1
verdict $ok dynamic-wx "$(cat "$T/out" "$T/err" | head -n 4)"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
