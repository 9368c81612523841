"""Out-of-range ids, dates and periods are a 422 naming the parameter (they were 500s: issue 15 item 5)."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import TypeAdapter, ValidationError

from api.params import INT64_MAX, Instant, Month, PeriodText, Quarter, RowId
from tests.security.conftest import EL, Site

pytestmark = pytest.mark.integration

BIG = str(INT64_MAX + 1)  # 9223372036854775808
CASES = [
    # (method, path, parameter named in the 422)
    ("GET", f"/api/v1/orders/{BIG}", "order_id"),
    ("GET", "/api/v1/orders/0", "order_id"),
    ("POST", f"/api/v1/orders/{BIG}/transitions", "order_id"),
    ("POST", f"/api/v1/orders/{BIG}/assign", "order_id"),
    ("GET", "/api/v1/events?start=1600-01-01T00:00:00Z", "start"),
    ("GET", "/api/v1/events?end=9999-12-31T00:00:00Z", "end"),
    ("GET", f"/api/v1/assets/{EL}/history?field=vibration_mm_s&start=1000-01-01T00:00:00Z", "start"),
    ("GET", f"/api/v1/assets/{EL}/forecast?at=9999-12-31T00:00:00Z", "at"),
    ("GET", "/api/v1/forecasts/ranking?at=1677-01-01T00:00:00Z", "at"),
    ("GET", "/api/v1/ratings/monthly/2026-10?as_of=9999-12-31T00:00:00Z", "as_of"),
    ("GET", "/api/v1/ratings/figures/0001-01", "period"),
    ("GET", "/api/v1/ratings/quarterly/9999Q1", "quarter"),
    ("GET", f"/api/v1/ratings/ledger/{BIG}", "seq"),
    ("GET", f"/api/v1/assets/{EL}/timeline?since=0001-01-01T00:00:00Z", "since"),
]


@pytest.mark.parametrize(("method", "path", "param"), CASES, ids=[c[1] for c in CASES])
def test_out_of_range_is_422_naming_the_parameter(site: Site, method: str, path: str, param: str) -> None:
    r = site.client.request(method, path, headers=site.h("admin"), json={} if method == "POST" else None)
    assert r.status_code == 422, r.text
    assert param in {str(e["loc"][-1]) for e in r.json()["detail"]}, r.text


def test_the_types() -> None:
    row = TypeAdapter(RowId)
    assert row.validate_python(INT64_MAX) == INT64_MAX
    for bad in (0, INT64_MAX + 1):
        with pytest.raises(ValidationError):
            row.validate_python(bad)
    instant = TypeAdapter(Instant)
    naive = dt.datetime(2026, 3, 1, 8)
    assert instant.validate_python(naive) == naive  # passed on unchanged; the route decides about naive times
    with pytest.raises(ValidationError, match="between 2000-01-01 and 2100-01-01"):
        instant.validate_python(dt.datetime(2100, 1, 1, tzinfo=dt.UTC))
    assert TypeAdapter(Month).validate_python("2026-03") == "2026-03"
    assert TypeAdapter(Quarter).validate_python("2026Q1") == "2026Q1"
    for adapter, bad in ((Month, "2026-13"), (Month, "1999-12"), (Quarter, "2026Q5"), (PeriodText, "x2026")):
        with pytest.raises(ValidationError):
            TypeAdapter(adapter).validate_python(bad)
    assert TypeAdapter(PeriodText).validate_python("2026-10-05") == "2026-10-05"
