-- Duplicate checks look for open issues of one category near a point on every report.
CREATE INDEX issue_open_category_lon ON issue (category_code, lon)
    WHERE state NOT IN ('closed', 'rejected', 'merged');
