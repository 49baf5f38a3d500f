-- Alarms raised by key sites (sensors) and cameras (video analysis) through devices' accounts.
-- An alarm is one source (a site or a camera) and kind; it becomes an issue through the intake,
-- and further alarms of the same source and kind attach to it (`count`) while that issue is
-- open. `active` marks that time; the unique partial index lets exactly one alarm per source
-- and kind be active, so two alarms raised at once file one issue. The trigger on issue ends
-- it when the issue reaches a terminal state (closed, rejected, merged). Issues that alarms
-- file come by the channel 'device'; devices are throttled by `alarm_throttle`.

-- The role 'device': SQLite cannot change a CHECK in place, so app_user is rebuilt. Dropping it
-- cascades to its API keys and sessions, which are kept aside and put back.
CREATE TABLE app_user_next (
    username      TEXT PRIMARY KEY CHECK (length(username) BETWEEN 2 AND 64
                                          AND username NOT GLOB '*[^a-z0-9_.-]*'),
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('grid_worker', 'citizen', 'operator', 'dispatcher',
                                                'team', 'supervisor', 'planner', 'admin',
                                                'device')),
    jurisdiction  TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(jurisdiction)),
    team_id       TEXT REFERENCES team (id) ON DELETE SET NULL,
    display_name  TEXT NOT NULL DEFAULT '',
    active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at    TEXT NOT NULL
);
INSERT INTO app_user_next SELECT username, password_hash, role, jurisdiction, team_id,
                                 display_name, active, created_at FROM app_user;
CREATE TEMP TABLE kept_api_key AS SELECT * FROM api_key;
CREATE TEMP TABLE kept_auth_session AS SELECT * FROM auth_session;
DROP TABLE app_user;
ALTER TABLE app_user_next RENAME TO app_user;
INSERT INTO api_key SELECT * FROM kept_api_key;
INSERT INTO auth_session SELECT * FROM kept_auth_session WHERE parent_jti IS NULL;
INSERT INTO auth_session SELECT * FROM kept_auth_session WHERE parent_jti IS NOT NULL;
DROP TABLE kept_api_key;
DROP TABLE kept_auth_session;
CREATE TRIGGER app_user_ends_sessions
    AFTER UPDATE OF role, jurisdiction, team_id, password_hash, active ON app_user
    WHEN OLD.role IS NOT NEW.role OR OLD.jurisdiction IS NOT NEW.jurisdiction
         OR OLD.team_id IS NOT NEW.team_id OR OLD.password_hash IS NOT NEW.password_hash
         OR OLD.active IS NOT NEW.active
BEGIN
    DELETE FROM auth_session WHERE username = OLD.username;
END;

-- The channel 'device' (issues filed by alarms): `issue` is rebuilt for its CHECK the same way.
-- Dropping it cascades to its events, assignments and photos, which are kept aside and put
-- back; the new table's self-reference names itself so that the drop does not see it as a
-- child. Its indexes go with the old table and are made again.
CREATE TABLE issue_next (
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
    state          TEXT NOT NULL
        CHECK (state IN ('reported', 'accepted', 'dispatched', 'claimed', 'resolved', 'checked',
                         'closed', 'rejected', 'merged')),
    version        INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    state_since    TEXT NOT NULL,
    due_at         TEXT,
    updated_at     TEXT NOT NULL,
    closed_at      TEXT,
    channel        TEXT NOT NULL DEFAULT 'import'
        CHECK (channel IN ('grid_worker', 'citizen_app', 'operator', 'open311', 'import',
                           'device')),
    reported_by    TEXT,
    address        TEXT,
    duplicate_of   INTEGER REFERENCES issue_next (id),
    rating         INTEGER CHECK (rating BETWEEN 1 AND 5),
    rework_count   INTEGER NOT NULL DEFAULT 0 CHECK (rework_count >= 0),
    overdue_steps  INTEGER NOT NULL DEFAULT 0 CHECK (overdue_steps >= 0),
    open311_token  TEXT UNIQUE,
    CHECK (grid_code IS NULL OR (substr(grid_code, 1, 12) = community_code
                                 AND substr(grid_code, 1, 9) = street_code
                                 AND substr(grid_code, 1, 6) = district_code)),
    CHECK ((state IN ('closed', 'rejected', 'merged')) = (closed_at IS NOT NULL)),
    CHECK ((state = 'merged') = (duplicate_of IS NOT NULL)),
    CHECK (state IN ('closed', 'rejected', 'merged') OR due_at IS NOT NULL)
);
INSERT INTO issue_next (id, category_code, description, lon, lat, source_crs, reported_at,
                        grid_code, community_code, street_code, district_code, state, version,
                        state_since, due_at, updated_at, closed_at, channel, reported_by,
                        address, duplicate_of, rating, rework_count, overdue_steps,
                        open311_token)
SELECT id, category_code, description, lon, lat, source_crs, reported_at, grid_code,
       community_code, street_code, district_code, state, version, state_since, due_at,
       updated_at, closed_at, channel, reported_by, address, duplicate_of, rating,
       rework_count, overdue_steps, open311_token FROM issue;
CREATE TEMP TABLE kept_issue_event AS SELECT * FROM issue_event;
CREATE TEMP TABLE kept_assignment AS SELECT * FROM assignment;
CREATE TEMP TABLE kept_photo AS SELECT * FROM photo;
DROP TABLE issue;
ALTER TABLE issue_next RENAME TO issue;
INSERT INTO issue_event SELECT * FROM kept_issue_event;
INSERT INTO assignment SELECT * FROM kept_assignment;
INSERT INTO photo SELECT * FROM kept_photo;
DROP TABLE kept_issue_event;
DROP TABLE kept_assignment;
DROP TABLE kept_photo;
CREATE INDEX issue_category_time ON issue (category_code, reported_at);
CREATE INDEX issue_grid ON issue (grid_code);
CREATE INDEX issue_lonlat ON issue (lon, lat);
CREATE INDEX issue_open_due ON issue (due_at) WHERE state NOT IN ('closed', 'rejected', 'merged');
CREATE INDEX issue_street_state ON issue (street_code, state);
CREATE INDEX issue_reporter ON issue (reported_by) WHERE reported_by IS NOT NULL;
CREATE INDEX issue_open_category_lon ON issue (category_code, lon)
    WHERE state NOT IN ('closed', 'rejected', 'merged');
CREATE INDEX issue_open_lonlat ON issue (lon, lat)
    WHERE state NOT IN ('closed', 'rejected', 'merged');
CREATE INDEX issue_open_grid ON issue (grid_code)
    WHERE state NOT IN ('closed', 'rejected', 'merged');
CREATE INDEX issue_busy ON issue (id) WHERE state IN ('dispatched', 'claimed');

CREATE TABLE alarm (
    id               INTEGER PRIMARY KEY,
    site_id          TEXT,  -- no foreign key: layers are reloaded; the id is checked when raised
    camera_id        TEXT,
    kind             TEXT NOT NULL CHECK (length(kind) BETWEEN 2 AND 40
                                          AND kind NOT GLOB '*[^a-z_]*'),
    category_code    TEXT NOT NULL REFERENCES category (code),
    issue_id         INTEGER REFERENCES issue (id) ON DELETE CASCADE,  -- NULL while being filed
    active           INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    raised_by        TEXT NOT NULL,
    raised_at        TEXT NOT NULL,
    last_raised_at   TEXT NOT NULL,
    observed_at      TEXT NOT NULL,
    last_observed_at TEXT NOT NULL,
    count            INTEGER NOT NULL DEFAULT 1 CHECK (count >= 1),
    CHECK ((site_id IS NULL) <> (camera_id IS NULL))
);
CREATE UNIQUE INDEX alarm_active_source ON alarm (coalesce(site_id, ''), coalesce(camera_id, ''), kind)
    WHERE active = 1;
CREATE INDEX alarm_issue ON alarm (issue_id);
CREATE INDEX alarm_recent ON alarm (last_raised_at);

-- Every alarm raised, the first and those attached to it: who raised it, when, and what it said.
CREATE TABLE alarm_raise (
    id          INTEGER PRIMARY KEY,
    alarm_id    INTEGER NOT NULL REFERENCES alarm (id) ON DELETE CASCADE,
    raised_by   TEXT NOT NULL,
    raised_at   TEXT NOT NULL,
    observed_at TEXT NOT NULL,
    confidence  REAL CHECK (confidence >= 0 AND confidence <= 1),
    note        TEXT NOT NULL DEFAULT '',
    lon         REAL,  -- a camera's observed point, when given (WGS84)
    lat         REAL
);
CREATE INDEX alarm_raise_alarm ON alarm_raise (alarm_id, id);

CREATE TRIGGER issue_ends_alarms AFTER UPDATE OF state ON issue
    WHEN NEW.state IN ('closed', 'rejected', 'merged') AND OLD.state IS NOT NEW.state
BEGIN
    UPDATE alarm SET active = 0 WHERE issue_id = NEW.id AND active = 1;
END;

-- Alarms counted per device and per source in a window that starts with the first
-- (geo.alarms.throttle), shared by every server process.
CREATE TABLE alarm_throttle (
    key          TEXT PRIMARY KEY,
    raised       INTEGER NOT NULL CHECK (raised >= 0),
    window_start TEXT NOT NULL
);
CREATE INDEX alarm_throttle_window ON alarm_throttle (window_start);
