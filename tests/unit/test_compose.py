"""docker-compose.yml: services, ports, volumes, health-gated start order, secrets documented in .env.example."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
APP_SERVICES = {
    "migrate": "db",
    "ingester": "ingest",
    "maintenance": "maintenance",
    "worker": "worker",
    "api": "api",
    "simulators": "simulate",
    "retain-guard": "devices",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _without_comments(path: Path) -> str:
    return "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))


def _container_ports(service: dict[str, Any]) -> set[int]:
    return {int(str(p).rsplit(":", 1)[1].split("/")[0]) for p in service.get("ports", [])}


def test_the_stack_has_every_service(services: dict[str, dict[str, Any]]) -> None:
    assert {"mosquitto", "influxdb", "grafana", "postgres", *APP_SERVICES} <= set(services)
    assert services["influxdb"]["image"] == "influxdb:1.8"  # the v1 API the code and tests use
    assert services["mosquitto"]["image"].startswith("eclipse-mosquitto:2")
    assert services["grafana"]["image"].startswith("grafana/grafana")
    assert _container_ports(services["mosquitto"]) == {1883}
    assert _container_ports(services["influxdb"]) == {8086}
    assert _container_ports(services["grafana"]) == {3000}
    assert _container_ports(services["api"]) == {8000}


def test_app_services_run_the_image_built_from_the_dockerfile(services: dict[str, dict[str, Any]]) -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.M)
    assert 'ENTRYPOINT ["facility"]' in dockerfile
    assert "pip install --no-deps -e ." in dockerfile  # api/static and fleets are not package data
    for name, command in APP_SERVICES.items():
        svc = services[name]
        assert svc["build"] == "." and svc["image"] == "facility-monitor:latest", name
        assert svc["command"][0] == command, name
        assert "entrypoint" not in svc, f"{name}: no shell loops, the image's `facility` entry point runs it"
        env = svc["environment"]
        assert env["FACILITY_MANAGE_SERVICES"] == "false", name
        assert (
            env["FACILITY_MQTT_HOST"] == "mosquitto" and env["FACILITY_INFLUX_URL"] == "http://influxdb:8086"
        )
    # each package the image installs is copied into it
    for package in (
        "facility",
        "simulators",
        "ingest",
        "predict",
        "maintenance",
        "evaluation",
        "api",
        "dashboards",
        "runtime",
    ):
        assert f"COPY {package} ./{package}" in dockerfile


def test_simulators_only_run_under_the_sim_profile(services: dict[str, dict[str, Any]]) -> None:
    assert services["simulators"]["profiles"] == ["sim"]
    assert [n for n, s in services.items() if "profiles" in s] == ["simulators"]


def test_every_command_is_a_facility_command(services: dict[str, dict[str, Any]]) -> None:
    from runtime.cli import build_parser

    parser = build_parser()
    for name in APP_SERVICES:
        args = parser.parse_args(services[name]["command"])  # exits (SystemExit) on an unknown command
        assert callable(args.func), name


def test_the_worker_runs_the_scheduled_jobs_and_the_api_serves_its_models(
    services: dict[str, dict[str, Any]],
) -> None:
    from runtime.jobs import JOBS

    # one worker process runs what the demo's loop and the predictor's shell loop used to
    assert {"features", "retrain", "forecast-plan", "sla", "ratings", "dashboards", "outbox"} <= {
        j.name for j in JOBS
    }
    assert "predictor" not in services and "features" not in services
    worker = services["worker"]
    assert worker["command"] == ["worker"]
    assert "models:/app/var/models" in worker["volumes"]
    assert "models:/app/var/models" in services["api"]["volumes"]
    port = worker["environment"]["FACILITY_WORKER_METRICS_PORT"]
    assert f"127.0.0.1:{port}/metrics" in worker["healthcheck"]["test"][-1]
    # the migrate step only migrates: the registry is loaded by the operator (`registry import FILE`)
    assert services["migrate"]["command"] == ["db", "upgrade"]


def test_start_order_waits_for_health(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        for dep, spec in (svc.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            condition = spec["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in services[dep], (
                    f"{name} waits for {dep}'s health but it has no healthcheck"
                )
            else:
                assert condition == "service_completed_successfully" and "restart" not in services[dep]
    for name in ("mosquitto", "influxdb", "postgres", "grafana", "api", "ingester"):
        assert services[name]["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
    for name in ("ingester", "maintenance", "worker", "api"):
        deps = services[name]["depends_on"]
        assert {d: s["condition"] for d, s in deps.items()} == {
            "mosquitto": "service_healthy",
            "influxdb": "service_healthy",
            "postgres": "service_healthy",
            "migrate": "service_completed_successfully",
        }


def test_mounted_paths_exist_in_the_repository(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    named = set(compose["volumes"])
    for name, svc in services.items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (REPO / source).exists(), f"{name} mounts {source}, which is not in the repository"
            else:
                assert source in named, f"{name} uses volume {source!r} not declared under volumes:"
    grafana = {v.split(":")[1]: v.split(":")[0] for v in services["grafana"]["volumes"]}
    assert grafana["/etc/grafana/provisioning/datasources"] == "./dashboards/provisioning/datasources"
    assert grafana["/etc/grafana/provisioning/dashboards"] == "./dashboards/provisioning/dashboards"
    provider = yaml.safe_load((REPO / "dashboards/provisioning/dashboards/facility.yaml").read_text())
    json_dir = grafana[provider["providers"][0]["options"]["path"]]
    assert sorted((REPO / json_dir).glob("facility-*.json")), "the provisioned dashboard folder is empty"
    home = services["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (REPO / json_dir / Path(home).name).exists()


def test_grafana_gets_every_variable_its_provisioning_reads(services: dict[str, dict[str, Any]]) -> None:
    text = _without_comments(REPO / "dashboards/provisioning/datasources/influxdb.yaml")
    wanted = set(re.findall(r"\$\{(\w+)\}", text))
    assert wanted and wanted <= set(services["grafana"]["environment"])


def test_mosquitto_requires_accounts() -> None:
    """(B) accounts live in mosquitto's dynamic-security plugin, created by init.sh for the app services."""
    conf = (REPO / "deploy/mosquitto/mosquitto.conf").read_text()
    assert re.search(r"^allow_anonymous false$", conf, re.M)
    assert re.search(r"^plugin /usr/lib/mosquitto_dynamic_security.so$", conf, re.M)
    assert re.search(r"^plugin_opt_config_file /mosquitto/auth/dynamic-security.json$", conf, re.M)
    assert not re.search(r"^(password_file|acl_file) ", conf, re.M)
    init = (REPO / "deploy/mosquitto/init.sh").read_text()
    users = set(re.findall(r"FACILITY_MQTT_USERNAME: (\w+)", COMPOSE.read_text()))
    assert users and users <= set(init.split("for account in ")[1].split(";")[0].split())


def test_every_required_secret_is_documented_in_env_example() -> None:
    text = _without_comments(COMPOSE)
    required = set(re.findall(r"\$\{(\w+):\?[^}]+\}", text))
    optional = set(re.findall(r"\$\{(\w+):-[^}]*\}", text))
    plain = set(re.findall(r"\$\{(\w+)\}", text))
    assert not plain, f"{plain} have neither a default nor a :? failure message"
    example = (REPO / ".env.example").read_text()
    set_in_example = set(re.findall(r"^(\w+)=", example, re.M))
    mentioned = set(re.findall(r"^#? ?(\w+)=", example, re.M))
    assert required, "secrets must come from the environment"
    assert required <= set_in_example, f"undocumented secrets: {required - set_in_example}"
    assert optional <= mentioned, f"undocumented settings: {optional - mentioned}"
    assert "GRAFANA_ADMIN_PASSWORD" in required and "POSTGRES_PASSWORD" in required
    for line in example.splitlines():
        if re.match(r"^\w+=", line) and line.split("=", 1)[0] in required:
            assert line.endswith("=change-me"), f"{line}: .env.example must not carry a usable secret"


def test_the_app_may_read_and_the_feature_store_has_its_retention_policy(
    services: dict[str, dict[str, Any]],
) -> None:
    from predict.feature_store import FEATURES_RP

    influx = services["influxdb"]["environment"]
    app = services["api"]["environment"]
    # the image grants ALL to INFLUXDB_USER but only WRITE to INFLUXDB_WRITE_USER: the app reads as well
    assert "INFLUXDB_WRITE_USER" not in influx
    assert influx["INFLUXDB_USER"] == app["FACILITY_INFLUX_USERNAME"]
    assert influx["INFLUXDB_USER_PASSWORD"] == app["FACILITY_INFLUX_PASSWORD"]
    init = {v.split(":")[1]: v.split(":")[0] for v in services["influxdb"]["volumes"] if v.startswith(".")}
    script = (REPO / init["/docker-entrypoint-initdb.d/init-features.sh"]).read_text()
    assert f'CREATE RETENTION POLICY \\"{FEATURES_RP}\\" ON \\"$INFLUXDB_DB\\"' in script


def test_the_retain_guard_runs_as_the_brokers_admin(services: dict[str, dict[str, Any]]) -> None:
    """(B) `facility devices guard` logs in as the plugin's admin that mosquitto-init creates, with its password."""
    guard = services["retain-guard"]
    assert guard["command"] == ["devices", "guard"]
    assert guard["restart"] == "unless-stopped"
    admin = services["mosquitto-init"]["environment"]["MQTT_ADMIN_PASSWORD"]
    assert guard["environment"]["FACILITY_MQTT_ADMIN_PASSWORD"] == admin
    assert admin.startswith("${MQTT_ADMIN_PASSWORD:?")
    assert {d: s["condition"] for d, s in guard["depends_on"].items()} == {"mosquitto": "service_healthy"}
    from facility.settings import Settings

    # the account init.sh creates (`dynsec init ... admin`)
    assert Settings.model_fields["mqtt_admin_username"].default == "admin"
    assert 'dynsec init "$json" admin ' in (REPO / "deploy/mosquitto/init.sh").read_text()


def test_the_image_can_print_chinese_pdf_reports() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    install = re.search(r"apt-get install -y --no-install-recommends ([^\\\n]+)", dockerfile)
    assert install and set(install.group(1).split()) == {"chromium", "fonts-wqy-zenhei"}
    assert "rm -rf /var/lib/apt/lists/*" in dockerfile
    from evaluation.reports.pdf import BROWSERS

    assert "chromium" in BROWSERS
