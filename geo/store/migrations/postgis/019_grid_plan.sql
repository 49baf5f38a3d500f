-- The plan (draft) whose publishing made each grid version current; NULL for the versions a
-- city was loaded with. A grid's history lists its versions with the plan behind each.
ALTER TABLE grid ADD COLUMN plan_id bigint REFERENCES plan_draft (id);
CREATE INDEX grid_code_history ON grid (code, valid_from);
-- Who published a draft (its author may not be the one who publishes it).
ALTER TABLE plan_draft ADD COLUMN published_by text;
