-- Core layers for the embedded backend. Polygons are WKB blobs with their bounding box;
-- points are lon/lat columns (EPSG:4326). Spatial work happens in process (geo.gridindex).
CREATE TABLE category (
    code               TEXT PRIMARY KEY CHECK (length(code) = 3),
    network            TEXT NOT NULL CHECK (network IN ('party', 'safety', 'livelihood', 'enterprise')),
    name_zh            TEXT NOT NULL,
    name_en            TEXT NOT NULL,
    handled_by         TEXT NOT NULL CHECK (json_valid(handled_by)),
    duplicate_radius_m REAL NOT NULL CHECK (duplicate_radius_m > 0)
);

CREATE TABLE district (
    code TEXT PRIMARY KEY CHECK (length(code) = 6 AND code NOT GLOB '*[^0-9]*'),
    name TEXT NOT NULL,
    geom BLOB NOT NULL
);

CREATE TABLE street (
    code          TEXT PRIMARY KEY CHECK (length(code) = 9 AND code NOT GLOB '*[^0-9]*'
                                          AND substr(code, 7) <> '000'),
    district_code TEXT NOT NULL REFERENCES district (code),
    name          TEXT NOT NULL,
    geom          BLOB NOT NULL,
    CHECK (substr(code, 1, 6) = district_code)
);

CREATE TABLE community (
    code        TEXT PRIMARY KEY CHECK (length(code) = 12 AND code NOT GLOB '*[^0-9]*'
                                        AND substr(code, 10) <> '000'),
    street_code TEXT NOT NULL REFERENCES street (code),
    name        TEXT NOT NULL,
    geom        BLOB NOT NULL,
    CHECK (substr(code, 1, 9) = street_code)
);

CREATE TABLE grid (
    id             INTEGER PRIMARY KEY,
    code           TEXT NOT NULL CHECK (length(code) = 15 AND code NOT GLOB '*[^0-9]*'
                                        AND substr(code, 13) <> '000'),
    community_code TEXT NOT NULL REFERENCES community (code),
    name           TEXT NOT NULL,
    geom           BLOB NOT NULL,
    minx REAL NOT NULL, miny REAL NOT NULL, maxx REAL NOT NULL, maxy REAL NOT NULL,
    workers        TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(workers)),
    households     INTEGER CHECK (households >= 0),
    valid_from     TEXT NOT NULL,
    valid_to       TEXT CHECK (valid_to > valid_from),
    CHECK (substr(code, 1, 12) = community_code)
);
CREATE UNIQUE INDEX grid_current_code ON grid (code) WHERE valid_to IS NULL;
CREATE INDEX grid_community ON grid (community_code);

CREATE TABLE camera (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('fixed', 'dome', 'high_dome')),
    lon         REAL NOT NULL CHECK (lon BETWEEN -180 AND 180),
    lat         REAL NOT NULL CHECK (lat BETWEEN -90 AND 90),
    heading_deg REAL CHECK (heading_deg >= 0 AND heading_deg < 360),
    fov_deg     REAL NOT NULL CHECK (fov_deg > 0 AND fov_deg <= 360),
    range_m     REAL NOT NULL CHECK (range_m > 0 AND range_m <= 5000),
    status      TEXT NOT NULL CHECK (status IN ('online', 'offline', 'maintenance')),
    stream_ref  TEXT,
    CHECK (heading_deg IS NOT NULL OR fov_deg = 360)
);

CREATE TABLE site (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('manhole_cover', 'sewer', 'school_gate', 'market',
                                                'night_market', 'hazard_point')),
    name        TEXT NOT NULL,
    geom        BLOB NOT NULL,
    watch_level INTEGER NOT NULL CHECK (watch_level BETWEEN 1 AND 3),
    department  TEXT NOT NULL
);

CREATE TABLE team (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('safety_livelihood', 'grid_worker', 'enforcement',
                                                'enterprise_service', 'party_volunteer')),
    home_lon     REAL NOT NULL CHECK (home_lon BETWEEN -180 AND 180),
    home_lat     REAL NOT NULL CHECK (home_lat BETWEEN -90 AND 90),
    position_lon REAL CHECK (position_lon BETWEEN -180 AND 180),
    position_lat REAL CHECK (position_lat BETWEEN -90 AND 90),
    position_at  TEXT,
    status       TEXT NOT NULL CHECK (status IN ('available', 'busy', 'off_duty')),
    categories   TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(categories)),
    jurisdiction TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(jurisdiction)),
    roster       TEXT NOT NULL DEFAULT 'A' CHECK (roster IN ('A', 'B')),
    CHECK ((position_lon IS NULL) = (position_at IS NULL)
           AND (position_lon IS NULL) = (position_lat IS NULL))
);

CREATE TABLE issue (
    id             INTEGER PRIMARY KEY,
    category_code  TEXT NOT NULL REFERENCES category (code),
    description    TEXT NOT NULL DEFAULT '',
    lon            REAL NOT NULL CHECK (lon BETWEEN -180 AND 180),
    lat            REAL NOT NULL CHECK (lat BETWEEN -90 AND 90),
    source_crs     TEXT NOT NULL CHECK (source_crs IN ('wgs84', 'cgcs2000', 'gcj02', 'bd09')),
    reported_at    TEXT NOT NULL,
    grid_code      TEXT,
    community_code TEXT,
    street_code    TEXT,
    district_code  TEXT,
    CHECK (grid_code IS NULL OR (substr(grid_code, 1, 12) = community_code
                                 AND substr(grid_code, 1, 9) = street_code
                                 AND substr(grid_code, 1, 6) = district_code))
);
CREATE INDEX issue_category_time ON issue (category_code, reported_at);
CREATE INDEX issue_grid ON issue (grid_code);
CREATE INDEX issue_lonlat ON issue (lon, lat);

-- Change counters that in-process caches (grid index, team table) compare before reuse.
CREATE TABLE revision (layer TEXT PRIMARY KEY, n INTEGER NOT NULL);
INSERT INTO revision VALUES ('grid', 0), ('team', 0), ('camera', 0);
CREATE TRIGGER grid_ins AFTER INSERT ON grid BEGIN UPDATE revision SET n = n + 1 WHERE layer = 'grid'; END;
CREATE TRIGGER grid_upd AFTER UPDATE ON grid BEGIN UPDATE revision SET n = n + 1 WHERE layer = 'grid'; END;
CREATE TRIGGER grid_del AFTER DELETE ON grid BEGIN UPDATE revision SET n = n + 1 WHERE layer = 'grid'; END;
CREATE TRIGGER team_ins AFTER INSERT ON team BEGIN UPDATE revision SET n = n + 1 WHERE layer = 'team'; END;
CREATE TRIGGER team_upd AFTER UPDATE ON team BEGIN UPDATE revision SET n = n + 1 WHERE layer = 'team'; END;
CREATE TRIGGER team_del AFTER DELETE ON team BEGIN UPDATE revision SET n = n + 1 WHERE layer = 'team'; END;
CREATE TRIGGER camera_ins AFTER INSERT ON camera BEGIN UPDATE revision SET n = n + 1 WHERE layer = 'camera'; END;
CREATE TRIGGER camera_upd AFTER UPDATE ON camera BEGIN UPDATE revision SET n = n + 1 WHERE layer = 'camera'; END;
CREATE TRIGGER camera_del AFTER DELETE ON camera BEGIN UPDATE revision SET n = n + 1 WHERE layer = 'camera'; END;
