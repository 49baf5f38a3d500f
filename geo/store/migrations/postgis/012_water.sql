-- Water (rivers, lakes) for the offline basemap: drawn under everything where no tile server
-- is configured. Not part of any rule: only a picture that orients a person.
CREATE TABLE water (
    id bigint PRIMARY KEY,
    name text NOT NULL DEFAULT '',
    kind text NOT NULL CHECK (kind IN ('river', 'lake')),
    geom geometry(MultiPolygon, 4326) NOT NULL
);
CREATE INDEX water_geom ON water USING gist (geom);
