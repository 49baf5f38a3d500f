-- Assignments by issue, whatever their state: the partial indexes on `active` do not serve
-- statements that compare `active` with a parameter, and the seeded history gives every
-- dispatched issue its assignment rows.
CREATE INDEX assignment_issue ON assignment (issue_id);
