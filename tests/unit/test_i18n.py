"""The message catalogue: both languages complete, language negotiation, local times, contract field names."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from facility import i18n
from facility.contract import SCHEMAS, AssetKind
from maintenance.domain import OrderState, OrderType, Priority


def test_both_catalogues_have_the_same_keys_and_placeholders() -> None:
    zh, en = i18n.catalogue("zh"), i18n.catalogue("en")
    assert set(zh) == set(en)
    for key in zh:
        assert set(re.findall(r"\{(\w+)\}", zh[key])) == set(re.findall(r"\{(\w+)\}", en[key])), key


def test_every_code_a_page_shows_has_a_name_in_both_languages() -> None:
    keys = [f"order.state.{s.value}" for s in OrderState]
    keys += [f"order.type.{x.value}" for x in OrderType] + [f"priority.{p.value}" for p in Priority]
    keys += [f"kind.{k.value}" for k in AssetKind]
    keys += [f"code.{c}" for s in SCHEMAS.values() for c in (*s.fault_codes, *s.alarm_codes)]
    for lang in ("zh", "en"):
        missing = [k for k in keys if k not in i18n.catalogue(lang)]
        assert missing == [], lang
    assert i18n.t("order.state.assigned", "zh") == "已派单"
    assert i18n.t("order.state.assigned", "en") == "assigned"


def test_every_contract_field_has_a_chinese_and_an_english_name() -> None:
    for kind, schema in SCHEMAS.items():
        for f in schema.fields:
            zh, en = i18n.field_label(kind, f.name, "zh"), i18n.field_label(kind, f.name, "en")
            assert zh != f.name and en != f.name and re.search(r"[\u4e00-\u9fff]", zh), (kind, f.name)
    assert i18n.field_label("water_pump", "flow_m3h", "zh") == "流量"
    assert i18n.page_catalogue("en")["field.water_pump.flow_m3h"] == "Flow"


def test_placeholders_are_filled_and_unknown_keys_come_back() -> None:
    assert i18n.t("page.order", "en", id=7) == "Order #7"
    assert i18n.t("page.order", "zh", id=7) == "工单 #7"
    assert i18n.t("no.such.key", "en") == "no.such.key"
    assert i18n.unit_label("count", "zh") == "次"
    assert i18n.unit_label("bool", "zh") == ""
    assert i18n.unit_label("MPa", "zh") == "MPa"


@pytest.mark.parametrize(
    ("query", "cookie", "header", "expected"),
    [
        (None, None, None, "zh"),
        (None, None, "en-US,en;q=0.9", "en"),
        (None, None, "fr-FR,en;q=0.5,zh-CN;q=0.8", "zh"),
        (None, None, "de, fr", "zh"),
        (None, "en", "zh-CN", "en"),
        ("zh-CN", "en", "en", "zh"),
        ("xx", None, "en", "en"),
    ],
)
def test_language_comes_from_query_then_cookie_then_header(query, cookie, header, expected) -> None:
    assert i18n.pick_language(query, cookie, header) == expected


def test_times_are_shown_in_shanghai_never_utc() -> None:
    t = dt.datetime(2026, 11, 23, 16, 30, tzinfo=dt.UTC)
    assert i18n.format_local(t, "zh") == "2026-11-24 00:30"
    assert i18n.format_local(t, "en") == "24 Nov 2026 00:30"
    assert i18n.format_local(None) == "—"
    with pytest.raises(ValueError, match="naive datetime"):
        i18n.format_local(dt.datetime(2026, 1, 1))
