-- Duplicate checks look for open issues of one category near a point on every report.
CREATE INDEX issue_open_geom ON issue USING gist (geom)
    WHERE state NOT IN ('closed', 'rejected', 'merged');
