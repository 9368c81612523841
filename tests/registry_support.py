"""Put a fleet into a test's store: the registry in the store is what every reader serves."""

from __future__ import annotations

from pathlib import Path

from facility.fleet import Fleet, parse_fleet
from facility.settings import Settings
from maintenance.db import Database
from maintenance.registry import import_file, load_fleet


def import_fleet(settings: Settings, fleet: Path | Fleet) -> int:
    """Upsert a fleet YAML/CSV file or a ``Fleet`` into ``settings``' store; returns the number of assets."""
    db = Database.open(settings.sqlalchemy_url)
    try:
        with db.transaction() as s:
            if isinstance(fleet, Fleet):
                return load_fleet(s, fleet)
            return import_file(s, fleet.name, fleet.read_text(encoding="utf-8"))
    finally:
        db.dispose()


def one_building_fleet(counts: dict[str, int]) -> Fleet:
    """One estate ``est`` (company ``pc``, installed 2012) with one 18-floor building ``b1`` of ``counts``."""
    return parse_fleet(
        {
            "estates": [
                {
                    "id": "est",
                    "name": "Test estate",
                    "group": "old",
                    "company": "pc",
                    "company_name": "PC",
                    "installed": "2012-01-01",
                    "buildings": [{"id": "b1", "floors": 18, "counts": counts}],
                }
            ]
        }
    )
