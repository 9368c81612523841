"""E-mail through the SMTP server of the settings (``FACILITY_SMTP_*``): plain text, UTF-8, one message per
channel with the channel's ``target`` as the recipient; an urgent note is marked ``X-Priority: 1``."""

from __future__ import annotations

import datetime as dt
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from maintenance.channels.base import ChannelConfig, ChannelError, Note


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "127.0.0.1"
    port: int = 25
    sender: str = "facility@localhost"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout_s: float = 10.0


def build(channel: ChannelConfig, note: Note, now_ms: int, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = channel.target
    msg["Subject"] = note.title
    msg["Date"] = format_datetime(dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC))
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    if note.urgent:
        msg["X-Priority"] = "1"
    msg.set_content(note.text)
    return msg


def send(channel: ChannelConfig, note: Note, now_ms: int, smtp: SmtpConfig) -> None:
    msg = build(channel, note, now_ms, smtp.sender)
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s) as client:
            if smtp.starttls:
                client.starttls()
            if smtp.username:
                client.login(smtp.username, smtp.password or "")
            client.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise ChannelError(f"SMTP {smtp.host}:{smtp.port}: {exc}") from None
