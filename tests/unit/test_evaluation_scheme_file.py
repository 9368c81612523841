"""A scheme file is refused with the line and the reason; cut-off curves are continuous and piecewise linear;
every indicator has a Chinese and an English name."""

from __future__ import annotations

import pytest

from evaluation.names import METRICS
from evaluation.scheme import DEFAULT_SCHEME, SchemeError, load_scheme

TEXT = DEFAULT_SCHEME.read_text(encoding="utf-8")


def _line(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if needle in line)


def _refused(tmp_path, text: str) -> str:
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SchemeError) as err:
        load_scheme(path)
    return str(err.value)


def test_weights_not_adding_up_name_the_line(tmp_path):
    bad = TEXT.replace("metric: rework_rate, weight: 5", "metric: rework_rate, weight: 7")
    msg = _refused(tmp_path, bad)
    assert msg.startswith(
        f"{tmp_path / 's.yaml'}, line {_line(bad, 'indicators:')}: weights add up to 102, not 100"
    )


def test_unknown_indicator_names_its_line(tmp_path):
    bad = TEXT.replace("metric: follow_up_rate", "metric: follow_up")
    msg = _refused(tmp_path, bad)
    assert (
        f"line {_line(bad, 'metric: follow_up,')}: indicator 'follow_up': unknown metric 'follow_up'" in msg
    )
    assert "did you mean 'follow_up_rate'?" in msg


def test_cutoffs_out_of_order_name_the_line(tmp_path):
    curve = "curve: [[0.80, 0], [0.95, 80], [0.90, 100]]"
    bad = TEXT.replace("zero: 0.80, full: 0.98,", curve + ",")
    msg = _refused(tmp_path, bad)
    assert (
        f"line {_line(bad, 'curve: [[0.80')}: indicator 'intactness': cut-offs out of order: value 0.9 (#3) after 0.95"
        in msg
    )
    falling_points = TEXT.replace("zero: 0.80, full: 0.98,", "curve: [[0.80, 0], [0.95, 80], [0.98, 70]],")
    assert "cut-offs out of order: 70 points (#3) after 80" in _refused(tmp_path, falling_points)


def test_unknown_incident_indicator_is_refused(tmp_path):
    bad = TEXT.replace("entrapment: [entrapments]", "entrapment: [entrapment_rate]")
    msg = _refused(tmp_path, bad)
    assert f"line {_line(bad, 'entrapment: [entrapment_rate]')}: incidents.entrapment: expected a list" in msg


def test_curve_is_continuous_and_linear_between_cutoffs(tmp_path):
    good = TEXT.replace("zero: 0.80, full: 0.98,", "curve: [[0.80, 0], [0.95, 80], [0.98, 100]],")
    path = tmp_path / "c.yaml"
    path.write_text(good, encoding="utf-8")
    ind = next(i for i in load_scheme(path).indicators if i.name == "intactness")
    assert [ind.points(v) for v in (0.5, 0.80, 0.875, 0.95, 0.965, 0.98, 1.0)] == pytest.approx(
        [0, 0, 40, 80, 90, 100, 100]
    )
    lower_is_better = next(i for i in load_scheme().indicators if i.name == "fault_rate")
    assert lower_is_better.points(11) == pytest.approx(50.0)  # (20 - 11) / (20 - 2)


def test_every_indicator_and_metric_has_both_names():
    s = load_scheme()
    for i in s.indicators:
        assert i.label("zh") and i.label("en") and i.label("zh") != i.label("en")
    from evaluation.metrics import CATALOGUE

    assert set(CATALOGUE) <= set(METRICS)
