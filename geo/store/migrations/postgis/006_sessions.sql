-- Login sessions and the throttle of failed logins, shared by every server process.
-- A token names its session (its jti) and is served only while the row exists: logging out
-- deletes it, deleting the account cascades, and any change to what the account may do
-- (role, jurisdiction, team, password, active flag) deletes all of its sessions.
CREATE TABLE auth_session (
    jti        text PRIMARY KEY CHECK (length(jti) BETWEEN 16 AND 64),
    username   text NOT NULL REFERENCES app_user (username) ON DELETE CASCADE,
    -- a map page's short-lived token ends with the login session it was taken from
    parent_jti text REFERENCES auth_session (jti) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL CHECK (expires_at > created_at)
);
CREATE INDEX auth_session_user ON auth_session (username);
CREATE INDEX auth_session_parent ON auth_session (parent_jti) WHERE parent_jti IS NOT NULL;
CREATE INDEX auth_session_expiry ON auth_session (expires_at);

CREATE FUNCTION end_sessions_of_changed_account() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM auth_session WHERE username = OLD.username;
    RETURN NULL;
END
$$;
CREATE TRIGGER app_user_ends_sessions AFTER UPDATE ON app_user FOR EACH ROW
    WHEN ((OLD.role, OLD.jurisdiction, OLD.team_id, OLD.password_hash, OLD.active)
          IS DISTINCT FROM (NEW.role, NEW.jurisdiction, NEW.team_id, NEW.password_hash, NEW.active))
    EXECUTE FUNCTION end_sessions_of_changed_account();

-- Failed logins per key ('account:NAME' or 'address:IP') in a window that starts with the
-- first failure; an attempt is counted before its password is checked and given back when
-- it succeeds.
CREATE TABLE login_throttle (
    key          text PRIMARY KEY CHECK (length(key) <= 200),
    failures     integer NOT NULL CHECK (failures >= 0),
    window_start timestamptz NOT NULL
);
CREATE INDEX login_throttle_window ON login_throttle (window_start);
