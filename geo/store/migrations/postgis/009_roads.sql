-- The road network: one row per road between two junctions, in the columns pgRouting reads
-- (source, target, cost and reverse_cost in seconds; reverse_cost -1 where one-way), so that
-- pgr_* functions route on the table as it is.
CREATE EXTENSION IF NOT EXISTS pgrouting;

CREATE TABLE road (
    id bigint PRIMARY KEY,
    name text NOT NULL DEFAULT '',
    class text NOT NULL CHECK (class IN ('expressway', 'arterial', 'secondary', 'local',
                                         'service', 'bridge')),
    oneway boolean NOT NULL,
    speed_kmh double precision NOT NULL CHECK (speed_kmh > 0 AND speed_kmh <= 150),
    length_m double precision NOT NULL CHECK (length_m >= 0),
    source bigint NOT NULL,
    target bigint NOT NULL,
    cost double precision NOT NULL CHECK (cost > 0),
    reverse_cost double precision NOT NULL CHECK (reverse_cost > 0 OR reverse_cost = -1),
    geom geometry(LineString, 4326) NOT NULL,
    CHECK ((reverse_cost = -1) = oneway)
);
CREATE INDEX road_geom ON road USING gist (geom);
CREATE INDEX road_source ON road (source);
CREATE INDEX road_target ON road (target);

-- A counter per layer that in-process structures (the routing graph) are rebuilt by.
CREATE TABLE revision (layer text PRIMARY KEY, n bigint NOT NULL);
INSERT INTO revision VALUES ('road', 0);
CREATE FUNCTION bump_road_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE revision SET n = n + 1 WHERE layer = 'road';
    RETURN NULL;
END $$;
CREATE TRIGGER road_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON road
    FOR EACH STATEMENT EXECUTE FUNCTION bump_road_revision();

-- Snapping a point to its nearest road in metres (EPSG:4551), by index.
CREATE INDEX road_metric ON road USING gist (ST_Transform(geom, 4551));
