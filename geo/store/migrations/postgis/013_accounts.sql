-- Accounts below and beside the grid: mediators (调解员), property companies (物业公司) and
-- the departments a street calls in (吹哨、报到). A property account belongs to its company and
-- a department account to its department; both are the only key to what such an account may
-- read, so changing either ends the account's sessions like a change of role.
CREATE TABLE property_company (
    id      text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_.-]{1,40}$'),
    name    text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 120),
    phone   text NOT NULL DEFAULT '',
    address text NOT NULL DEFAULT ''
);

CREATE TABLE department (
    id        text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_.-]{1,60}$'),
    name      text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    kind      text NOT NULL CHECK (kind IN ('street_enforcement', 'urban_management',
                                            'police_station', 'judicial_office',
                                            'mediation_centre', 'community_committee',
                                            'property', 'utility')),
    area_code text NOT NULL CHECK (area_code ~ '^[0-9]{6}([0-9]{3})?$'),  -- district or street
    phone     text NOT NULL DEFAULT ''
);
CREATE INDEX department_area ON department (area_code);

ALTER TABLE app_user DROP CONSTRAINT app_user_role_check;
ALTER TABLE app_user ADD CONSTRAINT app_user_role_check
    CHECK (role IN ('grid_worker', 'citizen', 'operator', 'dispatcher', 'team', 'supervisor',
                    'planner', 'admin', 'device', 'mediator', 'property', 'department'));
ALTER TABLE app_user
    ADD COLUMN company_id text REFERENCES property_company (id) ON DELETE SET NULL,
    ADD COLUMN department_id text REFERENCES department (id) ON DELETE SET NULL,
    ADD CHECK (role <> 'property' OR company_id IS NOT NULL),
    ADD CHECK (role <> 'department' OR department_id IS NOT NULL);

DROP TRIGGER app_user_ends_sessions ON app_user;
CREATE TRIGGER app_user_ends_sessions AFTER UPDATE ON app_user FOR EACH ROW
    WHEN ((OLD.role, OLD.jurisdiction, OLD.team_id, OLD.company_id, OLD.department_id,
           OLD.password_hash, OLD.active)
          IS DISTINCT FROM (NEW.role, NEW.jurisdiction, NEW.team_id, NEW.company_id,
                            NEW.department_id, NEW.password_hash, NEW.active))
    EXECUTE FUNCTION end_sessions_of_changed_account();
