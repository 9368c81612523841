"""`facility dashboards generate|publish`: write the Grafana JSON files, or push them to a running Grafana."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from dashboards.generate import JSON_DIR, generate, out_of_date, rendered
from dashboards.grafana import InfluxSource, PublishError, connect, publish
from facility.cli import UserError
from facility.settings import Settings


def _generate(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if args.check:
        stale = out_of_date(out)
        if stale:
            raise UserError(f"{out} is out of date ({', '.join(stale)}): run `facility dashboards generate`")
        print(f"{out}: up to date")
        return 0
    paths = generate(out)
    print(f"wrote {len(paths)} dashboards to {out}")
    return 0


def _publish(args: argparse.Namespace) -> int:
    if not args.url:
        raise UserError("no Grafana URL: pass --url http://host:3000 or set GRAFANA_URL")
    settings = Settings()
    source = None
    if not args.no_datasource:
        source = InfluxSource(
            args.influx_url or settings.influx_url,
            settings.influx_db,
            settings.influx_username,
            settings.influx_password,
        )
    models = [json.loads(text) for text in rendered().values()]
    try:
        result = publish(
            connect(args.url, args.token),
            models,
            folder_uid=args.folder_uid,
            folder_title=args.folder,
            source=source,
            url=args.url,
        )
    except PublishError as exc:
        raise UserError(str(exc)) from None
    print(f"data source {result.datasource}, folder {result.folder}; {len(result.dashboards)} dashboards:")
    for url in result.dashboards:
        print(f"  {args.url.rstrip('/')}{url}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dashboards", help="Grafana dashboards: generate the JSON files or publish them")
    dsub = p.add_subparsers(dest="dashboards_command", metavar="ACTION", required=True)

    g = dsub.add_parser("generate", help="write dashboards/json/*.json from the definitions in dashboards/")
    g.add_argument("--out", default=str(JSON_DIR), help="directory for the JSON files (default: %(default)s)")
    g.add_argument("--check", action="store_true", help="only check that the files are up to date")
    g.set_defaults(func=_generate)

    pub = dsub.add_parser("publish", help="create/update the data source, folder and dashboards in Grafana")
    pub.add_argument("--url", default=os.environ.get("GRAFANA_URL"), help="Grafana URL (env GRAFANA_URL)")
    pub.add_argument(
        "--token", default=os.environ.get("GRAFANA_TOKEN"), help="service-account token (env GRAFANA_TOKEN)"
    )
    pub.add_argument("--folder", default="Facility", help="folder title (default: %(default)s)")
    pub.add_argument("--folder-uid", default="facility", help="folder uid (default: %(default)s)")
    pub.add_argument("--influx-url", help="InfluxDB URL as Grafana reaches it (default: FACILITY_INFLUX_URL)")
    pub.add_argument("--no-datasource", action="store_true", help="leave Grafana's data sources alone")
    pub.set_defaults(func=_publish)
