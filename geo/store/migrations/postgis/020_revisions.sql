-- Revisions of the layers that servers keep indexes of in process (geo.store.kept): grids,
-- teams, cameras, compounds, buildings, and the areas (districts, streets, communities) whose
-- names a located point is told. The counter moves on at commit, once per changing
-- transaction: a deferred trigger takes the revision row's lock only for the instant before
-- commit, so two transactions that move teams never wait on each other's counter while they
-- work, and a reader sees the new rows and the new number together. The counters start at a
-- random number: a server that outlives a database dropped and made anew under the same name
-- does not take the new one's revisions for the old one's.
INSERT INTO revision VALUES ('grid', 0), ('team', 0), ('camera', 0), ('compound', 0),
    ('building', 0), ('area', 0);
UPDATE revision SET n = n + floor(random() * 1e15)::bigint;

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

-- Each table's triggers, named after it: <table>_revised and <table>_truncated.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES ('grid', 'grid'), ('team', 'team'), ('camera', 'camera'),
            ('compound', 'compound'), ('building', 'building'), ('district', 'area'),
            ('street', 'area'), ('community', 'area')) AS v(tbl, layer)
    LOOP
        EXECUTE format('CREATE CONSTRAINT TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %I '
                       'DEFERRABLE INITIALLY DEFERRED FOR EACH ROW '
                       'EXECUTE FUNCTION bump_revision_once(%L)', t.tbl || '_revised', t.tbl,
                       t.layer);
        EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %I FOR EACH STATEMENT '
                       'EXECUTE FUNCTION bump_revision_now(%L)', t.tbl || '_truncated', t.tbl,
                       t.layer);
    END LOOP;
END $$;
