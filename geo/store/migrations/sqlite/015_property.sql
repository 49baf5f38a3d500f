-- Talks (约谈) with property companies (物业公司): a supervisor calls a company in over its
-- standing on the red/black list (红黑榜) of a period ('2026-10', or '2026-10-01..2026-10-15').
CREATE TABLE property_talk (
    id         INTEGER PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES property_company (id) ON DELETE CASCADE,
    at         TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    reason     TEXT NOT NULL CHECK (length(trim(reason)) BETWEEN 1 AND 2000),
    period     TEXT NOT NULL CHECK (period GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]'
                                    OR period GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]..[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]')
);
CREATE INDEX property_talk_company ON property_talk (company_id, at);
