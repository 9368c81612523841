"""Sending one note on one channel: the destination is checked again right before the call (DNS may have
changed since it was set), no redirects are followed, and the robot's answer is checked."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import orjson

from maintenance.channels import dingtalk, email, feishu, sms, wecom
from maintenance.channels.base import ChannelConfig, ChannelError, ChannelType, HttpRequest, Note
from maintenance.safe_url import UnsafeUrl, check_url

BUILDERS = {
    ChannelType.WECOM: wecom.build,
    ChannelType.DINGTALK: dingtalk.build,
    ChannelType.FEISHU: feishu.build,
    ChannelType.SMS: sms.build,
}


def _check_answer(channel: ChannelType, response: httpx.Response) -> None:
    if response.status_code >= 300:
        raise ChannelError(f"HTTP {response.status_code}: {response.text[:200]}")
    if channel is ChannelType.SMS:
        return
    try:
        answer = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise ChannelError(f"the robot's answer is not JSON: {response.text[:200]!r}") from None
    code = answer.get("errcode", answer.get("code", answer.get("StatusCode", 0)))
    if code != 0:
        raise ChannelError(f"the robot refused the message: {answer}")


def post(request: HttpRequest, allow: Sequence[str], timeout_s: float) -> httpx.Response:
    try:
        check_url(request.url, allow)
    except UnsafeUrl as exc:
        raise ChannelError(str(exc)) from None
    try:
        return httpx.post(
            request.url,
            content=request.body,
            headers=request.headers,
            timeout=timeout_s,
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        raise ChannelError(f"{type(exc).__name__}: {exc}") from None


def send(
    channel: ChannelConfig,
    note: Note,
    now_ms: int,
    allow: Sequence[str] = (),
    smtp: email.SmtpConfig | None = None,
    timeout_s: float = 5.0,
) -> None:
    """Deliver ``note``; raises ChannelError (with what the channel's ``last_error`` shows) on failure."""
    if channel.type is ChannelType.EMAIL:
        email.send(channel, note, now_ms, smtp or email.SmtpConfig())
        return
    request = BUILDERS[channel.type](channel, note, now_ms)
    _check_answer(channel.type, post(request, allow, timeout_s))
