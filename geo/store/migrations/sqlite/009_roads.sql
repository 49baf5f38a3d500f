-- The road network: one row per road between two junctions (source, target), with its travel
-- time in seconds each way (reverse_cost -1 where one-way), as the PostGIS table.
CREATE TABLE road (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    class TEXT NOT NULL CHECK (class IN ('expressway', 'arterial', 'secondary', 'local',
                                         'service', 'bridge')),
    oneway INTEGER NOT NULL CHECK (oneway IN (0, 1)),
    speed_kmh REAL NOT NULL CHECK (speed_kmh > 0 AND speed_kmh <= 150),
    length_m REAL NOT NULL CHECK (length_m >= 0),
    source INTEGER NOT NULL,
    target INTEGER NOT NULL,
    cost REAL NOT NULL CHECK (cost > 0),
    reverse_cost REAL NOT NULL CHECK (reverse_cost > 0 OR reverse_cost = -1),
    geom BLOB NOT NULL,
    minx REAL NOT NULL, miny REAL NOT NULL, maxx REAL NOT NULL, maxy REAL NOT NULL,
    CHECK ((reverse_cost = -1) = (oneway = 1))
);
INSERT INTO revision VALUES ('road', 0);
CREATE TRIGGER road_ins AFTER INSERT ON road BEGIN UPDATE revision SET n = n + 1 WHERE layer = 'road'; END;
CREATE TRIGGER road_upd AFTER UPDATE ON road BEGIN UPDATE revision SET n = n + 1 WHERE layer = 'road'; END;
CREATE TRIGGER road_del AFTER DELETE ON road BEGIN UPDATE revision SET n = n + 1 WHERE layer = 'road'; END;
