"""Road classes, their default speeds, and how OpenStreetMap's highway tags map onto them.

Speeds are free-flow urban speeds for a team's vehicle in a Chinese city (GB 50220 urban road
design speeds, taken at their lower end for junctions and traffic): what a road gets when its
data give no speed of its own.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RoadClass:
    code: str
    name_zh: str
    name_en: str
    speed_kmh: float  # when the data give none


ROAD_CLASSES = {c.code: c for c in (
    RoadClass("expressway", "快速路", "expressway", 60.0),
    RoadClass("arterial", "主干路", "arterial", 40.0),
    RoadClass("secondary", "次干路", "secondary", 30.0),
    RoadClass("local", "支路", "local street", 20.0),
    RoadClass("service", "街巷", "service lane", 10.0),
    RoadClass("bridge", "桥梁", "bridge", 40.0),
)}

# The columns a road layer is exchanged with (import, export, the API).
ROAD_COLUMNS = ("name", "class", "oneway", "speed_kmh")

# OpenStreetMap highway=* values a vehicle may drive, by our class. Others (footway, cycleway,
# path, steps, construction, ...) are not part of the driving network.
OSM_HIGHWAY_CLASS = {
    "motorway": "expressway", "motorway_link": "expressway", "trunk": "expressway",
    "trunk_link": "expressway",
    "primary": "arterial", "primary_link": "arterial",
    "secondary": "secondary", "secondary_link": "secondary", "tertiary": "secondary",
    "tertiary_link": "secondary",
    "residential": "local", "unclassified": "local", "living_street": "local", "road": "local",
    "service": "service",
}

# Off the network (from a team's position to the nearest road point, and from that of the
# issue to the issue) a team goes on foot: 1.4 m/s (5 km/h), a brisk walk.
OFF_NETWORK_SPEED_MS = 1.4
# A point farther than this from every road is off the network: its team is ranked by
# straight-line distance instead (at FALLBACK_SPEED_MS), and says so.
SNAP_MAX_M = 300.0
# Straight-line fallback: distance over this speed, times a detour factor typical of city
# grids (the ratio of road to straight-line distance, about 1.3 in grid-plan cities).
FALLBACK_SPEED_MS = 20.0 / 3.6
FALLBACK_DETOUR = 1.3
