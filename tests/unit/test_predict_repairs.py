"""Two reports of one repair make one lifetime boundary; which work-order store the commands use."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

import predict.cli
from facility.cli import UserError
from facility.services.ports import free_port
from facility.settings import Settings
from maintenance.db import Database
from predict.history import SAME_REPAIR_DAYS, MaintenanceRecord, lifetimes_from_records
from predict.repairs import configured_store

MIN = 1 / 1440  # a minute, in days


def lives(
    *records: tuple[float, str], same_repair: float = SAME_REPAIR_DAYS
) -> list[tuple[float, float, bool]]:
    recs = [MaintenanceRecord("a", t, kind) for t, kind in records]
    return [(x.start, x.end, x.event) for x in lifetimes_from_records(recs, 0.0, 100.0, ["a"], same_repair)]


def test_a_resolved_order_slightly_after_the_recovery_event_is_the_same_repair() -> None:
    # fault at 20, device recovery at 21, crew resolves 20 minutes later: one new lifetime, from the later
    assert lives((20, "failure"), (21, "repair"), (21 + 20 * MIN, "repair")) == [
        (0.0, 20, True),
        (21 + 20 * MIN, 100.0, False),
    ]
    # the crew resolves first, the device reports its recovery an hour later: the same
    assert lives((20, "failure"), (21, "repair"), (21 + 60 * MIN, "repair")) == [
        (0.0, 20, True),
        (21 + 60 * MIN, 100.0, False),
    ]
    # without merging, the two reports would cut off a 20-minute censored lifetime
    assert lives((20, "failure"), (21, "repair"), (21 + 20 * MIN, "repair"), same_repair=0.0) == [
        (0.0, 20, True),
        (21, 21 + 20 * MIN, False),
        (21 + 20 * MIN, 100.0, False),
    ]


def test_a_later_visit_censors_and_a_failure_is_never_merged() -> None:
    # a preventive visit three days after a repair is a visit of its own: it censors the running lifetime
    assert lives((20, "failure"), (21, "repair"), (24, "repair")) == [
        (0.0, 20, True),
        (21, 24, False),
        (24, 100.0, False),
    ]
    # a failure an hour after a repair ends a (short) lifetime with an event, repair right after the failure
    # (same instant) starts the next one: no zero-length lifetime
    assert lives((21, "repair"), (21 + 60 * MIN, "failure"), (21 + 60 * MIN, "repair")) == [
        (0.0, 21, False),
        (21, 21 + 60 * MIN, True),
        (21 + 60 * MIN, 100.0, False),
    ]


def test_store_of_the_settings(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path / "var")
    assert configured_store(settings) is None  # no url and no var/facility.db: InfluxDB only
    Database.open(settings.sqlalchemy_url).dispose()
    store = configured_store(settings)
    assert store is not None and str(store.engine.url) == settings.sqlalchemy_url
    store.dispose()


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="facility")
    predict.cli.register(parser.add_subparsers(required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_train_telemetry_with_an_unreachable_store_says_how_to_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FACILITY_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("FACILITY_DATABASE_URL", f"postgresql+psycopg://u:secret@127.0.0.1:{free_port()}/x")
    monkeypatch.setenv("FACILITY_INFLUX_URL", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(UserError) as err:
        run("train-telemetry", "--kind", "elevator")
    msg = str(err.value)
    assert msg.startswith("cannot read the work-order store at postgresql+psycopg://u:***@127.0.0.1:")
    assert "pass --no-orders" in msg and "secret" not in msg
    # --no-orders does not touch the store: InfluxDB is what fails now
    with pytest.raises(UserError, match="cannot read telemetry"):
        run("train-telemetry", "--kind", "elevator", "--no-orders")


def test_forecast_api_with_an_unreachable_store_is_503(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.auth import authenticated
    from api.context import AppContext
    from ingest.influx import InfluxClient
    from maintenance.tokens import Principal, Role

    settings = Settings(
        var_dir=tmp_path / "var", database_url=f"postgresql+psycopg://u:secret@127.0.0.1:{free_port()}/x"
    )
    ctx = AppContext(settings, InfluxClient(f"http://127.0.0.1:{free_port()}", "facility"))
    app = create_app(ctx=ctx)
    # the caller is let in without the store (which holds tokens): the route's own 503 is under test
    app.dependency_overrides[authenticated] = lambda: Principal(None, "t", Role.VIEWER, None)
    with TestClient(app) as client:
        r = client.get("/api/v1/forecasts/ranking")
    assert r.status_code == 503
    assert r.json()["detail"].startswith("the work-order store, which gives each asset's last repair, cannot")
    assert "secret" not in r.text
