-- Login sessions and the throttle of failed logins, shared by every server process.
-- A token names its session (its jti) and is served only while the row exists: logging out
-- deletes it, deleting the account cascades, and any change to what the account may do
-- (role, jurisdiction, team, password, active flag) deletes all of its sessions.
CREATE TABLE auth_session (
    jti        TEXT PRIMARY KEY CHECK (length(jti) BETWEEN 16 AND 64),
    username   TEXT NOT NULL REFERENCES app_user (username) ON DELETE CASCADE,
    -- a map page's short-lived token ends with the login session it was taken from
    parent_jti TEXT REFERENCES auth_session (jti) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL CHECK (expires_at > created_at)
);
CREATE INDEX auth_session_user ON auth_session (username);
CREATE INDEX auth_session_parent ON auth_session (parent_jti) WHERE parent_jti IS NOT NULL;
CREATE INDEX auth_session_expiry ON auth_session (expires_at);

CREATE TRIGGER app_user_ends_sessions
    AFTER UPDATE OF role, jurisdiction, team_id, password_hash, active ON app_user
    WHEN OLD.role IS NOT NEW.role OR OLD.jurisdiction IS NOT NEW.jurisdiction
         OR OLD.team_id IS NOT NEW.team_id OR OLD.password_hash IS NOT NEW.password_hash
         OR OLD.active IS NOT NEW.active
BEGIN
    DELETE FROM auth_session WHERE username = OLD.username;
END;

-- Failed logins per key ('account:NAME' or 'address:IP') in a window that starts with the
-- first failure; an attempt is counted before its password is checked and given back when
-- it succeeds.
CREATE TABLE login_throttle (
    key          TEXT PRIMARY KEY CHECK (length(key) <= 200),
    failures     INTEGER NOT NULL CHECK (failures >= 0),
    window_start TEXT NOT NULL
);
CREATE INDEX login_throttle_window ON login_throttle (window_start);
