-- Owning levels (小事不出楼栋、大事不出社区) and four-level responsibility (四级包保).
-- `issue.owner_level` is the level that owns an issue now; NULL is the default for its
-- category and place (geo.escalation.levels), so only escalations write it. Each escalation
-- is an issue_event with action 'escalate' that leaves the state as it is.
ALTER TABLE issue ADD COLUMN owner_level TEXT
    CHECK (owner_level IN ('building', 'community', 'street', 'district', 'city'));

-- The named people answerable for an area: a district, street, community or grid code.
CREATE TABLE responsibility (
    id        INTEGER PRIMARY KEY,
    area_code TEXT NOT NULL CHECK (length(area_code) IN (6, 9, 12, 15)
                                   AND area_code NOT GLOB '*[^0-9]*'),
    name      TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 60),
    title     TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 60),
    phone     TEXT NOT NULL DEFAULT '' CHECK (length(phone) <= 30),
    since     TEXT NOT NULL CHECK (since GLOB '[12][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]')
);
CREATE INDEX responsibility_area ON responsibility (area_code);
