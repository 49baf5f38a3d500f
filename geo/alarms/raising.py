"""Raising an alarm: check it, find where its source is, and either file an issue through the
intake or attach it to the open issue of the same source and kind.

Exactly one alarm per source and kind is active at a time (the unique partial index of
migration 011), so of two alarms raised at once one claims the source and files the issue, the
other waits for that issue and attaches to it. The claim is committed before the intake runs
(the intake has its own transaction); the intake stores, in its transaction, an idempotency row
named after the claim, so whoever finds a claim without its issue can tell whether the issue
exists (link it) or the filer died before filing (take the claim over once it is stale).
Devices and sources are throttled (geo.alarms.throttle) before anything is written."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import shapely

from geo.alarms.kinds import CAMERA, KINDS, SOURCE_LABELS, kinds_for
from geo.alarms.throttle import count_alarm
from geo.cameras import visible
from geo.casework import intake
from geo.casework.errors import Forbidden, InvalidInput
from geo.casework.idempotency import IdempotencyKey, remember, replay
from geo.casework.read import issue_columns, present
from geo.casework.scope import Actor
from geo.crs import SOURCE_CRS, CoordinateError, check_metric_area, to_storage
from geo.i18n import DEFAULT_LOCALE, N_, _, using
from geo.model import DEFAULT_POLICY, Policy
from geo.store import Store
from geo.store.sql import Conflict, DatabaseBusy, Tx, as_dt, as_json
from geo.taxonomy import category_label
from geo.workflow import TERMINAL

MAX_SKEW = timedelta(minutes=2)  # a device's clock may run this far ahead of the server's
MAX_NOTE = 500
CLAIM_STALE = timedelta(seconds=60)  # a claim still without its issue after this was abandoned
# How long an alarm waits for a rival filing the same source's issue (a filing takes well under
# a second; the thread waiting is a server worker, so it gives up soon and the device resends).
WAIT_FOR_FILER_S = 3.0
KEEP_RAISES = 100  # alarm_raise rows kept per alarm; beyond them only `count` goes up
CHANNEL = "device"  # the issue's channel: filed by a device, not by a person
CITY_LOCALE = DEFAULT_LOCALE  # an issue's text is the command centre's, whatever the device speaks
POLL_S = 0.05
FILER = "#alarm"  # the idempotency rows of claims: no account can bear a name with '#'


@dataclass(frozen=True)
class Alarm:
    kind: str
    observed_at: datetime
    site_id: str | None = None
    camera_id: str | None = None
    confidence: float | None = None
    note: str = ""
    lon: float | None = None  # for a camera: the point it saw, if it says
    lat: float | None = None
    crs: str = "wgs84"


@dataclass(frozen=True)
class Source:
    """The site or camera an alarm comes from, and where its issue is placed (WGS84)."""

    column: str  # "site_id" or "camera_id"
    id: str
    kind: str  # the site's kind, or CAMERA
    name: str
    lon: float
    lat: float


def _check(a: Alarm, now: datetime) -> None:
    if (a.site_id is None) == (a.camera_id is None):
        raise InvalidInput(_("give exactly one of site_id and camera_id: the key site or the "
                             "camera that raised the alarm"), code="alarm_source")
    if a.kind not in KINDS:
        raise InvalidInput(_("unknown alarm kind {kind}; known kinds: {known}").format(
            kind=a.kind, known=", ".join(KINDS)), code="unknown_alarm_kind")
    if a.observed_at.tzinfo is None:
        raise InvalidInput(_("observed_at must carry a time zone (for example 2026-12-02T08:05:00+08:00)"),
                           code="observed_at_zone")
    if a.observed_at > now + MAX_SKEW:
        raise InvalidInput(_("observed_at {at} lies in the future (the server's time is {now}): "
                             "check the device's clock").format(
            at=a.observed_at.isoformat(), now=now.isoformat(timespec="seconds")),
            code="observed_at_future")
    if a.confidence is not None and not 0.0 <= a.confidence <= 1.0:
        raise InvalidInput(_("confidence must be between 0 and 1"), code="confidence_range")
    if len(a.note) > MAX_NOTE:
        raise InvalidInput(_("note is longer than {n} characters").format(n=MAX_NOTE))
    if (a.lon is None) != (a.lat is None):
        raise InvalidInput(_("give both lon and lat of the observed point, or neither"))
    if a.lon is not None and a.camera_id is None:
        raise InvalidInput(_("an observed point (lon, lat) is for camera alarms: a site's alarm is "
                             "placed at the site"), code="point_for_camera_only")
    if a.crs not in SOURCE_CRS:
        raise InvalidInput(_("unknown crs {crs}; expected one of {known}").format(
            crs=a.crs, known=", ".join(SOURCE_CRS)))


def _source(tx: Tx, a: Alarm) -> Source:
    d = tx.dialect
    if a.site_id is not None:
        row = tx.one(f"SELECT id, kind, name, {d.wkb('s.geom')} AS wkb FROM site s WHERE id = :i",
                     {"i": a.site_id})
        if row is None:
            raise InvalidInput(_("no key site {site}").format(site=a.site_id),
                               code="unknown_site")
        geom = shapely.from_wkb(bytes(row["wkb"]))
        spot = geom if geom.geom_type == "Point" else geom.point_on_surface()
        return Source("site_id", row["id"], row["kind"], row["name"], spot.x, spot.y)
    row = tx.one(f"SELECT id, kind, {d.lon('c')} AS lon, {d.lat('c')} AS lat, heading_deg, "
                 "fov_deg, range_m FROM camera c WHERE id = :i", {"i": a.camera_id})
    if row is None:
        raise InvalidInput(_("no camera {camera}").format(camera=a.camera_id),
                           code="unknown_camera")
    lon, lat = float(row["lon"]), float(row["lat"])
    if a.lon is not None:
        try:
            x, y = to_storage(a.lon, a.lat, a.crs)
            check_metric_area(x, y)
        except CoordinateError as exc:
            raise InvalidInput(str(exc)) from None
        heading = float("nan") if row["heading_deg"] is None else row["heading_deg"]
        sees, _distance, _bearing = visible([lon], [lat], [heading], [row["fov_deg"]],
                                            [row["range_m"]], float(x[0]), float(y[0]))
        if not bool(sees[0]):
            raise InvalidInput(_("the observed point lies outside the view of camera {camera}").format(
                camera=row["id"]), code="outside_camera_view")
        lon, lat = float(x[0]), float(y[0])
    return Source("camera_id", row["id"], CAMERA, row["id"], lon, lat)


# One sentence per case: (camera?, with confidence?, with note?).
_DESCRIPTIONS = {
    (True, False, False): N_("Alarm: {kind}, seen by camera {camera} (device {device})"),
    (True, True, False): N_("Alarm: {kind}, seen by camera {camera} (device {device}), "
                            "confidence {confidence}%"),
    (True, False, True): N_("Alarm: {kind}, seen by camera {camera} (device {device}) — {note}"),
    (True, True, True): N_("Alarm: {kind}, seen by camera {camera} (device {device}), "
                           "confidence {confidence}% — {note}"),
    (False, False, False): N_("Alarm: {kind} at {site} ({site_id}, device {device})"),
    (False, True, False): N_("Alarm: {kind} at {site} ({site_id}, device {device}), "
                             "confidence {confidence}%"),
    (False, False, True): N_("Alarm: {kind} at {site} ({site_id}, device {device}) — {note}"),
    (False, True, True): N_("Alarm: {kind} at {site} ({site_id}, device {device}), "
                            "confidence {confidence}% — {note}"),
}


def _description(a: Alarm, src: Source, actor: Actor) -> str:
    """The issue's description, in the city's language (the command centre reads it)."""
    camera = src.kind == CAMERA
    with using(CITY_LOCALE):
        return _(_DESCRIPTIONS[camera, a.confidence is not None, bool(a.note)]).format(
            kind=_(KINDS[a.kind].label), camera=src.id, site=src.name, site_id=src.id,
            device=actor.username, note=a.note,
            confidence=None if a.confidence is None else round(a.confidence * 100))


def raise_alarm(store: Store, actor: Actor, a: Alarm, now: datetime,
                idem: IdempotencyKey | None = None,
                policy: Policy = DEFAULT_POLICY) -> tuple[int, dict]:
    """(201, body) when the alarm filed a new issue, (200, body) when it attached to the open
    one of its source and kind; the body holds the alarm and its issue. InvalidInput for a bad
    alarm, Forbidden for a source outside the device's jurisdiction."""
    _check(a, now)
    with store.snapshot() as tx:
        src = _source(tx, a)
    if a.kind not in kinds_for(src.kind):
        raise InvalidInput(_("a {source} cannot raise {kind}; it may raise: {known}").format(
            source=_(SOURCE_LABELS[src.kind]), kind=a.kind, known=", ".join(kinds_for(src.kind))),
            code="kind_not_for_source")
    where = store.locate(src.lon, src.lat)
    if where is None:
        raise InvalidInput(_("{source} lies outside every grid of this city").format(source=src.id),
                           code="outside_city")
    if not actor.covers(where.street_code):
        raise Forbidden(_("{source} lies in {street} ({code}), outside the jurisdiction of this "
                          "device").format(source=src.id, street=where.street_name,
                                           code=where.street_code), code="outside_jurisdiction")
    stored = replay(store, idem)
    if stored is not None:
        return stored
    count_alarm(store, actor.username, f"{src.column.removesuffix('_id')}:{src.id}", now)
    deadline = time.monotonic() + WAIT_FOR_FILER_S
    while True:
        outcome = _claim_or_attach(store, actor, a, src, now, idem)
        if isinstance(outcome, tuple):
            return outcome
        if outcome is not None:  # our claim: file its issue
            return _file(store, actor, a, src, outcome, now, idem, policy)
        if time.monotonic() > deadline:
            raise DatabaseBusy("the filer of this source did not finish in time", detail=_(
                "another alarm of the same source is still being filed; send this one again"))
        time.sleep(POLL_S)


def _filer_key(alarm_id: int) -> IdempotencyKey:
    return IdempotencyKey(FILER, str(alarm_id), "alarm")


def _filed(tx: Tx, alarm_id: int) -> int | None:
    """The issue the intake filed for a claim, from the idempotency row it wrote with it."""
    row = tx.one("SELECT response FROM idempotency WHERE username = :u AND key = :k",
                 {"u": FILER, "k": str(alarm_id)})
    return None if row is None else int(as_json(row["response"])["issue"]["id"])


def _claim_or_attach(store: Store, actor: Actor, a: Alarm, src: Source, now: datetime,
                     idem: IdempotencyKey | None):
    """One attempt: (status, body) when attached (or replayed), the id of our claim when we are
    to file its issue, None when a rival is filing it right now (wait and try again)."""
    key = {"s": src.id if src.column == "site_id" else "",
           "c": src.id if src.column == "camera_id" else "", "k": a.kind, "yes": True}
    try:
        with store.tx() as tx:
            row = tx.one("SELECT id, issue_id, raised_at FROM alarm WHERE coalesce(site_id, '') = :s "
                         "AND coalesce(camera_id, '') = :c AND kind = :k AND active = :yes"
                         f"{tx.dialect.for_update()}", key)
            if row is None:
                return _insert_claim(tx, actor, a, src, now)
            alarm_id, issue_id = int(row["id"]), row["issue_id"]
            if issue_id is None:
                filed = _filed(tx, alarm_id)
                if filed is not None:  # filed, but its filer did not link it: link it here
                    if not _link(tx, alarm_id, filed):
                        return None  # that issue has finished meanwhile: file anew next try
                elif as_dt(row["raised_at"]) < now - CLAIM_STALE:
                    return alarm_id  # its filer died before filing: take the claim over
                else:
                    return None
            count = tx.one("UPDATE alarm SET count = count + 1, last_raised_at = :now, "
                           "last_observed_at = CASE WHEN last_observed_at < :obs THEN :obs "
                           "ELSE last_observed_at END WHERE id = :a RETURNING count",
                           {"now": now, "obs": a.observed_at, "a": alarm_id})["count"]
            if count <= KEEP_RAISES:
                _log_raise(tx, alarm_id, actor, a, src, now)
            body = _body(tx, alarm_id, actor, now, created=False)
            remember(tx, idem, 200, body, now)
            return 200, body
    except Conflict:
        stored = replay(store, idem)  # a twin with the same Idempotency-Key answered first
        if stored is not None:
            return stored
        return None  # a rival claimed the source first: attach to its issue on the next try


def _insert_claim(tx: Tx, actor: Actor, a: Alarm, src: Source, now: datetime) -> int:
    row = tx.one(f"INSERT INTO alarm ({src.column}, kind, category_code, raised_by, raised_at, "
                 "last_raised_at, observed_at, last_observed_at) VALUES (:src, :k, :cat, :by, "
                 ":now, :now, :obs, :obs) RETURNING id",
                 {"src": src.id, "k": a.kind, "cat": KINDS[a.kind].category_code,
                  "by": actor.username, "now": now, "obs": a.observed_at})
    _log_raise(tx, int(row["id"]), actor, a, src, now)
    return int(row["id"])


def _log_raise(tx: Tx, alarm_id: int, actor: Actor, a: Alarm, src: Source, now: datetime) -> None:
    point = a.lon is not None
    tx.run("INSERT INTO alarm_raise (alarm_id, raised_by, raised_at, observed_at, confidence, "
           "note, lon, lat) VALUES (:a, :by, :now, :obs, :conf, :note, :lon, :lat)",
           {"a": alarm_id, "by": actor.username, "now": now, "obs": a.observed_at,
            "conf": a.confidence, "note": a.note, "lon": src.lon if point else None,
            "lat": src.lat if point else None})


def _link(tx: Tx, alarm_id: int, issue_id: int) -> bool:
    """The alarm's issue; the alarm stays active only while that issue is open (it may have
    finished before the link was written). Whether it stays active."""
    state = tx.one("SELECT state FROM issue WHERE id = :i", {"i": issue_id})["state"]
    active = state not in TERMINAL
    tx.run("UPDATE alarm SET issue_id = :i, active = :active WHERE id = :a",
           {"i": issue_id, "a": alarm_id, "active": active})
    return active


def _file(store: Store, actor: Actor, a: Alarm, src: Source, alarm_id: int, now: datetime,
          idem: IdempotencyKey | None, policy: Policy) -> tuple[int, dict]:
    report = intake.Report(KINDS[a.kind].category_code, _description(a, src, actor), src.lon,
                           src.lat, "wgs84", src.name if src.kind != CAMERA else None)
    try:
        filed = intake.report(store, actor, report, now, idem=_filer_key(alarm_id),
                              channel=CHANNEL, policy=policy)
        issue_id = int(filed["issue"]["id"])
    except Conflict:  # a rival that took the stale claim over filed it first
        issue_id = int(replay(store, _filer_key(alarm_id))[1]["issue"]["id"])
    except BaseException as exc:
        with store.tx() as tx:
            issue_id = _filed(tx, alarm_id)
            if issue_id is None:  # nothing half-written: the claim goes with the failed filing
                tx.run("DELETE FROM alarm WHERE id = :a AND issue_id IS NULL", {"a": alarm_id})
            else:  # the intake committed before it failed: its issue stands, link it
                _link(tx, alarm_id, issue_id)
        if issue_id is None or not isinstance(exc, Exception):
            raise
    try:
        with store.tx() as tx:
            _link(tx, alarm_id, issue_id)
            body = _body(tx, alarm_id, actor, now, created=True)
            remember(tx, idem, 201, body, now)
    except Conflict:  # a twin with the same Idempotency-Key answered first
        with store.tx() as tx:
            _link(tx, alarm_id, issue_id)
        return replay(store, idem)
    return 201, body


ALARM_COLUMNS = ("a.id, a.kind, a.category_code, a.site_id, a.camera_id, a.issue_id, a.active, "
                 "a.raised_by, a.raised_at, a.last_raised_at, a.observed_at, a.last_observed_at, "
                 "a.count")


def alarm_fields(row: dict) -> dict:
    """An alarm row (ALARM_COLUMNS with the issue's state, lon, lat and the source's name) as
    the API shows it."""
    kind = KINDS.get(row["kind"])
    state = row.get("issue_state")
    return {
        "id": int(row["id"]), "kind": row["kind"], "kind_label": _(kind.label) if kind else row["kind"],
        "source": "site" if row["site_id"] is not None else "camera",
        "site_id": row["site_id"], "camera_id": row["camera_id"],
        "name": row.get("site_name") or row["camera_id"] or row["site_id"],
        "category_code": row["category_code"],
        "category_name": category_label(row["category_code"]),
        "issue_id": row["issue_id"], "issue_state": state,
        "open": state == "reported",  # flashes until the issue is accepted, rejected or merged
        "active": bool(row["active"]),  # further alarms attach to its issue
        "raised_by": row["raised_by"], "raised_at": as_dt(row["raised_at"]),
        "last_raised_at": as_dt(row["last_raised_at"]), "observed_at": as_dt(row["observed_at"]),
        "last_observed_at": as_dt(row["last_observed_at"]), "count": int(row["count"]),
        "lon": row.get("lon"), "lat": row.get("lat"),
    }


def _body(tx: Tx, alarm_id: int, actor: Actor, now: datetime, created: bool) -> dict:
    """The answer to the device: the alarm and the issue it filed or joined. The device reads
    the issue it raised, though a device sees no issues otherwise."""
    d = tx.dialect
    row = tx.one(f"SELECT {ALARM_COLUMNS}, i.state AS issue_state, {d.lon('i')} AS lon, "
                 f"{d.lat('i')} AS lat, s.name AS site_name FROM alarm a "
                 "JOIN issue i ON i.id = a.issue_id LEFT JOIN site s ON s.id = a.site_id "
                 "WHERE a.id = :a", {"a": alarm_id})
    issue = tx.one(f"SELECT {issue_columns(d, 'i')} FROM issue i WHERE i.id = :i",
                   {"i": row["issue_id"]})
    return {"created": created, "alarm": alarm_fields(row), "issue": present(issue, now, actor)}
