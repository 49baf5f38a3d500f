-- The newest grid row of its area when a draft was opened: a publish of the area since then
-- (every change inserts grid rows) makes the draft stale, and publishing it would undo that one.
ALTER TABLE plan_draft ADD COLUMN base_grid_id INTEGER;
