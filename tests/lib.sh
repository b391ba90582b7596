# lib.sh: what the suite's shell scripts share; sourced, after each sets
# T (its scratch directory, with the last command's out and err files)
# and the counters pass and fail.

# summary: the closing "N passed, N failed[, N skipped]" line (skip may
# be unset); fails if anything did.
summary() {
	if [ "${skip:-0}" -gt 0 ]; then
		echo "$pass passed, $fail failed, $skip skipped"
	else
		echo "$pass passed, $fail failed"
	fi
	[ "$fail" -eq 0 ]
}

# verdict OK NAME WHY: counts and prints one result; WHY and the captured
# output ($T/out, $T/err) explain a failure.
verdict() {
	if [ "$1" = 1 ]; then
		echo "PASS $2"
		pass=$((pass + 1))
	else
		echo "FAIL $2: $3"
		if [ -s "$T/out" ]; then echo "    stdout:"; head -c 2000 "$T/out" | tail -n 12 | sed 's/^/      /'; fi
		if [ -s "$T/err" ]; then echo "    stderr:"; head -c 2000 "$T/err" | tail -n 6 | sed 's/^/      /'; fi
		fail=$((fail + 1))
	fi
}

# api NAME CMD...: runs a C test program that prints a PASS or FAIL line
# per check and closes with "N passed, N failed": its lines, prefixed with
# NAME, and its counts join ours.  A crash or a missing summary fails.
api() {
	local name=$1
	shift
	timeout -k 5 "${API_TIMEOUT:-120}" "$@" > "$T/out" 2> "$T/err"
	local st=$? line
	grep -E '^(PASS|FAIL) ' "$T/out" | sed "s/^\(PASS\|FAIL\) /\1 $name: /"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$T/out")
	if [ -z "$line" ] || [ $st -ne 0 ]; then
		verdict 0 "$name" "status $st, no clean summary"
		return
	fi
	set -- $line
	pass=$((pass + $1)) fail=$((fail + $3))
}

# vm_backends DUNERUN PROG: sets VM_BACKENDS to the supervisor backends
# this host runs (a VM starts and the static PROG exits 0 in it), and
# VM_WHY to the launcher's reason when none does.  Only the launcher's own
# "no usable /dev/kvm" error (status 125, a line naming /dev/kvm) counts
# as the host's lack: any other failure leaves the portable backend in
# the list, so a broken launcher fails the suite rather than skipping it.
vm_backends() {
	local be err st
	VM_BACKENDS= VM_WHY=
	for be in portable pvm-native; do
		err=$(timeout -k 5 60 "$1" exec --backend "$be" "$2" 2>&1 > /dev/null)
		st=$?
		if [ $st -eq 0 ]; then
			VM_BACKENDS="$VM_BACKENDS $be"
		elif [ $be = portable ]; then
			if [ $st -eq 125 ] && [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] &&
				printf '%s' "$err" | grep -q '^dunerun: /dev/kvm'; then
				VM_WHY=${err#dunerun: }
				return
			fi
			VM_BACKENDS=portable
		fi
	done
	VM_BACKENDS=${VM_BACKENDS# }
}

# supervisor_host DUNERUN PROGRAM [ARGS...]: whether supervisor mode is
# to be tested here.  On a PVM host (where --backend pvm-native runs) a
# program's ring 0 would be emulated, too slow and without SSE to run
# one: no, and SUPERVISOR_WHY says so.  Anywhere else yes, so a launcher
# that cannot run it fails the tests rather than skipping them.
supervisor_host() {
	SUPERVISOR_WHY=
	if timeout -k 5 60 "$1" exec --backend pvm-native "${@:2}" > /dev/null 2>&1; then
		SUPERVISOR_WHY="this host's KVM is PVM, whose ring 0 is emulated: supervisor mode needs VT-x/SVM"
		return 1
	fi
}
