"""OGC API - Features (Part 1 Core, Part 2 CRS by reference) over the stored layers: the
collections a caller may read (`collections`), their items in a box, at a time and a page at a
time (`items`), in the CRSs a Chinese GIS client asks for (`crs`)."""
