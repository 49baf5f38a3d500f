-- The whistle (吹哨、报到、会商、落实、反馈、评价): a street (or community) calls named departments
-- to one open issue. Each called unit must report in (报到) by its deadline and report its part
-- done (落实/反馈) by another; the caller records the consultation (会商: the plan and each
-- unit's task) and, once every unit has reported its part, evaluates (评价) each unit and the
-- whole, which closes the whistle. `open` marks a whistle not yet evaluated; the unique partial
-- index lets exactly one be open per issue, so two callers racing call one whistle. The areas
-- are the issue's when it was called (jurisdiction and the assessment read them).
CREATE TABLE whistle (
    id             INTEGER PRIMARY KEY,
    issue_id       INTEGER NOT NULL REFERENCES issue (id) ON DELETE CASCADE,
    district_code  TEXT NOT NULL,
    street_code    TEXT NOT NULL,
    community_code TEXT,
    state          TEXT NOT NULL DEFAULT 'called'
        CHECK (state IN ('called', 'consulted', 'evaluated')),
    open           INTEGER NOT NULL DEFAULT 1 CHECK (open IN (0, 1)),
    version        INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    called_by      TEXT NOT NULL,
    called_at      TEXT NOT NULL,
    reason         TEXT NOT NULL DEFAULT '',
    plan           TEXT,
    consulted_by   TEXT,
    consulted_at   TEXT,
    rating         INTEGER CHECK (rating BETWEEN 1 AND 5),
    evaluation     TEXT,
    evaluated_by   TEXT,
    evaluated_at   TEXT,
    CHECK (open = (state <> 'evaluated')),
    CHECK ((state = 'evaluated') = (evaluated_at IS NOT NULL AND rating IS NOT NULL)),
    CHECK ((state = 'called') = (consulted_at IS NULL))
);
CREATE UNIQUE INDEX whistle_open_issue ON whistle (issue_id) WHERE open = 1;
CREATE INDEX whistle_street ON whistle (street_code, called_at);
CREATE INDEX whistle_called ON whistle (called_at);

-- One called department of a whistle: its deadlines, when it reported in (and whether late),
-- its task from the consultation, when it reported its part done, and its rating.
CREATE TABLE whistle_unit (
    whistle_id       INTEGER NOT NULL REFERENCES whistle (id) ON DELETE CASCADE,
    department_id    TEXT NOT NULL REFERENCES department (id) ON DELETE CASCADE,
    report_in_due    TEXT NOT NULL,
    part_due         TEXT NOT NULL,
    reported_in_at   TEXT,
    reported_in_by   TEXT,
    reported_in_late INTEGER CHECK (reported_in_late IN (0, 1)),
    task             TEXT NOT NULL DEFAULT '',
    done_at          TEXT,
    done_by          TEXT,
    done_late        INTEGER CHECK (done_late IN (0, 1)),
    feedback         TEXT NOT NULL DEFAULT '',
    rating           INTEGER CHECK (rating BETWEEN 1 AND 5),
    PRIMARY KEY (whistle_id, department_id),
    CHECK (part_due >= report_in_due),
    CHECK ((reported_in_at IS NULL) = (reported_in_late IS NULL)),
    CHECK ((done_at IS NULL) = (done_late IS NULL)),
    CHECK (done_at IS NULL OR reported_in_at IS NOT NULL)
);
CREATE INDEX whistle_unit_department ON whistle_unit (department_id);

-- The whistle's audit trail: who did what, when (call, report_in, consult, done, evaluate).
CREATE TABLE whistle_event (
    id            INTEGER PRIMARY KEY,
    whistle_id    INTEGER NOT NULL REFERENCES whistle (id) ON DELETE CASCADE,
    at            TEXT NOT NULL,
    actor         TEXT NOT NULL,
    action        TEXT NOT NULL
        CHECK (action IN ('call', 'report_in', 'consult', 'done', 'evaluate')),
    department_id TEXT,
    details       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details))
);
CREATE INDEX whistle_event_whistle ON whistle_event (whistle_id, id);
