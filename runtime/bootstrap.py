"""Build settings and adapters once, into one ``App`` that the CLI, the API, the worker and the demo start from.

    app = bootstrap()                 # Settings() from the environment
    app = bootstrap(settings, clock=fake_clock)
    app.db        # maintenance.db.Database (migrated on first use)
    app.influx    # ingest.influx.InfluxClient
    app.models    # predict.registry.ModelRegistry under var_dir/models
    app.fleet()   # facility.fleet.Fleet read from the registry in the store (the one asset list)
    app.close()

Adapters are opened lazily (a CLI command that needs only the store never connects to InfluxDB) and at most
once per ``App``. Nothing below ``runtime/`` imports this module.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from facility.fleet import Fleet
from facility.settings import Settings

if TYPE_CHECKING:
    from ingest.influx import InfluxClient
    from maintenance.db import Database
    from predict.registry import ModelRegistry

Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class App:
    """The adapters of one process. Build it with :func:`bootstrap`."""

    settings: Settings
    clock: Clock = utcnow
    #: adapters handed in (tests) or opened on first use; closed by ``close()``
    _opened: dict[str, Any] = field(default_factory=dict)
    #: names of adapters the caller handed in: the caller closes those
    _borrowed: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _get(self, name: str, make: Callable[[], Any]) -> Any:
        value = self._opened.get(name)
        if value is None:
            with self._lock:
                value = self._opened.get(name)
                if value is None:
                    value = self._opened[name] = make()
        return value

    @property
    def db(self) -> Database:
        """The relational store of ``settings.sqlalchemy_url`` (migrated to head when first opened)."""
        from maintenance.db import Database

        db: Database = self._get("db", lambda: Database.open(self.settings.sqlalchemy_url))
        return db

    @property
    def influx(self) -> InfluxClient:
        from ingest.influx import InfluxClient

        influx: InfluxClient = self._get("influx", lambda: InfluxClient.from_settings(self.settings))
        return influx

    @property
    def models(self) -> ModelRegistry:
        from predict.registry import ModelRegistry

        models: ModelRegistry = self._get("models", lambda: ModelRegistry(self.settings.var_dir / "models"))
        return models

    def fleet(self) -> Fleet:
        """Estates, buildings and assets as the registry holds them now (assets added since are included)."""
        from maintenance.registry import read_fleet

        with self.db.transaction() as session:
            return read_fleet(session)

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, {}
        for name, value in opened.items():
            if name in self._borrowed:
                continue
            closer = getattr(value, "close", None) or getattr(value, "dispose", None)
            if callable(closer):
                closer()


def bootstrap(
    settings: Settings | None = None,
    *,
    clock: Clock = utcnow,
    db: Database | None = None,
    influx: InfluxClient | None = None,
) -> App:
    """The one place a process turns its environment into adapters; pass ``db``/``influx`` to share open ones."""
    app = App(settings if settings is not None else Settings(), clock)
    for name, value in (("db", db), ("influx", influx)):
        if value is not None:
            app._opened[name] = value
            app._borrowed.add(name)
    return app
