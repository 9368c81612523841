"""The ground floor stays the ground floor: no module under facility/ imports a feature package or the top
floor (walks the AST of every facility/*.py, imports inside functions included)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
UPPER = {"simulators", "ingest", "predict", "maintenance", "evaluation", "api", "dashboards", "runtime"}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(str(node.args[0].value))
    return names


def test_imported_modules_sees_every_kind_of_import(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text(
        "import os\nfrom ingest.influx import X\ndef f():\n    import predict.jobs\n"
        "    importlib.import_module('api.app')\nfrom . import sibling\n"
    )
    assert imported_modules(f) == {"os", "ingest.influx", "predict.jobs", "api.app"}


def test_facility_imports_no_feature_package() -> None:
    files = sorted((REPO / "facility").rglob("*.py"))
    assert len(files) >= 8
    bad = sorted(
        (str(f.relative_to(REPO)), m) for f in files for m in imported_modules(f) if m.split(".")[0] in UPPER
    )
    assert bad == [], "facility/ is the ground floor: move these imports up (runtime/ or the feature package)"


def test_the_command_lives_on_the_top_floor() -> None:
    import tomllib

    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["facility"] == "runtime.cli:main"
    from facility.cli import UserError
    from runtime.cli import build_parser

    assert issubclass(UserError, Exception)
    # `facility worker ...` builds the parser of the worker's module only
    commands = next(a for a in build_parser(["worker"])._actions if a.dest == "command").choices or {}
    assert set(commands) == {"setup", "services", "demo", "worker"}


def test_each_command_is_registered_by_the_module_the_cli_imports_for_it() -> None:
    import argparse
    import importlib

    from runtime.cli import COMMAND_MODULES, COMMAND_OWNERS

    owners = {}
    for name in COMMAND_MODULES:
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(name).register(sub)
        owners |= dict.fromkeys(sub.choices, name)
    assert owners == COMMAND_OWNERS
