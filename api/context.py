"""What the API's routes need from the outside world, built once per process and kept on ``app.state``."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from facility.fleet import Fleet
from facility.settings import Settings
from ingest.influx import InfluxClient

#: the registry read is reused for this long (an asset added by API or import is served after at most this)
FLEET_TTL_S = 1.0


@dataclass
class AppContext:
    settings: Settings
    influx: InfluxClient
    #: extra services registered by capabilities (e.g. the SQL store as ``db``); keyed by name
    extras: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> AppContext:
        influx = InfluxClient.from_settings(settings)
        return cls(settings, influx)

    @classmethod
    def from_adapters(cls, settings: Settings, influx: InfluxClient, db: Any, **extras: Any) -> AppContext:
        """A context on adapters built elsewhere (``runtime.bootstrap.App``): the caller closes them."""
        ctx = cls(settings, influx, {"db": db, **extras})
        ctx.extras["borrowed"] = True
        return ctx

    def database(self) -> Any:
        """The relational store (``maintenance.db.Database``), opened and migrated on first use."""
        db = self.extras.get("db")
        if db is None:
            with self._lock:
                db = self.extras.get("db")
                if db is None:
                    from maintenance.db import Database

                    db = self.extras["db"] = Database.open(self.settings.sqlalchemy_url)
        return db

    def fleet(self) -> Fleet:
        """The asset registry as the store holds it now (re-read at most every ``FLEET_TTL_S``); a ``Fleet``
        put on ``extras['fleet']`` is served instead (tests, fixed demos)."""
        from maintenance.registry import read_fleet

        fixed = self.extras.get("fleet")
        if isinstance(fixed, Fleet):
            return fixed
        cached = self.extras.get("registry_fleet")
        now = time.monotonic()
        if cached is not None and now - cached[0] < FLEET_TTL_S:
            fleet: Fleet = cached[1]
            return fleet
        with self.database().transaction() as session:
            fleet = read_fleet(session)
        self.extras["registry_fleet"] = (now, fleet)
        return fleet

    def close(self) -> None:
        if self.extras.get("borrowed"):
            return
        self.influx.close()
        for extra in self.extras.values():
            closer = getattr(extra, "close", None) or getattr(extra, "dispose", None)
            if callable(closer):
                closer()
