"""``facility backtest`` / ``facility train`` / ``facility forecast``: survival models on a company's own files."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import TYPE_CHECKING, Any

import numpy as np

from facility.cli import UserError
from facility.settings import Settings
from ingest.influx import InfluxClient
from predict.backtest import run_backtest
from predict.data import DataError, SurvivalData, load_lifetimes, load_series, series_table
from predict.features import DEFAULT_BUCKETS, DEFAULT_WINDOW_DAYS, WindowSpec
from predict.models import FitFailed
from predict.registry import ModelRegistry, model_summary

if TYPE_CHECKING:
    from maintenance.db import Database

SERIES_DEFAULTS = {"window": 30.0, "buckets": 5, "step": 20.0}


def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--csv", required=True, metavar="FILE", help="the history file")
    p.add_argument("--duration-col", metavar="NAME", help="lifetimes shape: time to failure or censoring")
    p.add_argument(
        "--event-col", metavar="NAME", help="1 = failed, 0 = still running (series: on the last row)"
    )
    p.add_argument("--id-col", metavar="NAME", help="asset id (rows of one asset stay in one split)")
    p.add_argument("--sep", default=",", help="field separator; 'ws' for runs of whitespace (default ,)")
    p.add_argument(
        "--series", action="store_true", help="per-asset time series (C-MAPSS shape), see docs/predict.md"
    )
    p.add_argument("--time-col", metavar="NAME", help="series shape: the asset's age at each reading")
    p.add_argument(
        "--no-header", action="store_true", help="the file has no header row; columns are c1, c2, …"
    )
    p.add_argument("--window", type=float, default=SERIES_DEFAULTS["window"], help="series: look-back window")
    p.add_argument("--buckets", type=int, default=int(SERIES_DEFAULTS["buckets"]), help="series: sub-windows")
    p.add_argument("--step", type=float, default=SERIES_DEFAULTS["step"], help="series: landmark spacing")
    p.add_argument("--seed", type=int, default=0)


def load_data(args: argparse.Namespace) -> tuple[SurvivalData, dict[str, Any]]:
    """The data and its feature spec from the command line; DataError becomes a one-sentence UserError."""
    try:
        if args.series:
            if not args.id_col or not args.time_col:
                raise UserError("the series shape needs --id-col and --time-col naming the asset and its age")
            if not args.window > 0 or not args.step > 0 or args.buckets < 1:
                raise UserError("--window and --step must be positive and --buckets at least 1")
            series = load_series(
                args.csv, args.id_col, args.time_col, args.event_col, args.sep, not args.no_header
            )
            spec = WindowSpec(args.window, args.buckets, stats=("level", "trend"))
            spec_meta = {
                "window": spec.window,
                "buckets": spec.buckets,
                "stats": list(spec.stats),
                "step": args.step,
            }
            return series_table(series, spec, args.step), spec_meta
        if not args.duration_col or not args.event_col:
            raise UserError(
                "the lifetimes shape needs --duration-col and --event-col (for per-asset time series pass --series "
                "with --id-col and --time-col)"
            )
        return load_lifetimes(args.csv, args.duration_col, args.event_col, args.id_col, args.sep), {}
    except DataError as exc:
        raise UserError(str(exc)) from None


def _backtest(args: argparse.Namespace) -> int:
    if args.splits < 1:
        raise UserError(f"--splits must be at least 1, but was {args.splits}")
    data, _ = load_data(args)
    try:
        report = run_backtest(data, splits=args.splits, seed=args.seed)
    except DataError as exc:
        raise UserError(str(exc)) from None
    except FitFailed as exc:
        raise UserError(f"{exc}") from None
    if args.json:
        print(json.dumps(report, default=_plain))
    else:
        base = report["baselines"]
        print(
            f"{report['n']} assets, {report['events']} failures, {report['splits']} splits; model {report['model']}"
        )
        for name, row in (("model", report), ("kaplan-meier", base["kaplan_meier"]), ("cox", base["cox"])):
            print(
                f"  {name:13s} Harrell C {row['c_index_harrell']}  Uno C {row['c_index_uno']}  "
                f"IBS {row['integrated_brier_score']}"
            )
    return 0


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def _train(args: argparse.Namespace) -> int:
    from predict.train import train_model

    data, spec = load_data(args)
    registry = ModelRegistry(Settings().var_dir / "models")
    try:
        meta = train_model(
            data,
            args.kind,
            registry,
            dt.datetime.now(dt.UTC),
            horizon=args.horizon,
            splits=args.splits,
            features_spec=spec,
            time_unit=args.time_unit,
            seed=args.seed,
        )
    except FitFailed as exc:
        raise UserError(f"training failed, the previous model stays in service: {exc}") from None
    except (DataError, ValueError) as exc:
        raise UserError(str(exc)) from None
    print(
        json.dumps(
            {"kind": meta.kind, "version": meta.version, "model": meta.model, "threshold": meta.threshold}
        )
    )
    return 0


def _influx(settings: Settings) -> InfluxClient:
    return InfluxClient.from_settings(settings)


def _store_error(settings: Settings, exc: Exception) -> UserError:
    from sqlalchemy import make_url

    url = make_url(settings.sqlalchemy_url).render_as_string(hide_password=True)
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    return UserError(
        f"cannot read the work-order store at {url} ({reason}): start the database, or pass --no-orders to "
        "use InfluxDB's recovery events only (preventive repairs are then not seen)"
    )


def _store(settings: Settings, args: argparse.Namespace) -> Database | None:
    """The work-order store (its repairs feed lifetimes and ``since_repair``) unless ``--no-orders``."""
    from sqlalchemy.exc import SQLAlchemyError

    from predict.repairs import configured_store

    if args.no_orders:
        return None
    try:
        return configured_store(settings)
    except SQLAlchemyError as exc:
        raise _store_error(settings, exc) from None


def _train_telemetry(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from facility.contract import AssetKind
    from ingest.influx import InfluxError
    from predict.jobs import train_from_telemetry
    from predict.repairs import order_log

    try:
        kind = AssetKind(args.kind)
    except ValueError:
        raise UserError(f"unknown kind {args.kind!r}: use one of {[k.value for k in AssetKind]}") from None
    if args.days <= args.window:
        raise UserError(f"--days ({args.days}) must exceed the feature --window ({args.window})")
    settings = Settings()
    store = _store(settings, args)
    client = _influx(settings)
    try:
        meta = train_from_telemetry(
            client,
            ModelRegistry(settings.var_dir / "models"),
            kind,
            dt.datetime.now(dt.UTC),
            days=args.days,
            window=args.window,
            buckets=args.buckets,
            step=args.step,
            horizon=args.horizon,
            splits=args.splits,
            seed=args.seed,
            repairs=order_log(store) if store is not None else None,
        )
    except InfluxError as exc:
        raise UserError(f"cannot read telemetry: {exc}") from None
    except SQLAlchemyError as exc:
        raise _store_error(settings, exc) from None
    except FitFailed as exc:
        raise UserError(f"training failed, the previous model stays in service: {exc}") from None
    except (DataError, ValueError) as exc:
        raise UserError(str(exc)) from None
    finally:
        client.close()
        if store is not None:
            store.dispose()
    print(
        json.dumps(
            {
                "kind": meta.kind,
                "version": meta.version,
                "model": meta.model,
                "threshold": meta.threshold,
                "repairs": meta.features_spec.get("repairs"),
            }
        )
    )
    return 0


def _crews_arg(text: str | None) -> list[Any] | None:
    from predict.planner import CrewSpec

    if text is None:
        return None
    crews = []
    for item in text.split(","):
        name, _, cap = item.partition("=")
        if not name or not cap.isdigit():
            raise UserError(f"--crews item {item!r} is not NAME=ORDERS_PER_DAY, e.g. crew-a=3")
        crews.append(CrewSpec(name, capacity=int(cap)))
    return crews


def _plan(args: argparse.Namespace) -> int:
    """Forecast the fleet from live telemetry and print the preventive orders the planner would create."""
    from dataclasses import asdict

    from sqlalchemy.exc import SQLAlchemyError

    from predict.jobs import planner_settings, store_crews, visits_and_evidence
    from predict.planner import PlannerSettings, plan_work_orders
    from predict.repairs import down_source, repair_source
    from predict.service import ForecastService, NoModel

    now = dt.datetime.fromisoformat(args.at) if args.at else dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        raise UserError(f"--at {args.at!r} has no time zone: add one, e.g. {args.at}+08:00")
    crews = _crews_arg(args.crews)
    settings = Settings()
    store = _store(settings, args)
    if crews is None and store is None:
        raise UserError(
            "no work-order store to read the crews from: pass --crews NAME=ORDERS_PER_DAY,... (e.g. crew-1=3)"
        )
    client = _influx(settings)
    try:
        if crews is None and store is not None:
            crews = store_crews(store)
            if not crews:
                raise UserError(
                    "the store has no active crews: add some (facility registry import) or pass --crews"
                )
        service = ForecastService(
            settings,
            client,
            repairs=repair_source(store) if store is not None else None,
            write_features=False,
            down=down_source(store) if store is not None else None,
        )
        report = service.ranking_report(now)
        kinds = {f.kind for f in report.forecasts}
        # as the worker: the kinds' thresholds, a cool-down of one feature window after a visit (lifted by an
        # alarm or fault since), no proposal for an asset with an open order or proposal in the store
        cfg = planner_settings(
            PlannerSettings(risk_threshold=args.threshold), service, kinds, auto_approve=args.auto_approve
        )
        visits, evidence = visits_and_evidence(service, kinds, now)
        estates = {a.id: a.ref.estate for a in service.fleet.assets}
        blocked = set(args.open or []) | _open_order_assets(store)
        orders = plan_work_orders(
            report.forecasts,
            blocked,
            crews or [],
            now,
            cfg,
            estates=estates,
            last_visits=visits,
            evidence=evidence,
        )
    except NoModel as exc:
        raise UserError(str(exc)) from None
    except SQLAlchemyError as exc:
        raise _store_error(settings, exc) from None
    finally:
        client.close()
        if store is not None:
            store.dispose()
    if report.down:
        reasons = ", ".join(f"{d.asset} ({d.reason})" for d in report.down)
        print(f"left out, down: {len(report.down)}: {reasons}", file=sys.stderr)
    print(json.dumps([asdict(o) for o in orders], default=str))
    return 0


def _open_order_assets(store: Database | None) -> set[str]:
    """The assets with an open order (any type, proposals too) in the work-order store; none without one."""
    if store is None:
        return set()
    from maintenance.preventive import open_order_assets

    with store.transaction() as s:
        return open_order_assets(s)


def _models(args: argparse.Namespace) -> int:
    registry = ModelRegistry(Settings().var_dir / "models")
    out: list[dict[str, Any]] = []
    for kind in registry.kinds():
        current = registry.current(kind)
        row: dict[str, Any] = model_summary(current) if current else {"kind": kind, "version": None}
        out.append(row | {"versions": len(registry.versions(kind))})
    if args.json:
        json.dump(out, sys.stdout)
        print()
        return 0
    for row in out:
        if row.get("version") is None:
            print(f"{row['kind']}: no current version")
            continue
        brier, km = row["held_out_brier_30d"], row["kaplan_meier_brier_30d"]
        figures = (
            f"held-out Brier 30 d {brier} vs Kaplan-Meier {km}"
            if brier is not None
            else "no held-out figures"
        )
        print(f"{row['kind']}: {row['version']} serves {row['served']} ({figures})")
        if row.get("served_reason"):
            print(f"    why: {row['served_reason']}")
        print(f"    {_threshold_line(row.get('plan_threshold') or {})}")
        for r in row["reliability"]:
            print(f"    predicted {r['predicted']:.3f}  observed {r['observed']:.3f}  (n={r['n']})")
    return 0


def _threshold_line(t: dict[str, Any]) -> str:
    """The planner threshold of a model as `facility models` prints it."""
    if not t:
        return "planner threshold: none recorded (retrain)"
    basis = (
        f"target rate {t.get('target_rate')} = the reference probability (Kaplan-Meier rate "
        f"{t.get('km_rate')}, shown, not a floor); {t.get('known_rows')} held-out rows with a known outcome "
        f"({t.get('known_failed')} failed, {t.get('excluded_near_end')} near the data end left out)"
    )
    if t.get("probability") is None:
        return f"planner threshold: none, no predictive proposals ({t.get('reason')}); {basis}"
    return (
        f"planner threshold: P(fail in 30 d) >= {t['probability']:.3f} at criticality 3 "
        f"(held-out rate there {t.get('rate_at_threshold')}); {basis}"
    )


def _no_orders_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--no-orders",
        action="store_true",
        help="ignore the work-order store: repairs are InfluxDB's recovery events only (default: the store's "
        "resolved orders too, when one is configured)",
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "backtest",
        help="backtest survival models on your own repair history (C-index, Brier score vs baselines)",
        description="One row per asset lifetime (--duration-col, --event-col, other columns = covariates), or "
        "per-asset time series with --series. Prints figures averaged over --splits random splits by asset.",
    )
    _data_args(p)
    p.add_argument("--splits", type=int, default=5, help="random 70/30 splits by asset (default 5)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_backtest)

    t = sub.add_parser(
        "train", help="train and register a survival model for an asset kind from a history file"
    )
    _data_args(t)
    t.add_argument("--kind", required=True, help="the asset kind (or any model name) to register under")
    t.add_argument(
        "--horizon", type=float, default=30.0, help="planner horizon for the threshold (time units)"
    )
    t.add_argument("--splits", type=int, default=3, help="backtest splits recorded with the model (0: none)")
    t.add_argument("--time-unit", default="days", help="the unit of durations (default days)")
    t.set_defaults(func=_train)

    tt = sub.add_parser(
        "train-telemetry",
        help="train and register a survival model for an asset kind from InfluxDB telemetry and fault events",
        description="Lifetimes run from a repair to the next fault. Repairs are InfluxDB's recovery events and, "
        "when there is a work-order store (FACILITY_DATABASE_URL, or var/facility.db if it exists), its resolved "
        "orders: preventive visits send no event, so without the store they are not seen. Without a store "
        "(or with --no-orders) InfluxDB alone is used.",
    )
    tt.add_argument("--kind", required=True, help="elevator, fire_alarm, water_pump or smart_bin")
    tt.add_argument("--days", type=float, default=365.0, help="history to train on (default 365)")
    tt.add_argument(
        "--window",
        type=float,
        default=DEFAULT_WINDOW_DAYS,
        help=f"feature look-back window, days (default {DEFAULT_WINDOW_DAYS:g})",
    )
    tt.add_argument(
        "--buckets",
        type=int,
        default=DEFAULT_BUCKETS,
        help=f"sub-windows of the look-back window (default {DEFAULT_BUCKETS})",
    )
    tt.add_argument("--step", type=float, default=2.0, help="landmark spacing, days (default 2)")
    tt.add_argument("--horizon", type=float, default=30.0, help="planner horizon for the threshold, days")
    tt.add_argument("--splits", type=int, default=3, help="backtest splits recorded with the model (0: none)")
    tt.add_argument("--seed", type=int, default=0)
    _no_orders_arg(tt)
    tt.set_defaults(func=_train_telemetry)

    pl = sub.add_parser(
        "plan",
        help="forecast the fleet from live telemetry and print the preventive orders the planner proposes",
    )
    pl.add_argument("--at", help="plan as of this ISO time with zone (default now)")
    pl.add_argument(
        "--crews",
        help="NAME=ORDERS_PER_DAY,... crews that may take any kind anywhere (default: the store's crews, with "
        "their skills, estates and working hours)",
    )
    pl.add_argument(
        "--threshold", type=float, default=0.9, help="risk threshold for kinds without a backtest one"
    )
    pl.add_argument("--open", nargs="*", metavar="ASSET", help="assets that already have an open order")
    pl.add_argument("--auto-approve", action="store_true", help="orders need no engineer approval")
    _no_orders_arg(pl)
    pl.set_defaults(func=_plan)

    m = sub.add_parser(
        "models",
        help="the model served per kind: held-out Brier score at 30 d vs Kaplan-Meier, reliability table",
    )
    m.add_argument("--json", action="store_true", help="print one JSON array")
    m.set_defaults(func=_models)
