"""The demo's people and tokens survive a restart (H2 #11), and `facility demo --help` names the FACILITY_*
variables for its ports (H2 #15)."""

from __future__ import annotations

import datetime as dt
import json
import stat
from pathlib import Path

import pytest

from facility.fleet import parse_fleet
from maintenance.db import Database
from maintenance.people import check_password
from maintenance.registry import load_fleet
from maintenance.tokens import Role, authenticate, revoke
from runtime.cli import main
from runtime.demo import seed_people

pytestmark = pytest.mark.integration
T0 = dt.datetime(2026, 12, 7, 4, tzinfo=dt.UTC)
FLEET = {
    "estates": [
        {
            "id": "e1",
            "company": "pc-x",
            "group": "old",
            "buildings": [{"id": "b1", "counts": {"elevator": 1}}],
        }
    ]
}


def test_a_demo_restart_keeps_its_tokens_and_people(tmp_path: Path) -> None:
    db = Database.open(f"sqlite:///{tmp_path / 'store.db'}")
    fleet = parse_fleet(FLEET)
    people = tmp_path / "var" / "demo-people.json"
    try:
        with db.transaction() as s:
            load_fleet(s, fleet)
        first = seed_people(db, fleet, T0, people)
        second = seed_people(db, fleet, T0 + dt.timedelta(hours=1), people)
        assert (second.admin, second.engineer, second.supervisor, second.crews) == (
            first.admin,
            first.engineer,
            first.supervisor,
            first.crews,
        )
        assert second.people == first.people
        with db.transaction() as s:
            who = authenticate(s, first.engineer)
            assert who is not None and (who.name, who.role) == ("demo-engineer", Role.ENGINEER)
            crew = authenticate(s, first.crews["crew-lift"])
            assert crew is not None and crew.crew_id == "crew-lift"
            # the people sign in with the printed passwords: engineer, supervisor and the lift crew's member
            pw = {name: (role, p) for name, role, p in first.people}
            assert {"engineer", "supervisor", "crew-lift-member"} <= set(pw)
            for name in ("engineer", "supervisor", "crew-lift-member"):
                assert check_password(s, name, pw[name][1]) is not None, name
            revoke(s, "demo-supervisor", T0)  # revoked meanwhile: the next start makes a new one
        tokens_file = people.with_name("demo-tokens.json")
        assert stat.S_IMODE(tokens_file.stat().st_mode) == 0o600
        assert json.loads(tokens_file.read_text())["demo-engineer"] == first.engineer
        third = seed_people(db, fleet, T0 + dt.timedelta(hours=2), people)
        assert third.engineer == first.engineer and third.supervisor != first.supervisor
        with db.transaction() as s:
            assert authenticate(s, first.supervisor) is None
            assert authenticate(s, third.supervisor) is not None
    finally:
        db.dispose()


def test_demo_help_names_the_port_variables(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["demo", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for var in (
        "FACILITY_API_PORT",
        "FACILITY_MQTT_PORT",
        "FACILITY_INFLUX_URL",
        "FACILITY_WORKER_METRICS_PORT",
        "FACILITY_VAR_DIR",
    ):
        assert var in out, var
