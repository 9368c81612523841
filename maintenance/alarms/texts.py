"""Notification texts (zh-CN by default, English by choice); times shown in Asia/Shanghai.

One dict per language so the strings can move to facility/i18n's catalogue.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from maintenance.channels.base import Note

SHANGHAI = ZoneInfo("Asia/Shanghai")

TEXTS: dict[str, dict[str, str]] = {
    "zh": {
        "alarm_title": "【{severity}告警】{kind} {asset}：{rule}",
        "alarm_text": "资产 {asset}（{estate} / 楼栋 {building}）\n{detail}\n首次 {first}，共 {count} 次\n状态：{state}",
        "escalation_title": "【超时升级】工单 {order} 未在时限内响应",
        "escalation_text": "资产 {asset}（{estate}），优先级 {priority}，班组 {crew}\n响应时限 {due} 已过，请立即处理。",
        "critical": "紧急",
        "major": "重要",
        "minor": "次要",
        "warning": "提示",
        "elevator": "电梯",
        "fire_alarm": "消防报警",
        "water_pump": "水泵",
        "smart_bin": "智能垃圾桶",
        "active": "未确认",
        "acknowledged": "已确认",
        "cleared": "已清除",
        "cleared_unacknowledged": "已清除（未确认）",
        "time_suffix": "（北京时间）",
    },
    "en": {
        "alarm_title": "[{severity} alarm] {kind} {asset}: {rule}",
        "alarm_text": "Asset {asset} ({estate} / building {building})\n{detail}\nFirst {first}, {count} times\nState: {state}",
        "escalation_title": "[Escalation] order {order} not acknowledged in time",
        "escalation_text": "Asset {asset} ({estate}), priority {priority}, crew {crew}\nResponse was due {due}: act now.",
        "critical": "Critical",
        "major": "Major",
        "minor": "Minor",
        "warning": "Warning",
        "elevator": "Lift",
        "fire_alarm": "Fire-alarm panel",
        "water_pump": "Water pump",
        "smart_bin": "Smart bin",
        "active": "active",
        "acknowledged": "acknowledged",
        "cleared": "cleared",
        "cleared_unacknowledged": "cleared, not acknowledged",
        "time_suffix": " (Beijing time)",
    },
}


#: the default rules' names as people say them (rules.DEFAULT_RULES keys); a stored rule of another key shows its key
RULE_NAMES: dict[str, dict[str, str]] = {
    "zh": {
        "entrapment": "困人",
        "lift_fault": "电梯故障",
        "lift_overheat": "机房过热",
        "leveling_error": "平层误差过大",
        "lift_offline": "电梯离线",
        "fire_alarm": "火警",
        "panel_fault": "消防主机故障",
        "battery_low": "备用电池电压低",
        "detectors_faulty": "探测器故障",
        "panel_offline": "消防主机离线",
        "low_pressure": "供水压力低",
        "low_pressure_repeated": "供水压力低反复出现",
        "outlet_pressure_low": "出口压力低",
        "pump_vibration": "水泵振动过大",
        "bearing_hot": "轴承温度过高",
        "pump_fault": "水泵故障",
        "pump_offline": "水泵离线",
        "bin_overflow": "垃圾桶满溢",
        "bin_hot": "垃圾桶高温",
        "bin_full": "垃圾桶将满",
        "bin_heating": "垃圾桶温度骤升",
        "bin_fault": "垃圾桶设备故障",
        "bin_offline": "垃圾桶离线",
    },
    "en": {
        "entrapment": "Entrapment",
        "lift_fault": "Lift fault",
        "lift_overheat": "Machine room overheating",
        "leveling_error": "Leveling error too large",
        "lift_offline": "Lift offline",
        "fire_alarm": "Fire alarm",
        "panel_fault": "Fire panel fault",
        "battery_low": "Standby battery low",
        "detectors_faulty": "Faulty detectors",
        "panel_offline": "Fire panel offline",
        "low_pressure": "Low water pressure",
        "low_pressure_repeated": "Low water pressure, repeatedly",
        "outlet_pressure_low": "Outlet pressure low",
        "pump_vibration": "Pump vibration high",
        "bearing_hot": "Bearing too hot",
        "pump_fault": "Pump fault",
        "pump_offline": "Pump offline",
        "bin_overflow": "Bin overflowing",
        "bin_hot": "Bin hot",
        "bin_full": "Bin nearly full",
        "bin_heating": "Bin temperature rising fast",
        "bin_fault": "Bin device fault",
        "bin_offline": "Bin offline",
    },
}


def rule_name(key: str, lang: str = "zh") -> str:
    """A rule's name in ``lang`` (zh by default); the key itself for a rule without one."""
    return RULE_NAMES.get(lang, RULE_NAMES["zh"]).get(key, key)


_DETAILS: dict[str, dict[str, str]] = {
    "zh": {
        "threshold": "{field} {op} {value}，持续 {seconds} 秒",
        "rate": "{field}每分钟变化 {rate}（{minutes} 分钟内）",
        "offline": "{minutes} 分钟无数据",
        "repetition": "{hours} 小时内 {count} 次{code}",
    },
    "en": {
        "threshold": "{field} {op} {value} for {seconds} s",
        "rate": "{field} changes {rate}/min over {minutes} min",
        "offline": "no data for {minutes} min",
        "repetition": "{count}× {code} within {hours} h",
    },
}
_PATTERNS = (
    ("threshold", re.compile(r"^(?P<field>\w+) (?P<op>[<>]) (?P<value>\S+) for (?P<seconds>\d+) s$")),
    ("rate", re.compile(r"^(?P<field>\w+) changes (?P<rate>\S+)/min over (?P<minutes>\d+) min$")),
    ("offline", re.compile(r"^no data for (?P<minutes>\d+) min$")),
    ("repetition", re.compile(r"^(?P<count>\d+)× (?P<code>\w+) within (?P<hours>\S+) h$")),
)


def detail_text(detail: str, kind: str, lang: str = "zh") -> str:
    """The rules' own details (evaluate.py writes them in one English form) in ``lang`` with the field's and
    the code's names from the catalogue; a device's own detail text is shown as sent."""
    from facility.i18n import field_label, t

    for name, pattern in _PATTERNS:
        m = pattern.match(detail or "")
        if m is None:
            continue
        parts = m.groupdict()
        if "field" in parts:
            parts["field"] = field_label(kind, parts["field"], lang)
        if "code" in parts:
            label = t(f"code.{parts['code']}", lang)
            parts["code"] = parts["code"] if label == f"code.{parts['code']}" else label
        return _DETAILS.get(lang, _DETAILS["zh"])[name].format(**parts)
    return detail


def local_time(at: dt.datetime, lang: str) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") + TEXTS[lang]["time_suffix"]


def alarm_note(alarm: dict[str, object], lang: str = "zh", urgent: bool = False) -> Note:
    """The note for an alarm payload (:func:`maintenance.alarms.store.alarm_payload`)."""
    t = TEXTS.get(lang, TEXTS["zh"])
    lang = lang if lang in TEXTS else "zh"
    first = dt.datetime.fromisoformat(str(alarm["first_at"]))
    title = t["alarm_title"].format(
        severity=t.get(str(alarm["severity"]), alarm["severity"]),
        kind=t.get(str(alarm["kind"]), alarm["kind"]),
        asset=alarm["asset"],
        rule=rule_name(str(alarm["rule"]), lang),
    )
    text = t["alarm_text"].format(
        asset=alarm["asset"],
        estate=alarm["estate"],
        building=alarm.get("building", ""),
        detail=detail_text(str(alarm.get("detail") or ""), str(alarm["kind"]), lang),
        first=local_time(first, lang),
        count=alarm["count"],
        state=t.get(str(alarm["state"]), alarm["state"]),
    )
    return Note(title, text, urgent)


def escalation_note(payload: dict[str, object], lang: str = "zh") -> Note:
    t = TEXTS.get(lang, TEXTS["zh"])
    lang = lang if lang in TEXTS else "zh"
    due = dt.datetime.fromisoformat(str(payload["due_at"]))
    return Note(
        t["escalation_title"].format(order=payload["order"]),
        t["escalation_text"].format(
            asset=payload["asset"],
            estate=payload["estate"],
            priority=str(payload["priority"]).upper(),
            crew=payload.get("crew") or "-",
            due=local_time(due, lang),
        ),
        urgent=payload.get("priority") == "p1",
    )


def note_for(payload: dict[str, object], lang: str) -> Note:
    """The note of an outbox payload: ``{"note": "alarm"|"escalation", ...}``."""
    if payload.get("note") == "escalation":
        return escalation_note(payload, lang)
    return alarm_note(payload, lang, urgent=bool(payload.get("urgent")))
