"""SMS through a configurable HTTP gateway (the property company's SMS provider or its own relay).

POST JSON ``{"to": ["<phone>", ...], "text": "<title>: <text>", "urgent": bool}`` to the channel's URL, signed
like crew webhooks when the channel has a secret: header ``X-Facility-Signature: t=<unix s>,v1=<hex
HMAC-SHA256(secret, "<t>." + body)>`` (see maintenance/signing.py for the receiver's check). Any 2xx is success.
"""

from __future__ import annotations

import orjson

from maintenance.channels.base import ChannelConfig, HttpRequest, Note
from maintenance.signing import SIGNATURE_HEADER
from maintenance.signing import sign as sign_body

#: texts longer than this are cut (a long SMS is split and billed per 67 Chinese characters)
MAX_TEXT = 300


def build(channel: ChannelConfig, note: Note, now_ms: int) -> HttpRequest:
    text = f"{note.title}: {note.text}"
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    body = orjson.dumps({"to": list(channel.recipients), "text": text, "urgent": note.urgent})
    headers = {"Content-Type": "application/json"}
    if channel.secret:
        headers[SIGNATURE_HEADER] = sign_body(channel.secret, body, now_ms // 1000)
    return HttpRequest(channel.target, body, headers)
