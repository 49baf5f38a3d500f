-- Talks (约谈) with property companies (物业公司): a supervisor calls a company in over its
-- standing on the red/black list (红黑榜) of a period ('2026-10', or '2026-10-01..2026-10-15').
CREATE TABLE property_talk (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id text NOT NULL REFERENCES property_company (id) ON DELETE CASCADE,
    at         timestamptz NOT NULL,
    recorded_by text NOT NULL,
    reason     text NOT NULL CHECK (length(btrim(reason)) BETWEEN 1 AND 2000),
    period     text NOT NULL CHECK (period ~ '^[0-9]{4}-[0-9]{2}(-[0-9]{2}\.\.[0-9]{4}-[0-9]{2}-[0-9]{2})?$')
);
CREATE INDEX property_talk_company ON property_talk (company_id, at);
