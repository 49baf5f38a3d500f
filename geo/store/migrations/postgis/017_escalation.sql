-- Owning levels (小事不出楼栋、大事不出社区) and four-level responsibility (四级包保).
-- `issue.owner_level` is the level that owns an issue now; NULL is the default for its
-- category and place (geo.escalation.levels), so only escalations write it. Each escalation
-- is an issue_event with action 'escalate' that leaves the state as it is.
ALTER TABLE issue ADD COLUMN owner_level text
    CHECK (owner_level IN ('building', 'community', 'street', 'district', 'city'));

-- The named people answerable for an area: a district, street, community or grid code.
CREATE TABLE responsibility (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    area_code text NOT NULL CHECK (area_code ~ '^[0-9]{6}([0-9]{3}){0,3}$'),
    name      text NOT NULL CHECK (length(name) BETWEEN 1 AND 60),
    title     text NOT NULL CHECK (length(title) BETWEEN 1 AND 60),
    phone     text NOT NULL DEFAULT '' CHECK (length(phone) <= 30),
    since     date NOT NULL
);
CREATE INDEX responsibility_area ON responsibility (area_code);
