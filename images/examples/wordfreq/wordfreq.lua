-- wordfreq.lua FILE: the ten most frequent words of FILE, with counts.
-- The example image of `make run` (the Dunefile beside it): a real
-- interpreter, real file I/O, inside a fresh KVM virtual machine.
local path = arg[1] or "/data/GPL-3"
local f = assert(io.open(path, "r"))
local counts, total = {}, 0
for line in f:lines() do
  for word in line:lower():gmatch("%a[%a']+") do
    counts[word] = (counts[word] or 0) + 1
    total = total + 1
  end
end
f:close()

local words = {}
for w, n in pairs(counts) do words[#words + 1] = { w = w, n = n } end
table.sort(words, function(a, b) return a.n > b.n or (a.n == b.n and a.w < b.w) end)

print(string.format("%d words, %d distinct, in %s", total, #words, path))
for i = 1, math.min(10, #words) do
  print(string.format("%3d. %-12s %5d", i, words[i].w, words[i].n))
end
