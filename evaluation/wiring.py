"""Building the rating service from Settings (the imperative shell shared by the CLI and the API)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evaluation.external_store import ExternalStore
from evaluation.ledger import Ledger
from evaluation.ratings import Ratings
from evaluation.scheme import load_scheme
from evaluation.source import Source, StoreSource
from facility.fleet import Fleet, load_fleet
from facility.settings import Settings


@dataclass
class Evaluation:
    """The rating service and the stores it owns (closed together)."""

    ratings: Ratings
    ledger: Ledger
    external: ExternalStore
    fleet: Fleet | None
    owned: list[Any]

    def close(self) -> None:
        self.ledger.close()
        self.external.close()
        for thing in self.owned:
            closer = getattr(thing, "close", None) or getattr(thing, "dispose", None)
            if callable(closer):
                closer()


def build(
    settings: Settings,
    *,
    db: Any | None = None,
    influx: Any | None = None,
    events: bool = True,
    fleet: Fleet | None = None,
    source: Source | None = None,
) -> Evaluation:
    """``db`` / ``influx``: reuse open ones (the API's); otherwise opened here and closed by ``close()``."""
    owned: list[Any] = []
    ledger = Ledger.in_var(settings.var_dir)
    external = ExternalStore.in_var(settings.var_dir)
    if source is None:
        fleet = fleet or load_fleet(settings.fleet_file)
        if db is None:
            from maintenance.db import Database

            db = Database.open(settings.sqlalchemy_url)
            owned.append(db)
        if influx is None and events:
            from ingest.influx import InfluxClient

            influx = InfluxClient.from_settings(settings)
            owned.append(influx)
        source = StoreSource(fleet, db, influx if events else None, external)
    ratings = Ratings(source, load_scheme(settings.rating_scheme_file), ledger)
    return Evaluation(ratings, ledger, external, fleet, owned)
