-- Water (rivers, lakes) for the offline basemap, as the PostGIS table: WKB with its bounding
-- box, as the grids are kept.
CREATE TABLE water (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL CHECK (kind IN ('river', 'lake')),
    geom BLOB NOT NULL,
    minx REAL NOT NULL, miny REAL NOT NULL, maxx REAL NOT NULL, maxy REAL NOT NULL
);
