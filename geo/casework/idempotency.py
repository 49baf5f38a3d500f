"""Idempotency keys for requests that create things.

The first response to a (user, key) is stored in the same transaction as what it created; a
retry with the same key and the same request gets that response back and creates nothing, the
same key with a different request is refused. The response comes back verbatim, as a
replay should: its sentences and labels (`category_name`, a rank's reasons) in the language of
the first request, whatever the retry asks for.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from geo.casework.errors import InvalidInput
from geo.i18n import _
from geo.store import Store
from geo.store.sql import Tx, as_json

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class IdempotencyKey:
    username: str
    key: str
    request_hash: str

    @classmethod
    def of(cls, username: str, key: str | None, method: str, path: str, body) -> IdempotencyKey | None:
        if key is None:
            return None
        if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable():
            raise InvalidInput(_("Idempotency-Key must be 1-{n} printable characters").format(
                n=MAX_KEY_LENGTH))
        canonical = json.dumps([method, path, body], sort_keys=True, default=str,
                               ensure_ascii=False)
        return cls(username, key, hashlib.sha256(canonical.encode()).hexdigest())


class KeyReused(InvalidInput):
    """The key was used before for a different request."""

    code = "idempotency_key_reused"


def replay(store: Store, idem: IdempotencyKey | None) -> tuple[int, dict] | None:
    """The stored (status, body) for this key, None if it is new; KeyReused on a mismatch."""
    if idem is None:
        return None
    with store.snapshot() as tx:
        row = tx.one("SELECT request_hash, status_code, response FROM idempotency "
                     "WHERE username = :u AND key = :k", {"u": idem.username, "k": idem.key})
    if row is None:
        return None
    if row["request_hash"] != idem.request_hash:
        raise KeyReused(_("this Idempotency-Key was already used for a different request; use a "
                          "new key for a new request"))
    return int(row["status_code"]), as_json(row["response"])


def remember(tx: Tx, idem: IdempotencyKey | None, status: int, body: dict, now: datetime) -> None:
    """Store the response in the caller's transaction (a concurrent twin then conflicts)."""
    if idem is None:
        return
    tx.run("INSERT INTO idempotency (username, key, request_hash, status_code, response, "
           "created_at) VALUES (:u, :k, :h, :s, :r, :now)",
           {"u": idem.username, "k": idem.key, "h": idem.request_hash, "s": status,
            "r": plain(body), "now": now})


def plain(body: dict) -> dict:
    """JSON types only (datetimes as ISO 8601), exactly as a replay will return them."""
    return json.loads(json.dumps(body, default=lambda v: v.isoformat(), ensure_ascii=False))
