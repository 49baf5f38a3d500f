-- Alarms raised by key sites (sensors) and cameras (video analysis) through devices' accounts.
-- An alarm is one source (a site or a camera) and kind; it becomes an issue through the intake,
-- and further alarms of the same source and kind attach to it (`count`) while that issue is
-- open. `active` marks that time; the unique partial index lets exactly one alarm per source
-- and kind be active, so two alarms raised at once file one issue. The trigger on issue ends
-- it when the issue reaches a terminal state (closed, rejected, merged). Issues that alarms
-- file come by the channel 'device'; devices are throttled by `alarm_throttle`.
ALTER TABLE app_user DROP CONSTRAINT app_user_role_check;
ALTER TABLE app_user ADD CONSTRAINT app_user_role_check
    CHECK (role IN ('grid_worker', 'citizen', 'operator', 'dispatcher', 'team', 'supervisor',
                    'planner', 'admin', 'device'));
ALTER TABLE issue DROP CONSTRAINT issue_channel_check;
ALTER TABLE issue ADD CONSTRAINT issue_channel_check
    CHECK (channel IN ('grid_worker', 'citizen_app', 'operator', 'open311', 'import', 'device'));

CREATE TABLE alarm (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id          text,  -- no foreign key: layers are reloaded; the id is checked when raised
    camera_id        text,
    kind             text NOT NULL CHECK (kind ~ '^[a-z_]{2,40}$'),
    category_code    text NOT NULL REFERENCES category (code),
    issue_id         bigint REFERENCES issue (id) ON DELETE CASCADE,  -- NULL while being filed
    active           boolean NOT NULL DEFAULT true,
    raised_by        text NOT NULL,
    raised_at        timestamptz NOT NULL,
    last_raised_at   timestamptz NOT NULL,
    observed_at      timestamptz NOT NULL,
    last_observed_at timestamptz NOT NULL,
    count            integer NOT NULL DEFAULT 1 CHECK (count >= 1),
    CHECK ((site_id IS NULL) <> (camera_id IS NULL))
);
CREATE UNIQUE INDEX alarm_active_source ON alarm (coalesce(site_id, ''), coalesce(camera_id, ''), kind)
    WHERE active;
CREATE INDEX alarm_issue ON alarm (issue_id);
CREATE INDEX alarm_recent ON alarm (last_raised_at);

-- Every alarm raised, the first and those attached to it: who raised it, when, and what it said.
CREATE TABLE alarm_raise (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alarm_id    bigint NOT NULL REFERENCES alarm (id) ON DELETE CASCADE,
    raised_by   text NOT NULL,
    raised_at   timestamptz NOT NULL,
    observed_at timestamptz NOT NULL,
    confidence  double precision CHECK (confidence >= 0 AND confidence <= 1),
    note        text NOT NULL DEFAULT '',
    lon         double precision,  -- a camera's observed point, when given (WGS84)
    lat         double precision
);
CREATE INDEX alarm_raise_alarm ON alarm_raise (alarm_id, id);

CREATE FUNCTION end_alarms_of_finished_issue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE alarm SET active = false WHERE issue_id = NEW.id AND active;
    RETURN NULL;
END
$$;
CREATE TRIGGER issue_ends_alarms AFTER UPDATE OF state ON issue FOR EACH ROW
    WHEN (NEW.state IN ('closed', 'rejected', 'merged') AND OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION end_alarms_of_finished_issue();

-- Alarms counted per device and per source in a window that starts with the first
-- (geo.alarms.throttle), shared by every server process.
CREATE TABLE alarm_throttle (
    key          text PRIMARY KEY,
    raised       integer NOT NULL CHECK (raised >= 0),
    window_start timestamptz NOT NULL
);
CREATE INDEX alarm_throttle_window ON alarm_throttle (window_start);
