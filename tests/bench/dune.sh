# dune.sh: libdune (include/dune.h) against what Linux offers natively.
# Sourced by tests/bench.sh, from the top of the tree, after its helpers:
# uses $B, $D, $R and $backends.  Two tables:
#
#   dirty-page tracking (tests/bench/dirtybench.c): the time of one
#   collect and of the writes before it, for heaps of 64 MiB to 1 GiB
#   with 1, 10 and 50% of the pages written each cycle; natively with
#   mprotect, soft-dirty and pagemap-scan, under dunerun with libdune's
#   dirty bits and with mprotect (signals served by dunerun), and in
#   supervisor mode (VT-x/SVM hosts) with the bits read and cleared by
#   the program itself (ring0).
#
#   Appel and Li's primitives (tests/bench/appel.c): a protection fault
#   delivered to a handler, protect and unprotect, and a syscall from
#   ring 3; mprotect and SIGSEGV natively against dune_protect and
#   dune_trap under dunerun, and in supervisor mode (VT-x/SVM hosts)
#   against PTE writes, invlpg and a handler entered without an exit.
#
# Each run reports min and median over its own repeats.  Runs that
# would take too long under dunerun (mprotect faults cost hundreds of
# microseconds there) are left out and say so.

dn_cc() { musl-gcc -static -O2 -Iinclude -isystem "$B/kinc" "$@"; }
[ -f "$B/libdune.a" ] || make -s "$B/libdune.a" B="$B"
dn_cc -Iimages/examples/dirtygc tests/bench/dirtybench.c images/examples/dirtygc/track.c \
	"$B/libdune.a" -o "$D/dirtybench"
dn_cc tests/bench/appel.c "$B/libdune.a" -o "$D/appel"

# Under dunerun, a cell whose mprotect run would take more faults than
# this per cycle is skipped: at 0.2-1 ms a fault there, 256 MiB with 50%
# written (32768 faults) takes 20-30 s a cycle, 1 GiB with 50% minutes.
DN_MAX_FAULTS=${DIRTY_DUNERUN_MAX_FAULTS:-30000}
DN_HEAPS=${DIRTY_BENCH_HEAPS:-64 256 1024}   # fewer for a quick look
DN_PCTS="1 10 50"

# dn_run CMD...: runs one benchmark; $dn_out is its stdout, or "" with
# $dn_why saying why there are no figures (n/a and its reason, or the
# error).  A failed check is reported, not fatal: the rest still runs.
dn_run() {
	local rc=0
	dn_out=$("$@" 2> "$D/dn.err") || rc=$?
	dn_why=$(head -n 1 "$D/dn.err" | sed 's/^[a-z]*: //')
	if [ "$rc" != 0 ]; then
		dn_why="ERROR (status $rc): $dn_why" dn_out=
		dn_failed=$((dn_failed + 1))
	elif [[ $dn_out == *n/a* ]]; then
		dn_why="n/a: $dn_why" dn_out=
	fi
}
dn_failed=0

# Supervisor mode's rows (ring0) run where ring 0 is real (lib.sh).
dn_ring0=0
supervisor_host "$B/dunerun" "$B/progs/busybox" true && dn_ring0=1

# Cycles per run: fewer for the big heaps, and fewest for mprotect
# under dunerun, whose faults dominate this fragment's time.
dn_reps() {         # MIB native|dune|mprotect-dunerun
	case $1/$2 in
	64/mprotect-dunerun) echo 3 ;; */mprotect-dunerun) echo 1 ;;
	64/*) echo 5 ;; 256/*) echo 3 ;; *) echo 2 ;;
	esac
}

# One cell of the matrix: every method's row, then the rows printed with
# their total (collect + writes) against the best native total.
dn_cell() {         # MIB PCT
	local mib=$1 pct=$2 m be labels=() lines=() best=
	local pages=$((mib * 256 * pct / 100)) mem=$((mib + 512))M
	for m in mprotect soft-dirty pagemap-scan; do
		dn_run "$D/dirtybench" "$m" "$mib" "$pct" "$(dn_reps "$mib" native)"
		labels+=("$m (native)") lines+=("${dn_out:-$dn_why}")
		if [ -n "$dn_out" ]; then
			best=$(awk -v b="$best" -v l="$dn_out" 'BEGIN {
				split(l, f, " "); t = f[5] + f[6]; print (b == "" || t < b) ? t : b }')
		fi
	done
	for be in $backends; do
		local dr="$B/dunerun exec --backend $be --memory $mem --timeout 5m"
		dn_run $dr "$D/dirtybench" dune "$mib" "$pct" "$(dn_reps "$mib" dune)"
		labels+=("dune (dunerun $be)") lines+=("${dn_out:-$dn_why}")
		if [ "$pages" -gt "$DN_MAX_FAULTS" ]; then
			dn_out= dn_why="skipped: $pages faults a cycle"
		else
			dn_run $dr "$D/dirtybench" mprotect "$mib" "$pct" "$(dn_reps "$mib" mprotect-dunerun)"
		fi
		labels+=("mprotect (dunerun $be)") lines+=("${dn_out:-$dn_why}")
		if [ "$dn_ring0" = 1 ]; then
			dn_run $dr --supervisor "$D/dirtybench" ring0 "$mib" "$pct" "$(dn_reps "$mib" dune)"
			labels+=("ring0 (dunerun $be)") lines+=("${dn_out:-$dn_why}")
		fi
	done
	for i in "${!labels[@]}"; do
		awk -v mib="$mib" -v pct="$pct" -v lab="${labels[$i]}" -v l="${lines[$i]}" -v best="$best" \
			-v tsv="$D/dune-dirty.tsv" 'BEGIN {
			n = split(l, f, " ")
			if (n != 6 || f[4] !~ /^[0-9.]+$/) {
				printf "| %8d | %6d%% | %-29s | %s |||||\n", mib, pct, lab, l
				exit
			}
			t = f[5] + f[6]
			printf "| %8d | %6d%% | %-29s | %11.1f | %11.1f | %10.1f | %10.1f | %7s |\n",
				mib, pct, lab, f[4], f[5], f[6], t,
				best == "" ? "-" : sprintf("%.2fx", t / best)
			printf "%d\t%d\t%s\t%.1f\n", mib, pct, lab, t >> tsv }'
	done
}

echo
echo "Dirty-page tracking: one collect after writing PERCENT% of the heap's pages (µs; dirtybench)."
echo "total = collect + writes (medians); vs best = total / the fastest native method's total."
echo
: > "$D/dune-dirty.tsv"
echo '| heap MiB | written | method                        | collect min | collect med | writes med |  total med | vs best |'
echo '|---------:|--------:|-------------------------------|------------:|------------:|-----------:|-----------:|--------:|'
for mib in $DN_HEAPS; do
	for pct in $DN_PCTS; do
		dn_cell "$mib" "$pct"
	done
done

# Appel-Li: appel prints "NAME min median" lines; natively with mprotect
# and SIGSEGV, under dunerun with dune_protect and dune_trap, and (for
# what libdune saves) with mprotect and SIGSEGV served by dunerun.
declare -A dn_app
dn_appel() {        # KEY CMD...: fills dn_app[KEY/NAME] with "min med"
	local key=$1 name lo med
	shift
	dn_run "$@"
	dn_app[$key/why]=$dn_why
	while read -r name lo med; do
		if [ -n "$name" ]; then dn_app[$key/$name]="$lo $med"; fi
	done <<< "$dn_out"
}
dn_appel native "$D/appel" -r "$R" native
for be in $backends; do
	# Faults cost tens of microseconds under dunerun: fewer rounds.
	dn_appel "dune-$be" "$B/dunerun" exec --backend "$be" --timeout 5m "$D/appel" -n 10 -r "$R" dune
	dn_appel "signals-$be" "$B/dunerun" exec --backend "$be" --timeout 5m "$D/appel" -n 10 -r "$R" native
	# Supervisor mode, where the host's ring 0 is real (VT-x/SVM).
	if [ "$dn_ring0" = 1 ]; then
		dn_appel "ring0-$be" "$B/dunerun" exec --backend "$be" --supervisor --timeout 5m "$D/appel" -r "$R" ring0
	else
		dn_app[ring0-$be/why]="n/a: $SUPERVISOR_WHY"
	fi
done
echo
echo "Appel-Li virtual-memory primitives (appel): native = mprotect + SIGSEGV handler on Linux."
echo
: > "$D/dune-appel.tsv"
echo '| benchmark                          | unit     | native min | native med | dunerun min | dunerun med | ratio |'
echo '|------------------------------------|----------|-----------:|-----------:|-----------:|-----------:|------:|'
for b in trap:ns/fault prot1:ns/page protN:ns/call appel1:ns/fault appel2:ns/fault syscall:ns/call; do
	name=${b%%:*} unit=${b#*:}
	read -r nmin nmed <<< "${dn_app[native/$name]:-n/a n/a}"
	for be in $backends; do
		for kind in dune signals ring0; do
			v=${dn_app[$kind-$be/$name]:-}
			if [ -z "$v" ]; then
				printf '| %-34s | %-8s | %10s | %10s | %s |||\n' "appel $name ($kind, $be)" "$unit" \
					"$nmin" "$nmed" "${dn_app[$kind-$be/why]:-no figure}"
				continue
			fi
			read -r dmin dmed <<< "$v"
			printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$kind" "$be" "$nmed" "$dmed" >> "$D/dune-appel.tsv"
			printf '| %-34s | %-8s | %10s | %10s | %10s | %10s | %7s |\n' \
				"appel $name ($kind, $be)" "$unit" "$nmin" "$nmed" "$dmin" "$dmed" \
				"$(awk -v a="$dmed" -v b="$nmed" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else printf "-" }')"
		done
	done
done
# The collector of images/examples/dirtygc under each tracking method:
# its stop-the-world pauses (final collect, rescan, finish, sweep) over
# a run, as it reports them with -v.
dn_cc -Iimages/examples/dirtygc images/examples/dirtygc/gc.c images/examples/dirtygc/main.c \
	images/examples/dirtygc/track.c "$B/libdune.a" -o "$D/dirtygc"
dn_gc() {           # LABEL CMD...
	local label=$1 rc=0
	shift
	"$@" -v -h 64 -c 10 > /dev/null 2> "$D/dn.err" || rc=$?
	awk -v lab="$label" -v rc="$rc" '
		/ pause [0-9.]+ ms/ { for (i = 1; i <= NF; i++) if ($i == "pause") { t += $(i + 1); n++; if ($(i + 1) > m) m = $(i + 1) } }
		/^dirtygc: method .*: / && !/pause max/ { why = $0 }
		END { if (rc != 0 || n == 0) printf "| %-30s | %s |||\n", lab, why ? why : "status " rc
		      else printf "| %-30s | %9.1f | %9.2f | %8.2f |\n", lab, t, t / n, m }' "$D/dn.err"
}
echo
echo "Garbage-collector pauses (dirtygc -h 64 -c 10: 64 MiB heap, 10 cycles, ms)."
echo
echo '| tracking method                | total     | mean      | max      |'
echo '|--------------------------------|----------:|----------:|---------:|'
for m in mprotect soft-dirty pagemap-scan; do
	dn_gc "$m (native)" "$D/dirtygc" -m "$m"
done
for be in $backends; do
	for m in dune mprotect; do
		dn_gc "$m (dunerun $be)" "$B/dunerun" exec --backend "$be" --timeout 5m "$D/dirtygc" -m "$m"
	done
	if [ "$dn_ring0" = 1 ]; then
		dn_gc "ring0 (dunerun $be)" "$B/dunerun" exec --backend "$be" --supervisor --timeout 5m \
			"$D/dirtygc" -m ring0
	fi
done

# The plot in docs/benchmarks.md, where gnuplot is installed.
if command -v gnuplot > /dev/null; then
	tests/bench/dune-plot.sh "$D" "$D/dune-bench.png" && echo && echo "plot: $D/dune-bench.png"
fi
[ "$dn_failed" = 0 ] || echo "dune.sh: $dn_failed benchmark runs failed their checks (ERROR rows above)" >&2
