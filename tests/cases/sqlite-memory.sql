-- In-memory work: recursive CTEs, window functions, JSON, math, strings, sorting.
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
SELECT count(*), sum(i), sum(i * i) % 1000000007, max(i) FROM n;
WITH RECURSIVE fib(a, b, k) AS (SELECT 0, 1, 0 UNION ALL SELECT b, a + b, k + 1 FROM fib WHERE k < 80)
SELECT k, a FROM fib WHERE k % 20 = 0;
CREATE TABLE t(g INTEGER, v REAL, s TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
INSERT INTO t SELECT i % 10, (i * 31 % 1000) / 7.0, printf('%x-%d', i * 2654435761 % 4294967296, i) FROM n;
SELECT g, count(*), printf('%.4f', avg(v)), min(s), max(s) FROM t GROUP BY g ORDER BY g;
SELECT g, v, rank() OVER (PARTITION BY g ORDER BY v DESC) AS r FROM t WHERE g < 2 ORDER BY g, r, v LIMIT 6;
SELECT json_object('a', 1, 'b', json_array(1, 2, 'x')), json_extract('{"k":[10,20,30]}', '$.k[1]');
SELECT upper('mixed Case'), length('naïve'), substr('abcdef', 2, 3), replace('aaa', 'a', 'bb'), instr('haystack', 'st');
SELECT printf('%.6f', 22.0 / 7), abs(-5), round(2.5), 7 / 2, 7 % 3, 1 << 40, typeof(1.0), quote('it''s');
CREATE INDEX t_s ON t(s);
SELECT count(DISTINCT s), (SELECT s FROM t ORDER BY s LIMIT 1 OFFSET 2500) FROM t;
SELECT datetime(0, 'unixepoch'), date('2020-02-28', '+1 day'), strftime('%j', '2021-12-31');
