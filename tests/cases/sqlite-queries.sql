-- Queries over the database built by sqlite-setup.sql.
.mode list
.headers on
SELECT year, count(*) AS n, avg(pages) AS avg_pages FROM book WHERE year >= 2010 GROUP BY year ORDER BY year;
SELECT title FROM book WHERE title LIKE '%99%' ORDER BY title LIMIT 5;
SELECT a.name, b.title FROM author a JOIN book b ON b.author = a.id WHERE b.pages = (SELECT max(pages) FROM book) ORDER BY b.id;
SELECT group_concat(name, '+') FROM (SELECT name FROM author ORDER BY born DESC);
SELECT sum(pages), total(pages) / count(*) FROM book;
PRAGMA integrity_check;
