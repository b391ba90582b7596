#!/bin/bash
# dune-plot.sh DIR OUT.png: the plot of docs/benchmarks.md from the
# figures tests/bench/dune.sh left in DIR (dune-appel.tsv: name, kind,
# backend, native median, dunerun median; dune-dirty.tsv: heap MiB,
# percent, method, total µs).  Left: Appel-Li, dunerun over native (log
# scale, 1 = as fast as Linux).  Right: one dirty-tracking cycle at 10%
# written, µs by heap size, per method.
set -euo pipefail
D=$1 OUT=$2
appel=$D/dune-appel.dat dirty=$D/dune-dirty.dat

# pivot: tab-separated "row column value" lines as a table with a header
# line, one line per row and one column per column name, in order of
# first appearance ("NaN" where a cell has no value).
pivot() {
	awk -F'\t' '{ v[$1, $2] = $3
		if (!($2 in sc)) { sc[$2] = 1; cs[++nc] = $2 }
		if (!($1 in sr)) { sr[$1] = 1; rs[++nr] = $1 } }
	END { printf "x"; for (i = 1; i <= nc; i++) printf "\t\"%s\"", cs[i]; print ""
	      for (j = 1; j <= nr; j++) { printf "%s", rs[j]
		for (i = 1; i <= nc; i++) printf "\t%s", ((rs[j], cs[i]) in v) ? v[rs[j], cs[i]] : "NaN"
		print "" } }'
}
# Appel: benchmarks by kind and backend, the ratio to native.
awk -F'\t' '{ print $1 "\t" $2 " " $3 "\t" $5 / $4 }' "$D/dune-appel.tsv" | pivot > "$appel"
# Dirty: heaps by method, at 10% written.
awk -F'\t' '$2 == 10 { print $1 "\t" $3 "\t" $4 }' "$D/dune-dirty.tsv" | pivot > "$dirty"
ncol=$(head -n 1 "$appel" | awk -F'\t' '{ print NF }')
mcol=$(head -n 1 "$dirty" | awk -F'\t' '{ print NF }')
gnuplot <<GP
set terminal pngcairo size 1400,560 font "sans,10"
set output "$OUT"
set multiplot layout 1,2
set title "Appel-Li primitives: time under dunerun / time on Linux (median; 1 = Linux)"
set style data histogram
set style histogram cluster gap 1
set style fill solid 0.8 border -1
set logscale y
set yrange [0.1:*]
set grid ytics
set key top left font ",8"
set datafile separator "\t"
plot for [i=2:$ncol] "$appel" using i:xtic(1) title columnheader(i), 1 with lines lt -1 notitle
unset logscale y
set title "Dirty-page tracking, 10% of pages written: one cycle (collect + writes, µs, median)"
set style data linespoints
set logscale xy
set xrange [40:1600]
set xlabel "heap (MiB)"
set yrange [*:*]
plot for [i=2:$mcol] "$dirty" using 1:i title columnheader(i)
unset multiplot
GP
