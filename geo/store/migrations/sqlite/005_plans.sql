-- Planners' drafts of new grid boundaries for an area (a street or a community). Draft grids
-- may be invalid while they are edited, so their geometry is plain WKB; each carries a
-- version for optimistic concurrency (HTTP ETag / If-Match), as does the draft.
CREATE TABLE plan_draft (
    id           INTEGER PRIMARY KEY,
    area_code    TEXT NOT NULL CHECK (length(area_code) IN (6, 9, 12)
                                      AND area_code NOT GLOB '*[^0-9]*'),
    title        TEXT NOT NULL DEFAULT '',
    state        TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'published', 'discarded')),
    version      INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    published_at TEXT,
    next_key     INTEGER NOT NULL DEFAULT 1,
    CHECK ((state = 'published') = (published_at IS NOT NULL))
);

CREATE TABLE plan_grid (
    draft_id       INTEGER NOT NULL REFERENCES plan_draft (id) ON DELETE CASCADE,
    key            TEXT NOT NULL CHECK (length(key) BETWEEN 1 AND 40),
    code           TEXT CHECK (code IS NULL OR length(code) = 15),
    community_code TEXT NOT NULL,
    name           TEXT NOT NULL DEFAULT '',
    households     INTEGER CHECK (households >= 0),
    geom           BLOB NOT NULL,
    version        INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    PRIMARY KEY (draft_id, key)
);
