#!/bin/bash
# rootfs.sh BUILD_DIR: images built FROM a root filesystem.  One tree, as
# a directory, a tar, a tar.gz, a tar.zst, an OCI layout and a docker-save
# archive (the last two made by hand, two layers with whiteouts): every
# image must list the tree's files (compared with find and stat on the
# tree) and run a static busybox and the host's dynamic /bin/sh as chroot
# runs them natively.  Then hostile layers, each refused with the source
# and the member named and nothing written outside the output, and a
# Debian rootfs from mmdebstrap (cached under BUILD_DIR) whose python3
# runs in an image as it does under chroot.
set -u
B=${1:-build}
cd "$(dirname "$0")/.."
DR=$(pwd)/$B/dunerun
BB=$(pwd)/$B/progs/busybox
T=$(mktemp -d /tmp/dunerun-rootfs.XXXXXX)
ESCAPE=/tmp/dunerun-rootfs-escape.$$
trap 'rm -rf "$T" "$ESCAPE"' EXIT
pass=0 fail=0 skip=0
# In QEMU's emulated machine (tests/qemu-svm.sh, hosts without /dev/kvm)
# the million-file archive and the Debian rootfs would take many minutes:
# they are skipped there and run where /dev/kvm works.
EMULATED=
[ "${DUNERUN_TEST_MACHINE:-}" = qemu-svm ] && EMULATED=1

. tests/lib.sh

# The tree: busybox with a symlink and a hard link to it, the host's sh
# and its libraries (found by ldd), an absolute symlink, a hard-linked
# pair, modes 0700 and 0600, a name with a space.
tree=$T/tree
mkdir -p "$tree/bin" "$tree/etc/opq" "$tree/data/private" "$tree/usr/bin"
cp "$BB" "$tree/bin/busybox"
ln "$tree/bin/busybox" "$tree/bin/bb"
ln -s busybox "$tree/bin/cat"
cp /bin/sh "$tree/bin/dash"
for lib in $(ldd /bin/sh | grep -Eo '/[^ ]+'); do
	mkdir -p "$tree/$(dirname "$lib")"
	cp "$lib" "$tree/$lib"
done
ln -s /bin/busybox "$tree/usr/bin/abs"
printf 'hello from the tree\n' > "$tree/etc/hello.txt"
printf 'fresh\n' > "$tree/etc/opq/fresh"
printf 'one\n' > "$tree/data/a"
ln "$tree/data/a" "$tree/data/b"
printf 'secret\n' > "$tree/data/private/key"
printf 'spaced\n' > "$tree/data/with space"
chmod 700 "$tree/data/private"
chmod 600 "$tree/data/private/key"

# The tree as tars: GNU tar, numeric owners, names starting with "./".
tar --numeric-owner -C "$tree" -cf "$T/tree.tar" .
gzip -9 < "$T/tree.tar" > "$T/tree.tar.gz"
zstd -q -19 < "$T/tree.tar" > "$T/tree.tar.zst"

# The same tree in two layers: the first with a directory and files that
# the second deletes (.wh.junk) or hides (etc/opq made opaque).
l1=$T/l1 l2=$T/l2
cp -a "$tree" "$l1"
rm "$l1/etc/opq/fresh"
mkdir -p "$l1/junk"
printf 'old\n' > "$l1/junk/old.txt"
printf 'stale\n' > "$l1/etc/opq/stale"
mkdir -p "$l2/etc/opq"
: > "$l2/.wh.junk"
: > "$l2/etc/opq/.wh..wh..opq"
cp "$tree/etc/opq/fresh" "$l2/etc/opq/fresh"
tar --numeric-owner -C "$l1" -cf - . | gzip > "$T/layer1.tar.gz"
tar --numeric-owner -C "$l2" -cf - . | zstd -q > "$T/layer2.tar.zst"
python3 tests/rootfs/mkimage.py oci "$T/oci" "$T/layer1.tar.gz" "$T/layer2.tar.zst"
tar --numeric-owner -C "$l1" -cf "$T/layer1.tar" .
tar --numeric-owner -C "$l2" -cf "$T/layer2.tar" .
python3 tests/rootfs/mkimage.py docker "$T/docker.tar" "$T/layer1.tar" "$T/layer2.tar"

# build NAME SOURCE ENTRYPOINT-JSON [PROMISES]: an image $T/NAME.dz from a
# context holding SOURCE (a symlink to it) and a Dunefile.
build() {
	local ctx=$T/ctx-$1
	mkdir -p "$ctx"
	ln -sfn "$2" "$ctx/src"
	printf 'FROM src\nENTRYPOINT %s\nALLOW %s\n' "$3" "${4:-stdio rpath}" > "$ctx/Dunefile"
	"$DR" build -o "$T/$1.dz" "$ctx" > "$T/out" 2> "$T/err"
}

# A tree's listing as inspect shows it: mode string and path, sorted.
native_list() {     # [DIR], default the tree
	(cd "${1:-$tree}" && find . -mindepth 1 | LC_ALL=C sort | while IFS= read -r p; do
		m=$(stat -c %A "$p")
		echo "${m:0:10} ${p#.}"
	done)
}
native_list > "$T/native.list"
image_list() {      # IMAGE: mode and path of each entry
	"$DR" inspect "$1" | sed -n '/^files:/,$p' | tail -n +2 |
		sed -E 's/^(.{10}) +[0-9]+ ([^ ].*)$/\1 \2/; s/ (->|=>) .*$//'
}

for src in dir:"$tree" tar:"$T/tree.tar" tar.gz:"$T/tree.tar.gz" tar.zst:"$T/tree.tar.zst" \
	oci:"$T/oci" docker:"$T/docker.tar"; do
	kind=${src%%:*} path=${src#*:}
	build "$kind" "$path" '["/bin/busybox", "cat", "/etc/hello.txt", "/etc/opq/fresh", "/data/b"]'
	ok=0
	[ $? = 0 ] && grep -q "^$T/$kind.dz: $(wc -l < "$T/native.list") files" "$T/out" && ok=1
	verdict $ok "build-from-$kind" "build failed or counted files other than find's $(wc -l < "$T/native.list")"
	image_list "$T/$kind.dz" > "$T/$kind.list" 2> "$T/err"
	ok=0
	cmp -s "$T/native.list" "$T/$kind.list" && ok=1
	verdict $ok "files-from-$kind" "inspect's files differ from find and stat on the tree: $(diff "$T/native.list" "$T/$kind.list" | head -5 | tr '\n' ' ')"
	# Hard links: stored under the smallest name, bytewise: data/b names
	# data/a, bin/busybox names bin/bb.
	ok=0
	"$DR" inspect "$T/$kind.dz" > "$T/out" 2> "$T/err" &&
		grep -q '^-rw-r--r-- .* /data/b => /data/a$' "$T/out" &&
		grep -q "^-rwxr-xr-x \+$(stat -c %s "$BB") /bin/bb\$" "$T/out" &&
		grep -q '^-rwxr-xr-x .* /bin/busybox => /bin/bb$' "$T/out" &&
		grep -q '^lrwxrwxrwx .* /usr/bin/abs -> ../../bin/busybox$' "$T/out" && ok=1
	verdict $ok "links-from-$kind" "hard links, sizes or the absolute symlink not as on the tree"
	chroot "$tree" /bin/busybox cat /etc/hello.txt /etc/opq/fresh /data/b > "$T/native.out" 2>&1
	"$DR" "$T/$kind.dz" > "$T/out" 2> "$T/err"
	ok=0
	[ $? = 0 ] && cmp -s "$T/native.out" "$T/out" && ok=1
	verdict $ok "run-static-from-$kind" "output differs from chroot's"
	# The host's dynamic sh, its interpreter and libc from the tree.
	script='read x < /etc/hello.txt; echo "$x" $((6 * 7)); /bin/cat /data/a; exit 3'
	chroot "$tree" /bin/dash -c "$script" > "$T/native.out" 2>&1
	nst=$?
	build "$kind-sh" "$path" '["/bin/dash", "-c", "'"${script//\"/\\\"}"'"]' 'stdio rpath proc exec'
	"$DR" "$T/$kind-sh.dz" > "$T/out" 2> "$T/err"
	st=$?
	ok=0
	[ $st = $nst ] && cmp -s "$T/native.out" "$T/out" && ok=1
	verdict $ok "run-dynamic-from-$kind" "status $st (native $nst) or output differs from chroot's"
done

# An OCI layout made by umoci (Debian's), whose second layer's whiteouts
# are umoci's own: the image must hold what umoci's unpacked bundle holds.
if command -v umoci > /dev/null || DEBIAN_FRONTEND=noninteractive \
	apt-get install -y --no-install-recommends umoci > "$T/apt.log" 2>&1; then
	U=$T/umoci
	umoci init --layout "$U" && umoci new --image "$U:t" &&
		umoci unpack --image "$U:t" "$T/b1" > /dev/null && cp -a "$l1/." "$T/b1/rootfs/" &&
		umoci repack --image "$U:t" "$T/b1" && umoci unpack --image "$U:t" "$T/b2" > /dev/null &&
		rm -r "$T/b2/rootfs/junk" "$T/b2/rootfs/etc/opq/stale" &&
		cp "$tree/etc/opq/fresh" "$T/b2/rootfs/etc/opq/" &&
		umoci repack --image "$U:t" "$T/b2" > "$T/out" 2> "$T/err"
	build umoci "$U" '["/bin/busybox", "cat", "/etc/hello.txt", "/etc/opq/fresh", "/data/b"]'
	native_list "$T/b2/rootfs" > "$T/umoci.native"
	image_list "$T/umoci.dz" > "$T/umoci.list"
	chroot "$T/b2/rootfs" /bin/busybox cat /etc/hello.txt /etc/opq/fresh /data/b > "$T/native.out" 2>&1
	"$DR" "$T/umoci.dz" > "$T/out" 2> "$T/err"
	ok=0
	[ $? = 0 ] && cmp -s "$T/umoci.native" "$T/umoci.list" && cmp -s "$T/native.out" "$T/out" &&
		"$DR" inspect "$T/umoci.dz" | grep -q '^from: 2 layers' && ok=1
	verdict $ok from-umoci "umoci's layout: files or output differ from its bundle's: $(diff "$T/umoci.native" "$T/umoci.list" | head -4 | tr '\n' ' ')"
else
	echo "SKIP from-umoci: umoci cannot be installed"
	skip=$((skip + 1))
fi

# Layers in inspect: the OCI layout's two, named by their blobs' digests
# (as sha256sum sees them) with the members each applied.
"$DR" inspect "$T/oci.dz" > "$T/out" 2> "$T/err"
ok=0
d1=$(sha256sum < "$T/layer1.tar.gz" | cut -d' ' -f1)
d2=$(sha256sum < "$T/layer2.tar.zst" | cut -d' ' -f1)
n1=$(tar -tzf "$T/layer1.tar.gz" | wc -l)
n2=$(zstd -dc "$T/layer2.tar.zst" | tar -tf - | wc -l)
grep -q '^from: 2 layers' "$T/out" &&
	grep -q "^layer: oci sha256:$d1 $n1\$" "$T/out" &&
	grep -q "^layer: oci sha256:$d2 $n2\$" "$T/out" && ok=1
verdict $ok inspect-layers "want layers sha256:$d1 ($n1 members), sha256:$d2 ($n2)"
"$DR" inspect "$T/docker.dz" > "$T/out" 2> "$T/err"
ok=0
grep -q "^layer: docker sha256:$(sha256sum < "$T/layer1.tar" | cut -d' ' -f1) $n1\$" "$T/out" && ok=1
verdict $ok inspect-docker-layers "the docker layer's name is not its diff_id"

# Reproducible: the tar again, after the tree's times change, gives the
# same bytes; the directory source too.
touch -d '2001-02-03 04:05:06' "$tree/etc/hello.txt" "$tree/data"
tar --numeric-owner -C "$tree" -cf "$T/tree2.tar" .
cp "$T/tar.dz" "$T/tar1.dz"
cp "$T/dir.dz" "$T/dir1.dz"
build tar "$T/tree2.tar" '["/bin/busybox", "cat", "/etc/hello.txt", "/etc/opq/fresh", "/data/b"]'
build dir "$tree" '["/bin/busybox", "cat", "/etc/hello.txt", "/etc/opq/fresh", "/data/b"]'
ok=0
cmp -s "$T/tar.dz" "$T/tar1.dz" && cmp -s "$T/dir.dz" "$T/dir1.dz" && ok=1
verdict $ok reproducible "a rebuilt image differs"

# COPY after FROM lands on top; a COPY over a hard-linked file leaves the
# other name with the old contents, as cp over one name does on a disk.
ctx=$T/ctx-copy
mkdir -p "$ctx"
ln -sfn "$T/tree.tar" "$ctx/src"
printf 'two\n' > "$ctx/a"
printf 'FROM src\nCOPY a /data/a\nENTRYPOINT ["/bin/busybox", "cat", "/data/a", "/data/b"]\nALLOW stdio rpath\n' > "$ctx/Dunefile"
"$DR" build -o "$T/copy.dz" "$ctx" > "$T/out" 2> "$T/err" && "$DR" "$T/copy.dz" > "$T/out" 2> "$T/err"
cp -a "$tree" "$T/tree-copy"
cp "$ctx/a" "$T/tree-copy/data/a.new" && mv "$T/tree-copy/data/a.new" "$T/tree-copy/data/a"
ok=0
cmp -s "$T/out" <(cat "$T/tree-copy/data/a" "$T/tree-copy/data/b") && ok=1
verdict $ok copy-over-from "COPY over a FROM file: want $(cat "$T/tree-copy/data/a" "$T/tree-copy/data/b" | tr '\n' ' ')"

# Dropped: a device node, a FIFO, a setuid file, files of other owners,
# counted as tar lists them.
drop=$T/drop
mkdir -p "$drop/dev" "$drop/bin"
mknod "$drop/dev/null" c 1 3
mkfifo "$drop/fifo"
cp "$BB" "$drop/bin/busybox"
chmod 4755 "$drop/bin/busybox"
printf 'x\n' > "$drop/owned"
chown 1000:1000 "$drop/owned"
tar --numeric-owner -C "$drop" -cf "$T/drop.tar" .
owners=$(tar --numeric-owner -tvf "$T/drop.tar" | awk '$2 != "0/0"' | wc -l)
build drop "$T/drop.tar" '["/bin/busybox", "true"]'
ok=0
grep -q "dropped: 1 device nodes, 1 fifos, 0 sockets, 1 setuid/setgid bits, $owners owners" "$T/out" &&
	"$DR" inspect "$T/drop.dz" 2>&1 | grep -q '^-rwxr-xr-x .* /bin/busybox$' &&
	! "$DR" inspect "$T/drop.dz" 2>&1 | grep -q -e '/fifo' -e '/dev/null' && ok=1
verdict $ok dropped "the summary does not count 1 device, 1 fifo, 1 setuid, $owners owners"

# Hostile layers: each a one-line error, status 1, naming the source and
# the member; no image, no temporary file beside it; nothing at ESCAPE.
python3 tests/rootfs/hostile.py "$T" "$ESCAPE"
hostile() {         # NAME SOURCE PATTERN
	rm -f "$T/$1.dz"
	build "$1" "$2" '["/bin/busybox", "true"]'
	local st=$? ok=0
	[ $st = 1 ] && [ "$(wc -l < "$T/err")" = 1 ] && grep -Eq -- "$3" "$T/err" &&
		[ ! -e "$T/$1.dz" ] && [ -z "$(find "$T" -maxdepth 1 -name '*.tmp.*')" ] &&
		[ ! -e "$ESCAPE" ] && ok=1
	verdict $ok "hostile-$1" "status $st, want 1 and one line matching '$3'"
}
hostile dotdot "$T/dotdot.tar" "FROM src: \.\./\.\./.*: a '\.\.' component"
hostile dotdot-mid "$T/dotdot-mid.tar" "FROM src: etc/\.\./\.\./.*: a '\.\.' component"
hostile symlink-out "$T/symlink-out.tar" "src: out/pwned: goes through 'out', a symlink"
hostile symlink-rel "$T/symlink-rel.tar" "src: a/up/.*/pwned: goes through 'a/up', a symlink"
hostile whiteout-root "$T/whiteout-root.tar" "src: \.wh\.\.wh\.\.opq: whiteout of the root"
hostile whiteout-dotdot "$T/whiteout-dotdot.tar" "src: etc/\.wh\.\.: "
hostile hardlink-out "$T/hardlink-out.tar" "src: x: hard link to '\.\./\.\./.*', outside the root"
hostile hardlink-missing "$T/hardlink-missing.tar" "src: x: hard link to 'nothing', which is not in the tree"
hostile symlink-climb "$T/symlink-climb.tar" "src: d/l: symlink to 'a/\.\./\.\./\.\./x' leaves the root"
hostile long-name "$T/long-name.tar" "src: d/xxxx.*: a name longer than an image allows"
hostile whiteout-link "$T/whiteout-link.tar" "src: l/\.wh\.x: a whiteout through a symlink"
if [ -z "$EMULATED" ]; then
	python3 tests/rootfs/hostile.py "$T" "$ESCAPE" many
	hostile many "$T/many.tar.zst" "src: d/1048575: more than 1048576 files, an image's limit"
	rm -f "$T/many.tar.zst"
else
	echo "SKIP hostile-many: a million files take minutes in an emulated machine"
	skip=$((skip + 1))
fi
mkfifo "$T/fifo"
hostile fifo "$T/fifo" "src: not a directory or a file"
head -c 3000 "$T/tree.tar" > "$T/truncated.tar"
hostile truncated "$T/truncated.tar" "src: (truncated header|member) at offset [0-9]+"
head -c 20480 "$T/tree.tar" > "$T/cut.tar"
hostile no-end "$T/cut.tar" "src: .*(truncated|no end-of-archive)"
cp "$T/tree.tar" "$T/badsum.tar"
printf 'X' | dd of="$T/badsum.tar" bs=1 seek=10 conv=notrunc status=none
hostile bad-checksum "$T/badsum.tar" "src: bad header checksum at offset 0"
cp "$T/tree.tar.gz" "$T/corrupt.tar.gz"
size=$(stat -c %s "$T/corrupt.tar.gz")
printf '\xff\xff\xff\xff\xff\xff\xff\xff' | dd of="$T/corrupt.tar.gz" bs=1 seek=$((size / 2)) conv=notrunc status=none
hostile corrupt-gzip "$T/corrupt.tar.gz" "src: (corrupt gzip stream|.*checksum|.*truncated)"
head -c $((size / 2)) "$T/tree.tar.gz" > "$T/short.tar.gz"
hostile truncated-gzip "$T/short.tar.gz" "src: truncated gzip stream"
head -c $(($(stat -c %s "$T/tree.tar.zst") / 2)) "$T/tree.tar.zst" > "$T/short.tar.zst"
hostile truncated-zstd "$T/short.tar.zst" "src: truncated zstd stream"
# OCI: a blob whose bytes no longer match its name (same size), a missing
# blob, and a config whose diff_id does not match the layer.
cp -a "$T/oci" "$T/oci-bad"
blob=$T/oci-bad/blobs/sha256/$d2
chmod u+w "$blob"
printf 'X' | dd of="$blob" bs=1 seek=20 conv=notrunc status=none
hostile oci-digest "$T/oci-bad" "src: blob sha256:${d2:0:12}\.\.\. does not match its digest"
cp -a "$T/oci" "$T/oci-missing"
rm "$T/oci-missing/blobs/sha256/$d1"
hostile oci-missing "$T/oci-missing" "src: blobs/sha256/$d1 is missing"
python3 tests/rootfs/mkimage.py docker "$T/docker-swapped.tar" "$T/layer1.tar" "$T/layer2.tar"
mkdir -p "$T/swap" && tar -C "$T/swap" -xf "$T/docker-swapped.tar"
h1=$(sha256sum < "$T/layer1.tar" | cut -d' ' -f1)
cp "$T/layer2.tar" "$T/swap/$h1/layer.tar"
tar -C "$T/swap" -cf "$T/docker-swapped.tar" .
hostile docker-diff-id "$T/docker-swapped.tar" "src: layer .* does not match the config's diff_id"
printf 'not json' > "$T/swap/manifest.json"
tar -C "$T/swap" -cf "$T/docker-badjson.tar" .
hostile docker-json "$T/docker-badjson.tar" "src: manifest.json: offset 0: "

# A Debian minbase rootfs with python3, from Debian's archive, cached
# under BUILD_DIR by its command line (scripts/debian-rootfs.sh).
if [ -n "$EMULATED" ]; then
	echo "SKIP debian: a 200 MiB rootfs takes many minutes in an emulated machine"
	skip=$((skip + 1))
elif ! DEB=$(scripts/debian-rootfs.sh "$B" 2> "$T/err"); then
	echo "SKIP debian: $(cat "$T/err")"
	skip=$((skip + 1))
else
	prog='import json, sys, hashlib; print(json.dumps({"v": sys.version_info[:3], "sum": sum(range(1000)), "sha": hashlib.sha256(b"dune").hexdigest()}))'
	chroot "$DEB" python3 -c "$prog" > "$T/native.out" 2>&1
	# The rootfs as a directory, and as one tar layer in an OCI layout
	# and in a docker-save archive.
	tar --numeric-owner -C "$DEB" -cf "$T/debian.tar" .
	python3 tests/rootfs/mkimage.py oci "$T/debian-oci" "$T/debian.tar"
	python3 tests/rootfs/mkimage.py docker "$T/debian-docker.tar" "$T/debian.tar"
	rm "$T/debian.tar"
	for src in dir:"$DEB" oci:"$T/debian-oci" docker:"$T/debian-docker.tar"; do
		kind=${src%%:*} path=${src#*:}
		build "debian-$kind" "$path" '["/usr/bin/python3", "-c", "'"${prog//\"/\\\"}"'"]'
		"$DR" "$T/debian-$kind.dz" > "$T/out" 2> "$T/err"
		st=$?
		ok=0
		[ $st = 0 ] && cmp -s "$T/native.out" "$T/out" && ok=1
		verdict $ok "debian-python-from-$kind" "status $st, or output differs from chroot's: $(head -c 200 "$T/native.out")"
		image_list "$T/debian-$kind.dz" > "$T/debian-$kind.list"
		rm -f "$T/debian-$kind.dz"
	done
	ok=0
	cmp -s "$T/debian-dir.list" "$T/debian-oci.list" && cmp -s "$T/debian-dir.list" "$T/debian-docker.list" &&
		[ "$(wc -l < "$T/debian-dir.list")" = "$(cd "$DEB" && find . -mindepth 1 ! -type c ! -type b ! -type p ! -type s | wc -l)" ] && ok=1
	verdict $ok debian-same-files "the three Debian images list different files, or not find's count"
	# Progress on a terminal (script gives the build one), none otherwise.
	ctx=$T/ctx-debian-dir
	script -qec "'$DR' build -o '$T/tty.dz' '$ctx'" /dev/null > "$T/out" 2>&1
	ok=0
	grep -aEq 'dunerun build: FROM: [0-9]+ files, [0-9.]+ MiB, [0-9.]+ MiB/s' "$T/out" &&
		grep -aq 'compressed' "$T/out" && ok=1
	verdict $ok progress-on-a-tty "no progress lines on a terminal"
	"$DR" build -o "$T/quiet.dz" "$ctx" > "$T/out" 2> "$T/err"
	ok=0
	[ $? = 0 ] && [ ! -s "$T/err" ] && [ "$(wc -l < "$T/out")" = 1 ] && cmp -s "$T/tty.dz" "$T/quiet.dz" && ok=1
	verdict $ok quiet-otherwise "a build without a terminal wrote more than its summary line"
	rm -f "$T/tty.dz" "$T/quiet.dz"
fi

summary
