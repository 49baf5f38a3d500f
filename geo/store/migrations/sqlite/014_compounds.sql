-- Below the grid: residential compounds (小区) and their buildings (楼栋) as polygons (WKB with
-- their bounding box, as grids are kept), the buildings' units (单元) with households, the
-- heads (三长) of each on roster A (normal times) or B (emergency, from an assigned agency),
-- and the normal/emergency switch per area. Spatial work is in process (geo.gridindex).
CREATE TABLE compound (
    code                TEXT PRIMARY KEY CHECK (length(code) = 17 AND substr(code, 13, 2) = 'XQ'
                                                AND substr(code, 1, 12) NOT GLOB '*[^0-9]*'
                                                AND substr(code, 15) NOT GLOB '*[^0-9]*'),
    name                TEXT NOT NULL CHECK (name <> ''),
    community_code      TEXT NOT NULL REFERENCES community (code),
    property_company_id TEXT REFERENCES property_company (id) ON DELETE SET NULL,
    households          INTEGER NOT NULL CHECK (households >= 0),
    built_year          INTEGER CHECK (built_year BETWEEN 1900 AND 2100),
    geom                BLOB NOT NULL,
    minx REAL NOT NULL, miny REAL NOT NULL, maxx REAL NOT NULL, maxy REAL NOT NULL,
    CHECK (substr(code, 1, 12) = community_code)
);
CREATE INDEX compound_community ON compound (community_code);
CREATE INDEX compound_company ON compound (property_company_id);

CREATE TABLE building (
    code          TEXT PRIMARY KEY CHECK (length(code) = 20 AND substr(code, 18, 1) = '-'
                                          AND substr(code, 19) NOT GLOB '*[^0-9]*'),
    compound_code TEXT NOT NULL REFERENCES compound (code) ON DELETE CASCADE,
    name          TEXT NOT NULL CHECK (name <> ''),
    floors        INTEGER CHECK (floors BETWEEN 1 AND 200),
    households    INTEGER NOT NULL CHECK (households >= 0),
    geom          BLOB NOT NULL,
    minx REAL NOT NULL, miny REAL NOT NULL, maxx REAL NOT NULL, maxy REAL NOT NULL,
    CHECK (substr(code, 1, 17) = compound_code)
);
CREATE INDEX building_compound ON building (compound_code);

CREATE TABLE building_unit (
    code          TEXT PRIMARY KEY,
    building_code TEXT NOT NULL REFERENCES building (code) ON DELETE CASCADE,
    number        INTEGER NOT NULL CHECK (number >= 1),
    households    INTEGER NOT NULL CHECK (households >= 0),
    UNIQUE (building_code, number),
    CHECK (code = building_code || '-' || number)
);

CREATE TABLE resident_head (
    id        INTEGER PRIMARY KEY,
    level     TEXT NOT NULL CHECK (level IN ('compound', 'building', 'unit')),
    area_code TEXT NOT NULL,
    name      TEXT NOT NULL CHECK (name <> ''),
    phone     TEXT NOT NULL,
    roster    TEXT NOT NULL CHECK (roster IN ('A', 'B')),
    agency    TEXT NOT NULL DEFAULT '',
    CHECK (roster = 'A' OR agency <> ''),
    CHECK (length(area_code) = CASE level WHEN 'compound' THEN 17 WHEN 'building' THEN 20
                                          ELSE length(area_code) END)
);
CREATE INDEX resident_head_area ON resident_head (area_code);

ALTER TABLE issue ADD COLUMN compound_code TEXT;
ALTER TABLE issue ADD COLUMN building_code TEXT;
CREATE INDEX issue_compound ON issue (compound_code) WHERE compound_code IS NOT NULL;

-- The normal/emergency switch per area: '' the whole city, else a district (6 digits) or a
-- street (9); a street is in emergency when the city, its district or itself is. The
-- city-wide mode the `setting` table held moves here.
CREATE TABLE area_mode (
    area_code  TEXT PRIMARY KEY CHECK (area_code = '' OR (length(area_code) IN (6, 9)
                                                          AND area_code NOT GLOB '*[^0-9]*')),
    mode       TEXT NOT NULL CHECK (mode IN ('normal', 'emergency')),
    changed_by TEXT,
    changed_at TEXT,
    reason     TEXT NOT NULL DEFAULT ''
);
INSERT INTO area_mode (area_code, mode, changed_by, changed_at, reason)
SELECT '', m.value, (SELECT value FROM setting WHERE key = 'mode_changed_by'),
       (SELECT value FROM setting WHERE key = 'mode_changed_at'),
       coalesce((SELECT value FROM setting WHERE key = 'mode_reason'), '')
FROM setting m WHERE m.key = 'mode';
DELETE FROM setting WHERE key IN ('mode', 'mode_changed_by', 'mode_changed_at', 'mode_reason');

INSERT INTO revision VALUES ('compound', 0), ('building', 0);
CREATE TRIGGER compound_ins AFTER INSERT ON compound BEGIN UPDATE revision SET n = n + 1 WHERE layer = 'compound'; END;
CREATE TRIGGER compound_upd AFTER UPDATE ON compound BEGIN UPDATE revision SET n = n + 1 WHERE layer = 'compound'; END;
CREATE TRIGGER compound_del AFTER DELETE ON compound BEGIN UPDATE revision SET n = n + 1 WHERE layer = 'compound'; END;
CREATE TRIGGER building_ins AFTER INSERT ON building BEGIN UPDATE revision SET n = n + 1 WHERE layer = 'building'; END;
CREATE TRIGGER building_upd AFTER UPDATE ON building BEGIN UPDATE revision SET n = n + 1 WHERE layer = 'building'; END;
CREATE TRIGGER building_del AFTER DELETE ON building BEGIN UPDATE revision SET n = n + 1 WHERE layer = 'building'; END;
