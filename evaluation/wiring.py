"""Building the rating service from Settings (the imperative shell shared by the CLI and the API)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evaluation.appeals import Appeals
from evaluation.external_store import ExternalStore
from evaluation.ledger import Ledger
from evaluation.ratings import Ratings
from evaluation.scheme import load_scheme
from evaluation.source import Source, StoreSource
from facility.fleet import Fleet
from facility.settings import Settings
from maintenance.registry import store_fleet


@dataclass
class Evaluation:
    """The rating service and the stores it owns (closed together)."""

    ratings: Ratings
    ledger: Ledger
    external: ExternalStore
    fleet: Fleet | None
    owned: list[Any]
    appeals: Appeals

    def close(self) -> None:
        for thing in self.owned:
            closer = getattr(thing, "close", None) or getattr(thing, "dispose", None)
            if callable(closer):
                closer()


def _adopt_side_files(settings: Settings, ledger: Ledger, external: ExternalStore) -> None:
    """Before migration 0010 the ledger and the external indicators were SQLite files under ``var_dir``:
    their rows move into the store once (when its tables are still empty), hashes unchanged."""
    side = settings.var_dir / "evaluation"
    for store, name in ((ledger, "ledger.sqlite"), (external, "external.sqlite")):
        if store.adopt(side / name):
            (side / name).rename(side / f"{name}.adopted")


def build(
    settings: Settings,
    *,
    db: Any | None = None,
    influx: Any | None = None,
    events: bool = True,
    fleet: Fleet | None = None,
    source: Source | None = None,
) -> Evaluation:
    """``db`` / ``influx``: reuse open ones (the API's); otherwise opened here and closed by ``close()``.
    The ledger and the external indicators live in ``db`` (the relational store) whatever the source."""
    owned: list[Any] = []
    if db is None:
        from maintenance.db import Database

        db = Database.open(settings.sqlalchemy_url)
        owned.append(db)
    ledger, external = Ledger(db), ExternalStore(db)
    _adopt_side_files(settings, ledger, external)
    if source is None:
        fleet = fleet or store_fleet(settings)
        if influx is None and events:
            from ingest.influx import InfluxClient

            influx = InfluxClient.from_settings(settings)
            owned.append(influx)
        source = StoreSource(fleet, db, influx if events else None, external)
    appeals = Appeals(db)
    ratings = Ratings(source, load_scheme(settings.rating_scheme_file), ledger, appeals)
    return Evaluation(ratings, ledger, external, fleet, owned, appeals)
