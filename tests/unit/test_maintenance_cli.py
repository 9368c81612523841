"""``facility db|registry|tokens|crews`` sub-commands on a SQLite file."""

from __future__ import annotations

import argparse

import pytest

import maintenance.cli
import runtime.registry_cli
from facility.cli import UserError
from maintenance.db import Database
from maintenance.tokens import Role, authenticate
from tests.conftest import REPO


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="facility")
    sub = parser.add_subparsers(required=True)
    maintenance.cli.register(sub)
    runtime.registry_cli.register(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_registry_tokens_and_crews(tmp_path, capsys) -> None:
    db = ["--database", f"sqlite:///{tmp_path / 'cli.db'}"]
    assert run("db", "upgrade", *db) == 0
    assert run("registry", "import", "--fleet", str(REPO / "simulators/fleets/demo.yaml"), *db) == 0
    assert "registry: 44 assets imported" in capsys.readouterr().out
    out = tmp_path / "reg.csv"
    assert run("registry", "export", "--csv", str(out), *db) == 0
    text = out.read_text(encoding="utf-8")
    assert len(text.splitlines()) == 45 and "jinhu-t1-el3,elevator,jinhu," in text
    assert run("registry", "import", "--csv", str(out), *db) == 0
    assert (
        run("crews", "add", "lift-1", "--skills", "elevator", "--estates", "lvyuan", "--hours", "8-20", *db)
        == 0
    )
    with pytest.raises(UserError, match="a crew token needs its crew: pass --crew CREW_ID"):
        run("tokens", "create", "--role", "crew", "--name", "li", *db)
    with pytest.raises(UserError, match="skills are"):
        run("crews", "add", "x", "--skills", "lift", "--estates", "lvyuan", *db)
    capsys.readouterr()
    assert run("tokens", "create", "--role", "crew", "--crew", "lift-1", "--name", "li", *db) == 0
    token = capsys.readouterr().out.strip()
    database = Database.open(db[1])
    with database.transaction() as s:
        who = authenticate(s, token)
        assert who is not None and (who.role, who.crew_id, who.name) == (Role.CREW, "lift-1", "li")
        assert authenticate(s, token + "x") is None
    assert run("tokens", "revoke", "li", *db) == 0
    with database.transaction() as s:
        assert authenticate(s, token) is None
    database.dispose()
    with pytest.raises(UserError, match="no active token is named 'li'"):
        run("tokens", "revoke", "li", *db)
