"""What every channel adapter shares: the note to send, the channel's settings and the request built."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ChannelType(StrEnum):
    WECOM = "wecom"
    DINGTALK = "dingtalk"
    FEISHU = "feishu"
    SMS = "sms"
    EMAIL = "email"


#: channels whose target is a URL (checked by maintenance.safe_url when set and when called)
URL_CHANNELS = frozenset({ChannelType.WECOM, ChannelType.DINGTALK, ChannelType.FEISHU, ChannelType.SMS})


class ChannelError(RuntimeError):
    """Delivery failed; the message is what the channel's ``last_error`` shows."""


@dataclass(frozen=True)
class Note:
    """One notification, already in the reader's language."""

    title: str
    text: str
    #: critical alarms and P1 orders: sent during quiet hours too; robots @mention everyone
    urgent: bool = False


@dataclass(frozen=True)
class ChannelConfig:
    id: int
    type: ChannelType
    target: str
    secret: str | None = None
    recipients: tuple[str, ...] = ()


@dataclass(frozen=True)
class HttpRequest:
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
