"""``facility devices add|revoke|rotate|sync|list``: broker accounts of devices and services, on the running
broker at once (mosquitto's dynamic-security plugin), with their metadata in the relational store."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.orm import Session

from facility.contract import AssetRef
from facility.services.dynsec import LOCAL_SERVICES, SERVICE_ROLES, AccountError, AccountSpec
from facility.settings import Settings
from ingest import account_store, devices
from ingest.broker_accounts import DynsecAccounts
from ingest.security import SecurityError, parse_device


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("devices", help="broker accounts of devices and services (acts on the running broker)")
    dsub = p.add_subparsers(dest="devices_command", metavar="ACTION", required=True)
    add = dsub.add_parser("add", help="create an account (prints its password once)")
    add.add_argument("device", nargs="?", help="estate/building/kind/asset")
    add.add_argument("--username", help="default: the asset id (devices) or the role (services)")
    add.add_argument(
        "--service", choices=sorted(r for r in SERVICE_ROLES if r != "admin"), help="a service role"
    )
    add.add_argument("--client-id", help="services: bind the account to this client id")
    add.add_argument(
        "--force",
        action="store_true",
        help="add a device whose asset is not (or not so) in the registry; its readings are stored but no page, "
        "forecast or alarm knows the asset until it is registered",
    )
    add.set_defaults(func=cmd_add)
    ls = dsub.add_parser("list", help="list accounts (the broker's, with their metadata from the store)")
    ls.add_argument("--all", action="store_true", help="include revoked accounts")
    ls.set_defaults(func=cmd_list)
    rv = dsub.add_parser(
        "revoke", help="delete an account: a connected client with it is disconnected at once"
    )
    rv.add_argument("username")
    rv.set_defaults(func=cmd_revoke)
    ro = dsub.add_parser("rotate", help="a new password for an account (its session and backlog are kept)")
    ro.add_argument("username")
    ro.set_defaults(func=cmd_rotate)
    sy = dsub.add_parser("sync", help="an account for every registry asset that has none, in bulk")
    sy.add_argument("--out", type=Path, help="write new accounts' passwords here as CSV (mode 0600)")
    sy.add_argument("--prune", action="store_true", help="also revoke devices whose asset left the registry")
    sy.set_defaults(func=cmd_sync)
    gd = dsub.add_parser(
        "guard", help="run the retain guard: delete retained telemetry/event messages (as admin)"
    )
    gd.set_defaults(func=cmd_guard)


@contextmanager
def _session_and_accounts(settings: Settings) -> Iterator[tuple[Session, DynsecAccounts]]:
    from facility.cli import UserError
    from maintenance.db import Database

    try:
        accounts = DynsecAccounts(devices.admin_login(settings))
    except AccountError as exc:
        raise UserError(str(exc)) from None
    db = Database.open(settings.sqlalchemy_url)
    try:
        with db.transaction() as session:
            yield session, accounts
    except (AccountError, SecurityError) as exc:
        raise UserError(str(exc)) from None
    finally:
        accounts.close()
        db.dispose()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _run(action: Callable[[Session, DynsecAccounts], str]) -> int:
    with _session_and_accounts(Settings()) as (session, accounts):
        print(action(session, accounts))
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    def act(session: Session, accounts: DynsecAccounts) -> str:
        if args.service:
            name = args.username or next(
                (u for u, r in LOCAL_SERVICES.items() if r == args.service), args.service
            )
            spec = AccountSpec.service(name, args.service, args.client_id)
        elif args.device:
            ref = parse_device(args.device)
            spec = AccountSpec.device(ref, args.username)
            warning = _registry_mismatch(session, ref)
            if warning and not args.force:
                raise AccountError(f"{warning}; register it first, or pass --force")
            if warning:
                print(f"warning: {warning}", file=sys.stderr)
        else:
            raise AccountError("name a device as estate/building/kind/asset, or give --service ROLE")
        password = devices.add(accounts, session, spec, _now())
        bound = f", client id {spec.client_id}" if spec.client_id else ""
        return f"username: {spec.username}\npassword: {password}\n(shown once; role {spec.rolename}{bound})"

    return _run(act)


def _registry_mismatch(session: Session, ref: AssetRef) -> str | None:
    """Why the device ``ref`` does not match the registry (no such asset, or another estate/building/kind)."""
    from maintenance.models import Asset

    asset = session.get(Asset, ref.asset)
    if asset is None:
        return (
            f"asset {ref.asset!r} is not in the registry (facility registry import FILE, or "
            f"PUT /api/v1/registry/assets/{ref.asset}): its readings would be stored, but no page, forecast or "
            "alarm would know it"
        )
    registered = f"{asset.estate_id}/{asset.building.code}/{asset.kind}/{asset.id}"
    if registered != _path(ref):
        return f"the registry has asset {ref.asset!r} as {registered}, not {_path(ref)}"
    return None


def _path(ref: AssetRef) -> str:
    return f"{ref.estate}/{ref.building}/{ref.kind.value}/{ref.asset}"


def cmd_revoke(args: argparse.Namespace) -> int:
    def act(session: Session, accounts: DynsecAccounts) -> str:
        devices.revoke(accounts, session, args.username, _now())
        return f"revoked {args.username}: deleted on the broker, any connection with it closed"

    return _run(act)


def cmd_rotate(args: argparse.Namespace) -> int:
    def act(session: Session, accounts: DynsecAccounts) -> str:
        password = devices.rotate(accounts, session, args.username, _now())
        return f"username: {args.username}\npassword: {password}\n(shown once; its session is kept)"

    return _run(act)


def cmd_sync(args: argparse.Namespace) -> int:
    from maintenance.registry import read_fleet

    def act(session: Session, accounts: DynsecAccounts) -> str:
        fleet = read_fleet(session)
        report = devices.sync_fleet(accounts, session, fleet, _now(), prune=args.prune)
        lines = "".join(f"{u},{pw}\n" for u, pw in sorted(report.created.items()))
        if args.out is not None:
            fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write("username,password\n" + lines)
        elif lines:
            print("username,password\n" + lines, end="")
        where = f"; passwords in {args.out}" if args.out is not None else ""
        return (
            f"{len(fleet.assets)} registry assets: {len(report.created)} accounts created, "
            f"{len(report.unchanged)} already there, {len(report.removed)} revoked{where}"
        )

    return _run(act)


def cmd_list(args: argparse.Namespace) -> int:
    def act(session: Session, accounts: DynsecAccounts) -> str:
        on_broker = {a.username: a for a in accounts.list()}
        known = {r.username: r for r in account_store.records(session, include_revoked=args.all)}
        rows = []
        for name in sorted(set(on_broker) | set(known)):
            rec, acc = known.get(name), on_broker.get(name)
            state = "revoked" if rec and not rec.active else ("active" if acc else "missing on broker")
            if acc and acc.disabled:
                state = "disabled"
            role = rec.role if rec else ",".join(acc.rolenames) if acc else ""
            where = (rec.topic_prefix if rec else "") or "-"
            rows.append(f"{name:28} {role:18} {state:18} {where}")
        return "\n".join(rows) if rows else "no accounts"

    return _run(act)


def cmd_guard(args: argparse.Namespace) -> int:
    """The retain guard as a process of its own (compose); the local stack runs it in its own process."""
    import logging
    import signal
    import threading

    from facility.cli import UserError
    from facility.services.dynsec import RESERVED_PREFIX
    from facility.services.retain_guard import RetainGuard

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        login = devices.admin_login(Settings())
    except AccountError as exc:
        raise UserError(str(exc)) from None
    guard = RetainGuard(login, f"{RESERVED_PREFIX}retain-guard")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    guard.start()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        guard.stop()
    return 0
