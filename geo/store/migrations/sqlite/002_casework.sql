-- The six-step closed loop (report, accept, dispatch, claim, supervise, rate): issue state
-- with its step deadline, team assignments, an append-only audit trail; users bound to a
-- jurisdiction, Open311 keys, idempotent creation, photos and runtime settings.
-- SQLite cannot add table constraints to an existing table, so `issue` is rebuilt.

CREATE TABLE issue_new (
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
        CHECK (channel IN ('grid_worker', 'citizen_app', 'operator', 'open311', 'import')),
    reported_by    TEXT,
    address        TEXT,
    duplicate_of   INTEGER REFERENCES issue (id),
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
-- Issues loaded before this migration are history: they count as closed.
INSERT INTO issue_new (id, category_code, description, lon, lat, source_crs, reported_at,
                       grid_code, community_code, street_code, district_code, state,
                       state_since, updated_at, closed_at)
SELECT id, category_code, description, lon, lat, source_crs, reported_at, grid_code,
       community_code, street_code, district_code, 'closed', reported_at, reported_at, reported_at
FROM issue;
DROP TABLE issue;
ALTER TABLE issue_new RENAME TO issue;
CREATE INDEX issue_category_time ON issue (category_code, reported_at);
CREATE INDEX issue_grid ON issue (grid_code);
CREATE INDEX issue_lonlat ON issue (lon, lat);
CREATE INDEX issue_open_due ON issue (due_at) WHERE state NOT IN ('closed', 'rejected', 'merged');
CREATE INDEX issue_street_state ON issue (street_code, state);
CREATE INDEX issue_reporter ON issue (reported_by) WHERE reported_by IS NOT NULL;

CREATE TABLE app_user (
    username      TEXT PRIMARY KEY CHECK (length(username) BETWEEN 2 AND 64
                                          AND username NOT GLOB '*[^a-z0-9_.-]*'),
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('grid_worker', 'citizen', 'operator', 'dispatcher',
                                                'team', 'supervisor', 'planner', 'admin')),
    jurisdiction  TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(jurisdiction)),
    team_id       TEXT REFERENCES team (id) ON DELETE SET NULL,
    display_name  TEXT NOT NULL DEFAULT '',
    active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at    TEXT NOT NULL
);

CREATE TABLE api_key (
    key_hash   TEXT PRIMARY KEY,  -- sha256 of the key: the key itself is never stored
    username   TEXT NOT NULL REFERENCES app_user (username) ON DELETE CASCADE,
    label      TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);

CREATE TABLE issue_event (
    id         INTEGER PRIMARY KEY,
    issue_id   INTEGER NOT NULL REFERENCES issue (id) ON DELETE CASCADE,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    from_state TEXT,
    to_state   TEXT NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    details    TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details))
);
CREATE INDEX issue_event_issue ON issue_event (issue_id, id);

CREATE TABLE assignment (
    id          INTEGER PRIMARY KEY,
    issue_id    INTEGER NOT NULL REFERENCES issue (id) ON DELETE CASCADE,
    team_id     TEXT NOT NULL REFERENCES team (id) ON DELETE CASCADE,
    lead        INTEGER NOT NULL CHECK (lead IN (0, 1)),
    assigned_at TEXT NOT NULL,
    assigned_by TEXT NOT NULL,
    active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
);
CREATE UNIQUE INDEX assignment_active ON assignment (issue_id, team_id) WHERE active;
CREATE UNIQUE INDEX assignment_one_lead ON assignment (issue_id) WHERE active AND lead;
CREATE INDEX assignment_team ON assignment (team_id) WHERE active;

CREATE TABLE photo (
    id           INTEGER PRIMARY KEY,
    issue_id     INTEGER NOT NULL REFERENCES issue (id) ON DELETE CASCADE,
    content_type TEXT NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
    data         BLOB NOT NULL,
    sha256       TEXT NOT NULL,
    uploaded_by  TEXT NOT NULL,
    uploaded_at  TEXT NOT NULL
);
CREATE INDEX photo_issue ON photo (issue_id);

CREATE TABLE idempotency (
    username     TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status_code  INTEGER NOT NULL,
    response     TEXT NOT NULL CHECK (json_valid(response)),
    created_at   TEXT NOT NULL,
    PRIMARY KEY (username, key)
);

CREATE TABLE setting (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO setting VALUES ('mode', 'normal');
