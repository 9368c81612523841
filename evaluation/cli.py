"""``facility rating compute|publish|correct``, ``facility ledger verify``, ``facility external import``,
``facility report``."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from facility.cli import UserError
from facility.settings import Settings

if TYPE_CHECKING:
    from evaluation.periods import Period
    from evaluation.wiring import Evaluation


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _period(text: str) -> Period:
    from evaluation.periods import parse_period

    try:
        return parse_period(text)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _as_of(args: argparse.Namespace) -> dt.datetime:
    if not getattr(args, "as_of", None):
        return _now()
    try:
        t = dt.datetime.fromisoformat(args.as_of)
    except ValueError:
        raise UserError(f"--as-of {args.as_of!r} is not an ISO time like 2026-11-05T00:00:00+00:00") from None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


@contextmanager
def _evaluation(args: argparse.Namespace) -> Iterator[Evaluation]:
    from evaluation.scheme import SchemeError
    from evaluation.wiring import build
    from facility.fleet import FleetError

    settings = Settings()
    if getattr(args, "scheme", None):
        settings = settings.model_copy(update={"rating_scheme_file": Path(args.scheme)})
    try:
        ev = build(settings, events=not getattr(args, "no_events", False))
    except (SchemeError, FleetError) as exc:
        raise UserError(str(exc)) from None
    try:
        yield ev
    except Exception as exc:
        from ingest.influx import InfluxUnavailable

        if isinstance(exc, InfluxUnavailable):
            raise UserError(f"{exc}; start it (`facility services`) or pass --no-events") from None
        raise
    finally:
        ev.close()


def _fmt(x: float | None) -> str:
    return "no data" if x is None else f"{x:6.2f}"


def rating_compute(args: argparse.Namespace) -> int:
    period, as_of = _period(args.period), _as_of(args)
    with _evaluation(args) as ev:
        if period.granularity == "quarter":
            results = ev.ratings.quarter(period, as_of)
            if args.json:
                from evaluation.ratings import quarter_records

                print(json.dumps(quarter_records(results), ensure_ascii=False, indent=1))
                return 0
            if results and results[0].provisional:
                print(f"provisional: {results[0].provisional}")
            for q in results:
                print(f"{q.entity:8} {q.id:14} {q.group:12} {_fmt(q.average)}  {q.colour or '-':7} "
                      f"{q.inspection.describe() if q.inspection else ''}")  # fmt: skip
            return 0
        if period.granularity != "month":
            raise UserError("rate a month (2026-10) or a quarter (2026Q4)")
        res = ev.ratings.month(period, as_of)
        if args.csv:
            from evaluation.reports.csvexport import month_csv

            Path(args.csv).write_text(month_csv(res), encoding="utf-8")
        if args.json:
            print(json.dumps(ev.ratings.monthly_content(res), ensure_ascii=False, indent=1))
            return 0
        print(f"{period.label} (as of {as_of.isoformat(timespec='minutes')}, scheme {ev.ratings.scheme.name} "
              f"{ev.ratings.scheme.version})")  # fmt: skip
        if res.provisional:
            print(f"provisional: {res.provisional}")
        for r in (*res.estates, *res.companies):
            s = r.score
            seen = s.metrics["monitoring_coverage"].display() if "monitoring_coverage" in s.metrics else "-"
            print(f"{s.entity:8} {s.id:14} {s.group:12} {_fmt(s.score)}  rank {r.rank_overall or '-'} overall, "
                  f"{r.rank_in_group or '-'}/{r.group_size} in group, observed {seen}")  # fmt: skip
    return 0


def rating_metrics(args: argparse.Namespace) -> int:
    from evaluation.metrics import compute_all
    from evaluation.scoring import metric_settings

    period, as_of = _period(args.period), _as_of(args)
    match = {k: getattr(args, k) for k in ("company", "estate", "building", "kind") if getattr(args, k)}
    with _evaluation(args) as ev:
        ds = ev.ratings.dataset(period, as_of).where(**match)
        if not ds.assets:
            raise UserError(f"no assets match {match}")
        ms = compute_all(ds, period, metric_settings(ev.ratings.scheme, as_of))
    if args.json:
        out = {k: {"value": m.value, "unit": m.unit, "numerator": m.numerator, "denominator": m.denominator,
                   "coverage": m.coverage, "note": m.note}
               for k, m in ms.items()}  # fmt: skip
        print(json.dumps({"period": period.label, "scope": match, "assets": len(ds.assets), "metrics": out}))
        return 0
    print(f"{period.label} {match or 'all assets'} ({len(ds.assets)} assets)")
    for name, m in sorted(ms.items()):
        print(f"  {name:34} {m.display():>16}   ({m.numerator:g} / {m.denominator:g})")
    return 0


def rating_publish(args: argparse.Namespace) -> int:
    from evaluation.ledger import LedgerError, is_provisional

    period, as_of = _period(args.period), _as_of(args)
    with _evaluation(args) as ev:
        try:
            if args.correct:
                entry = ev.ratings.correct(period, as_of, _now(), args.correct)
            else:
                entry = ev.ratings.publish(period, as_of, _now(), provisional=args.provisional)
        except (LedgerError, ValueError) as exc:
            raise UserError(str(exc)) from None
        status = "provisional" if is_provisional(entry) else "final"
        print(f"published {entry.kind} {entry.period} ({status}) as ledger entry {entry.seq}")
        print(
            f"ledger head {entry.entry_sha256} (keep it elsewhere; `facility ledger verify --head` checks it)"
        )
    return 0


def ledger_verify(args: argparse.Namespace) -> int:
    from evaluation.ledger import Ledger
    from maintenance.db import Database

    db = Database.open(Settings().sqlalchemy_url)
    try:
        v = Ledger(db).verify(head=args.head)
    finally:
        db.dispose()
    for p in v.problems:
        print(f"entry {p.seq}: {p.reason}" if not p.reason.startswith("entry") else p.reason, file=sys.stderr)
    print(f"ledger {'OK' if v.ok else 'TAMPERED'}: {v.entries} entries, head {v.head}")
    return 0 if v.ok else 1


def external_import(args: argparse.Namespace) -> int:
    from evaluation.external import ExternalError, parse_csv
    from evaluation.external_store import ExternalStore
    from facility.fleet import FleetError
    from maintenance.registry import store_fleet

    settings = Settings()
    try:
        text = Path(args.csv).read_text(encoding="utf-8-sig")
        estates = [e.id for e in store_fleet(settings).estates]
        values = parse_csv(text, known_estates=estates)
    except FileNotFoundError:
        raise UserError(f"CSV file {args.csv} does not exist") from None
    except (ExternalError, FleetError) as exc:
        raise UserError(f"{args.csv}: {exc}") from None
    from maintenance.db import Database

    db = Database.open(settings.sqlalchemy_url)
    try:
        n = ExternalStore(db).put(values)
    finally:
        db.dispose()
    print(f"external indicators: {n} values imported")
    return 0


def report(args: argparse.Namespace) -> int:
    from evaluation.reports.build import build_report
    from evaluation.reports.csvexport import month_csv
    from evaluation.reports.html import render_html
    from evaluation.reports.pdf import PdfUnavailable, render_pdf

    period, as_of = _period(args.period), _as_of(args)
    if not args.company and not args.district:
        raise UserError("say whose report: --company ID or --district")
    if period.granularity not in ("month", "quarter"):
        raise UserError("reports are monthly (--period 2026-10) or quarterly (--period 2026Q3)")
    if args.csv and (period.granularity != "month" or not args.company):
        raise UserError("--csv is a company's month: give --company and a month like 2026-10")
    with _evaluation(args) as ev:
        try:
            rep = build_report(ev.ratings, period, as_of, args.lang, args.company)
        except KeyError as exc:
            raise UserError(str(exc.args[0])) from None
        wrote = []
        if args.pdf:
            try:
                Path(args.pdf).write_bytes(render_pdf(rep))
            except PdfUnavailable as exc:
                raise UserError(str(exc)) from None
            wrote.append(args.pdf)
        if args.csv:
            res = ev.ratings.month(period, as_of)
            Path(args.csv).write_text(month_csv(res, "company", args.company), encoding="utf-8")
            wrote.append(args.csv)
        if args.html or not wrote:
            html = render_html(rep)
            if not args.html:
                sys.stdout.write(html)
                return 0
            Path(args.html).write_text(html, encoding="utf-8")
            wrote.append(args.html)
        print(
            f"{rep.title} {period.label}{' (provisional)' if rep.provisional else ''}: wrote {', '.join(wrote)}"
        )
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--as-of", help="evaluation time (ISO, UTC; default now): open faults and orders end here")
    p.add_argument(
        "--scheme", help="scoring scheme YAML (default: FACILITY_RATING_SCHEME_FILE or the built-in)"
    )
    p.add_argument(
        "--no-events", action="store_true", help="skip InfluxDB device events (kind-specific counts)"
    )


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    rating = sub.add_parser("rating", help="monthly scores, quarterly colours, publication to the ledger")
    rsub = rating.add_subparsers(dest="rating_command", metavar="ACTION", required=True)
    c = rsub.add_parser(
        "compute", help="compute (without publishing) a month's scores or a quarter's colours"
    )
    c.add_argument("--period", required=True, help="2026-10 (month) or 2026Q4 (quarter)")
    c.add_argument("--json", action="store_true", help="print JSON")
    c.add_argument("--csv", help="also write every figure of the month to this CSV file")
    _common(c)
    c.set_defaults(func=rating_compute)
    m = rsub.add_parser("metrics", help="every metric for a scope and a day, month or quarter")
    m.add_argument("--period", required=True, help="2026-10-05, 2026-10 or 2026Q4")
    for name in ("company", "estate", "building", "kind"):
        m.add_argument(f"--{name}", help=f"only assets of this {name}")
    m.add_argument("--json", action="store_true", help="print JSON")
    _common(m)
    m.set_defaults(func=rating_metrics)
    p = rsub.add_parser("publish", help="append a month's scores or a quarter's colours to the ledger")
    p.add_argument("--period", required=True, help="2026-10 (month) or 2026Q4 (quarter)")
    p.add_argument("--correct", metavar="REASON", help="publish a correction of an already published month")
    p.add_argument(
        "--provisional",
        action="store_true",
        help="publish a period that has not ended (or whose data are incomplete), marked provisional; a final "
        "publication supersedes it later",
    )
    _common(p)
    p.set_defaults(func=rating_publish)

    ledger = sub.add_parser("ledger", help="the tamper-evident ledger of published ratings")
    lsub = ledger.add_subparsers(dest="ledger_command", metavar="ACTION", required=True)
    v = lsub.add_parser("verify", help="check every hash and link; exit 1 when tampered with")
    v.add_argument(
        "--head", help="the head hash printed at the last publication (detects removed tail entries)"
    )
    v.set_defaults(func=ledger_verify)

    ext = sub.add_parser("external", help="external indicators: surveys, 12345 hotline, inspections")
    esub = ext.add_subparsers(dest="external_command", metavar="ACTION", required=True)
    i = esub.add_parser("import", help="import estate,month,indicator,value[,count][,source] rows")
    i.add_argument("--csv", required=True, help="the CSV file")
    i.set_defaults(func=external_import)

    r = sub.add_parser(
        "report",
        help="a property company's or the district's monthly or quarterly report (HTML to stdout, or "
        "--pdf/--html/--csv)",
    )
    who = r.add_mutually_exclusive_group()
    who.add_argument("--company", help="property company id, e.g. pc-anju")
    who.add_argument("--district", action="store_true", help="every company ranked, groups, colours")
    r.add_argument("--period", required=True, help="a month (2026-10) or a quarter (2026Q3)")
    r.add_argument("--lang", choices=("zh", "en"), default="zh", help="language (default zh: Chinese)")
    r.add_argument("--pdf", help="write the PDF here")
    r.add_argument("--html", help="write the HTML here")
    r.add_argument("--csv", help="write the company's figures as CSV here")
    _common(r)
    r.set_defaults(func=report)
