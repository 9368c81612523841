"""What the API's routes need from the outside world, built once per process and kept on ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from facility.fleet import Fleet, load_fleet
from facility.settings import Settings
from ingest.influx import InfluxClient


@dataclass
class AppContext:
    settings: Settings
    influx: InfluxClient
    #: extra services registered by capabilities (e.g. the SQL session factory); keyed by name
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> AppContext:
        influx = InfluxClient.from_settings(settings)
        return cls(settings, influx)

    def fleet(self) -> Fleet:
        """The asset registry as the fleet file defines it (loaded once)."""
        if "fleet" not in self.extras:
            self.extras["fleet"] = load_fleet(self.settings.fleet_file)
        fleet: Fleet = self.extras["fleet"]
        return fleet

    def close(self) -> None:
        self.influx.close()
        for extra in self.extras.values():
            closer = getattr(extra, "close", None) or getattr(extra, "dispose", None)
            if callable(closer):
                closer()
