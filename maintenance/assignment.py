"""Automatic assignment: a pure choice of crew by skill, estate, working hours and current load."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from facility.contract import AssetKind
from maintenance.domain import CrewProfile


def choose_crew(
    crews: Iterable[CrewProfile],
    kind: AssetKind,
    estate: str,
    loads: Mapping[str, int],
    now: dt.datetime,
) -> CrewProfile | None:
    """The crew with the skill and the estate that has the fewest open orders.

    Crews on duty at ``now`` come first; ties break on crew id so the choice is deterministic.
    None when no active crew has both the skill and the estate.
    """
    able = [c for c in crews if c.active and kind in c.skills and estate in c.estates]
    if not able:
        return None
    return min(able, key=lambda c: (not c.on_duty(now), loads.get(c.id, 0), c.id))
