"""Device and service accounts: the broker (through ``BrokerAccounts``) and their metadata in the store, together.

The broker acts first (a revoked device is disconnected at once); the store then records what was done.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

from sqlalchemy.orm import Session

from facility.contract import AssetRef
from facility.fleet import Fleet
from facility.mqtt import BrokerConfig
from facility.services.dynsec import DEVICE, AccountError, AccountSpec, DynsecBroker, new_password
from facility.settings import Settings
from ingest import account_store
from ingest.broker_accounts import BrokerAccounts, DynsecAccounts, SyncReport


def admin_login(settings: Settings) -> BrokerConfig:
    """The admin account of the broker in ``settings``: FACILITY_MQTT_ADMIN_PASSWORD, else the local stack's file."""
    password = settings.mqtt_admin_password
    if password is None:
        from facility.stack import broker_dir

        secrets_file = broker_dir(settings) / "credentials.json"
        try:
            password = json.loads(secrets_file.read_text())[settings.mqtt_admin_username]
        except (OSError, ValueError, KeyError):
            raise AccountError(
                f"no password for the broker's admin account {settings.mqtt_admin_username!r}: set "
                f"FACILITY_MQTT_ADMIN_PASSWORD, or start the local stack (`facility services`), which writes "
                f"{secrets_file}"
            ) from None
    return BrokerConfig.from_settings(settings, settings.mqtt_admin_username, password)


def add(accounts: BrokerAccounts, session: Session, spec: AccountSpec, now: dt.datetime) -> str:
    """Create the account on the broker with a fresh password (returned, shown once) and record it."""
    password = new_password()
    accounts.add(spec, password)
    account_store.record_created(session, [spec], now)
    return password


def revoke(accounts: BrokerAccounts, session: Session, username: str, now: dt.datetime) -> None:
    accounts.revoke(username)
    account_store.record_revoked(session, [username], now)


def rotate(accounts: BrokerAccounts, session: Session, username: str, now: dt.datetime) -> str:
    """A new password for an existing account; its persistent session (and backlog) stays on the broker."""
    password = new_password()
    accounts.rotate(username, password)
    account_store.record_rotated(session, username, now)
    return password


def sync_fleet(
    accounts: BrokerAccounts, session: Session, fleet: Fleet, now: dt.datetime, prune: bool = False
) -> SyncReport:
    """An account for every registry asset that has none (in bulk); with ``prune``, revoke device accounts
    whose asset left the registry."""
    report = accounts.sync([AccountSpec.device(a.ref) for a in fleet.assets], prune_devices=prune)
    by_name = {a.ref.asset: a.ref for a in fleet.assets}
    account_store.record_created(session, [AccountSpec.device(by_name[u]) for u in report.created], now)
    account_store.record_revoked(session, report.removed, now)
    return report


def provision_devices(accounts: BrokerAccounts, refs: Sequence[AssetRef]) -> dict[str, str]:
    """Every device gets a fresh password (new accounts created, existing ones rotated): what a demo or a test
    hands its simulators. Returns user name -> password."""
    report = accounts.sync([AccountSpec.device(r) for r in refs])
    creds = dict(report.created)
    for username in report.unchanged:
        creds[username] = new_password()
        accounts.rotate(username, creds[username])
    return creds


def provision_local(broker: DynsecBroker, refs: Sequence[AssetRef]) -> dict[str, str]:
    """:func:`provision_devices` on a local stack's broker (``LocalStack.broker_info``): the demo's devices."""
    with DynsecAccounts.for_broker(broker) as accounts:
        return provision_devices(accounts, refs)


__all__ = [
    "DEVICE", "add", "admin_login", "provision_devices", "provision_local", "revoke", "rotate", "sync_fleet",
]  # fmt: skip
