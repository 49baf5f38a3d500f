-- Map layers ask for the open issues per grid (the box is served by issue_open_geom);
-- closed ones are the bulk of the table, so the index holds the open ones only.
CREATE INDEX issue_open_grid ON issue (grid_code)
    WHERE state NOT IN ('closed', 'rejected', 'merged');
