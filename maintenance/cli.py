"""``facility db upgrade``, ``facility tokens create|revoke``,
``facility crews add``, ``facility maintenance`` (the event → order service)."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from facility.cli import UserError
from facility.contract import AssetKind
from facility.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def _db(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from maintenance.db import Database

    return Database.open(args.database or Settings().sqlalchemy_url)


@contextlib.contextmanager
def store_transaction(args: argparse.Namespace) -> Iterator[Session]:
    """One transaction on the store of ``--database`` (else the settings'); a ValueError from the work inside
    is the user's mistake (exit 2 with its sentence); the store is closed afterwards."""
    db = _db(args)
    try:
        with db.transaction() as s:
            yield s
    except ValueError as exc:
        raise UserError(str(exc)) from None
    finally:
        db.dispose()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def db_upgrade(args: argparse.Namespace) -> int:
    from maintenance.db import migrate

    url = args.database or Settings().sqlalchemy_url
    migrate(url, args.revision)
    print(f"database {url.split('@')[-1]} is at {args.revision}")
    return 0


def tokens_create(args: argparse.Namespace) -> int:
    from maintenance.tokens import Role, create_token

    with store_transaction(args) as s:
        token = create_token(s, args.name, Role(args.role), _now(), crew_id=args.crew)
    print(token)
    print(f"(role {args.role}; shown once, only its SHA-256 is stored)", file=sys.stderr)
    return 0


def tokens_revoke(args: argparse.Namespace) -> int:
    from maintenance.tokens import revoke

    db = _db(args)
    with db.transaction() as s:
        n = revoke(s, args.name, _now())
    db.dispose()
    if n == 0:
        raise UserError(f"no active token is named {args.name!r}")
    print(f"revoked {n} token(s) named {args.name}")
    return 0


def crews_add(args: argparse.Namespace) -> int:
    from maintenance.domain import zone
    from maintenance.models import Crew, CrewMember

    db = _db(args)
    try:
        with db.transaction() as s:
            if s.get(Crew, args.id) is not None:
                raise UserError(f"crew {args.id!r} exists; change it with PATCH /api/v1/crews/{args.id}")
            s.add(
                Crew(
                    id=args.id,
                    name=args.name or args.id,
                    skills=[AssetKind(k).value for k in args.skills.split(",")],
                    estates=args.estates.split(","),
                    hours_start=args.hours[0],
                    hours_end=args.hours[1],
                    timezone=zone(args.timezone).key,
                    active=True,
                    members=[CrewMember(name=m, phone="") for m in (args.members or "").split(",") if m],
                )
            )
    except ValueError as exc:
        raise UserError(f"{exc}; skills are {[k.value for k in AssetKind]}") from None
    finally:
        db.dispose()
    print(f"crew {args.id} added")
    return 0


def run_service(args: argparse.Namespace) -> int:
    from maintenance.service import MaintenanceService

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    svc = MaintenanceService(Settings(), interval_s=args.interval)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    svc.start()
    with contextlib.suppress(KeyboardInterrupt):
        done.wait()
    svc.stop()
    return 0


def _hours(text: str) -> tuple[int, int]:
    try:
        a, b = (int(x) for x in text.split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"hours {text!r} must look like 8-20") from None
    return a, b


def register(sub: argparse._SubParsersAction) -> None:
    def with_db(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--database", help="SQLAlchemy URL (default: settings, SQLite under var/)")
        return p

    db = sub.add_parser("db", help="the maintenance database").add_subparsers(dest="db_cmd", required=True)
    p = with_db(db.add_parser("upgrade", help="apply Alembic migrations"))
    p.add_argument("--revision", default="head")
    p.set_defaults(func=db_upgrade)

    tok = sub.add_parser("tokens", help="API tokens").add_subparsers(dest="tok", required=True)
    p = with_db(tok.add_parser("create", help="create a token and print it once"))
    p.add_argument("--role", required=True, choices=["admin", "engineer", "crew", "supervisor", "viewer"])
    p.add_argument("--crew", help="the crew of a crew-member token")
    p.add_argument("--name", required=True, help="who holds it (recorded on every transition they make)")
    p.set_defaults(func=tokens_create)
    p = with_db(tok.add_parser("revoke", help="revoke every token of a name"))
    p.add_argument("name")
    p.set_defaults(func=tokens_revoke)

    crews = sub.add_parser("crews", help="maintenance crews").add_subparsers(dest="crews", required=True)
    p = with_db(crews.add_parser("add", help="add a crew"))
    p.add_argument("id")
    p.add_argument("--name")
    p.add_argument("--skills", required=True, help="asset kinds, comma-separated: elevator,water_pump")
    p.add_argument("--estates", required=True, help="estate ids, comma-separated")
    p.add_argument("--hours", type=_hours, default=(0, 24), help="working hours, e.g. 8-20")
    p.add_argument(
        "--timezone",
        default="Asia/Shanghai",
        help="IANA zone of the working hours (default Asia/Shanghai), e.g. Asia/Urumqi",
    )
    p.add_argument("--members", help="member names, comma-separated")
    p.set_defaults(func=crews_add)

    p = sub.add_parser(
        "maintenance", help="run the event → work-order service with SLA checks (Ctrl-C stops)"
    )
    p.add_argument("--interval", type=float, default=None, help="seconds between SLA checks (settings)")
    p.set_defaults(func=run_service)

    from maintenance.people_cli import register as register_people  # added by F: people who sign in

    register_people(sub)
