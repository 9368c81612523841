"""Channel adapters build the documented requests (pure): notes in Chinese by default, Beijing time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse

from maintenance.alarms.texts import alarm_note, escalation_note
from maintenance.channels import dingtalk, feishu, sms, wecom
from maintenance.channels.base import ChannelConfig, ChannelType, Note
from maintenance.signing import SIGNATURE_HEADER, verify_signature

ALARM = {
    "asset": "lvyuan-b1-el1",
    "kind": "elevator",
    "estate": "lvyuan",
    "building": "b1",
    "rule": "entrapment",
    "severity": "critical",
    "state": "active",
    "count": 2,
    "detail": "car stopped at 5F",
    "first_at": "2026-12-07T11:06:00+00:00",
}
NOW_MS = 1_796_000_000_000


def test_notes_are_chinese_by_default_in_beijing_time() -> None:
    zh = alarm_note(ALARM, urgent=True)
    assert zh.title == "【紧急告警】电梯 lvyuan-b1-el1：困人" and zh.urgent  # the rule by its name
    assert "2026-12-07 19:06（北京时间），共 2 次" in zh.text and "状态：未确认" in zh.text
    en = alarm_note(ALARM, "en")
    assert en.title == "[Critical alarm] Lift lvyuan-b1-el1: Entrapment"
    esc = escalation_note(
        {
            "order": 12,
            "asset": "a",
            "estate": "e",
            "priority": "p1",
            "crew": None,
            "due_at": "2026-12-07T00:10:00+00:00",
        }
    )
    assert esc.urgent and "工单 12" in esc.title and "08:10（北京时间）" in esc.text


def test_robot_requests_follow_the_documented_formats() -> None:
    note = Note("标题", "正文", urgent=True)
    w = json.loads(
        wecom.build(ChannelConfig(1, ChannelType.WECOM, "https://x/send?key=k"), note, NOW_MS).body
    )
    assert w == {"msgtype": "text", "text": {"content": "标题\n正文", "mentioned_mobile_list": ["@all"]}}

    d = dingtalk.build(
        ChannelConfig(2, ChannelType.DINGTALK, "https://x/send?access_token=t", "SECx"), note, NOW_MS
    )
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(d.url).query)
    mac = hmac.new(b"SECx", f"{NOW_MS}\nSECx".encode(), hashlib.sha256).digest()
    assert q["timestamp"] == [str(NOW_MS)] and q["sign"] == [base64.b64encode(mac).decode()]
    assert json.loads(d.body)["at"]["isAtAll"] is True

    f = json.loads(
        feishu.build(ChannelConfig(3, ChannelType.FEISHU, "https://x/hook", "s"), note, NOW_MS).body
    )
    key = f"{NOW_MS // 1000}\ns".encode()
    assert f["timestamp"] == str(NOW_MS // 1000)
    assert f["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert f["msg_type"] == "text" and f["content"]["text"].startswith("标题\n正文")

    long = Note("T", "字" * 400)
    r = sms.build(
        ChannelConfig(4, ChannelType.SMS, "https://gw/send", "gw-secret", ("13800000000",)), long, NOW_MS
    )
    body = json.loads(r.body)
    assert body["to"] == ["13800000000"] and len(body["text"]) == sms.MAX_TEXT and body["text"].endswith("…")
    assert verify_signature("gw-secret", r.headers[SIGNATURE_HEADER], r.body, NOW_MS / 1000) == NOW_MS // 1000


def test_the_rules_details_are_shown_in_the_readers_language() -> None:
    """H2 #13: "bearing_temp_c changes +3/min" and "3× low_pressure within 24 h" on Chinese pages."""
    from maintenance.alarms.texts import detail_text

    assert detail_text("3× low_pressure within 24 h", "water_pump") == "24 小时内 3 次压力过低"
    assert detail_text("no data for 16 min", "water_pump") == "16 分钟无数据"
    assert detail_text("detectors_faulty > 0 for 300 s", "fire_alarm") == "故障探测器 > 0，持续 300 秒"
    assert detail_text("temperature_c changes +9.6/min over 5 min", "smart_bin", "en") == (
        "Temperature changes +9.6/min over 5 min"
    )
    assert detail_text("car stopped at 5F", "elevator") == "car stopped at 5F"  # the device's own words
