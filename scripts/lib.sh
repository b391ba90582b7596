# shellcheck shell=bash
# Helpers shared by deps.sh and progs.sh. Source it; do not run it.
# Third-party code is fetched from Debian's archive into BUILD_DIR only, never into the repo.

set -euo pipefail -o errtrace

PROG=$(basename "$0")
STEP=start
SRC_LIST=/etc/apt/sources.list.d/dunerun-deb-src.sources

log() { printf '%s: %s\n' "$PROG" "$*"; }
die() { printf '%s: FAILED: %s\n' "$PROG" "$*" >&2; exit 1; }
trap 'die "step \"$STEP\": command \"$BASH_COMMAND\" exited with $?"' ERR

# setup BUILD_DIR: make it absolute, take the lock, and prepare its layout.
# One lock for both scripts: both edit the system's apt source list for a while.
setup() {
	[ $# -eq 1 ] || { echo "usage: $PROG BUILD_DIR" >&2; exit 2; }
	mkdir -p "$1"
	B=$(cd "$1" && pwd)
	mkdir -p "$B/src" "$B/stamps" "$B/logs"
	exec 9>"$B/.deps.lock"
	flock -n 9 || { log "waiting for another run on $B"; flock 9; }
}

# done_ NAME: true if step NAME finished before. mark NAME records that it did.
done_() { [ -e "$B/stamps/$1" ]; }
mark() { touch "$B/stamps/$1"; }

# quiet NAME CMD...: run a noisy command into logs/NAME.log; show its tail if it fails.
quiet() {
	local l="$B/logs/$1.log"; shift
	"$@" >>"$l" 2>&1 || { tail -n 25 "$l" >&2; die "step \"$STEP\" failed; full log: $l"; }
}

# need_pkgs PKG...: install what is missing. dpkg-query first keeps a second run offline.
need_pkgs() {
	local p missing=()
	for p; do
		[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" = "ii " ] || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return
	STEP="apt-get install ${missing[*]}"; log "$STEP"
	quiet apt apt-get update
	DEBIAN_FRONTEND=noninteractive quiet apt apt-get install -y --no-install-recommends "${missing[@]}"
}

# drop_src_list: undo fetch_src's deb-src entry so apt's state is as we found it.
drop_src_list() {
	[ -e "$SRC_LIST" ] || return 0
	rm -f "$SRC_LIST"
	apt-get update >>"$B/logs/apt.log" 2>&1 || log "warning: apt-get update after removing $SRC_LIST failed"
}

# download_src PKG: the newest source version the archive can serve, into the current
# folder.  The index may list a version whose files the archive no longer holds (seen:
# a security update's files answering 404), so older listed versions are tried in turn.
download_src() {
	local v
	apt-get source --download-only "$1" >>"$B/logs/apt.log" 2>&1 && return
	for v in $(apt-cache showsrc "$1" | sed -n 's/^Version: //p' | sort -rV | tail -n +2); do
		log "source $1: the newest version failed to download; trying $v"
		rm -f ./*
		apt-get source --download-only "$1=$v" >>"$B/logs/apt.log" 2>&1 && return
	done
	tail -n 25 "$B/logs/apt.log" >&2
	die "step \"$STEP\": no source version of $1 could be downloaded; full log: $B/logs/apt.log"
}

# fetch_src [--skip-patches] PKG...: download Debian source packages into src/ and
# unpack each into src/PKG. The deb-src entry copies debian.sources (its URIs and
# suites, so the versions match the installed binaries) and exists only meanwhile.
fetch_src() {
	local opt=() p todo=()
	[ "$1" = --skip-patches ] && { opt=(--skip-patches); shift; }
	for p; do done_ "src-$p" || todo+=("$p"); done
	[ ${#todo[@]} -eq 0 ] && return
	need_pkgs dpkg-dev
	STEP="fetch source ${todo[*]}"; log "$STEP"
	trap drop_src_list EXIT
	sed 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources >"$SRC_LIST"
	quiet apt apt-get update
	for p in "${todo[@]}"; do
		rm -rf "$B/src/dl-$p" "$B/src/$p"
		mkdir -p "$B/src/dl-$p"
		# _apt must be able to write here, or apt downloads unsandboxed and warns.
		chown _apt "$B/src/dl-$p" 2>/dev/null || true
		cd "$B/src/dl-$p"
		download_src "$p"
		cd "$B"
		quiet "src-$p" dpkg-source "${opt[@]}" -x "$B/src/dl-$p/${p}_"*.dsc "$B/src/$p"
		rm -f "$B/src/${p}_"*	# dpkg-source's copy of the orig tarball
		mark "src-$p"
	done
	drop_src_list
	trap - EXIT
}
