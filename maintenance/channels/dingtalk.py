"""DingTalk (钉钉) custom robot with the "加签" (signed) security setting.

URL: the robot's webhook (``.../robot/send?access_token=...``) plus ``&timestamp=<ms>&sign=<sign>`` where
``sign = urlencode(base64(HMAC-SHA256(key=secret, msg="<timestamp>\\n<secret>")))``; DingTalk refuses a
timestamp more than an hour away from its clock. Body: ``{"msgtype": "markdown", "markdown": {"title": ...,
"text": ...}, "at": {"isAtAll": urgent, "atMobiles": [...]}}``. Answer ``{"errcode": 0}`` on success.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse

import orjson

from maintenance.channels.base import ChannelConfig, HttpRequest, Note


def sign(secret: str, timestamp_ms: int) -> str:
    """The ``sign`` query value (already URL-encoded)."""
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(mac).decode())


def build(channel: ChannelConfig, note: Note, now_ms: int) -> HttpRequest:
    url = channel.target
    if channel.secret:
        sep = "&" if "?" in url else "?"
        url = f"{url}{sep}timestamp={now_ms}&sign={sign(channel.secret, now_ms)}"
    mobiles = list(channel.recipients)
    body = {
        "msgtype": "markdown",
        "markdown": {"title": note.title, "text": f"### {note.title}\n\n{note.text}"},
        "at": {"isAtAll": note.urgent, "atMobiles": mobiles},
    }
    return HttpRequest(url, orjson.dumps(body))
