-- Map layers ask for the open issues in a box and per grid; closed ones are the bulk of the
-- table, so these indexes hold the open ones only (the queries spell the same predicate).
CREATE INDEX issue_open_lonlat ON issue (lon, lat)
    WHERE state NOT IN ('closed', 'rejected', 'merged');
CREATE INDEX issue_open_grid ON issue (grid_code)
    WHERE state NOT IN ('closed', 'rejected', 'merged');
