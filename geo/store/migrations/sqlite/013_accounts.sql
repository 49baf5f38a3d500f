-- Accounts below and beside the grid: mediators (调解员), property companies (物业公司) and
-- the departments a street calls in (吹哨、报到). A property account belongs to its company and
-- a department account to its department; both are the only key to what such an account may
-- read, so changing either ends the account's sessions like a change of role.
CREATE TABLE property_company (
    id      TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 40
                                    AND id NOT GLOB '*[^A-Za-z0-9_.-]*'),
    name    TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 120),
    phone   TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT ''
);

CREATE TABLE department (
    id        TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 60
                                      AND id NOT GLOB '*[^A-Za-z0-9_.-]*'),
    name      TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    kind      TEXT NOT NULL CHECK (kind IN ('street_enforcement', 'urban_management',
                                            'police_station', 'judicial_office',
                                            'mediation_centre', 'community_committee',
                                            'property', 'utility')),
    area_code TEXT NOT NULL CHECK (length(area_code) IN (6, 9)
                                   AND area_code NOT GLOB '*[^0-9]*'),  -- district or street
    phone     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX department_area ON department (area_code);

-- The new roles: SQLite cannot change a CHECK in place, so app_user is rebuilt as in 011.
CREATE TABLE app_user_next (
    username      TEXT PRIMARY KEY CHECK (length(username) BETWEEN 2 AND 64
                                          AND username NOT GLOB '*[^a-z0-9_.-]*'),
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('grid_worker', 'citizen', 'operator', 'dispatcher',
                                                'team', 'supervisor', 'planner', 'admin',
                                                'device', 'mediator', 'property',
                                                'department')),
    jurisdiction  TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(jurisdiction)),
    team_id       TEXT REFERENCES team (id) ON DELETE SET NULL,
    display_name  TEXT NOT NULL DEFAULT '',
    active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at    TEXT NOT NULL,
    company_id    TEXT REFERENCES property_company (id) ON DELETE SET NULL,
    department_id TEXT REFERENCES department (id) ON DELETE SET NULL,
    CHECK (role <> 'property' OR company_id IS NOT NULL),
    CHECK (role <> 'department' OR department_id IS NOT NULL)
);
INSERT INTO app_user_next (username, password_hash, role, jurisdiction, team_id, display_name,
                           active, created_at)
    SELECT username, password_hash, role, jurisdiction, team_id, display_name, active, created_at
    FROM app_user;
CREATE TEMP TABLE kept_api_key AS SELECT * FROM api_key;
CREATE TEMP TABLE kept_auth_session AS SELECT * FROM auth_session;
DROP TABLE app_user;
ALTER TABLE app_user_next RENAME TO app_user;
INSERT INTO api_key SELECT * FROM kept_api_key;
INSERT INTO auth_session SELECT * FROM kept_auth_session WHERE parent_jti IS NULL;
INSERT INTO auth_session SELECT * FROM kept_auth_session WHERE parent_jti IS NOT NULL;
DROP TABLE kept_api_key;
DROP TABLE kept_auth_session;
CREATE TRIGGER app_user_ends_sessions
    AFTER UPDATE OF role, jurisdiction, team_id, company_id, department_id, password_hash, active
    ON app_user
    WHEN OLD.role IS NOT NEW.role OR OLD.jurisdiction IS NOT NEW.jurisdiction
         OR OLD.team_id IS NOT NEW.team_id OR OLD.company_id IS NOT NEW.company_id
         OR OLD.department_id IS NOT NEW.department_id
         OR OLD.password_hash IS NOT NEW.password_hash OR OLD.active IS NOT NEW.active
BEGIN
    DELETE FROM auth_session WHERE username = OLD.username;
END;
