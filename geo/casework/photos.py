"""Photos of an issue: uploaded images kept in the database beside it, for as long as the
issue is open to new ones (never fetched from a URL)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from geo.casework.errors import InvalidInput, NotFound, StateConflict
from geo.casework.idempotency import IdempotencyKey, remember
from geo.casework.read import fetch
from geo.casework.scope import Actor
from geo.i18n import _
from geo.store import Store
from geo.store.sql import as_dt
from geo.workflow import TERMINAL, state_label

_MAGIC = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}


@dataclass(frozen=True)
class Photo:
    """An uploaded image, its media type known from its first bytes."""

    data: bytes
    content_type: str
    sha256: str

    @classmethod
    def of(cls, data: bytes) -> Photo:
        """A JPEG, PNG or WebP image; InvalidInput for anything else, or nothing."""
        if not data:
            raise InvalidInput(_("the photo is empty"))
        return cls(data, _media_type(data), hashlib.sha256(data).hexdigest())


def _media_type(data: bytes) -> str:
    for magic, media in _MAGIC.items():
        if data.startswith(magic):
            return media
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    raise InvalidInput(_("a photo must be a JPEG, PNG or WebP image"),
                       code="unsupported_photo")


def attach(store: Store, actor: Actor, issue_id: int, photo: Photo, now: datetime,
           idem: IdempotencyKey | None = None) -> dict:
    """Keep `photo` with an issue `actor` may see that is not closed (StateConflict if it is),
    and the answer under `idem`, in one transaction."""
    with store.tx() as tx:
        issue = fetch(tx, actor, issue_id, hold=True)  # not closed meanwhile
        if issue["state"] in TERMINAL:
            raise StateConflict(_("issue {issue} is {state}: no more photos").format(
                issue=issue_id, state=state_label(issue["state"])),
                                [], issue["state"])
        row = tx.one("INSERT INTO photo (issue_id, content_type, data, sha256, uploaded_by, "
                     "uploaded_at) VALUES (:i, :c, :d, :h, :u, :now) RETURNING id",
                     {"i": issue_id, "c": photo.content_type, "d": photo.data,
                      "h": photo.sha256, "u": actor.username, "now": now})
        body = {"id": int(row["id"]), "issue_id": issue_id, "content_type": photo.content_type,
                "size": len(photo.data), "sha256": photo.sha256, "uploaded_by": actor.username,
                "uploaded_at": now.isoformat()}
        remember(tx, idem, 201, body, now)
    return body


def list_photos(store: Store, actor: Actor, issue_id: int) -> list[dict]:
    """The photos of an issue `actor` may see (without their data), in upload order."""
    with store.snapshot() as tx:
        fetch(tx, actor, issue_id)
        rows = tx.rows("SELECT id, issue_id, content_type, length(data) AS size, sha256, "
                       "uploaded_by, uploaded_at FROM photo WHERE issue_id = :i ORDER BY id",
                       {"i": issue_id})
    return [{**r, "uploaded_at": as_dt(r["uploaded_at"])} for r in rows]


def get_photo(store: Store, actor: Actor, issue_id: int, photo_id: int) -> tuple[str, bytes]:
    """The media type and data of one photo of an issue `actor` may see, else NotFound."""
    with store.snapshot() as tx:
        fetch(tx, actor, issue_id)
        row = tx.one("SELECT content_type, data FROM photo WHERE id = :p AND issue_id = :i",
                     {"p": photo_id, "i": issue_id})
    if row is None:
        raise NotFound(_("issue {issue} has no photo {photo}").format(issue=issue_id,
                                                                    photo=photo_id))
    return row["content_type"], bytes(row["data"])
