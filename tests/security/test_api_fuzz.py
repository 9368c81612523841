"""A bounded property-based fuzz of the whole API from its OpenAPI schema (bench/fuzz_api.py runs longer):
every operation gets generated requests, valid and invalid, with an admin token; none may answer 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.fuzz_api import fuzz, fuzz_site
from facility.services.influxd import InfluxServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fuzz_app(influx_server: InfluxServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Its own store: fuzzed POSTs change crews, orders and the registry, which other tests rely on."""
    with fuzz_site(influx_server.url, "t_api_fuzz", Path(tmp_path_factory.mktemp("fuzz"))) as site:
        yield site


def test_no_fuzzed_request_gets_a_server_error(fuzz_app: Any) -> None:
    app, headers = fuzz_app
    result = fuzz(app, headers, seconds=600, examples=2)  # bounded by examples, not by time
    assert result.failures == []
    assert result.errors == []
    # every operation of the schema was reached, most with more than one request
    assert result.operations == len([1 for p in app.openapi()["paths"].values() for _ in p])
    assert result.requests >= 1.5 * result.operations
