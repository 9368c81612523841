"""``facility registry import FILE`` (fleet YAML or CSV, by suffix) and ``facility registry export [FILE]``.

The registry in the store is the one asset list; these files are only ways in and out of it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from facility.cli import UserError
from facility.settings import Settings
from runtime.bootstrap import App, bootstrap


def _app(args: argparse.Namespace) -> App:
    app = bootstrap()
    if args.database:
        app.settings.database_url = args.database
    return app


def registry_import(args: argparse.Namespace) -> int:
    from maintenance.registry import RegistryError, import_file

    path = Path(args.file) if args.file else None
    if path is None:
        if args.fleet is None and args.csv is None:
            path = Settings().fleet_file  # the demo fleet unless FACILITY_FLEET_FILE says otherwise
        else:
            path = Path(args.csv or args.fleet)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UserError(f"registry file {path} does not exist") from None
    except UnicodeDecodeError:
        raise UserError(f"registry file {path} is not UTF-8 text") from None
    app = _app(args)
    try:
        with app.db.transaction() as s:
            n = import_file(s, path.name, text, allow_kind_change=args.allow_kind_change)
    except RegistryError as exc:
        raise UserError(str(exc)) from None
    finally:
        app.close()
    print(f"registry: {n} assets imported from {path}")
    return 0


def registry_export(args: argparse.Namespace) -> int:
    from maintenance.registry import export_csv

    target = args.file or args.csv or "-"
    if target != "-" and not target.lower().endswith(".csv"):
        raise UserError(f"export writes CSV: name the file *.csv (got {target!r}), or - for stdout")
    app = _app(args)
    try:
        with app.db.transaction() as s:
            text = export_csv(s)
    finally:
        app.close()
    if target == "-":
        sys.stdout.write(text)
    else:
        Path(target).write_text(text, encoding="utf-8")
        print(f"registry written to {target}", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    reg = sub.add_parser("registry", help="estates, buildings and assets: import/export").add_subparsers(
        dest="reg", required=True
    )
    p = reg.add_parser("import", help="upsert the registry from a fleet YAML or a CSV (by suffix)")
    p.add_argument("file", nargs="?", help="fleet .yaml/.yml or .csv (default: settings.fleet_file)")
    p.add_argument("--csv", help=argparse.SUPPRESS)  # the earlier spelling
    p.add_argument("--fleet", help=argparse.SUPPRESS)
    p.add_argument("--database", help="SQLAlchemy URL (default: settings, SQLite under var/)")
    p.add_argument(
        "--allow-kind-change",
        action="store_true",
        help="let the file change a registered asset's kind (refused by default: its history is of the old kind)",
    )
    p.set_defaults(func=registry_import)
    p = reg.add_parser("export", help="write the registry as CSV (the import format)")
    p.add_argument("file", nargs="?", help="file to write (*.csv), or - for stdout (default)")
    p.add_argument("--csv", help=argparse.SUPPRESS)
    p.add_argument("--database", help="SQLAlchemy URL (default: settings, SQLite under var/)")
    p.set_defaults(func=registry_export)
