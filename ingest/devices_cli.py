"""``facility devices add|list|revoke``: MQTT accounts for devices and services."""

from __future__ import annotations

import argparse

from facility.settings import Settings
from ingest.security import DeviceRegistry, SecurityError, broker_files, parse_device, reload_broker


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("devices", help="manage MQTT credentials of devices and services")
    dsub = p.add_subparsers(dest="devices_command", metavar="ACTION", required=True)
    add = dsub.add_parser("add", help="create a device account (prints its password once)")
    add.add_argument("device", nargs="?", help="estate/building/kind/asset")
    add.add_argument("--username", help="default: the asset id")
    add.add_argument("--service", choices=["ingest", "api"], help="a service account that reads all devices")
    add.set_defaults(func=cmd_add)
    ls = dsub.add_parser("list", help="list accounts")
    ls.add_argument("--all", action="store_true", help="include revoked accounts")
    ls.set_defaults(func=cmd_list)
    rv = dsub.add_parser("revoke", help="revoke an account (the broker refuses it after reload)")
    rv.add_argument("username")
    rv.set_defaults(func=cmd_revoke)


def _sync(settings: Settings, reg: DeviceRegistry) -> str:
    passwd, acl = broker_files(settings)
    reg.write_broker_files(passwd, acl)
    reloaded = reload_broker(passwd.parent / "mosquitto.pid")
    return f"wrote {passwd} and {acl}" + (
        "; broker reloaded" if reloaded else "; no running broker to reload"
    )


def _user_error(exc: Exception) -> Exception:
    from facility.cli import UserError

    return UserError(str(exc))


def cmd_add(args: argparse.Namespace) -> int:
    settings = Settings()
    reg = DeviceRegistry.for_settings(settings)
    try:
        if args.service:
            username = args.username or args.service
            password = reg.add(username, args.service)
        elif args.device:
            ref = parse_device(args.device)
            username = args.username or ref.asset
            password = reg.add_device(ref, username)
        else:
            raise SecurityError("name a device as estate/building/kind/asset, or use --service ingest|api")
        print(f"username: {username}\npassword: {password}\n(shown once; {_sync(settings, reg)})")
    except SecurityError as exc:
        raise _user_error(exc) from None
    finally:
        reg.close()
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    reg = DeviceRegistry.for_settings(Settings())
    try:
        for a in reg.accounts(include_revoked=args.all):
            state = "active" if a.active else "revoked"
            print(f"{a.username:24} {a.role:7} {state:8} {a.topic_prefix or 'facility/# (read)'}")
    finally:
        reg.close()
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    settings = Settings()
    reg = DeviceRegistry.for_settings(settings)
    try:
        reg.revoke(args.username)
        print(f"revoked {args.username}; {_sync(settings, reg)}")
    except SecurityError as exc:
        raise _user_error(exc) from None
    finally:
        reg.close()
    return 0
