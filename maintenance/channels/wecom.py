"""WeCom (企业微信) group robot: POST JSON to the robot's webhook URL (``.../cgi-bin/webhook/send?key=...``).

Body: ``{"msgtype": "text", "text": {"content": "<title>\\n<text>", "mentioned_mobile_list": [...]}}``; an
urgent note mentions ``@all``. The robot answers ``{"errcode": 0, "errmsg": "ok"}``; any other errcode is an
error. The key in the URL is the robot's only credential (WeCom robots are not signed).
"""

from __future__ import annotations

import orjson

from maintenance.channels.base import ChannelConfig, HttpRequest, Note


def build(channel: ChannelConfig, note: Note, now_ms: int) -> HttpRequest:
    del now_ms
    mention = [*channel.recipients, *(["@all"] if note.urgent else [])]
    text: dict[str, object] = {"content": f"{note.title}\n{note.text}"}
    if mention:
        text["mentioned_mobile_list"] = mention
    return HttpRequest(channel.target, orjson.dumps({"msgtype": "text", "text": text}))
