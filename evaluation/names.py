"""The one catalogue of names the ratings show: every metric, colour and report word in Chinese and English.

A scheme's indicators may carry their own ``zh`` / ``en`` names (``evaluation/schemes/default.yaml``);
otherwise an indicator is called by its metric's name here. Kept in one dict per language so that the
application's message catalogue (``facility/i18n.py``) can take them over.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"

METRICS: dict[str, tuple[str, str]] = {
    "monitoring_coverage": ("监测覆盖率", "Monitoring coverage"),
    "intactness_rate": ("公共设施完好率", "Facility intactness rate"),
    "failures": ("故障次数", "Failures"),
    "down_hours": ("停用时长", "Down hours"),
    "fault_rate_per_100_asset_months": ("故障率（每百台月）", "Fault rate (per 100 asset-months)"),
    "fault_rate_per_1000_asset_days": ("故障率（每千台日）", "Fault rate (per 1,000 asset-days)"),
    "mtbf_hours": ("平均无故障时间", "Mean time between failures"),
    "mttr_hours": ("平均修复时间", "Mean time to repair"),
    "response_on_time_rate": ("响应及时率", "Response on time"),
    "resolve_on_time_rate": ("维修及时率", "Repairs on time"),
    "first_time_fix_rate": ("一次修复率", "First-time fix rate"),
    "rework_rate": ("返修率", "Rework rate"),
    "follow_up_rate": ("回访率", "Follow-up rate"),
    "rejection_rate": ("退单率", "Rejection rate"),
    "order_satisfaction_rate": ("工单满意率", "Order satisfaction"),
    "response_minutes_mean": ("平均响应时间（分钟）", "Mean response (min)"),
    "response_minutes_p90": ("响应时间90分位（分钟）", "Response p90 (min)"),
    "resolution_hours_mean": ("平均修复时长（小时）", "Mean resolution (h)"),
    "resolution_hours_p90": ("修复时长90分位（小时）", "Resolution p90 (h)"),
    "preventive_share": ("预防性维护占比", "Preventive share"),
    "preventive_on_time_rate": ("预防性维护按期率", "Preventive work on time"),
    "failures_preceded_rate": ("故障前已预防率", "Failures preceded by preventive work"),
    "elevator_entrapments": ("电梯困人次数", "Elevator entrapments"),
    "elevator_entrapment_rate": ("电梯困人率（每百台月）", "Entrapment rate (per 100 elevator-months)"),
    "elevator_out_of_service_hours": ("电梯停运时长", "Elevator out-of-service hours"),
    "fire_alarm_fault_rate": ("消防报警故障率", "Fire-alarm fault rate"),
    "fire_alarm_false_alarm_rate": ("消防误报率", "Fire-alarm false-alarm rate"),
    "fire_alarm_unconfirmed_rate": ("消防报警未确认率", "Unconfirmed fire alarms"),
    "fire_alarm_offline_rate": ("消防报警离线率", "Fire-alarm offline share"),
    "water_pump_dry_run_events": ("水泵干转次数", "Pump dry-run events"),
    "water_pump_pressure_loss_hours": ("水泵失压时长", "Pump pressure-loss hours"),
    "smart_bin_overflow_hours": ("垃圾桶满溢时长", "Bin overflow hours"),
    "hotline_complaint_density": ("12345投诉密度", "12345 complaint density"),
    "resident_satisfaction": ("业主满意度", "Resident satisfaction"),
    "complaint_handling_satisfaction": ("投诉处理满意度", "Complaint-handling satisfaction"),
    "hotline_complaints": ("12345投诉量", "12345 complaints"),
    "hotline_handled_rate": ("12345投诉办结率", "12345 complaints handled"),
    "inspection_score": ("街道检查得分", "Street inspection score"),
}

COLOURS: dict[str, tuple[str, str]] = {
    "green": ("绿牌", "green"),
    "blue": ("蓝牌", "blue"),
    "yellow": ("黄牌", "yellow"),
    "red": ("红牌", "red"),
}

#: report and page words
WORDS: dict[str, tuple[str, str]] = {
    "company_report": ("物业服务企业考核报告", "Property-company rating report"),
    "district_report": ("辖区物业考核报告", "District rating report"),
    "monthly": ("月度", "Monthly"),
    "quarterly": ("季度", "Quarterly"),
    "period": ("考核期", "Period"),
    "scheme": ("考核方案", "Scheme"),
    "as_of": ("数据截至", "Data as of"),
    "provisional": ("暂定（考核期未结束或数据不完整）", "Provisional (period not over or data incomplete)"),
    "final": ("正式", "Final"),
    "score": ("得分", "Score"),
    "average": ("季度平均分", "Quarter average"),
    "colour": ("挂牌颜色", "Colour"),
    "inspection": ("下季度检查频次", "Next quarter's inspections"),
    "rank": ("排名", "Rank"),
    "rank_in_group": ("组内排名", "Rank in group"),
    "group": ("分组", "Group"),
    "company": ("物业服务企业", "Property company"),
    "estate": ("小区", "Estate"),
    "estates": ("所辖小区", "Estates"),
    "indicator": ("考核指标", "Indicator"),
    "value": ("数值", "Value"),
    "points": ("指标得分", "Points"),
    "weight": ("权重", "Weight"),
    "contribution": ("贡献分", "Contribution"),
    "interval": ("90% 区间", "90 % interval"),
    "note": ("说明", "Note"),
    "no_data": ("无数据", "no data"),
    "companies": ("企业排名", "Companies ranked"),
    "observed": ("监测覆盖", "Observed"),
    "months": ("各月得分", "Monthly scores"),
    "none": ("无需检查", "no inspection"),
    "per_month": ("每月{n}次检查", "{n} inspection(s) a month"),
    "weekly": ("每周检查", "weekly inspections"),
    "rectification": ("并提交整改方案", " and a rectification plan"),
}

GROUPS: dict[str, tuple[str, str]] = {
    "old-estates": ("老旧小区组", "old estates"),
    "new-estates": ("新建小区组", "new estates"),
    "mixed": ("跨组", "mixed"),
}


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[0] if lang == "zh" else pair[1]


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"language {lang!r} is not one of {list(LANGS)}")
    return lang


def metric_name(metric: str, lang: str = DEFAULT_LANG) -> str:
    pair = METRICS.get(metric)
    return _pick(pair, lang) if pair else metric


def word(key: str, lang: str = DEFAULT_LANG) -> str:
    return _pick(WORDS[key], lang)


def colour_name(colour: str | None, lang: str = DEFAULT_LANG) -> str:
    if not colour:
        return word("no_data", lang)
    return _pick(COLOURS[colour], lang) if colour in COLOURS else colour


def group_name(group: str, lang: str = DEFAULT_LANG) -> str:
    pair = GROUPS.get(group)
    return _pick(pair, lang) if pair else group


#: the unit of every metric that is not a share (0..1, shown as a percentage)
UNITS: dict[str, str] = {
    "failures": "count",
    "down_hours": "h",
    "fault_rate_per_100_asset_months": "per100",
    "fault_rate_per_1000_asset_days": "per1000d",
    "mtbf_hours": "h",
    "mttr_hours": "h",
    "response_minutes_mean": "min",
    "response_minutes_p90": "min",
    "resolution_hours_mean": "h",
    "resolution_hours_p90": "h",
    "elevator_entrapments": "count",
    "elevator_entrapment_rate": "per100",
    "elevator_out_of_service_hours": "h",
    "fire_alarm_fault_rate": "per100",
    "water_pump_dry_run_events": "count",
    "water_pump_pressure_loss_hours": "h",
    "smart_bin_overflow_hours": "h",
    "hotline_complaint_density": "per100",
    "hotline_complaints": "count",
    "inspection_score": "score",
}
UNIT_NAMES: dict[str, tuple[str, str]] = {
    "count": ("次", ""),
    "h": ("小时", "h"),
    "min": ("分钟", "min"),
    "per100": ("每百台月", "per 100 asset-months"),
    "per1000d": ("每千台日", "per 1,000 asset-days"),
    "score": ("分", "points"),
}


def value_text(metric: str, value: float | None, lang: str = DEFAULT_LANG) -> str:
    """A metric's value with its unit in ``lang`` ("no data" when None)."""
    if value is None:
        return word("no_data", lang)
    unit = UNITS.get(metric, "share")
    if unit == "share":
        return f"{value * 100:.2f}%"
    if unit == "count":
        return f"{value:g}"
    return f"{value:.2f} {_pick(UNIT_NAMES[unit], lang)}".rstrip()


def inspection_text(per_month: int | None, weekly: bool, plan: bool, lang: str = DEFAULT_LANG) -> str:
    """Next quarter's inspections in words (the scheme's ``inspections`` for a colour)."""
    if per_month is None:
        return word("no_data", lang)
    if weekly:
        text = word("weekly", lang)
    elif per_month == 0:
        text = word("none", lang)
    else:
        text = word("per_month", lang).format(n=per_month)
    return text + (word("rectification", lang) if plan else "")


_NOT_ENDED = re.compile(r"^(\S+) has not ended \(it ends (\S+)\)$")  # before the estates' calendar (UTC ISO)
_NOT_ENDED_LOCAL = re.compile(
    r"^(\S+) has not ended \(it ends (\d{4}-\d\d-\d\d \d\d:\d\d) \(Asia/Shanghai\)\)$"
)
_OBSERVED = re.compile(r"^only ([\d.]+)% of (\S+)'s asset-hours were observed \(final needs (\d+)%\)$")


def provisional_text(reason: str, lang: str = DEFAULT_LANG) -> str:
    """Why a period is provisional (``evaluation.ratings.provisional_reason``), in ``lang``."""
    if lang != "zh" or not reason:
        return reason
    if m := _NOT_ENDED_LOCAL.match(reason):
        return f"{m[1]} 尚未结束（北京时间 {m[2]} 结束）"
    if m := _NOT_ENDED.match(reason):
        end = dt.datetime.fromisoformat(m[2]).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
        return f"{m[1]} 尚未结束（{end} 结束）"
    if m := _OBSERVED.match(reason):
        return f"{m[2]} 仅监测到 {m[1]}% 的设备时长（正式发布需 {m[3]}%）"
    return reason
