"""Mapbox Vector Tiles of grids and areas, with the open issues in each that the reader may
see: PostGIS encodes them itself (ST_AsMVT), the embedded backend through mapbox-vector-tile."""
