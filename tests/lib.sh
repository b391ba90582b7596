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
