"""One settings object per process, read from the environment (prefix ``FACILITY_``) at start-up."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FACILITY_", env_file=".env", extra="ignore")

    #: where local services keep config and data, and where the SQLite store lives
    var_dir: Path = Path("var")

    # --- MQTT broker. When ``manage_services`` is on, `facility run/demo` starts its own mosquitto
    # on ``mqtt_port`` (not 1883, which a system broker may hold).
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 18830
    mqtt_tls: bool = False
    mqtt_ca_file: Path | None = None
    #: a TLS listener on the broker the stack starts (with the CA above): its port, certificate and key
    mqtt_tls_port: int | None = None
    mqtt_tls_certfile: Path | None = None
    mqtt_tls_keyfile: Path | None = None
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    #: ingest's persistent-session client id and the shared-subscription group of its workers
    ingest_client_id: str = "facility-ingest"
    ingest_share_group: str | None = None

    # --- InfluxDB v1 HTTP API (/write, /query): served by 1.x, and by 2.x/3.x through v1 compatibility
    influx_url: str = "http://127.0.0.1:18086"
    influx_db: str = "facility"
    influx_username: str | None = None
    influx_password: str | None = None
    #: token for InfluxDB 2.x/3.x (sent as ``Authorization: Token ...``)
    influx_token: str | None = None
    influx_timeout_s: float = 10.0

    # --- relational store (assets, work orders, ratings). SQLite under var/ by default.
    database_url: str | None = None

    # --- ingest tuning
    batch_size: int = 5000
    batch_interval_s: float = 0.5
    queue_max: int = 50_000
    spool_max_rows: int = 2_000_000

    # --- API
    api_host: str = "127.0.0.1"
    api_port: int = 8000

    #: start mosquitto and influxd as child processes (False: use the servers named above)
    manage_services: bool = True

    #: a fleet YAML: what `facility registry import` loads without a FILE and the demo imports into an empty
    #: registry (readers use the registry in the store, never this file)
    fleet_file: Path = Field(default=Path("simulators/fleets/demo.yaml"))

    # --- ingest observability (added by ingest): Prometheus /metrics port of the ingester (0 = off; worker i
    # of N listens on metrics_port + i) and how often it writes the ``ingest_stats`` measurement
    metrics_port: int = 9108
    stats_interval_s: float = 10.0

    # --- evaluation (added by evaluation): the scoring scheme YAML (None: evaluation/schemes/default.yaml);
    # the ledger, imported external indicators and objections live in the relational store (migration 0010)
    rating_scheme_file: Path | None = None

    # --- maintenance (added by maintenance): the event listener's persistent MQTT client id, the SLA
    # targets file (None: maintenance/sla.toml) and seconds between SLA breach checks
    maintenance_client_id: str = "facility-maintenance"
    sla_file: Path | None = None
    sla_check_interval_s: float = 30.0

    # --- predict (added by predict): live telemetry features are computed "as of" the last full step (the
    # feature clock) and stored in InfluxDB's ``features`` retention policy for this many days
    feature_step_s: int = 3600
    feature_retention_days: int = 30

    # --- ingest dead-letter retention (added by ingest): the table keeps at most this many letters and none
    # older than this many days (0 = no limit); the oldest go first, and pruned letters stay counted per reason
    dead_letter_max_rows: int = 100_000
    dead_letter_max_age_days: float = 30.0

    # --- worker (added by A, runtime/worker.py): its Prometheus /metrics port (0 = off) and per-job periods in
    # seconds overriding runtime/jobs.py, e.g. FACILITY_WORKER_INTERVALS='{"forecast-plan": 60}'
    worker_metrics_port: int = 9110
    worker_intervals: dict[str, float] = Field(default_factory=dict)

    # --- alarms and notifications (added by D, issue 13): hosts or networks outgoing notifications may reach
    # although they are loopback/private (e.g. '["10.1.0.0/16", "sms.intranet"]'); the SMTP server for e-mail;
    # seconds between offline-rule checks and outbox delivery rounds of the maintenance service
    outgoing_allow: list[str] = Field(default_factory=list)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_from: str = "facility@localhost"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    alarm_tick_s: float = 5.0

    # --- sign-in (added by F, issues 15/16): hours a session cookie lasts after login (crews on a phone keep
    # theirs for a shift and more), and failed logins per name within 15 minutes before further tries wait
    session_hours: float = 7 * 24.0
    login_max_failures: int = 5

    # --- ingest hardening (added by I, issue 15): bytes of a refused payload kept in its dead letter (its
    # length and SHA-256 are always kept); per device, dead letters beyond `burst` at more than `rate_per_min`
    # are counted, not stored; the maintenance listener's retry back-off while the store is down (seconds)
    dead_letter_payload_max_bytes: int = 4096
    dead_letter_device_rate_per_min: float = 60.0
    dead_letter_device_burst: int = 100
    listener_retry_max_s: float = 30.0

    # --- broker accounts (added by B, issue 11): the dynamic-security admin account `facility devices` uses;
    # without a password it is read from the local stack's <var_dir>/services/mosquitto/credentials.json
    mqtt_admin_username: str = "admin"
    mqtt_admin_password: str | None = None

    # --- preventive planner (added by the threshold helper, issue 12): the cost-optimal P(fail within 30 d) for an
    # asset of reference criticality 3 that the closed-loop policy benchmark measured with a visit:failure cost of
    # 1:5 (bench/policy.py: per-kind tuned values 0.25-0.35 on 10 tuning seeds; docs/benchmarks.md "Issue 12").
    # A kind's probability threshold is the smallest P whose held-out failure rate reaches max(this, the kind's
    # Kaplan-Meier 30-day rate) (predict/threshold.py); the planner visits at risk = P x criticality >= 3 x that.
    plan_reference_probability: float = 0.3

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.var_dir / 'facility.db').resolve()}"
