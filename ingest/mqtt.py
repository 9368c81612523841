"""The ingester's MQTT side: the one acknowledging consumer of :mod:`facility.mqtt` on every device topic.

The filter is each device's whole prefix (``facility/+/+/+/+/#``, which also matches the bare prefix), not
just the contract's three channels: a device may publish anything under its prefix (that is what the
broker's ACL grants), so a wrong-depth topic (``.../telemetry/extra``, ``.../telemetry/``, the bare prefix)
reaches us and becomes a ``bad_topic`` dead letter instead of being accepted by the broker and lost.
"""

from __future__ import annotations

from collections.abc import Callable

from facility.contract import TOPIC_ROOT
from facility.mqtt import AckingConsumer, BrokerConfig
from facility.settings import Settings

#: every topic a device account may publish: its prefix facility/<estate>/<building>/<kind>/<asset> and below
DEVICE_TOPICS = f"{TOPIC_ROOT}/+/+/+/+/#"


def topic_filter(share_group: str | None) -> str:
    """Every device topic; with a share group, the MQTT 5 shared subscription ``$share/<group>/...``."""
    return f"$share/{share_group}/{DEVICE_TOPICS}" if share_group else DEVICE_TOPICS


def ingest_consumer(
    settings: Settings,
    client_id: str,
    share_group: str | None = None,
    on_state: Callable[[bool], None] | None = None,
) -> AckingConsumer:
    """The ingester's consumer: persistent session ``client_id``, a buffer of ``queue_max`` messages."""
    return AckingConsumer(
        BrokerConfig.from_settings(settings),
        client_id,
        [topic_filter(share_group)],
        queue_max=max(1, settings.queue_max),
        receive_maximum=min(max(1, settings.queue_max), 65535),
        on_state=on_state,
    )
