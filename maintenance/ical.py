"""An iCalendar (RFC 5545) feed of a crew's scheduled preventive and inspection orders."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from maintenance.models import Order

#: assumed duration of a scheduled visit
VISIT = dt.timedelta(hours=2)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> list[str]:
    """Lines longer than 75 octets are folded (continuation lines start with a space)."""
    out: list[str] = []
    raw = line.encode()
    while len(raw) > 75:
        cut = 75 if not out else 74
        while (raw[cut] & 0xC0) == 0x80:  # do not split a UTF-8 sequence
            cut -= 1
        out.append(raw[:cut].decode())
        raw = raw[cut:]
    out.append(raw.decode())
    return [out[0], *(" " + x for x in out[1:])]


def _utc(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def calendar(crew_id: str, orders: Iterable[Order], now: dt.datetime) -> str:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//facility-monitor//maintenance//EN",
        "CALSCALE:GREGORIAN",
        f"X-WR-CALNAME:{_escape(f'Crew {crew_id} scheduled work')}",
    ]
    for o in orders:
        if o.scheduled_for is None:
            continue
        lines += [
            "BEGIN:VEVENT",
            f"UID:order-{o.id}@facility-monitor",
            f"DTSTAMP:{_utc(now)}",
            f"DTSTART:{_utc(o.scheduled_for)}",
            f"DTEND:{_utc(o.scheduled_for + VISIT)}",
            f"SUMMARY:{_escape(f'[{o.type}] {o.title}')}",
            f"DESCRIPTION:{_escape(f'order {o.id}, asset {o.asset_id}, priority {o.priority}, state {o.state}')}",
            f"LOCATION:{_escape(o.asset_id)}",
            "STATUS:" + ("CANCELLED" if o.state == "cancelled" else "CONFIRMED"),
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(f"{x}\r\n" for line in lines for x in _fold(line))
