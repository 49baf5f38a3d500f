-- Dispute mediation (矛盾纠纷调解): a mediation squad (啄木鸟矛排小分队) per community, built
-- "3+N+X": one township/street cadre, one community police officer and one auxiliary police
-- officer at its core (at most one of each, the partial unique index), grid leaders and village
-- heads (N), lawyers, judges and legal-savvy volunteers (X). A dispute lies in a community (its
-- street and district kept beside it for the jurisdiction and the rates), optionally in a
-- compound (no foreign key: compounds are another room's), and may come from an issue (S02).
-- Its state: registered -> mediating -> resolved (agreement) | referred | withdrawn
-- (geo.mediation.workflow); a risk flag (民转刑) lifts it to the street. Parties hold personal
-- data, read only by mediators of its area (geo.mediation.reading).
CREATE TABLE mediation_squad (
    id             INTEGER PRIMARY KEY,
    community_code TEXT NOT NULL UNIQUE REFERENCES community (code) ON DELETE CASCADE,
    name           TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 120)
);

CREATE TABLE squad_member (
    id       INTEGER PRIMARY KEY,
    squad_id INTEGER NOT NULL REFERENCES mediation_squad (id) ON DELETE CASCADE,
    role     TEXT NOT NULL CHECK (role IN ('cadre', 'police', 'auxiliary_police', 'grid_leader',
                                           'village_head', 'lawyer', 'judge',
                                           'legal_volunteer')),
    name     TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 50),
    phone    TEXT NOT NULL DEFAULT '' CHECK (length(phone) <= 20
                                             AND phone NOT GLOB '*[^0-9+-]*'),
    username TEXT  -- the member's account, if any (accounts come and go: no foreign key)
);
CREATE UNIQUE INDEX squad_member_core ON squad_member (squad_id, role)
    WHERE role IN ('cadre', 'police', 'auxiliary_police');
CREATE INDEX squad_member_squad ON squad_member (squad_id);

CREATE TABLE dispute (
    id             INTEGER PRIMARY KEY,
    community_code TEXT NOT NULL REFERENCES community (code),
    street_code    TEXT NOT NULL,
    district_code  TEXT NOT NULL,
    compound_code  TEXT CHECK (compound_code IS NULL OR (length(compound_code) BETWEEN 13 AND 40
                                                         AND substr(compound_code, 1, 12)
                                                             = community_code)),
    issue_id       INTEGER UNIQUE REFERENCES issue (id) ON DELETE SET NULL,
    squad_id       INTEGER REFERENCES mediation_squad (id) ON DELETE SET NULL,
    type           TEXT NOT NULL CHECK (type IN ('neighbours', 'family', 'property', 'labour',
                                                 'land', 'debt', 'other')),
    summary        TEXT NOT NULL CHECK (length(summary) BETWEEN 1 AND 2000),
    found_at       TEXT NOT NULL,
    found_by       TEXT NOT NULL CHECK (length(found_by) BETWEEN 1 AND 64),
    registered_at  TEXT NOT NULL CHECK (registered_at >= found_at),
    registered_by  TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('registered', 'mediating', 'resolved',
                                                  'referred', 'withdrawn')),
    level          TEXT NOT NULL DEFAULT 'community' CHECK (level IN ('community', 'street')),
    agreement      TEXT CHECK (length(agreement) BETWEEN 1 AND 2000),
    referred_to    TEXT CHECK (referred_to IN ('court', 'police', 'judicial_office',
                                               'arbitration', 'other_body')),
    outcome_note   TEXT NOT NULL DEFAULT '' CHECK (length(outcome_note) <= 2000),
    closed_at      TEXT CHECK (closed_at >= found_at),
    risk           INTEGER NOT NULL DEFAULT 0 CHECK (risk IN (0, 1)),
    risk_reason    TEXT CHECK (length(risk_reason) BETWEEN 1 AND 2000),
    risk_at        TEXT,
    risk_by        TEXT,
    version        INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    updated_at     TEXT NOT NULL,
    CHECK (substr(community_code, 1, 9) = street_code
           AND substr(community_code, 1, 6) = district_code),
    CHECK ((state IN ('resolved', 'referred', 'withdrawn')) = (closed_at IS NOT NULL)),
    CHECK ((state = 'resolved') = (agreement IS NOT NULL)),
    CHECK ((state = 'referred') = (referred_to IS NOT NULL)),
    CHECK (risk = (risk_at IS NOT NULL) AND risk = (risk_reason IS NOT NULL)
           AND risk = (risk_by IS NOT NULL)),
    CHECK (risk = 0 OR level = 'street')
);
CREATE INDEX dispute_community_found ON dispute (community_code, found_at);
CREATE INDEX dispute_street_found ON dispute (street_code, found_at);
CREATE INDEX dispute_district_found ON dispute (district_code, found_at);
CREATE INDEX dispute_found ON dispute (found_at);

-- 当事人: personal data (name, phone, national id number).
CREATE TABLE dispute_party (
    id         INTEGER PRIMARY KEY,
    dispute_id INTEGER NOT NULL REFERENCES dispute (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('applicant', 'respondent', 'other')),
    name       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 50),
    phone      TEXT NOT NULL DEFAULT '' CHECK (length(phone) <= 20
                                               AND phone NOT GLOB '*[^0-9+-]*'),
    id_number  TEXT CHECK (length(id_number) = 18
                           AND substr(id_number, 1, 17) NOT GLOB '*[^0-9]*'
                           AND substr(id_number, 18) GLOB '[0-9X]')
);
CREATE INDEX dispute_party_dispute ON dispute_party (dispute_id);

CREATE TABLE mediation_session (
    id          INTEGER PRIMARY KEY,
    dispute_id  INTEGER NOT NULL REFERENCES dispute (id) ON DELETE CASCADE,
    at          TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    notes       TEXT NOT NULL DEFAULT '' CHECK (length(notes) <= 2000),
    result      TEXT NOT NULL CHECK (result IN ('progress', 'agreement', 'no_agreement'))
);
CREATE INDEX mediation_session_dispute ON mediation_session (dispute_id, at);

-- Who mediated a session: members of squads (the dispute's, or another's: a judge or lawyer
-- may sit in).
CREATE TABLE session_mediator (
    session_id INTEGER NOT NULL REFERENCES mediation_session (id) ON DELETE CASCADE,
    member_id  INTEGER NOT NULL REFERENCES squad_member (id) ON DELETE CASCADE,
    PRIMARY KEY (session_id, member_id)
);

-- 回访: whether the parties are satisfied with the agreement afterwards.
CREATE TABLE dispute_follow_up (
    id         INTEGER PRIMARY KEY,
    dispute_id INTEGER NOT NULL REFERENCES dispute (id) ON DELETE CASCADE,
    at         TEXT NOT NULL,
    visited_by TEXT NOT NULL,
    satisfied  INTEGER NOT NULL CHECK (satisfied IN (0, 1)),
    notes      TEXT NOT NULL DEFAULT '' CHECK (length(notes) <= 2000)
);
CREATE INDEX dispute_follow_up_dispute ON dispute_follow_up (dispute_id, at);

-- The audit trail: every action on a dispute, who took it, when, from and to which state.
CREATE TABLE dispute_event (
    id         INTEGER PRIMARY KEY,
    dispute_id INTEGER NOT NULL REFERENCES dispute (id) ON DELETE CASCADE,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL CHECK (action IN ('register', 'session', 'resolve', 'refer',
                                               'withdraw', 'follow_up', 'flag_risk')),
    from_state TEXT,
    to_state   TEXT NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    details    TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details)),
    CHECK ((action = 'register') = (from_state IS NULL))
);
CREATE INDEX dispute_event_dispute ON dispute_event (dispute_id, id);

-- A risk flag's notice to the police station (派出所) serving the dispute's street, one per
-- dispute and kind.
CREATE TABLE dispute_notice (
    id            INTEGER PRIMARY KEY,
    dispute_id    INTEGER NOT NULL REFERENCES dispute (id) ON DELETE CASCADE,
    department_id TEXT NOT NULL REFERENCES department (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL DEFAULT 'risk' CHECK (kind IN ('risk')),
    at            TEXT NOT NULL,
    sent_by       TEXT NOT NULL,
    reason        TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    UNIQUE (dispute_id, kind)
);
CREATE INDEX dispute_notice_department ON dispute_notice (department_id, at);
