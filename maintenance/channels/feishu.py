"""Feishu / Lark (飞书) custom bot with signature verification ("签名校验").

POST JSON to the bot's webhook (``.../open-apis/bot/v2/hook/<id>``): ``{"timestamp": "<unix seconds>",
"sign": <sign>, "msg_type": "text", "content": {"text": "<title>\\n<text>"}}`` where
``sign = base64(HMAC-SHA256(key="<timestamp>\\n<secret>", msg=b""))`` (the key is the string to sign, the
message empty: Feishu's documented scheme). Answer ``{"code": 0}`` on success; an urgent note adds
``<at user_id="all">所有人</at>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import orjson

from maintenance.channels.base import ChannelConfig, HttpRequest, Note


def sign(secret: str, timestamp_s: int) -> str:
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def build(channel: ChannelConfig, note: Note, now_ms: int) -> HttpRequest:
    ts = now_ms // 1000
    text = f"{note.title}\n{note.text}" + ('\n<at user_id="all">所有人</at>' if note.urgent else "")
    body: dict[str, object] = {"msg_type": "text", "content": {"text": text}}
    if channel.secret:
        body = {"timestamp": str(ts), "sign": sign(channel.secret, ts), **body}
    return HttpRequest(channel.target, orjson.dumps(body))
