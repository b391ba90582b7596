-- Build a small database: tables, an index, a view, a trigger, a transaction.
PRAGMA journal_mode = DELETE;
CREATE TABLE author(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, born INTEGER);
CREATE TABLE book(id INTEGER PRIMARY KEY, author INTEGER REFERENCES author(id), title TEXT, year INTEGER, pages INTEGER);
CREATE INDEX book_year ON book(year);
CREATE TABLE log(msg TEXT);
CREATE TRIGGER book_ins AFTER INSERT ON book BEGIN INSERT INTO log VALUES ('added ' || new.title); END;
BEGIN;
INSERT INTO author(name, born) VALUES ('Ada', 1815), ('Brian', 1942), ('Claude', 1916), ('Donald', 1938), ('Edsger', 1930);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
INSERT INTO book(author, title, year, pages)
SELECT 1 + i % 5, printf('Volume %04d', i), 1900 + (i * 37) % 120, 50 + (i * 7919) % 900 FROM n;
COMMIT;
CREATE VIEW per_author AS
SELECT a.name, count(*) AS books, sum(b.pages) AS pages, min(b.year) AS first, max(b.year) AS last
FROM author a JOIN book b ON b.author = a.id GROUP BY a.id;
UPDATE book SET pages = pages + 1 WHERE year BETWEEN 1950 AND 1960;
DELETE FROM book WHERE id % 97 = 0;
SELECT 'rows', count(*) FROM book;
SELECT * FROM per_author ORDER BY name;
SELECT count(*) FROM log;
