-- Revisions of the layers that servers keep indexes of in process (geo.store.kept): grids,
-- teams, cameras, compounds, buildings, and the areas (districts, streets, communities) whose
-- names a located point is told. The counter moves on at commit, once per changing
-- transaction: a deferred trigger takes the revision row's lock only for the instant before
-- commit, so two transactions that move teams never wait on each other's counter while they
-- work (nor deadlock over it), and a reader sees the new rows and the new number together.
INSERT INTO revision VALUES ('grid', 0), ('team', 0), ('camera', 0), ('compound', 0),
    ('building', 0), ('area', 0);

CREATE FUNCTION bump_revision_once() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    flag text := 'griddispatch.revised_' || TG_ARGV[0];
BEGIN
    IF coalesce(current_setting(flag, true), '') = '' THEN
        UPDATE revision SET n = n + 1 WHERE layer = TG_ARGV[0];
        PERFORM set_config(flag, 'yes', true);  -- for the rest of this transaction
    END IF;
    RETURN NULL;
END $$;

-- TRUNCATE fires no row trigger: it moves the counter at once (rare: clearing a city).
CREATE FUNCTION bump_revision_now() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE revision SET n = n + 1 WHERE layer = TG_ARGV[0];
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER grid_revised AFTER INSERT OR UPDATE OR DELETE ON grid
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_revision_once('grid');
CREATE CONSTRAINT TRIGGER team_revised AFTER INSERT OR UPDATE OR DELETE ON team
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_revision_once('team');
CREATE CONSTRAINT TRIGGER camera_revised AFTER INSERT OR UPDATE OR DELETE ON camera
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_revision_once('camera');
CREATE CONSTRAINT TRIGGER compound_revised AFTER INSERT OR UPDATE OR DELETE ON compound
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_revision_once('compound');
CREATE CONSTRAINT TRIGGER building_revised AFTER INSERT OR UPDATE OR DELETE ON building
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_revision_once('building');
CREATE CONSTRAINT TRIGGER district_revised AFTER INSERT OR UPDATE OR DELETE ON district
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_revision_once('area');
CREATE CONSTRAINT TRIGGER street_revised AFTER INSERT OR UPDATE OR DELETE ON street
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_revision_once('area');
CREATE CONSTRAINT TRIGGER community_revised AFTER INSERT OR UPDATE OR DELETE ON community
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_revision_once('area');

CREATE TRIGGER grid_truncated AFTER TRUNCATE ON grid
    FOR EACH STATEMENT EXECUTE FUNCTION bump_revision_now('grid');
CREATE TRIGGER team_truncated AFTER TRUNCATE ON team
    FOR EACH STATEMENT EXECUTE FUNCTION bump_revision_now('team');
CREATE TRIGGER camera_truncated AFTER TRUNCATE ON camera
    FOR EACH STATEMENT EXECUTE FUNCTION bump_revision_now('camera');
CREATE TRIGGER compound_truncated AFTER TRUNCATE ON compound
    FOR EACH STATEMENT EXECUTE FUNCTION bump_revision_now('compound');
CREATE TRIGGER building_truncated AFTER TRUNCATE ON building
    FOR EACH STATEMENT EXECUTE FUNCTION bump_revision_now('building');
CREATE TRIGGER district_truncated AFTER TRUNCATE ON district
    FOR EACH STATEMENT EXECUTE FUNCTION bump_revision_now('area');
CREATE TRIGGER street_truncated AFTER TRUNCATE ON street
    FOR EACH STATEMENT EXECUTE FUNCTION bump_revision_now('area');
CREATE TRIGGER community_truncated AFTER TRUNCATE ON community
    FOR EACH STATEMENT EXECUTE FUNCTION bump_revision_now('area');
