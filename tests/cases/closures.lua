-- A closure-heavy benchmark: counters, memoization, function composition,
-- coroutine generators, and a small object system built from closures.
-- Prints results only (never addresses or times), so the output is deterministic.

local function counter(start, step)
  local n = start
  return function() n = n + step; return n end
end

local total = 0
for i = 1, 2000 do
  local c = counter(i, i % 7 + 1)
  for _ = 1, 50 do total = total + c() end
end
print("counters total", total)

local function memoize(f)
  local cache = {}
  return function(n)
    local v = cache[n]
    if v == nil then v = f(n); cache[n] = v end
    return v
  end
end

local fib
fib = memoize(function(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end)
print("fib(90)", string.format("%.0f", fib(90)))

local function compose(...)
  local fs = { ... }
  return function(x)
    for i = #fs, 1, -1 do x = fs[i](x) end
    return x
  end
end
local inc = function(x) return x + 1 end
local dbl = function(x) return x * 2 end
local f = compose(inc, dbl, inc, dbl)
local acc = 0
for i = 1, 100000 do acc = (acc + f(i)) % 1000000007 end
print("composed sum mod p", acc)

-- Generators with coroutines.
local function range(n)
  return coroutine.wrap(function() for i = 1, n do coroutine.yield(i) end end)
end
local function filter(pred, gen)
  return coroutine.wrap(function() for v in gen do if pred(v) then coroutine.yield(v) end end end)
end
local function map(fn, gen)
  return coroutine.wrap(function() for v in gen do coroutine.yield(fn(v)) end end)
end
local s = 0
for v in map(function(x) return x * x end, filter(function(x) return x % 3 == 0 end, range(30000))) do
  s = s + v
end
print("sum of squares of multiples of 3", s)

-- Objects as closures.
local function account(balance)
  local history = {}
  local self = {}
  function self.deposit(v) balance = balance + v; history[#history + 1] = v end
  function self.withdraw(v)
    if v > balance then error("insufficient funds") end
    balance = balance - v; history[#history + 1] = -v
  end
  function self.balance() return balance end
  function self.count() return #history end
  return self
end
local accounts = {}
for i = 1, 300 do accounts[i] = account(i * 10) end
local failures = 0
for round = 1, 200 do
  for i, a in ipairs(accounts) do
    a.deposit((round * i) % 13)
    local ok = pcall(a.withdraw, (round + i) % 50)
    if not ok then failures = failures + 1 end
  end
end
local sum, ops = 0, 0
for _, a in ipairs(accounts) do sum = sum + a.balance(); ops = ops + a.count() end
print("accounts", sum, ops, "failed withdrawals", failures)

-- String building and sorting with a comparator closure.
local words = {}
for i = 1, 5000 do words[i] = string.format("w%05d", (i * 7919) % 5003) end
local key = function(w) return w:reverse() end
table.sort(words, function(a, b) return key(a) < key(b) end)
print("first", words[1], "last", words[#words], "concat length", #table.concat(words, ","))
collectgarbage()
print("done")
