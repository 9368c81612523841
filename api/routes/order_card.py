"""The crew's card of an order: checklist (tick, add an item), notes, photos (stored by the API).

Crew members reach only their own crew's orders; engineers and admins every order; supervisors read.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from api.auth import OPERATORS, Principal, Role, require_role
from api.deps import ClockDep, SessionDep
from api.params import RowId
from api.routes.orders import Readers, _load, unprocessable
from maintenance import card
from maintenance.order_records import OrderPhoto
from maintenance.orders import add_note as add_order_note

router = APIRouter(tags=["orders"])

Workers = Annotated[Principal, Depends(require_role(*OPERATORS, Role.CREW))]


class CheckOut(BaseModel):
    item: str
    done: bool
    actor: str | None
    at: dt.datetime | None


class NoteOut(BaseModel):
    id: int
    kind: str
    actor: str
    at: dt.datetime
    text: str


class PhotoOut(BaseModel):
    id: int
    content_type: str
    size: int
    actor: str
    at: dt.datetime
    url: str


class CardOut(BaseModel):
    order_id: int
    checklist: list[CheckOut]
    notes: list[NoteOut]
    photos: list[PhotoOut]


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=10_000)

    model_config = {"json_schema_extra": {"examples": [{"text": "Spare roller ordered; back on Thursday"}]}}


class CheckIn(BaseModel):
    item: str = Field(min_length=1, max_length=card.MAX_ITEM)
    done: bool

    model_config = {"json_schema_extra": {"examples": [{"item": "check.elevator.1", "done": True}]}}


def _photo_out(order_id: RowId, p: tuple[int, str, int, str, dt.datetime]) -> PhotoOut:
    pid, ctype, size, actor, at = p
    return PhotoOut(
        id=pid,
        content_type=ctype,
        size=size,
        actor=actor,
        at=at,
        url=f"/api/v1/orders/{order_id}/photos/{pid}",
    )


@router.get("/orders/{order_id}/card", response_model=CardOut)
def read_card(order_id: RowId, session: SessionDep, who: Readers) -> CardOut:
    """The order's checklist (catalogue items for its kind and type, then the crew's own), notes and photos."""
    order = _load(session, order_id, who)
    return CardOut(
        order_id=order.id,
        checklist=[CheckOut(**c.__dict__) for c in card.checklist(session, order)],
        notes=[
            NoteOut(id=n.id, kind=n.kind, actor=n.actor, at=n.at, text=n.text)
            for n in card.notes(session, order.id)
        ],
        photos=[_photo_out(order.id, p) for p in card.photos(session, order.id)],
    )


@router.post("/orders/{order_id}/notes", response_model=NoteOut, status_code=status.HTTP_201_CREATED)
def add_note(order_id: RowId, body: NoteIn, session: SessionDep, who: Workers, clock: ClockDep) -> NoteOut:
    """A note in the order's timeline (kept apart from its state: any open or finished order takes notes)."""
    order = _load(session, order_id, who)
    add_order_note(session, order, who.actor, clock(), body.text.strip())
    n = card.notes(session, order.id)[-1]
    return NoteOut(id=n.id, kind=n.kind, actor=n.actor, at=n.at, text=n.text)


@router.put("/orders/{order_id}/checklist", response_model=CheckOut)
def tick(order_id: RowId, body: CheckIn, session: SessionDep, who: Workers, clock: ClockDep) -> CheckOut:
    """Tick or untick a checklist item; an item the catalogue does not have is added to this order."""
    order = _load(session, order_id, who)
    try:
        c = card.tick(session, order, body.item, body.done, who.actor, clock())
    except ValueError as exc:
        raise unprocessable("item", str(exc)) from None
    return CheckOut(**c.__dict__)


@router.post(
    "/orders/{order_id}/photos",
    response_model=PhotoOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in card.PHOTO_TYPES},
        }
    },
)
async def upload_photo(
    order_id: RowId, request: Request, session: SessionDep, who: Workers, clock: ClockDep
) -> PhotoOut:
    """Attach a photo: the body is the image itself (JPEG, PNG or WebP, at most 5 MB), its type in
    Content-Type. 413 when too big, 415 when not such an image."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > card.PHOTO_MAX_BYTES:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE, f"the photo is larger than {card.PHOTO_MAX_BYTES} bytes"
        )
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > card.PHOTO_MAX_BYTES:
            raise HTTPException(
                status.HTTP_413_CONTENT_TOO_LARGE, f"the photo is larger than {card.PHOTO_MAX_BYTES} bytes"
            )
    order = _load(session, order_id, who)
    try:
        photo = card.add_photo(
            session, order, request.headers.get("content-type", ""), bytes(data), who.actor, clock()
        )
    except card.BadPhoto as exc:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, str(exc)) from None
    return _photo_out(order.id, (photo.id, photo.content_type, photo.size, photo.actor, photo.at))


@router.get("/orders/{order_id}/photos/{photo_id}", response_class=Response)
def read_photo(order_id: RowId, photo_id: RowId, session: SessionDep, who: Readers) -> Response:
    """One photo attached to an order"""
    order = _load(session, order_id, who)
    photo = session.get(OrderPhoto, photo_id)
    if photo is None or photo.order_id != order.id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"order {order_id} has no photo {photo_id}")
    return Response(
        photo.data,
        media_type=photo.content_type,
        headers={"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )
