-- Core layers: administrative areas, grids with validity periods, cameras, key sites,
-- teams, the category taxonomy and issues. Storage CRS is EPSG:4326; metric work uses 4551.
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE category (
    code               text PRIMARY KEY CHECK (code ~ '^[A-Z][0-9]{2}$'),
    network            text NOT NULL CHECK (network IN ('party', 'safety', 'livelihood', 'enterprise')),
    name_zh            text NOT NULL,
    name_en            text NOT NULL,
    handled_by         text[] NOT NULL,
    duplicate_radius_m double precision NOT NULL CHECK (duplicate_radius_m > 0)
);

CREATE TABLE district (
    code text PRIMARY KEY CHECK (code ~ '^[0-9]{6}$'),
    name text NOT NULL,
    geom geometry(MultiPolygon, 4326) NOT NULL
);

CREATE TABLE street (
    code          text PRIMARY KEY CHECK (code ~ '^[0-9]{9}$' AND right(code, 3) <> '000'),
    district_code text NOT NULL REFERENCES district (code),
    name          text NOT NULL,
    geom          geometry(MultiPolygon, 4326) NOT NULL,
    CHECK (left(code, 6) = district_code)
);

CREATE TABLE community (
    code        text PRIMARY KEY CHECK (code ~ '^[0-9]{12}$' AND right(code, 3) <> '000'),
    street_code text NOT NULL REFERENCES street (code),
    name        text NOT NULL,
    geom        geometry(MultiPolygon, 4326) NOT NULL,
    CHECK (left(code, 9) = street_code)
);

CREATE TABLE grid (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code           text NOT NULL CHECK (code ~ '^[0-9]{15}$' AND right(code, 3) <> '000'),
    community_code text NOT NULL REFERENCES community (code),
    name           text NOT NULL,
    geom           geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(geom)),
    workers        text[] NOT NULL DEFAULT '{}',
    households     integer CHECK (households >= 0),
    valid_from     timestamptz NOT NULL,
    valid_to       timestamptz CHECK (valid_to > valid_from),
    CHECK (left(code, 12) = community_code)
);
CREATE UNIQUE INDEX grid_current_code ON grid (code) WHERE valid_to IS NULL;
CREATE INDEX grid_geom ON grid USING gist (geom);
CREATE INDEX grid_community ON grid (community_code);

CREATE TABLE camera (
    id          text PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('fixed', 'dome', 'high_dome')),
    geom        geometry(Point, 4326) NOT NULL,
    heading_deg double precision CHECK (heading_deg >= 0 AND heading_deg < 360),
    fov_deg     double precision NOT NULL CHECK (fov_deg > 0 AND fov_deg <= 360),
    range_m     double precision NOT NULL CHECK (range_m > 0 AND range_m <= 5000),
    status      text NOT NULL CHECK (status IN ('online', 'offline', 'maintenance')),
    stream_ref  text,  -- opaque to the server: never fetched
    CHECK (heading_deg IS NOT NULL OR fov_deg = 360)
);
CREATE INDEX camera_geog ON camera USING gist ((geom::geography));

CREATE TABLE site (
    id          text PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('manhole_cover', 'sewer', 'school_gate', 'market',
                                                'night_market', 'hazard_point')),
    name        text NOT NULL,
    geom        geometry(Geometry, 4326) NOT NULL
                CHECK (GeometryType(geom) IN ('POINT', 'POLYGON', 'MULTIPOLYGON') AND ST_IsValid(geom)),
    watch_level smallint NOT NULL CHECK (watch_level BETWEEN 1 AND 3),  -- 1: round the clock
    department  text NOT NULL
);
CREATE INDEX site_geom ON site USING gist (geom);

CREATE TABLE team (
    id           text PRIMARY KEY,
    name         text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('safety_livelihood', 'grid_worker', 'enforcement',
                                                'enterprise_service', 'party_volunteer')),
    home         geometry(Point, 4326) NOT NULL,
    position     geometry(Point, 4326),
    position_at  timestamptz,
    status       text NOT NULL CHECK (status IN ('available', 'busy', 'off_duty')),
    categories   text[] NOT NULL DEFAULT '{}',
    jurisdiction text[] NOT NULL DEFAULT '{}',  -- street codes
    roster       char(1) NOT NULL DEFAULT 'A' CHECK (roster IN ('A', 'B')),
    CHECK ((position IS NULL) = (position_at IS NULL))
);
-- KNN in metres: order by the projected position, exactly what nearest_teams asks for.
CREATE INDEX team_position_metric ON team USING gist (ST_Transform(coalesce(position, home), 4551));

CREATE TABLE issue (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    category_code  text NOT NULL REFERENCES category (code),
    description    text NOT NULL DEFAULT '',
    geom           geometry(Point, 4326) NOT NULL,
    source_crs     text NOT NULL CHECK (source_crs IN ('wgs84', 'cgcs2000', 'gcj02', 'bd09')),
    reported_at    timestamptz NOT NULL,
    grid_code      text,
    community_code text,
    street_code    text,
    district_code  text,
    CHECK (grid_code IS NULL OR (left(grid_code, 12) = community_code
                                 AND left(grid_code, 9) = street_code
                                 AND left(grid_code, 6) = district_code))
);
CREATE INDEX issue_geom ON issue USING gist (geom);
CREATE INDEX issue_category_time ON issue (category_code, reported_at);
CREATE INDEX issue_grid ON issue (grid_code);
