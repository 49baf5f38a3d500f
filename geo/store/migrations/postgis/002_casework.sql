-- The six-step closed loop (report, accept, dispatch, claim, supervise, rate): issue state
-- with its step deadline, team assignments, an append-only audit trail; users bound to a
-- jurisdiction, Open311 keys, idempotent creation, photos and runtime settings.

-- Issues loaded before this migration are history: they count as closed.
ALTER TABLE issue
    ADD COLUMN state text NOT NULL DEFAULT 'closed'
        CHECK (state IN ('reported', 'accepted', 'dispatched', 'claimed', 'resolved', 'checked',
                         'closed', 'rejected', 'merged')),
    ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    ADD COLUMN state_since timestamptz,
    ADD COLUMN due_at timestamptz,
    ADD COLUMN updated_at timestamptz,
    ADD COLUMN closed_at timestamptz,
    ADD COLUMN channel text NOT NULL DEFAULT 'import'
        CHECK (channel IN ('grid_worker', 'citizen_app', 'operator', 'open311', 'import')),
    ADD COLUMN reported_by text,
    ADD COLUMN address text,
    ADD COLUMN duplicate_of bigint REFERENCES issue (id),
    ADD COLUMN rating smallint CHECK (rating BETWEEN 1 AND 5),
    ADD COLUMN rework_count integer NOT NULL DEFAULT 0 CHECK (rework_count >= 0),
    ADD COLUMN overdue_steps integer NOT NULL DEFAULT 0 CHECK (overdue_steps >= 0),
    ADD COLUMN open311_token text UNIQUE;
UPDATE issue SET state_since = reported_at, updated_at = reported_at, closed_at = reported_at;
ALTER TABLE issue
    ALTER COLUMN state DROP DEFAULT,
    ALTER COLUMN state_since SET NOT NULL,
    ALTER COLUMN updated_at SET NOT NULL,
    ADD CHECK ((state IN ('closed', 'rejected', 'merged')) = (closed_at IS NOT NULL)),
    ADD CHECK ((state = 'merged') = (duplicate_of IS NOT NULL)),
    ADD CHECK (state IN ('closed', 'rejected', 'merged') OR due_at IS NOT NULL);
CREATE INDEX issue_open_due ON issue (due_at) WHERE state NOT IN ('closed', 'rejected', 'merged');
CREATE INDEX issue_street_state ON issue (street_code, state);
CREATE INDEX issue_reporter ON issue (reported_by) WHERE reported_by IS NOT NULL;

CREATE TABLE app_user (
    username      text PRIMARY KEY CHECK (username ~ '^[a-z0-9][a-z0-9_.-]{1,63}$'),
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('grid_worker', 'citizen', 'operator', 'dispatcher',
                                                'team', 'supervisor', 'planner', 'admin')),
    jurisdiction  text[] NOT NULL DEFAULT '{}',  -- district (6-digit) or street (9-digit) codes
    team_id       text REFERENCES team (id) ON DELETE SET NULL,
    display_name  text NOT NULL DEFAULT '',
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL
);

CREATE TABLE api_key (
    key_hash   text PRIMARY KEY,  -- sha256 of the key: the key itself is never stored
    username   text NOT NULL REFERENCES app_user (username) ON DELETE CASCADE,
    label      text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL
);

CREATE TABLE issue_event (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    issue_id   bigint NOT NULL REFERENCES issue (id) ON DELETE CASCADE,
    at         timestamptz NOT NULL,
    actor      text NOT NULL,
    action     text NOT NULL,
    from_state text,
    to_state   text NOT NULL,
    reason     text NOT NULL DEFAULT '',
    details    jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX issue_event_issue ON issue_event (issue_id, id);

CREATE TABLE assignment (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    issue_id    bigint NOT NULL REFERENCES issue (id) ON DELETE CASCADE,
    team_id     text NOT NULL REFERENCES team (id) ON DELETE CASCADE,
    lead        boolean NOT NULL,
    assigned_at timestamptz NOT NULL,
    assigned_by text NOT NULL,
    active      boolean NOT NULL DEFAULT true
);
CREATE UNIQUE INDEX assignment_active ON assignment (issue_id, team_id) WHERE active;
CREATE UNIQUE INDEX assignment_one_lead ON assignment (issue_id) WHERE active AND lead;
CREATE INDEX assignment_team ON assignment (team_id) WHERE active;

CREATE TABLE photo (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    issue_id     bigint NOT NULL REFERENCES issue (id) ON DELETE CASCADE,
    content_type text NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
    data         bytea NOT NULL,
    sha256       text NOT NULL,
    uploaded_by  text NOT NULL,
    uploaded_at  timestamptz NOT NULL
);
CREATE INDEX photo_issue ON photo (issue_id);

CREATE TABLE idempotency (
    username     text NOT NULL,
    key          text NOT NULL,
    request_hash text NOT NULL,
    status_code  integer NOT NULL,
    response     jsonb NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (username, key)
);

CREATE TABLE setting (
    key   text PRIMARY KEY,
    value text NOT NULL
);
INSERT INTO setting VALUES ('mode', 'normal');
