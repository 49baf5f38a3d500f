-- Planners' drafts of new grid boundaries for an area (a street or a community). Draft grids
-- may be invalid while they are edited, so their geometry is plain WKB; each carries a
-- version for optimistic concurrency (HTTP ETag / If-Match), as does the draft.
CREATE TABLE plan_draft (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    area_code    text NOT NULL CHECK (area_code ~ '^([0-9]{6}|[0-9]{9}|[0-9]{12})$'),
    title        text NOT NULL DEFAULT '',
    state        text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'published', 'discarded')),
    version      integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL,
    published_at timestamptz,
    next_key     integer NOT NULL DEFAULT 1,
    CHECK ((state = 'published') = (published_at IS NOT NULL))
);

CREATE TABLE plan_grid (
    draft_id       bigint NOT NULL REFERENCES plan_draft (id) ON DELETE CASCADE,
    key            text NOT NULL CHECK (length(key) BETWEEN 1 AND 40),
    code           text CHECK (code IS NULL OR code ~ '^[0-9]{15}$'),
    community_code text NOT NULL,
    name           text NOT NULL DEFAULT '',
    households     integer CHECK (households >= 0),
    geom           bytea NOT NULL,
    version        integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    PRIMARY KEY (draft_id, key)
);
