"""A burst: many devices, each with its own broker account, upload their history at once (list payloads,
QoS 1) right after the ingester starts. Every point must be stored with its values, and every message the
ingester refuses must be counted with its reason — nothing may vanish.

The devices are connected before the ingester starts and all publish the moment ``Ingester.start()``
returns: before it waited for the broker to grant its subscription, that was before the ingester's session
existed, and the broker acknowledged the uploads to the devices (PUBACK success: the retain guard matches
every device topic) while queueing them for no one — 120 foreign devices lost 12 messages (1,502 points)
that way, and devices that publish during the first second of a fresh ingester lost everything.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from facility.contract import AssetKind, AssetRef
from facility.services.dynsec import AccountSpec, DynsecBroker
from facility.settings import Settings
from ingest.broker_accounts import DynsecAccounts
from ingest.influx import InfluxClient
from ingest.service import Ingester
from ingest.testkit import Outgoing, Uplink, malformed, stored_points, uploads, wait_for_points

pytestmark = pytest.mark.integration

DEVICES, PER_DEVICE, CHUNK = 40, 600, 120
#: malformed messages one device sends in the burst (``too_large`` is refused by the broker itself)
BAD_REASONS = (
    "bad_json",
    "out_of_range",
    "missing_field",
    "unknown_field",
    "bad_timestamp",
    "topic_mismatch",
)


def _settings(tmp_path: Path, broker: DynsecBroker, influx: InfluxClient) -> Settings:
    user, password = broker.login("ingest")
    return Settings(
        var_dir=tmp_path, mqtt_host=broker.host, mqtt_port=broker.port, mqtt_username=user,
        mqtt_password=password, influx_url=influx.url, influx_db=influx.database, metrics_port=0,
        ingest_client_id=f"facility-ingest-burst-{tmp_path.name}"[:60], batch_interval_s=0.2,
    )  # fmt: skip


def test_a_burst_from_many_devices_is_stored_whole_or_refused_with_reasons(
    tmp_path: Path, dynsec_broker: DynsecBroker, influx: InfluxClient
) -> None:
    rng = np.random.default_rng(12)
    kinds = list(AssetKind)
    refs = [AssetRef("burst", f"b{i % 3}", kinds[i % 4], f"burst-{i:03d}") for i in range(DEVICES)]
    start_ms = int(time.time() * 1000) - 20 * 86_400_000
    msgs, expected = uploads(refs, PER_DEVICE, CHUNK, rng, start_ms)
    bad_ref = refs[0]
    bad = [malformed(bad_ref, r, int(time.time() * 1000), rng) for r in BAD_REASONS]
    msgs[bad_ref.asset] = msgs[bad_ref.asset] + [
        Outgoing(t, p, None, r) for (t, p), r in zip(bad, BAD_REASONS, strict=True)
    ]
    specs = [AccountSpec.device(r) for r in refs]
    with DynsecAccounts.for_broker(dynsec_broker) as accounts:
        passwords = accounts.sync(specs).created
    links = {
        r.asset: Uplink(
            dynsec_broker.host,
            dynsec_broker.port,
            client_id=r.asset,
            username=r.asset,
            password=passwords[r.asset],
        )
        for r in refs
    }
    errors: list[str] = []

    def upload(asset: str, first: int = 0) -> None:
        try:
            links[asset].send(msgs[asset][first:])
        except Exception as exc:  # reported below with the device's name
            errors.append(f"{asset}: {exc!r}")

    ing = Ingester(_settings(tmp_path, dynsec_broker, influx))
    try:
        assert ing.start() is True  # returns once the broker granted the subscription,
        assert ing.mqtt.subscribed.is_set()  # so the broker keeps whatever is published from now on
        last = refs[-1].asset
        links[last].send(msgs[last][:1])  # one device's first upload at once, then all of them together
        threads = [threading.Thread(target=upload, args=(r.asset, int(r.asset == last))) for r in refs]
        for t in threads:  # every device at once, the moment the ingester is up
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors[:3]
        n_msgs = sum(len(m) for m in msgs.values())
        points = wait_for_points(influx, len(expected), timeout_s=90)
        deadline = time.monotonic() + 30  # the last acks follow the last write
        while ing.metrics.n_acked < n_msgs and time.monotonic() < deadline:
            time.sleep(0.1)
        snap = ing.snapshot()
    finally:
        ing.stop()
        for link in links.values():
            link.close()
        with DynsecAccounts.for_broker(dynsec_broker) as accounts:
            for spec in specs:
                accounts.revoke(spec.username)
    assert Counter(points) == Counter(expected)  # every point, with its values, once
    assert Counter(stored_points(influx)) == Counter(expected)  # and nothing more arrived late
    assert snap["dead_letters"] == dict(Counter(BAD_REASONS))  # every refusal counted with its reason
    assert snap["received"] == snap["acked"] == n_msgs
    assert snap["stored"] == len(expected) and snap["spool_depth"] == 0
    assert sum(link.unrouted for link in links.values()) == 0
