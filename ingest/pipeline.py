"""From received MQTT messages to line protocol and dead letters (pure); writing is in :mod:`ingest.refusals`."""

from __future__ import annotations

from dataclasses import dataclass, field

from facility.contract import ContractError, decode
from facility.mqtt import EdgeMessage
from ingest.deadletters import DeadLetter
from ingest.fastpath import telemetry_line, topic_info
from ingest.lineprotocol import to_line
from ingest.refusals import write_splitting

#: one MQTT message as it came off the wire (the MQTT layer's edge type)
Received = EdgeMessage
__all__ = ["Prepared", "Received", "prepare", "write_splitting"]


@dataclass
class Prepared:
    lines: list[str] = field(default_factory=list)
    #: index into the batch of the message each line came from
    owners: list[int] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    #: (device key, seq, device ts) of every valid reading/event, for loss accounting and lag
    seqs: list[tuple[str, int | None, int]] = field(default_factory=list)
    #: zero-length messages: no reading and no dead letter (see :func:`is_retained_delete`)
    cleared: int = 0


def is_retained_delete(item: Received) -> bool:
    """A zero-length message is how MQTT deletes a retained message (the retain guard, ``facility devices
    guard``, clears what a device left retained); subscribers get the delete too. It carries nothing to store
    or keep: acknowledged and counted, never a dead letter."""
    return not item.payload


def prepare(batch: list[Received]) -> Prepared:
    """Validate each message with the contract (the receive time is used only for the sanity window).

    Plain telemetry objects take :mod:`ingest.fastpath`; everything else (and anything it doubts) goes
    through :func:`facility.contract.decode`, which also names the dead-letter reason.
    """
    out = Prepared()
    lines, owners, seqs = out.lines, out.owners, out.seqs
    for i, item in enumerate(batch):
        if is_retained_delete(item):
            out.cleared += 1
            continue
        info = topic_info(item.topic)
        if info is not None and info.telemetry:
            fast = telemetry_line(info, item.payload, item.received_ms)
            if fast is not None:
                lines.append(fast[0])
                owners.append(i)
                seqs.append((info.device, fast[1], fast[2]))
                continue
        try:
            msgs = decode(item.topic, item.payload, item.received_ms)
        except ContractError as exc:
            out.dead.append(DeadLetter(item.topic, item.payload, exc.reason, str(exc), item.received_ms))
            continue
        except Exception as exc:  # never let one message stop the stream
            out.dead.append(
                DeadLetter(
                    item.topic, item.payload, "internal", f"{type(exc).__name__}: {exc}", item.received_ms
                )
            )
            continue
        for m in msgs:
            lines.append(to_line(m))
            owners.append(i)
            device = item.topic.rsplit("/", 1)[0]
            seqs.append((device, m.seq, m.ts_ms))
    return out
