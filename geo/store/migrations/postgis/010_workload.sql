-- The candidates' workload without reading the history: the issues teams are busy with
-- (geo.workflow.BUSY_STATES), and when a team was last assigned.
CREATE INDEX issue_busy ON issue (id) WHERE state IN ('dispatched', 'claimed');
CREATE INDEX assignment_team_time ON assignment (team_id, assigned_at);
