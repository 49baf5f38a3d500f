"""Whether the database holds the generated demo city (the living demo's simulator asks before
it touches anything). Command-centre staff only: the public /healthz does not say."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from api import deps
from geo.casework.scope import Actor
from geo.store import Store

router = APIRouter(prefix="/api/v1", tags=["meta"])


class DemoOut(BaseModel):
    demo: bool
    loaded_at: datetime | None  # when the demo city was loaded


@router.get("/demo", response_model=DemoOut)
def demo(actor: Actor = deps.actor("issues:supervise"), store: Store = Depends(deps.store)):
    """Whether this database holds the generated demo city, marked as such when it was loaded
    (`griddispatch demo-data`, `serve --demo`); a city of real data is never so marked."""
    loaded = store.demo_city()
    return {"demo": loaded is not None, "loaded_at": loaded}
