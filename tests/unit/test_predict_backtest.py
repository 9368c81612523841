"""Backtests on the shared public data, the CLI's JSON and its bad-input sentences."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import pytest

from facility.cli import UserError
from predict import cli
from predict.backtest import run_backtest
from predict.data import load_lifetimes, load_series, series_table
from predict.features import WindowSpec
from tests.conftest import SHARED_DATA

MAINTENANCE = SHARED_DATA / "pysurvival" / "maintenance.csv"
CMAPSS_TRAIN = SHARED_DATA / "cmapss" / "train_FD001.txt"


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    assert args.func(args) == 0
    return capsys.readouterr().out


def test_maintenance_backtest_beats_kaplan_meier(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["backtest", "--csv", str(MAINTENANCE), "--duration-col", "lifetime", "--event-col", "broken"]
    out = run_cli([*argv, "--sep", ";", "--splits", "2", "--json"], capsys)
    assert len(out.strip().splitlines()) == 1
    report = json.loads(out)
    assert report["n"] == 1000
    assert report["events"] == 397
    assert report["splits"] == 2
    for key in ("c_index_harrell", "c_index_uno", "integrated_brier_score", "fit_seconds", "predict_seconds"):
        assert (
            key in report and key in report["baselines"]["kaplan_meier"] and key in report["baselines"]["cox"]
        )
    assert report["c_index_harrell"] > 0.9
    assert report["c_index_uno"] > 0.9
    km = report["baselines"]["kaplan_meier"]
    assert km["c_index_harrell"] == 0.5
    assert report["integrated_brier_score"] < km["integrated_brier_score"]


def test_cmapss_series_through_the_feature_code_reaches_target() -> None:
    series = load_series(CMAPSS_TRAIN, "c1", "c2", sep="ws", header=False)
    assert len(series.lifetimes) == 100 and all(life.event for life in series.lifetimes)
    data = series_table(series, WindowSpec(30, 5, stats=("level", "trend")), step=20)
    report = run_backtest(data, splits=2)
    assert report["n"] == 100 and report["events"] == 100
    assert report["c_index_harrell"] >= 0.80
    assert report["integrated_brier_score"] < report["baselines"]["kaplan_meier"]["integrated_brier_score"]


def write(tmp_path: Path, frame: pd.DataFrame) -> str:
    path = tmp_path / "history.csv"
    frame.to_csv(path, index=False)
    return str(path)


def small(n: int = 20) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "days": range(1, n + 1),
            "failed": [i % 2 for i in range(n)],
            "load": range(n),
            "site": ["a", "b"] * (n // 2),
        }
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda f: f.drop(columns=["failed"]),
            "column 'failed' is not in the file (columns: days, load, site): pass the right name with --event-col",
        ),
        (
            lambda f: f.assign(days=[-3, *range(2, 21)]),
            "duration column 'days' has 1 negative values (first at data row 1, -3): a duration is the time from "
            "install or last repair to failure or censoring, so it must be 0 or more",
        ),
        (
            lambda f: f.assign(failed=["yes", "no"] * 10),
            "event column 'failed' must hold 0 (still running, censored) or 1 (failed), but has 'yes', 'no': "
            "recode it to 0/1",
        ),
        (
            lambda f: f.assign(failed=0),
            "event column 'failed' is 0 on every row (a single class, no failures): a survival model needs some "
            "observed failures, so add lifetimes that ended in failure",
        ),
    ],
)
def test_bad_input_gets_one_sentence(tmp_path: Path, change, message: str, capsys) -> None:
    path = write(tmp_path, change(small()))
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["backtest", "--csv", path, "--duration-col", "days", "--event-col", "failed"])
    with pytest.raises(UserError) as err:
        args.func(args)
    assert str(err.value) == message


def test_lifetimes_covariates_numeric_as_is_text_one_hot(tmp_path: Path) -> None:
    data = load_lifetimes(write(tmp_path, small()), "days", "failed")
    assert list(data.X.columns) == ["load", "site_b"]
    assert data.X["site_b"].tolist()[:4] == [0.0, 1.0, 0.0, 1.0]
    assert data.event.sum() == 10
