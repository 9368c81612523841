"""Local stand-ins for the robots and gateways: they check each documented format and verify signatures
(docs/notifications.md), answer as the real services do, and record what they accepted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from maintenance.signing import SIGNATURE_HEADER, verify_signature


@dataclass
class Received:
    path: str
    body: dict[str, Any]


@dataclass
class Receivers:
    secret: str
    port: int = 0
    accepted: list[Received] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    #: paths that answer 500 (a broken channel)
    failing: set[str] = field(default_factory=set)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def check(self, path: str, query: dict[str, list[str]], headers: Any, raw: bytes) -> str | None:
        """None when the request is as documented, else why not."""
        body = json.loads(raw)
        now = time.time()
        if path in ("/wecom", "/broken"):
            if body.get("msgtype") != "text" or not body["text"]["content"].strip():
                return "wecom: msgtype text with a content"
        elif path == "/dingtalk":
            ts, sign = query["timestamp"][0], query["sign"][0]
            if abs(now * 1000 - int(ts)) > 3_600_000:
                return "dingtalk: timestamp outside one hour"
            mac = hmac.new(self.secret.encode(), f"{ts}\n{self.secret}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(base64.b64encode(mac).decode(), sign):  # parse_qs already unquoted
                return "dingtalk: bad sign"
            if body.get("msgtype") != "markdown" or not body["markdown"]["title"]:
                return "dingtalk: markdown with a title"
        elif path == "/feishu":
            ts = body["timestamp"]
            key = f"{ts}\n{self.secret}".encode()
            expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
            if not hmac.compare_digest(expected, body["sign"]) or abs(now - int(ts)) > 3600:
                return "feishu: bad sign"
            if body.get("msg_type") != "text" or not body["content"]["text"]:
                return "feishu: text content"
        elif path == "/sms":
            verify_signature(self.secret, headers.get(SIGNATURE_HEADER), raw, now)
            if not body["to"] or not body["text"]:
                return "sms: to and text"
        else:
            return f"unknown path {path}"
        return None

    def start(self) -> Receivers:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if parts.path in outer.failing:
                    self._answer(500, {"errcode": 500})
                    return
                try:
                    why = outer.check(parts.path, urllib.parse.parse_qs(parts.query), self.headers, raw)
                except Exception as exc:
                    why = f"{parts.path}: {exc}"
                if why is not None:
                    outer.refused.append(why)
                    self._answer(200, {"errcode": 310000, "code": 19021, "errmsg": why})
                    return
                outer.accepted.append(Received(parts.path, json.loads(raw)))
                self._answer(200, {"errcode": 0, "errmsg": "ok"} if parts.path != "/feishu" else {"code": 0})

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    """An aiosmtpd SMTP server on a free port keeping every message."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        from facility.services.ports import free_port

        self.messages: list[Any] = []
        outer = self

        class Handler:
            async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
                import email
                import email.policy

                outer.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()
