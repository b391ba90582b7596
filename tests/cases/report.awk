# Per-word totals, averages and a histogram over words.txt, printed in a fixed order.
{
	sum[$1] += $2; cnt[$1]++
	if ($2 > max) { max = $2; maxline = $0 }
	len += length($0)
	bucket[int($2 / 100)]++
	if ($3 ~ /^(alpha|echo|india|oscar|uniform)$/) vowels++
}
END {
	n = 0
	for (w in sum) keys[++n] = w
	# insertion sort: awk has no sort() in POSIX
	for (i = 2; i <= n; i++) {
		k = keys[i]
		for (j = i - 1; j > 0 && keys[j] > k; j--) keys[j + 1] = keys[j]
		keys[j + 1] = k
	}
	for (i = 1; i <= n; i++)
		printf "%-10s count=%4d sum=%7d avg=%8.3f\n", keys[i], cnt[keys[i]], sum[keys[i]], sum[keys[i]] / cnt[keys[i]]
	for (b = 0; b < 10; b++) printf "bucket %d: %d\n", b, bucket[b]
	printf "records=%d chars=%d max=%d (%s) vowel-words=%d\n", NR, len, max, maxline, vowels
	printf "%s %s %d %.4f %e %d\n", toupper("mixed Case"), substr("substring", 4, 3), index("haystack", "st"), 22 / 7, 1099511627776 * 3, int(-7.9)
	s = "a,b,,c"; m = split(s, parts, ","); printf "split gives %d parts, third is [%s]\n", m, parts[3]
	t = "aaa bbb aaa"; g = gsub(/aaa/, "x", t); printf "gsub made %d replacements: %s\n", g, t
}
