import pytest

from ingest.influx import InfluxClient, InfluxRejected, InfluxUnavailable

pytestmark = pytest.mark.integration


def test_write_then_query_returns_the_values(influx: InfluxClient) -> None:
    influx.write(["elevator,asset=e1 vibration_mm_s=1.5,trips=3i 1700000000000"])
    rows = influx.records('SELECT * FROM "elevator"')
    assert rows == [{"time": 1700000000000, "asset": "e1", "trips": 3, "vibration_mm_s": 1.5}]


def test_same_series_and_timestamp_overwrites(influx: InfluxClient) -> None:
    influx.write("elevator,asset=e1 trips=3i 1700000000000")
    influx.write("elevator,asset=e1 trips=3i 1700000000000")
    assert influx.records('SELECT count(trips) FROM "elevator"')[0]["count"] == 1


def test_bad_line_is_rejected_not_unavailable(influx: InfluxClient) -> None:
    with pytest.raises(InfluxRejected):
        influx.write("elevator,asset=e1 trips= 1700000000000")


def test_unreachable_server_is_unavailable() -> None:
    from facility.services.ports import free_port

    with InfluxClient(f"http://127.0.0.1:{free_port()}", "x", timeout_s=1) as client:
        assert not client.ping()
        with pytest.raises(InfluxUnavailable):
            client.write("m v=1 1")
