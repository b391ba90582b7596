-- report.sql: a small report over planets.csv, run by sqlite3 inside the
-- image.  The database is in memory; the image is read-only.
.bail on
.import --csv /data/planets.csv planets
.mode box

SELECT kind, count(*) AS planets,
       round(sum(mass_earths), 1) AS mass_earths,
       round(avg(diameter_km)) AS mean_diameter_km
FROM planets GROUP BY kind ORDER BY sum(mass_earths) DESC;

-- Kepler's third law: period^2 / distance^3 is the same for every planet
-- (in years and AU, close to 1).
SELECT name, distance_au,
       round(period_days / 365.25, 2) AS period_years,
       round(power(period_days / 365.25, 2) / power(distance_au, 3), 3) AS kepler
FROM planets ORDER BY CAST(distance_au AS REAL);

-- Solar days longer than their years.
SELECT name, day_hours, round(period_days * 24) AS year_hours
FROM planets WHERE CAST(day_hours AS REAL) > period_days * 24;
