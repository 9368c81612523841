"""The bounded hand-off buffer now lives in the one MQTT layer (:mod:`facility.mqtt`); kept importable here."""

from facility.mqtt import BoundedBuffer

__all__ = ["BoundedBuffer"]
