"""Alarm console, rules and channels over the API (SQLite): filters, roles, 409/422 naming the field,
safe destinations."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from facility.contract import AssetKind, AssetRef, Event, EventType
from maintenance.alarms.engine import AlarmEngine
from tests.integration.test_orders_api import Api, make_api
from tests.maint_helpers import T0

pytestmark = pytest.mark.integration
PUMP = AssetRef("jinhu", "t1", AssetKind.WATER_PUMP, "jinhu-t1-wp1")
FIRE = AssetRef("lvyuan", "b1", AssetKind.FIRE_ALARM, "lvyuan-b1-fa1")


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Iterator[Api]:
    tmp = tmp_path_factory.mktemp("alarms-api")
    for a in make_api(f"sqlite:///{tmp / 'api.db'}", tmp):
        ms = int(T0.timestamp() * 1000)
        hour = 3_600_000
        AlarmEngine(a.db).handle(
            [Event(PUMP, ms + i * hour, EventType.ALARM, "low_pressure") for i in range(4)]
            + [Event(FIRE, ms, EventType.ALARM, "fire_alarm")]
        )
        yield a


def test_the_console_lists_one_alarm_per_rule_with_counts_and_filters(api: Api) -> None:
    r = api.client.get("/api/v1/alarms?kind=water_pump&open=true", headers=api.h("viewer"))
    assert r.status_code == 200, r.text
    by_rule = {a["rule"]: a for a in r.json()["alarms"]}
    assert (by_rule["low_pressure"]["count"], by_rule["low_pressure"]["state"]) == (4, "active")
    rep = by_rule["low_pressure_repeated"]
    assert (rep["count"], rep["severity"], rep["building"]) == (4, "major", "t1")
    assert rep["order"] is not None
    linked = api.client.get(f"/api/v1/alarms?order={rep['order']}", headers=api.h("viewer")).json()
    assert sorted(a["rule"] for a in linked["alarms"]) == ["low_pressure", "low_pressure_repeated"]
    assert api.client.get("/api/v1/alarms?severity=critical", headers=api.h("viewer")).json()["total"] == 1
    assert (
        api.client.get("/api/v1/alarms?estate=jinhu&kind=fire_alarm", headers=api.h("viewer")).json()["total"]
        == 0
    )
    counts = api.client.get("/api/v1/alarms/counts", headers=api.h("viewer")).json()
    assert counts["estates"]["jinhu"] == {"major": 2, "total": 2, "unacknowledged": 2}
    assert counts["buildings"]["lvyuan/b1"]["critical"] == 1
    bad = api.client.get("/api/v1/alarms?severity=loud", headers=api.h("viewer"))
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "severity"]
    assert api.client.get("/api/v1/alarms").status_code == 401


def test_acknowledge_and_clear_with_roles(api: Api) -> None:
    alarms = api.client.get("/api/v1/alarms?kind=water_pump", headers=api.h("viewer")).json()["alarms"]
    low = next(a for a in alarms if a["rule"] == "low_pressure")
    url = f"/api/v1/alarms/{low['id']}"
    assert api.client.post(f"{url}/acknowledge", headers=api.h("viewer")).status_code == 403
    r = api.client.post(f"{url}/acknowledge", json={"note": "on my way"}, headers=api.h("crew"))
    assert (r.status_code, r.json()["state"], r.json()["acknowledged_by"]) == (200, "acknowledged", "crew:li")
    again = api.client.post(f"{url}/acknowledge", headers=api.h("crew"))
    assert again.status_code == 409 and "already acknowledged" in again.json()["detail"]
    assert api.client.post(f"{url}/clear", headers=api.h("crew")).status_code == 403
    r = api.client.post(f"{url}/clear", headers=api.h("engineer"))
    assert (r.json()["state"], r.json()["cleared_by"]) == ("cleared", "engineer:engineer")
    fire = api.client.get("/api/v1/alarms?kind=fire_alarm", headers=api.h("viewer")).json()["alarms"][0]
    r = api.client.post(f"/api/v1/alarms/{fire['id']}/clear", headers=api.h("engineer"))
    assert r.status_code == 409 and "outcome" in r.json()["detail"]
    r = api.client.post(
        f"/api/v1/alarms/{fire['id']}/clear", json={"outcome": "false_alarm"}, headers=api.h("engineer")
    )
    assert (r.json()["state"], r.json()["outcome"]) == ("cleared_unacknowledged", "false_alarm")
    assert api.client.post("/api/v1/alarms/99999/acknowledge", headers=api.h("admin")).status_code == 404


RULE = {
    "kind": "water_pump",
    "key": "outlet_pressure_low",
    "type": "threshold",
    "severity": "critical",
    "params": {
        "field": "outlet_pressure_mpa",
        "op": "<",
        "value": 0.2,
        "for_s": 120,
        "clear": 0.24,
        "unit": "MPa",
    },
    "estate": "jinhu",
}


@pytest.mark.parametrize(
    ("change", "loc", "words"),
    [
        (
            {"params": {**RULE["params"], "field": "pressure"}},
            ["body", "params", "field"],
            "no field 'pressure'",
        ),
        ({"params": {**RULE["params"], "unit": "bar"}}, ["body", "params", "unit"], "'MPa'"),
        ({"params": {**RULE["params"], "value": 7.5}}, ["body", "params", "value"], "outside"),
        ({"params": {**RULE["params"], "speed": 1}}, ["body", "params", "speed"], "unknown field"),
        ({"estate": "nowhere"}, ["body", "estate"], "not in the registry"),
    ],
)
def test_bad_rules_are_422_naming_the_field(api: Api, change: dict, loc: list, words: str) -> None:
    r = api.client.put("/api/v1/alarm-rules", json={**RULE, **change}, headers=api.h("engineer"))
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == loc and words in r.json()["detail"][0]["msg"]


def test_an_estate_override_is_in_force_there_only(api: Api) -> None:
    assert api.client.put("/api/v1/alarm-rules", json=RULE, headers=api.h("viewer")).status_code == 403
    r = api.client.put("/api/v1/alarm-rules", json=RULE, headers=api.h("engineer"))
    assert r.status_code == 200, r.text
    here = api.client.get("/api/v1/alarm-rules?kind=water_pump&estate=jinhu", headers=api.h("viewer")).json()
    rule = next(x for x in here if x["key"] == "outlet_pressure_low")
    assert (rule["scope"], rule["severity"], rule["params"]["value"]) == ("estate:jinhu", "critical", 0.2)
    there = api.client.get(
        "/api/v1/alarm-rules?kind=water_pump&estate=lvyuan", headers=api.h("viewer")
    ).json()
    assert next(x for x in there if x["key"] == "outlet_pressure_low")["scope"] == "default"
    assert (
        api.client.delete(f"/api/v1/alarm-rules/{rule['id']}", headers=api.h("engineer")).status_code == 204
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8086/query?q=CREATE%20DATABASE%20x",
        "http://localhost:9/",
        "http://10.0.0.8/hook",
        "http://169.254.169.254/latest/meta-data/",
        "ftp://example.com/x",
    ],
)
def test_robot_and_webhook_urls_to_inner_addresses_are_422(api: Api, url: str) -> None:
    body = {"owner_type": "crew", "owner_id": "lift-a", "type": "wecom", "target": url}
    r = api.client.post("/api/v1/channels", json=body, headers=api.h("engineer"))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "target"], r.text
    r = api.client.patch("/api/v1/crews/lift-a", json={"webhook_url": url}, headers=api.h("engineer"))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "webhook_url", r.text


def test_channels_are_listed_with_their_last_error_and_no_secret(api: Api) -> None:
    body = {
        "owner_type": "crew", "owner_id": "lift-a", "type": "dingtalk", "secret": "SECabcdef123",
        "target": "https://93.184.216.34/robot/send?access_token=x", "quiet_start": 22, "quiet_end": 7,
    }  # fmt: skip
    r = api.client.post("/api/v1/channels", json=body, headers=api.h("engineer"))
    assert r.status_code == 201, r.text
    out = api.client.get("/api/v1/channels?owner_id=lift-a", headers=api.h("engineer")).json()
    assert [(c["type"], c["has_secret"], c["quiet_hours"], c["last_error"]) for c in out] == [
        ("dingtalk", True, [22, 7], None)
    ]
    assert "secret" not in out[0]
    no_secret = {**body, "secret": None}
    r = api.client.post("/api/v1/channels", json=no_secret, headers=api.h("engineer"))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "secret"]


def test_the_stream_replays_changes_after_an_id_to_a_plain_client(api: Api) -> None:
    assert api.client.get("/api/v1/stream").status_code == 401
    r = api.client.get("/api/v1/stream?after=0&topics=alarm", headers=api.h("crew"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    blocks = [b for b in r.text.split("\n\n") if b.startswith("id: ")]
    assert blocks and all("\nevent: alarm\n" in b for b in blocks)
    assert any('"rule":"low_pressure_repeated"' in b and '"event":"raised"' in b for b in blocks)
    ids = [int(b.split("\n")[0][4:]) for b in blocks]
    assert ids == sorted(ids)
    rest = api.client.get(f"/api/v1/stream?after={ids[-1]}&topics=alarm", headers=api.h("crew"))
    assert [b for b in rest.text.split("\n\n") if b.startswith("id: ")] == []
