"""The worker's jobs: thin calls into the capabilities (each owns its internals). Each takes the ``App`` and
returns a one-line summary shown on ``GET /api/v1/jobs``; an exception marks the run failed (retried later)."""

from __future__ import annotations

import datetime as dt
import logging

from runtime.bootstrap import App

log = logging.getLogger(__name__)

#: a model older than this is retrained from the telemetry in InfluxDB
RETRAIN_AFTER = dt.timedelta(hours=6)


def refresh_features(app: App) -> str:
    """Store the live window features of every registry asset at the feature clock."""
    from predict.refresh import refresh_features as refresh
    from predict.repairs import repair_source
    from predict.service import ForecastService, NoModel

    service = ForecastService(app.settings, app.influx, app.fleet(), repairs=repair_source(app.db))
    try:
        result = refresh(service, app.clock())
    finally:
        service.close()
    if result.skipped and not any(result.rows.values()):
        # before the first training: retried in a minute (the worker logs one line), not in 15
        raise NoModel(
            f"no telemetry model yet for {sorted(result.skipped)}: features wait for the first training"
        )
    return f"features at {result.at.isoformat()}: {result.rows}" + (
        f"; no model yet for {sorted(result.skipped)}" if result.skipped else ""
    )


def retrain(app: App) -> str:
    """Train each kind's survival model from telemetry when its current model is older than RETRAIN_AFTER."""
    from facility.contract import AssetKind
    from predict.jobs import train_from_telemetry
    from predict.repairs import order_log

    now = app.clock()
    trained, failed = [], []
    for kind in AssetKind:
        current = app.models.current(kind.value)
        if current is not None and now - dt.datetime.fromisoformat(current.created) < RETRAIN_AFTER:
            continue
        try:
            meta = train_from_telemetry(
                app.influx, app.models, kind, now, days=365, splits=0, repairs=order_log(app.db)
            )
            trained.append(f"{kind.value}={meta.model}")
        except Exception as exc:  # the previous model (if any) stays in service
            log.warning("training %s failed, previous model kept: %s", kind.value, exc)
            failed.append(f"{kind.value}: {exc}")
    if failed and not trained and all(app.models.current(k.value) is None for k in AssetKind):
        raise RuntimeError("no model could be trained: " + "; ".join(failed))
    return f"trained {trained or 'nothing (models fresh)'}" + (f"; failed {failed}" if failed else "")


def forecast_and_plan(app: App) -> str:
    """Forecast every registry asset that is up and let the planner propose preventive orders (awaiting an
    engineer's approval): ``predict.jobs.run_forecast_and_plan``, on the registry's current fleet."""
    from predict.jobs import run_forecast_and_plan

    result = run_forecast_and_plan(app.settings, app.db, app.influx, app.clock(), fleet=app.fleet())
    return (
        f"forecasts for {len(result.forecasts)} assets ({len(result.down)} down, left out); "
        f"{len(result.created)} preventive orders proposed {result.created}"
    )


def sla_checks(app: App) -> str:
    """Escalate every SLA clock breached now that was not escalated before."""
    from maintenance.escalation import check_sla
    from maintenance.sla import default_targets, load_targets

    targets = load_targets(app.settings.sla_file) if app.settings.sla_file else default_targets()
    with app.db.transaction() as s:
        new = check_sla(s, app.clock(), targets)
    return f"{len(new)} new escalations"


def ratings_refresh(app: App) -> str:
    """Score the running month (and its quarter's colours) of every estate and company."""
    from evaluation.analytics import ratings_step

    rows = ratings_step(app.settings, app.db, app.clock(), app.influx)
    return f"{len(rows)} scored estates and companies"


def dashboards_export(app: App) -> str:
    """Write the dashboards' snapshot measurements (forecasts, open orders, intactness, ratings)."""
    from dashboards.snapshot import export_all

    result = export_all(app.settings, app.db, app.influx, app.clock(), app.fleet())
    return ", ".join(f"{k}: {v}" for k, v in result.items())


def outbox_delivery(app: App) -> str:
    """Deliver pending notifications (MQTT, then webhooks and the other channels outside any transaction):
    ``maintenance.notify.deliver_all``; a failed one stays pending with its next attempt time."""
    from maintenance.notify import ChannelSettings, MqttPublisher, deliver_all

    s = app.settings
    login = (s.mqtt_username, s.mqtt_password or "") if s.mqtt_username else None
    publisher = MqttPublisher(s.mqtt_host, s.mqtt_port, client_id="facility-worker-notify", login=login)
    try:
        sent, failed = deliver_all(app.db, publisher, app.clock(), ChannelSettings.from_settings(s))
    finally:
        publisher.close()
    return f"{sent} notifications delivered, {failed} failed (retried later)"
