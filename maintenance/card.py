"""The crew's card of an order: its checklist (from a catalogue, extendable per order), notes and photos."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from maintenance.models import Order
from maintenance.order_records import OrderCheck, OrderNote, OrderPhoto
from maintenance.orders import add_note

CHECKLISTS = Path(__file__).resolve().parent / "checklists.toml"
#: the largest photo the API stores (a phone photo resized by the page is far smaller)
PHOTO_MAX_BYTES = 5 * 1024 * 1024
#: content type → the bytes a file of that type starts with
PHOTO_TYPES: dict[str, tuple[bytes, ...]] = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/webp": (b"RIFF",),
}
MAX_ITEM = 200


class BadPhoto(ValueError):
    """A photo refused: too big, empty, or not the image type it claims to be."""


@dataclass(frozen=True)
class CheckItem:
    item: str  # a catalogue key (check.*) or the crew's own text
    done: bool
    actor: str | None
    at: dt.datetime | None


@cache
def catalogue(path: Path = CHECKLISTS) -> dict[str, dict[str, tuple[str, ...]]]:
    with path.open("rb") as f:
        raw = tomllib.load(f)
    return {kind: {typ: tuple(items) for typ, items in types.items()} for kind, types in raw.items()}


def catalogue_items(kind: str, order_type: str, path: Path = CHECKLISTS) -> list[str]:
    """The catalogue's items for an asset kind and order type, without repeats, in catalogue order."""
    cat = catalogue(path)
    items: list[str] = []
    for k in (kind, "any"):
        for typ in ("any", order_type):
            items += [i for i in cat.get(k, {}).get(typ, ()) if i not in items]
    return items


def checklist(session: Session, order: Order) -> list[CheckItem]:
    """The order's checklist: catalogue items, then items the crew added, each with its tick."""
    ticks = {c.item: c for c in session.scalars(sa.select(OrderCheck).where(OrderCheck.order_id == order.id))}
    items = catalogue_items(order.asset.kind, order.type)
    items += sorted((i for i in ticks if i not in items), key=lambda i: ticks[i].id)
    return [
        CheckItem(i, ticks[i].done, ticks[i].actor, ticks[i].at)
        if i in ticks
        else CheckItem(i, False, None, None)
        for i in items
    ]


def tick(session: Session, order: Order, item: str, done: bool, actor: str, at: dt.datetime) -> CheckItem:
    """Tick or untick an item; an item not in the catalogue is added to this order's checklist."""
    item = item.strip()
    if not item or len(item) > MAX_ITEM:
        raise ValueError(f"a checklist item is 1..{MAX_ITEM} characters, got {len(item)}")
    row = session.scalars(
        sa.select(OrderCheck).where(OrderCheck.order_id == order.id, OrderCheck.item == item)
    ).first()
    if row is None:
        row = OrderCheck(order_id=order.id, item=item, done=done, actor=actor, at=at)
        session.add(row)
    else:
        row.done, row.actor, row.at = done, actor, at
    session.flush()
    return CheckItem(item, done, actor, at)


def notes(session: Session, order_id: int) -> list[OrderNote]:
    return list(
        session.scalars(sa.select(OrderNote).where(OrderNote.order_id == order_id).order_by(OrderNote.id))
    )


def check_photo(content_type: str, data: bytes) -> str:
    """The photo's content type when ``data`` is an image of it within the size limit; BadPhoto otherwise."""
    ctype = content_type.split(";")[0].strip().lower()
    if ctype not in PHOTO_TYPES:
        raise BadPhoto(f"a photo must be one of {sorted(PHOTO_TYPES)}, got {ctype or 'no content type'!r}")
    if not data:
        raise BadPhoto("the photo is empty")
    if len(data) > PHOTO_MAX_BYTES:
        raise BadPhoto(f"the photo has {len(data)} bytes; at most {PHOTO_MAX_BYTES} are accepted")
    if not data.startswith(PHOTO_TYPES[ctype]) or (ctype == "image/webp" and data[8:12] != b"WEBP"):
        raise BadPhoto(f"the bytes sent are not a {ctype} image")
    return ctype


def add_photo(
    session: Session, order: Order, content_type: str, data: bytes, actor: str, at: dt.datetime
) -> OrderPhoto:
    ctype = check_photo(content_type, data)
    photo = OrderPhoto(order_id=order.id, content_type=ctype, size=len(data), data=data, actor=actor, at=at)
    session.add(photo)
    session.flush()
    add_note(session, order, actor, at, f"photo {photo.id}", "photo")
    return photo


def photos(session: Session, order_id: int) -> list[tuple[int, str, int, str, dt.datetime]]:
    """(id, content type, size, actor, at) of the order's photos, without their bytes."""
    rows = session.execute(
        sa.select(OrderPhoto.id, OrderPhoto.content_type, OrderPhoto.size, OrderPhoto.actor, OrderPhoto.at)
        .where(OrderPhoto.order_id == order_id)
        .order_by(OrderPhoto.id)
    )
    return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]
