-- Every storage class, for .dump to print.
CREATE TABLE t(a, b);
INSERT INTO t VALUES (1, 2.5), (NULL, x'00ff'), ('it''s', -7), ('naïve ☃', 1e300), (9223372036854775807, -0.0);
CREATE TABLE u(k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID;
INSERT INTO u VALUES ('z', zeroblob(4)), ('a', 'text');
