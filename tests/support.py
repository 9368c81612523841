"""Helpers shared by tests (not fixtures)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from facility.settings import Settings
from maintenance.db import Database
from maintenance.tokens import Role, create_token


def make_token(settings: Settings, role: Role, crew_id: str | None = None) -> str:
    """A fresh API token of ``role`` in the store named by ``settings`` (migrated if new)."""
    db = Database.open(settings.sqlalchemy_url)
    try:
        with db.transaction() as session:
            return create_token(session, f"test-{role.value}", role, dt.datetime.now(dt.UTC), crew_id=crew_id)
    finally:
        db.dispose()


def wait_until(cond: Callable[[], object], timeout_s: float = 30.0) -> bool:
    """Poll ``cond`` every 0.1 s until it is true (True) or ``timeout_s`` passes (False)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return False
