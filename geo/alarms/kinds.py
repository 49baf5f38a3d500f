"""What a source may alarm about, and the issue category each kind is filed under.

One table: a kind names its label (translated where shown), its category (geo.taxonomy) and
the sources that may raise it: site kinds (geo.taxonomy.SITE_KINDS) or "camera"."""

from __future__ import annotations

from dataclasses import dataclass

from geo.i18n import N_
from geo.taxonomy import CATEGORY_BY_CODE, SITE_KINDS

CAMERA = "camera"
_MARKETS = ("market", "night_market")


@dataclass(frozen=True)
class AlarmKind:
    code: str
    label: str  # an English message id: `_(kind.label)` where it is shown
    category_code: str
    sources: tuple[str, ...]  # site kinds, or CAMERA


KINDS: dict[str, AlarmKind] = {k.code: k for k in (
    AlarmKind("manhole_cover_displaced", N_("manhole cover displaced"), "S01", ("manhole_cover",)),
    AlarmKind("manhole_cover_missing", N_("manhole cover missing"), "S01", ("manhole_cover",)),
    AlarmKind("sewer_overflow", N_("sewer overflow"), "L02", ("sewer",)),
    AlarmKind("sewer_blockage", N_("sewer blockage"), "L02", ("sewer",)),
    AlarmKind("water_level", N_("high water level"), "S03", ("sewer", "hazard_point")),
    AlarmKind("gas_leak", N_("gas detected"), "S03", ("hazard_point", "sewer")),
    AlarmKind("fire_smoke", N_("fire or smoke"), "S03", ("hazard_point", *_MARKETS, CAMERA)),
    AlarmKind("crowd", N_("crowd gathering"), "S03", ("school_gate", *_MARKETS, CAMERA)),
    AlarmKind("fall", N_("person fallen"), "S03", (CAMERA,)),
    AlarmKind("vendor_detected", N_("street vendor detected"), "L01",
              ("school_gate", *_MARKETS, CAMERA)),
    AlarmKind("illegal_parking", N_("illegal parking"), "L04", (CAMERA,)),
    AlarmKind("rubbish_dumping", N_("rubbish dumping"), "L08", (CAMERA,)),
)}

assert all(k.category_code in CATEGORY_BY_CODE for k in KINDS.values())
assert all(s in (*SITE_KINDS, CAMERA) for k in KINDS.values() for s in k.sources)


# What a source is called where a person reads it: the site kinds, and a camera.
SOURCE_LABELS = {
    "manhole_cover": N_("manhole cover"), "sewer": N_("sewer"), "school_gate": N_("school gate"),
    "market": N_("market"), "night_market": N_("night market"), "hazard_point": N_("hazard point"),
    CAMERA: N_("camera"),
}
assert set(SOURCE_LABELS) == {*SITE_KINDS, CAMERA}


def kinds_for(source: str) -> list[str]:
    """The kinds a site of this kind (or a camera, CAMERA) may raise."""
    return [k.code for k in KINDS.values() if source in k.sources]
