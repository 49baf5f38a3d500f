-- When a team was last assigned, for the candidates' workload, without reading its history.
CREATE INDEX assignment_team_time ON assignment (team_id, assigned_at);
