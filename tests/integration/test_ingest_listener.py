"""The maintenance listener on the one MQTT layer: an event is acknowledged only after its transaction commits;
the store failing mid-burst (PostgreSQL refusing connections / SQLite locked) loses nothing; what the store
refuses for good or what breaks the contract becomes a dead letter. Real broker, SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from facility.contract import SCHEMAS, AssetKind, AssetRef, Channel, EventType, encode_event
from facility.services.mosquitto import MosquittoServer
from ingest.deadletters import DeadLetterStore
from ingest.testkit import Outgoing, publish
from maintenance.db import Database, migrate
from maintenance.listener import EventListener
from maintenance.models import Order
from tests.conftest import _pg_execute
from tests.ingest_support import own_broker_fixture  # noqa: F401
from tests.maint_helpers import seed
from tests.support import wait_until

pytestmark = pytest.mark.integration
ASSETS = [
    AssetRef("lvyuan", "b1", AssetKind.ELEVATOR, "lvyuan-b1-el1"),
    AssetRef("lvyuan", "b1", AssetKind.ELEVATOR, "lvyuan-b1-el2"),
    AssetRef("lvyuan", "b1", AssetKind.FIRE_ALARM, "lvyuan-b1-fa1"),
    AssetRef("lvyuan", "b1", AssetKind.SMART_BIN, "lvyuan-b1-sb1"),
    AssetRef("jinhu", "t1", AssetKind.ELEVATOR, "jinhu-t1-el1"),
    AssetRef("jinhu", "t1", AssetKind.WATER_PUMP, "jinhu-t1-wp1"),
]
#: orders for this asset are refused by a trigger: the store says no for good
REFUSED = "jinhu-t1-wp1"


def events() -> list[Outgoing]:
    now = int(time.time() * 1000)
    out = []
    seq = 0
    for ref in ASSETS:
        for code in SCHEMAS[ref.kind].fault_codes:
            out.append(
                Outgoing(ref.topic(Channel.EVENT), encode_event(EventType.FAULT, code, now, seq), None)
            )
            seq += 1
    bad = ASSETS[0].topic(Channel.EVENT)
    out.insert(3, Outgoing(bad, b"{not json", None, "bad_json"))
    out.insert(9, Outgoing(bad, encode_event(EventType.FAULT, "no_such_code", now, 99), None, "bad_field"))
    out.insert(12, Outgoing(bad, b"", None))  # the retain guard's delete: acknowledged, no order, no letter
    out.insert(17, Outgoing(ASSETS[1].topic(Channel.STATUS), b'{"ts": 1, "state": "up"}', None, "bad_field"))
    return out


def refuse_orders_for(db: Database, asset: str) -> None:
    with db.engine.begin() as c:
        if db.engine.dialect.name == "sqlite":
            c.execute(
                sa.text(
                    f"CREATE TRIGGER refuse BEFORE INSERT ON orders WHEN NEW.asset_id = '{asset}'"
                    " BEGIN SELECT RAISE(ABORT, 'orders for this asset are refused'); END"
                )
            )
        else:
            c.execute(
                sa.text(
                    "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN IF NEW.asset_id = "
                    f"'{asset}' THEN RAISE EXCEPTION 'orders for this asset are refused' USING ERRCODE ="
                    " 'check_violation'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            c.execute(
                sa.text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION refuse()"
                )
            )


def outage(db_url: str, request: pytest.FixtureRequest) -> Callable[[float], None]:
    """A function that makes the store unavailable for ``seconds`` (in a thread) and returns at once."""
    if db_url.startswith("sqlite"):

        def lock(seconds: float) -> None:
            conn = sa.create_engine(db_url).raw_connection()
            conn.execute("BEGIN EXCLUSIVE")  # writers get "database is locked"
            time.sleep(seconds)
            conn.rollback()
            conn.close()

        return lambda s: threading.Thread(target=lock, args=(s,)).start()
    server, name = db_url.rsplit("/", 1)

    def down(seconds: float) -> None:
        _pg_execute(server, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        _pg_execute(
            server, f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        )
        time.sleep(seconds)
        _pg_execute(server, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')

    return lambda s: threading.Thread(target=down, args=(s,)).start()


@pytest.fixture
def store(db_url: str) -> Iterator[Database]:
    migrate(db_url)
    if db_url.startswith("sqlite"):  # a short busy timeout: a lock is an outage, not a wait
        engine = sa.create_engine(db_url, connect_args={"timeout": 0.2, "check_same_thread": False})
    else:
        engine = sa.create_engine(db_url, pool_pre_ping=True)
    db = Database(engine, sessionmaker(engine, expire_on_commit=False))
    with db.transaction() as s:
        seed(s)
    refuse_orders_for(db, REFUSED)
    yield db
    db.dispose()


def test_a_store_outage_mid_burst_loses_no_event(
    db_url: str, store: Database, own_broker: MosquittoServer, request: pytest.FixtureRequest
) -> None:
    msgs = events()
    # a broker of its own: the listener also reads status, and other tests leave retained status messages
    host, port = own_broker.host, own_broker.port
    listener = EventListener(store, host, port, f"t-listener-{secrets.token_hex(4)}", retry_max_s=0.5)
    listener.start()
    try:
        assert listener.subscribed.wait(10)
        publish(host, port, msgs[:8], client_id="t-listener-dev")
        assert wait_until(lambda: listener.handled == 8)
        outage(db_url, request)(1.0)
        time.sleep(0.2)
        publish(host, port, msgs[8:], client_id="t-listener-dev")
        assert wait_until(lambda: listener.handled == len(msgs), timeout_s=30)
    finally:
        listener.stop()
    assert listener.retries > 0  # the outage was felt: retried, not acknowledged
    good = [(m.topic.split("/")[4], m.payload) for m in msgs if m.reason is None and m.payload]
    with store.transaction() as s:
        orders = s.execute(sa.select(Order.asset_id, Order.fault_code)).all()
    expected = sorted(
        (ref.asset, code) for ref in ASSETS if ref.asset != REFUSED for code in SCHEMAS[ref.kind].fault_codes
    )
    assert sorted(orders) == expected and len(good) == len(expected) + 4
    letters = DeadLetterStore(store.engine).list(limit=100, source="maintenance")
    assert sorted((d.reason, d.topic) for d in letters) == sorted(
        [(m.reason, m.topic) for m in msgs if m.reason]
        + [("refused_by_store", ASSETS[5].topic(Channel.EVENT))] * 4
    )
    assert all("refused" in d.message for d in letters if d.reason == "refused_by_store")
    assert listener.dead == 7
